"""Classical baselines: each per-op method must undo its own degradation on a natural-looking image."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import natural_image
from gir.bench import classical
from gir.data.patches import quantize
from gir.degradations import OPS, Recipe
from gir.metrics import psnr


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return natural_image(96, 128, seed=4)


@pytest.mark.parametrize("text", [
    "noise(sigma=20)", "poisson_noise(peak=30)", "blur(sigma=1.5)", "defocus_blur(radius=2)",
    "salt_pepper(density=0.05)", "haze", "low_light", "damage(count=5,thickness=3)",
    "inpainting(area=0.05,width=6,fill=black)",
])
def test_each_method_improves_on_its_own_degradation(clean, text):
    recipe = Recipe.from_text(text)
    lq = quantize(recipe.apply(clean, seed=1))
    out = classical.undo_recipe(lq, recipe)
    assert out.shape == clean.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert psnr(out, clean) > psnr(lq, clean) + 0.5, classical.describe(recipe)


def test_chains_are_undone_last_step_first(clean, monkeypatch):
    calls = []
    for op in ("noise", "jpeg"):
        name, fn = classical.CLASSICAL[op]
        monkeypatch.setitem(classical.CLASSICAL, op, (name, lambda img, p, op=op: calls.append(op) or img))
    classical.undo_recipe(clean, Recipe.from_text("noise > jpeg"))
    assert calls == ["jpeg", "noise"]
    assert classical.describe(Recipe.from_text("noise > blur")) == "Richardson-Lucy then non-local means"


def test_methods_get_resolved_parameters_and_unknown_ops_pass_through(clean):
    seen = {}
    name, fn = classical.CLASSICAL["noise"]
    try:
        classical.CLASSICAL["noise"] = (name, lambda img, p: seen.update(p) or img)
        classical.undo_recipe(clean, Recipe.from_text("noise"))
    finally:
        classical.CLASSICAL["noise"] = (name, fn)
    assert seen == {"sigma": OPS.get("noise").representative()["sigma"]}
    assert "demosaic" in classical.missing_methods()
    assert np.array_equal(classical.undo_recipe(clean, Recipe.from_text("demosaic")), clean)


def test_dark_channel_prior_inverts_the_haze_model():
    rng = np.random.default_rng(0)
    scene = natural_image(80, 96, seed=7) * 0.7
    scene[..., 2] *= 0.3  # a dark channel near zero, as the prior assumes
    t = np.linspace(0.35, 0.8, 96, dtype=np.float32)[None, :, None]
    hazy = scene * t + 0.9 * (1 - t) + rng.normal(0, 0.002, scene.shape).astype(np.float32)
    out = classical.dark_channel_prior(np.clip(hazy, 0, 1).astype(np.float32))
    assert psnr(out, scene) > psnr(hazy, scene) + 4


def test_dehaze_runs_only_where_the_dark_channel_shows_a_veil_on_a_colour_photo():
    """The product's dehazing (gir.restore.classical.dehaze): a clean colour photo and a grey one come back
    as the same array; the same photo under the library's haze is dehazed and gains."""
    from gir.restore.classical import dehaze, veil_evidence

    rng = np.random.default_rng(0)
    colour = np.clip(natural_image(96, 128, seed=4) * rng.uniform(0.6, 1.0, 3).astype(np.float32), 0, 1)
    colour[::8, :, 0] = 0.0  # dark pixels in every 15-px patch: a clean photo's dark channel is near zero
    colour = colour.astype(np.float32)
    assert dehaze(colour) is colour
    grey = np.repeat(colour.mean(axis=2, keepdims=True), 3, axis=2)
    assert veil_evidence(grey)[1] < 0.03 and dehaze(grey) is grey
    # noise drawn per channel is not colour: a noisy grey photo (grey brick through a camera read as snow) stays
    noisy = np.clip(grey + 0.4 + rng.normal(0, 0.05, grey.shape), 0, 1).astype(np.float32)
    assert (noisy.max(axis=2) - noisy.min(axis=2)).mean() > 0.08  # at full size the channels spread
    assert veil_evidence(noisy)[1] < 0.03 and dehaze(noisy) is noisy
    hazy = quantize(Recipe.from_text("haze(A=0.9,beta=1.5)").apply(colour, seed=1))
    out = dehaze(hazy)
    assert out is not hazy and psnr(out, colour) > psnr(hazy, colour) + 1
