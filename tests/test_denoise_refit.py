"""The denoiser's refit: a level its residual shows to be too high is replaced by the residual's own
(gir.restore.experts.DenoiserExpert, ``refit``), and a level the user gives is used as it is."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import natural_image
from gir.restore.experts import OVER_TOLD, RESIDUAL_RATIO, DenoiserExpert, residual_rms


class PerfectDenoiser:
    """Returns the clean photo whatever it is told, and remembers the levels it was told."""

    def __init__(self, clean):
        self.clean, self.told = clean, []

    def __call__(self, rgb, progress=False, conditions=None):
        self.told.append(conditions["noise.sigma"])
        return self.clean

    def passes(self, h, w):
        return 1


def noisy_pair(sigma: float = 5.0):
    clean = 0.2 + 0.6 * natural_image(96, 96, seed=3)
    noisy = clean + np.random.default_rng(0).normal(0, sigma / 255, clean.shape).astype(np.float32)
    return clean.astype(np.float32), noisy.astype(np.float32)


def expert_with(fake, refit=True) -> DenoiserExpert:
    e = DenoiserExpert("denoise", ("noise",), "denoiser", "test", model="unused", refit=refit)
    e._restorer = fake
    return e


def test_residual_rms_reads_the_noise_and_leaves_clipped_samples_out():
    clean, noisy = noisy_pair(5.0)
    assert residual_rms(noisy, clean) == pytest.approx(5.0, rel=0.05)
    assert residual_rms(np.ones_like(clean), np.ones_like(clean)) is None  # all clipped: nothing to read


def test_a_level_far_too_high_is_refit_from_the_residual():
    clean, noisy = noisy_pair(5.0)
    fake = PerfectDenoiser(clean)
    e = expert_with(fake)
    out = e(noisy, strengths={"noise.sigma": 20.0})
    assert out is clean
    assert fake.told[0] == 20.0 and len(fake.told) == 2
    assert fake.told[1] == pytest.approx(5.0 / RESIDUAL_RATIO, rel=0.06)
    assert e.measured() == {"noise.sigma": fake.told[1]}
    assert "told sigma 20.0" in e.note()


def test_a_level_the_residual_bears_out_is_kept():
    clean, noisy = noisy_pair(5.0)
    fake = PerfectDenoiser(clean)
    e = expert_with(fake)
    e(noisy, strengths={"noise.sigma": 5.0 / OVER_TOLD * 0.95})
    assert len(fake.told) == 1 and e.measured() == {} and e.note() == ""


def test_no_refit_when_it_is_off_or_the_level_is_tiny():
    clean, noisy = noisy_pair(1.0)
    for e, told in ((expert_with(PerfectDenoiser(clean), refit=False), 20.0),
                    (expert_with(PerfectDenoiser(clean)), 2.0)):
        e(noisy, strengths={"noise.sigma": told})
        assert len(e._restorer.told) == 1 and e.measured() == {}


def test_a_level_given_with_condition_turns_the_refit_off():
    from gir.restore.pipeline import Pipeline

    clean, _ = noisy_pair()
    e = expert_with(PerfectDenoiser(clean))
    Pipeline(analyzer=lambda rgb, **kw: None, experts={"denoise": e}, device="cpu",
             conditions={"noise.sigma": 25})
    assert e.refit is False
