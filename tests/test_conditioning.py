"""Conditioned networks (issue 21, step 3): values from recipes in training, from the analysis in `gir restore`."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import natural_image
from gir.cli import main
from gir.errors import GirError
from gir.io import write_image
from gir.models import build_model, save_checkpoint
from gir.models.base import ModelConfigError
from gir.models.conditioning import ConditioningError, encode, encode_recipes, from_recipe, parse_values
from gir.models.descriptor import describe_model
from gir.restore.engine import Restorer
from gir.restore.experts import ClassicalExpert
from gir.restore.pipeline import Pipeline

CFG = {"type": "wavelet_unet", "preset": "cpu", "channels": [8, 16], "blocks": 1, "mid_blocks": 1,
       "conditions": ["jpeg.quality"]}


def _net(seed: int = 0, perturb: bool = True) -> torch.nn.Module:
    """A tiny conditioned wavelet U-Net; ``perturb``: its zero-initialised layers get random weights, so that its
    output depends on the image and on the quality."""
    torch.manual_seed(seed)
    net = build_model(CFG).eval()
    if perturb:
        with torch.no_grad():
            for p in [*net.cond_film.parameters(), *net.dec_convs[0].parameters()]:
                p.normal_(0, 0.05)
    return net


# ------------------------------------------------------------------------------------------------ values
def test_values_come_from_the_last_step_of_the_recipe():
    assert from_recipe("noise(sigma=10) > jpeg(quality=30)", ["jpeg.quality"]) == {"jpeg.quality": 30.0}
    assert from_recipe("jpeg(quality=20) > noise(sigma=5) > jpeg(quality=70)", ["jpeg.quality"]) == {
        "jpeg.quality": 70.0}
    assert from_recipe("noise(sigma=10)", ["jpeg.quality"]) == {"jpeg.quality": 100.0}  # never compressed
    assert from_recipe("", ["jpeg.quality"]) == {"jpeg.quality": 100.0}  # a pre-made pair
    # camera noise is told its sigma at mid grey, as the analyzer reads it (the denoiser's camera stage)
    assert from_recipe("camera_noise(sigma=8, correlation=0.6)", ["noise.sigma"]) == {"noise.sigma": 8.0}
    assert from_recipe("noise(sigma=5) > camera_noise(sigma=9)", ["noise.sigma"]) == {"noise.sigma": 9.0}
    enc = encode_recipes(["jpeg(quality=25)", "blur(sigma=1.0)"], ["jpeg.quality"])
    assert enc.dtype == np.float32 and enc.shape == (2, 1) and np.allclose(enc[:, 0], [0.25, 1.0])


def test_encoding_clips_and_names_what_is_missing():
    assert encode(["jpeg.quality"], {"jpeg.quality": 250})[0] == pytest.approx(1.0)
    assert encode(["jpeg.quality"], {"jpeg.quality": -3})[0] == pytest.approx(0.01)
    with pytest.raises(ConditioningError, match="needs jpeg.quality"):
        encode(["jpeg.quality"], {})
    assert parse_values(["jpeg.quality=35"]) == {"jpeg.quality": 35.0}
    with pytest.raises(ConditioningError, match="NAME=NUMBER"):
        parse_values(["jpeg.quality"])
    with pytest.raises(ConditioningError, match="unknown conditioning input"):
        parse_values(["noise.colour=3"])


# ------------------------------------------------------------------------------------------------- model
def test_a_conditioned_net_starts_as_the_blind_one_and_says_what_it_needs():
    torch.manual_seed(1)
    blind = build_model({**CFG, "conditions": []}).eval()
    with torch.no_grad():
        blind.dec_convs[0].weight.normal_(0, 0.05)  # not the identity, so the comparison means something
    cond = build_model(CFG).eval()
    missing = [k for k in cond.state_dict() if k not in blind.state_dict()]
    assert missing and all(k.startswith(("cond_net.", "cond_film.")) for k in missing)
    cond.load_state_dict(blind.state_dict(), strict=False)
    x = torch.rand(2, 3, 40, 36)
    with torch.no_grad():
        assert torch.equal(cond(x, cond=torch.tensor([[0.2], [0.9]])), blind(x))
    assert describe_model(cond).conditioning == ("jpeg.quality",)
    with pytest.raises(ConditioningError, match="forward needs cond"):
        cond(x)
    with pytest.raises(ModelConfigError, match="unknown conditioning input"):
        build_model({**CFG, "conditions": ["jpeg.qualty"]})
    with pytest.raises(ModelConfigError, match="list of names"):
        build_model({**CFG, "conditions": "jpeg.quality"})


def test_the_restorer_passes_the_values_to_every_tile():
    net = _net()
    img = natural_image(72, 88, seed=3)
    whole = Restorer(net, device="cpu", tile=0, impulse_repair=False)
    tiled = Restorer(net, device="cpu", tile=32, overlap=16, impulse_repair=False)
    a = whole(img, conditions={"jpeg.quality": 20})
    assert np.abs(whole(img, conditions={"jpeg.quality": 80}) - a).max() > 1e-3  # the value matters
    # every tile gets it: tiled runs at two qualities differ in every 24 x 24 block
    diff = np.abs(tiled(img, conditions={"jpeg.quality": 20}) - tiled(img, conditions={"jpeg.quality": 80}))
    assert min(diff[y:y + 24, x:x + 24].mean() for y in range(0, 72, 24) for x in range(0, 88, 24)) > 1e-4
    with torch.no_grad():
        x = torch.from_numpy(img.transpose(2, 0, 1).copy())[None]
        ref = net(x, cond=torch.tensor([[0.2]]))[0].permute(1, 2, 0).numpy()
    assert np.abs(np.clip(ref, 0, 1) - a).max() < 1e-5
    with pytest.raises(ConditioningError, match="needs jpeg.quality"):
        whole(img)
    plain = Restorer(build_model({**CFG, "conditions": []}), device="cpu", impulse_repair=False)
    assert plain.conditions({"jpeg.quality": 20}) is None  # a blind network ignores them


class RecordingExpert(ClassicalExpert):
    """Records the strengths the pipeline hands it."""

    seen: list = []

    def __call__(self, rgb, progress=False, strengths=None):
        RecordingExpert.seen.append(dict(strengths or {}))
        return super().__call__(rgb, progress, strengths)


def test_the_pipeline_hands_each_expert_its_steps_strengths():
    from test_pipeline import diag

    def analyzer(rgb, jpeg=None, file=None):
        d = diag(0.0, jpeg=0.95) if rgb.std() > 0.01 else diag(0.95)
        d.findings["jpeg"].strength["quality"] = 27.0
        return d

    RecordingExpert.seen = []
    expert = RecordingExpert("jpeg", ("jpeg",), "classical", "test", fn=lambda r: r * 0 + 0.5)
    outcome = Pipeline(analyzer=analyzer, experts={"jpeg": expert}, device="cpu", verify=False).run(
        natural_image(48, 48, seed=5))
    assert RecordingExpert.seen == [{"jpeg.quality": 27.0}]
    assert outcome.records[0].step.strengths == {"jpeg.quality": 27.0}


# ---------------------------------------------------------------------------------------- training, CLI
def test_a_conditioned_run_trains_validates_and_reloads(tmp_path):
    from gir.models.checkpoint import load_model
    from gir.training import read_metrics, run
    from gir.training.objectives import batch_conditions

    root = tmp_path / "train"
    root.mkdir()
    for i in range(3):
        write_image(root / f"t{i}.png", natural_image(40, 48, seed=30 + i))
    cfg = {"name": "cond", "model": CFG,
           "data": {"train": {"mode": "mix", "roots": [str(root)],
                              "mix": {"tasks": [{"recipe": "jpeg", "random": True}]}},
                    "val": {"roots": [str(root)], "crop": 32, "max_images": 1,
                            "tasks": [{"name": "q20", "recipe": "jpeg(quality=20)"}]}},
           "train": {"iterations": 4, "batch_size": 2, "patch_size": 32, "log_interval": 2, "val_interval": 4,
                     "save_interval": 4, "progress": False}}
    run_dir = run(cfg, out_dir=tmp_path / "run")
    assert any(r.get("type") == "val" and np.isfinite(r["psnr"]) for r in read_metrics(run_dir / "metrics.jsonl"))
    net = load_model(run_dir / "models" / "net_latest.safetensors")
    assert describe_model(net).conditioning == ("jpeg.quality",)
    cond = batch_conditions(net, ["jpeg(quality=40)", "noise(sigma=3) > jpeg(quality=10)"], torch.device("cpu"))
    assert torch.allclose(cond, torch.tensor([[0.4], [0.1]]))
    assert batch_conditions(build_model({**CFG, "conditions": []}), ["jpeg(quality=40)"], torch.device("cpu")) is None


def test_cli_single_conditioned_model_needs_condition(tmp_path, capsys):
    net = _net()
    ckpt = tmp_path / "cond.safetensors"
    save_checkpoint(ckpt, net.state_dict(), model_cfg=CFG)
    src = tmp_path / "in.png"
    write_image(src, natural_image(40, 40, seed=7))
    assert main(["restore", str(src), "-o", str(tmp_path / "out"), "--model", str(ckpt), "-q"]) != 0
    err = capsys.readouterr().err
    assert "jpeg.quality" in err and "--condition" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    assert main(["restore", str(src), "-o", str(tmp_path / "out"), "--model", str(ckpt), "-q",
                 "--condition", "jpeg.quality=30"]) == 0
    assert (tmp_path / "out" / "in.png").is_file()
    from gir.restore import restore_files

    # the pipeline takes --condition as an override of the analysis, checked before any file is read
    with pytest.raises(GirError, match="noise.sigma=99: out of range"):
        restore_files([str(src)], tmp_path / "p", conditions={"noise.sigma": 99.0})
    with pytest.raises(GirError, match="unknown conditioning"):
        restore_files([str(src)], tmp_path / "p", conditions={"noise.level": 9.0})
    with pytest.raises(GirError, match="--kernel is for the default pipeline"):
        restore_files([str(src)], tmp_path / "p", model=str(ckpt), kernel=np.ones((3, 3)))
    assert not (tmp_path / "p").exists()
