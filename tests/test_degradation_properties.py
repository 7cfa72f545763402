"""Contract of every registered op and of random chains: shape, dtype, range, determinism, no NaN/Inf."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from gir.degradations import OPS, Recipe, sample_recipe

from conftest import natural_image

IMG = natural_image(48, 61, seed=2)


@pytest.mark.parametrize("name", OPS.names())
@pytest.mark.parametrize("shape", [(48, 61), (5, 7), (1, 9), (33, 1)])
def test_op_contract_representative(name, shape):
    img = natural_image(*shape, seed=1)
    spec = OPS.get(name)
    out = spec.apply(img, np.random.default_rng(0))
    assert out.shape == img.shape and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    again = spec.apply(img, np.random.default_rng(0))
    assert out.tobytes() == again.tobytes(), f"{name} is not deterministic for a fixed seed"


@pytest.mark.parametrize("name", OPS.names())
def test_op_random_range_contract(name):
    spec = OPS.get(name)
    rng = np.random.default_rng(123)
    for _ in range(3):
        params = spec.sample_params(rng)
        out = spec.apply(IMG, np.random.default_rng(1), params)
        assert out.shape == IMG.shape and out.dtype == np.float32 and np.isfinite(out).all()
        assert 0 <= out.min() and out.max() <= 1


@pytest.mark.parametrize("name", OPS.names())
def test_representative_setting_changes_the_image(name):
    out = OPS.get(name).apply(IMG, np.random.default_rng(0))
    assert np.abs(out - IMG).mean() > 1e-3, f"{name} at its representative setting does nothing visible"


def test_input_contract_is_enforced():
    with pytest.raises(ValueError, match="float32 HxWx3"):
        OPS.get("noise").apply(IMG.astype(np.float64), np.random.default_rng(0))
    with pytest.raises(ValueError, match="float32 HxWx3"):
        OPS.get("noise").apply(IMG[:, :, 0], np.random.default_rng(0))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(3, 40), w=st.integers(3, 40),
       order=st.sampled_from(["1-5", "1", "5", "3-5"]))
def test_random_recipes_never_produce_nan_or_inf(seed, h, w, order):
    rng = np.random.default_rng(seed)
    img = rng.random((h, w, 3), dtype=np.float32)
    recipe = sample_recipe(rng, order=order)
    out = recipe.apply(img)
    assert out.shape == img.shape and out.dtype == np.float32
    assert np.isfinite(out).all() and 0 <= out.min() and out.max() <= 1
    assert Recipe.from_json(recipe.to_json()).apply(img).tobytes() == out.tobytes()


def test_extreme_inputs():
    for value in (0.0, 1.0):
        flat = np.full((20, 24, 3), value, np.float32)
        for name in OPS:
            out = OPS.get(name).apply(flat, np.random.default_rng(0))
            assert np.isfinite(out).all(), name
