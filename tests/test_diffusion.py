"""FoundIR's residual diffusion (paper 001, sec. 4.1): the forward process, the sampler, the network and
its training objective."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from gir.diffusion.process import Schedule, forward_step, q_sample, sample, start_state, state
from gir.io import write_image
from tests.conftest import natural_image


def _pair(seed=0, shape=(2, 3, 16, 16)):
    g = torch.Generator().manual_seed(seed)
    hq = torch.rand(shape, generator=g, dtype=torch.float64)
    lq = (hq + 0.2 * torch.randn(shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return lq, hq


@pytest.mark.parametrize("gamma", [0.1, 0.3, 0.5, None])
@pytest.mark.parametrize("noise", [0.0, 1.0])
def test_closed_form_equals_the_step_by_step_process(gamma, noise):
    sch = Schedule(timesteps=20, gamma_T=gamma, noise=noise)
    lq, hq = _pair()
    g = torch.Generator().manual_seed(1)
    x, acc = hq.clone(), torch.zeros_like(hq)
    for t in range(1, sch.timesteps + 1):
        eps = torch.randn(hq.shape, generator=g, dtype=torch.float64)
        x = forward_step(x, lq, hq, t, eps, sch)
        acc += float(sch.delta(t)) * eps  # the summed noise: dbar_t * (a standard normal)
        combined = acc / float(sch.dbar(t)) if noise else torch.zeros_like(acc)
        assert torch.allclose(x, q_sample(lq, hq, t, combined, sch), atol=1e-12)
        assert torch.allclose(x, state(lq, lq - hq, t, combined, sch), atol=1e-12)
    # t = T: I_T = gamma_T LQ + dbar_T eps, whatever HQ is
    assert torch.allclose(x, start_state(lq, sch, combined), atol=1e-12)
    assert sch.gamma == (1.0 if gamma is None else gamma)


def test_summed_step_noise_has_the_closed_form_variance():
    sch = Schedule(timesteps=50, gamma_T=0.3, noise=1.0)
    g = torch.Generator().manual_seed(0)
    steps = torch.randn(50, 200_000, generator=g, dtype=torch.float64) * sch.delta(1)
    for t in (1, 10, 50):
        assert float(steps[:t].sum(0).std()) == pytest.approx(float(sch.dbar(t)), rel=0.01)


@pytest.mark.parametrize("steps", [1, 2, 4, 8])
@pytest.mark.parametrize("gamma", [0.1, 0.3, None])
def test_sampler_with_the_true_residual_returns_the_clean_image(steps, gamma):
    sch = Schedule(timesteps=1000, gamma_T=gamma, noise=1.0)
    lq, hq = _pair(3)
    calls = []

    def oracle(x_t, lq_, t):
        calls.append(int(t[0]))
        return lq_ - hq

    out = sample(oracle, lq, sch, steps, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out, hq, atol=1e-9)
    assert calls == sch.sampling_times(steps)[:-1] and calls[0] == 1000


def test_sampler_is_deterministic_for_a_seed_and_uses_the_predicted_residual():
    sch = Schedule(timesteps=100, gamma_T=0.3, noise=1.0)
    lq, _ = _pair(4)

    def half(x_t, lq_, t):  # depends on the state, so the starting noise matters
        return 0.5 * (lq_ - x_t)

    a = sample(half, lq, sch, 4, generator=torch.Generator().manual_seed(7))
    b = sample(half, lq, sch, 4, generator=torch.Generator().manual_seed(7))
    c = sample(half, lq, sch, 4, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_schedule_rejects_bad_values():
    for kw in ({"timesteps": 0}, {"gamma_T": 1.5}, {"noise": -1.0}):
        with pytest.raises(ValueError):
            Schedule(**kw)
    with pytest.raises(ValueError, match="steps"):
        Schedule(timesteps=10).sampling_times(11)


def test_diffusion_unet_starts_as_identity_and_is_reproducible():
    from gir.models import build_model

    net = build_model({"type": "diffusion_unet", "preset": "cpu"}).eval()
    x = torch.rand(1, 3, 21, 30)
    with torch.no_grad():
        assert torch.equal(net(x), x)  # zero-initialised last layer: predicted residual 0
        torch.nn.init.normal_(net.denoiser.dec_convs[0].weight, std=0.01)
        a, b = net(x), net(x)
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, x)
    t = torch.tensor([5])
    assert net(x[..., :16, :16], torch.rand(1, 3, 16, 16), t).shape == (1, 3, 16, 16)
    assert net.descriptor().size_multiple == 8 and net.descriptor().tiling == "local"


def test_diffusion_unet_config_errors_are_one_line():
    from gir.models import build_model
    from gir.models.base import ModelConfigError

    with pytest.raises(ModelConfigError, match="gamma_T"):
        build_model({"type": "diffusion_unet", "gamma_T": 2.0})
    with pytest.raises(ModelConfigError, match="unknown parameter"):
        build_model({"type": "diffusion_unet", "gama_T": 0.3})


def test_training_objective_trains_resumes_and_restores(tmp_path):
    """A few iterations through the engine; the checkpoint restores through gir restore --model and
    training from the same seed gives the same weights."""
    from gir.cli import main
    from gir.io import read_rgb
    from gir.models.checkpoint import load_state
    from gir.training import run

    (tmp_path / "train").mkdir()
    for i in range(3):
        write_image(tmp_path / "train" / f"t{i}.png", natural_image(40, 40, seed=i))
    cfg = {"name": "diff", "model": {"type": "diffusion_unet", "channels": [8, 8, 8], "time_dim": 8},
           "objective": {"type": "residual_diffusion"},
           "data": {"train": {"mode": "mix", "roots": [str(tmp_path / "train")],
                              "mix": {"tasks": ["noise(sigma=20)"]}},
                    "val": {"roots": [str(tmp_path / "train")], "crop": 32, "tasks": ["noise(sigma=20)"]}},
           "train": {"iterations": 4, "batch_size": 2, "patch_size": 16, "log_interval": 2, "val_interval": 4,
                     "save_interval": 4, "progress": False}}
    run(cfg, out_dir=tmp_path / "a")
    run(cfg, out_dir=tmp_path / "b")
    wa = load_state(tmp_path / "a" / "models" / "net_latest.safetensors", key="params")[0]
    wb = load_state(tmp_path / "b" / "models" / "net_latest.safetensors", key="params")[0]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    src = tmp_path / "in.png"
    write_image(src, natural_image(37, 45, seed=9))
    ckpt = tmp_path / "a" / "models" / "net_latest.safetensors"
    assert main(["restore", str(src), "-o", str(tmp_path / "o1.png"), "--model", str(ckpt)]) == 0
    assert main(["restore", str(src), "-o", str(tmp_path / "o2.png"), "--model", str(ckpt)]) == 0
    o1, o2 = read_rgb(tmp_path / "o1.png"), read_rgb(tmp_path / "o2.png")
    assert o1.shape == (37, 45, 3) and np.array_equal(o1, o2)
    for k in (3, 4):  # tiled: the fixed noise seed makes a tiled result reproducible too
        assert main(["restore", str(src), "-o", str(tmp_path / f"o{k}.png"), "--model", str(ckpt),
                     "--tile", "16", "--overlap", "8"]) == 0
    assert np.array_equal(read_rgb(tmp_path / "o3.png"), read_rgb(tmp_path / "o4.png"))


def test_objective_refuses_other_architectures(tmp_path):
    from gir.errors import GirError
    from gir.training import run

    (tmp_path / "train").mkdir()
    write_image(tmp_path / "train" / "t.png", natural_image(32, 32, seed=0))
    cfg = {"model": {"type": "srcnn"}, "objective": {"type": "residual_diffusion"},
           "data": {"train": {"mode": "mix", "roots": [str(tmp_path / "train")], "mix": {"tasks": ["noise"]}}},
           "train": {"iterations": 1, "batch_size": 1, "patch_size": 16, "progress": False}}
    with pytest.raises(GirError, match="diffusion_unet"):
        run(cfg, out_dir=tmp_path / "r")
