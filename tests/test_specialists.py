"""FoundIR's specialists (paper 001, sec. 4.3): the guided refiner, chains, the choice from a diagnosis and
the ``refine`` objective that trains a specialist on a frozen generalist's results."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from gir.diffusion.specialists import Chain, choose_specialist
from gir.io import write_image
from tests.conftest import natural_image


class Add(nn.Module):
    def __init__(self, v):
        super().__init__()
        self.v = v

    def forward(self, x):
        return x + self.v


def test_fresh_refiner_returns_its_guide_and_alone_its_input():
    from gir.models import build_model

    s = build_model({"type": "guided_refiner"}).eval()
    x, g = torch.rand(1, 3, 20, 27), torch.rand(1, 3, 20, 27)
    assert torch.equal(s(x, g), g) and torch.equal(s(x), x)
    assert s.descriptor().tiling == "local"


def test_chain_runs_stages_in_order_and_refiners_see_the_input():
    from gir.models import build_model

    s = build_model({"type": "guided_refiner"}).eval()
    with torch.no_grad():
        x = torch.full((1, 3, 16, 16), 0.2)
        g_then_s = Chain([Add(0.1), s])(x)
        assert torch.allclose(g_then_s, x + 0.1)  # zero correction: the refiner keeps G's result
        assert torch.allclose(Chain([Add(0.1), Add(0.2)])(x), x + 0.3)
    assert Chain([Add(0.0), s]).size_multiple == s.size_multiple


def _diag(**p):
    return SimpleNamespace(findings={k: SimpleNamespace(p=v) for k, v in p.items()})


def test_choice_follows_the_most_probable_detected_family_of_the_pool():
    pool = ["weather", "illumination", "structure"]
    assert choose_specialist(_diag(haze=0.7, low_light=0.9, noise=0.99), pool) == "illumination"
    assert choose_specialist(_diag(haze=0.8, low_light=0.6), pool) == "weather"
    assert choose_specialist(_diag(noise=0.99, haze=0.3), pool) is None
    assert choose_specialist(_diag(haze=0.8, low_light=0.9), ["weather"]) == "weather"
    with pytest.raises(ValueError, match="unknown specialist group"):
        choose_specialist(_diag(haze=0.8), ["fog"])


def _data(tmp_path):
    (tmp_path / "train").mkdir()
    for i in range(3):
        write_image(tmp_path / "train" / f"t{i}.png", natural_image(40, 40, seed=i))
    return {"train": {"mode": "mix", "roots": [str(tmp_path / "train")], "mix": {"tasks": ["haze", "low_light"]}},
            "val": {"roots": [str(tmp_path / "train")], "crop": 32, "tasks": ["haze"]}}


def test_refine_objective_trains_a_specialist_on_a_frozen_generalist(tmp_path):
    from gir.models.checkpoint import load_state
    from gir.training import run

    data = _data(tmp_path)
    train = {"iterations": 2, "batch_size": 2, "patch_size": 16, "log_interval": 1, "val_interval": 2,
             "save_interval": 2, "progress": False}
    run({"name": "g", "model": {"type": "srcnn", "c1": 8, "c2": 8}, "data": data, "train": train},
        out_dir=tmp_path / "g")
    g_path = tmp_path / "g" / "models" / "net_latest.safetensors"
    g_before = load_state(g_path, key="params")[0]
    cfg = {"name": "s", "model": {"type": "guided_refiner", "base": {"type": "wavelet_unet", "preset": "cpu",
                                                                        "channels": [4, 4, 4, 4]}},
           "objective": {"type": "refine", "generalist": str(g_path)}, "data": data, "train": train}
    run(cfg, out_dir=tmp_path / "s")
    assert (tmp_path / "s" / "models" / "net_latest.safetensors").is_file()
    assert all(torch.equal(v, load_state(g_path, key="params")[0][k]) for k, v in g_before.items())


def test_refine_objective_refuses_other_architectures(tmp_path):
    from gir.errors import GirError
    from gir.training import run

    cfg = {"model": {"type": "srcnn"}, "objective": {"type": "refine"}, "data": _data(tmp_path),
           "train": {"iterations": 1, "batch_size": 1, "patch_size": 16, "progress": False}}
    with pytest.raises(GirError, match="guided_refiner"):
        run(cfg, out_dir=tmp_path / "r")
