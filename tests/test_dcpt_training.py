"""DCPT training objectives (paper 004): `dcpt` pre-training (alternate / joint stages), exact resumption of
its classifier, fine-tuning from its network, and `dc_guided` training with a frozen classifier. Tiny srcnn
runs on images the tests make; about 20 s in all on 2 cores."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import natural_image
from gir.data import ConfigError
from gir.dcpt.objectives import CLASSIFIER, DCGuided, recipe_class
from gir.io import write_image
from gir.models.checkpoint import load_state
from gir.training import load_config, read_metrics, run
from gir.training.distributed import env_dist
from gir.training.engine import Trainer

ITERS = 30


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dcpt_data")
    (root / "train").mkdir(), (root / "val").mkdir()
    for i in range(4):
        write_image(root / "train" / f"t{i}.png", natural_image(48, 56, seed=30 + i))
    for i in range(2):
        write_image(root / "val" / f"v{i}.png", natural_image(40, 40, seed=40 + i))
    return {"train": root / "train", "val": root / "val"}


def _dcpt_cfg(data, stages: str = "alternate", classes=("noise", "clean"), **train) -> dict:
    """An easy two-class problem: strong noise or a clean patch; srcnn with 8 channels, classifier width 16."""
    return {
        "name": f"dcpt_{stages}", "seed": 1,
        "model": {"type": "srcnn", "preset": "small", "c1": 8, "c2": 8},
        "objective": {"type": "dcpt", "classes": classes if isinstance(classes, str) else list(classes),
                      "stages": stages, "width": 16},
        "data": {"train": {"mode": "compose", "roots": [str(data["train"])],
                           "compose": {"parts": [{"mode": "mix", "tasks": [{"name": "noise",
                                                                             "recipe": "noise(sigma=50)"}]},
                                                 {"mode": "clean"}]}},
                 "val": {"roots": [str(data["val"])], "crop": 32, "tasks": ["noise(sigma=50)"]}},
        "train": {"iterations": ITERS, "batch_size": 8, "patch_size": 32, "ema": 0, "log_interval": 1,
                  "val_interval": 0, "save_interval": 10, "threads": 1, "progress": False, **train},
        "optim": {"type": "adamw", "lr": 2e-4, "weight_decay": 0},  # 2e-3: the shared rate derails the encoder
        "schedule": {"type": "constant"},
    }


def _extra(run_dir: Path, it="latest") -> tuple[dict[str, torch.Tensor], dict]:
    return load_state(run_dir / "models" / f"{CLASSIFIER}_{it}.safetensors", key="params")


def _net(run_dir: Path, it="latest") -> dict[str, torch.Tensor]:
    return load_state(run_dir / "models" / f"net_{it}.safetensors", key="params")[0]


def _same(a: dict, b: dict, atol: float = 0.0) -> bool:
    return a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=atol, rtol=0) for k in a)


@pytest.fixture(scope="module")
def alternate_run(data, tmp_path_factory) -> Path:
    return run(_dcpt_cfg(data), out_dir=tmp_path_factory.mktemp("dcpt") / "alternate")


# ---------------------------------------------------------------------------------------------- dcpt
@pytest.mark.parametrize("stages", ["alternate", "joint"])
def test_dcpt_runs_saves_the_classifier_and_learns_to_classify(stages, data, alternate_run, tmp_path):
    if stages == "alternate":
        out = alternate_run
    else:  # classes read from the data: [noise, clean]
        out = run(_dcpt_cfg(data, "joint", classes="auto"), out_dir=tmp_path / "joint")
    state, info = _extra(out)
    assert info["model_cfg"]["classes"] == ["noise", "clean"] and info["model_cfg"]["stages"] == stages
    assert info["model_cfg"]["backbone"]["type"] == "srcnn" and state
    recs = read_metrics(out / "metrics.jsonl")
    cls = [r["terms"]["classify"] for r in recs if r["type"] == "train"]
    assert len(cls) == ITERS and all("generate" in r["terms"] for r in recs if r["type"] == "train")
    acc = [r["terms"]["accuracy"] for r in recs if r["type"] == "train"]
    assert np.mean(cls[-5:]) < 0.8 * np.mean(cls[:5]), cls
    assert np.mean(acc[:5]) <= 0.6 and np.mean(acc[-5:]) >= 0.9, acc
    val = [r for r in recs if r["type"] == "val"][-1]
    assert val["stages"] == stages and val["score_name"] == "accuracy"
    assert val["tasks"]["noise(sigma=50.0)"]["accuracy"] == val["score"] == 1.0
    assert np.isfinite(val["psnr"]) and "psnr" in val["tasks"]["noise(sigma=50.0)"]


def test_dcpt_on_a_unet_reads_every_encoder_level(data, tmp_path):
    cfg = _dcpt_cfg(data, iterations=2, save_interval=0)
    cfg["model"] = {"type": "wavelet_unet", "preset": "small", "channels": [8, 16, 16], "attention": False}
    info = _extra(run(cfg, out_dir=tmp_path / "unet"))[1]["model_cfg"]
    assert info["levels"] == ["encoders.0", "encoders.1", "encoders.2", "middle"]
    assert info["channels"] == [8, 16, 16, 16]


def test_alternate_steps_the_optimiser_twice_per_iteration(data, alternate_run, tmp_path):
    """Parameters both stages train (the first conv) were stepped 2x per iteration; the classifier and the
    network's last conv (one stage each) once. Joint: once for all."""
    joint = run(_dcpt_cfg(data, "joint", iterations=4, save_interval=0), out_dir=tmp_path / "joint")
    for out, its, first in ((alternate_run, ITERS, 2 * ITERS), (joint, 4, 4)):
        opt = torch.load(out / "states" / f"{its}.pt", weights_only=True)["optimizer"]
        steps = {i: int(s["step"]) for i, s in opt["state"].items()}
        n_net = len(_net(out))
        assert steps[0] == first  # srcnn net.0: under the first feature level
        assert steps[n_net - 1] == its  # net.4 (the output conv): generation only
        assert steps[n_net] == its  # the classifier's first parameter: classification only


def test_resumed_dcpt_run_restores_the_classifier_exactly(data, alternate_run, tmp_path):
    part = run(_dcpt_cfg(data), ["train.stop_at=5"], out_dir=tmp_path / "part")
    assert not (part / "models" / f"{CLASSIFIER}_{ITERS}.safetensors").exists()
    run(None, resume=part)
    for it in (10, 20, ITERS):
        assert _same(_extra(part, it)[0], _extra(alternate_run, it)[0], atol=1e-6)
        assert _same(_net(part, it), _net(alternate_run, it), atol=1e-6)


def test_fine_tuning_starts_from_the_pretrained_network(data, alternate_run, tmp_path):
    cfg = _dcpt_cfg(data, iterations=1)
    cfg.pop("objective")  # restore
    cfg["init"] = {"path": str(alternate_run / "models" / "net_latest.safetensors"), "key": "params"}
    cfg["optim"]["lr"] = 1e-12  # one step that cannot move the weights
    out = run(cfg, out_dir=tmp_path / "ft")
    assert _same(_net(out, 1), _net(alternate_run), atol=1e-7)
    fresh = run({**cfg, "init": {"path": None}}, out_dir=tmp_path / "fresh")
    assert not _same(_net(fresh, 1), _net(alternate_run), atol=1e-3)


# ----------------------------------------------------------------------------------------- dc_guided
def test_dc_guided_keeps_the_classifier_frozen_and_logs_its_term(data, alternate_run, tmp_path):
    path = alternate_run / "models" / f"{CLASSIFIER}_latest.safetensors"
    stored, _ = _extra(alternate_run)
    cfg = _dcpt_cfg(data, iterations=4, save_interval=0)
    cfg["objective"] = {"type": "dc_guided", "classifier": str(path), "weight": 0.5}
    trainer = Trainer(load_config(cfg), tmp_path / "guided", torch.device("cpu"), env_dist())
    clf = trainer.objective.classifier
    assert isinstance(trainer.objective, DCGuided) and trainer.extras == {}
    assert not any(p.requires_grad for p in clf.parameters())
    in_opt = {id(p) for g in trainer.opt.param_groups for p in g["params"]}
    assert not any(id(p) in in_opt for p in clf.parameters())
    before = _net(alternate_run)
    trainer.fit()
    assert _same({k: v.cpu() for k, v in clf.state_dict().items()}, stored)
    assert not _same(_net(tmp_path / "guided", 4), before)  # the network itself trained
    recs = [r for r in read_metrics(tmp_path / "guided" / "metrics.jsonl") if r["type"] == "train"]
    assert len(recs) == 4 and all(r["terms"]["dc_guided"] > 0 for r in recs)


def test_dc_guided_refuses_a_file_that_is_not_a_classifier(data, alternate_run, tmp_path):
    cfg = _dcpt_cfg(data, iterations=1)
    cfg["objective"] = {"type": "dc_guided", "classifier": str(alternate_run / "models" / "net_latest.safetensors")}
    with pytest.raises(ConfigError, match="not a classifier written by a dcpt run"):
        run(cfg, out_dir=tmp_path / "bad")


# ------------------------------------------------------------------------------------------ errors
def test_recipe_outside_the_classes_is_a_one_line_error(data, tmp_path):
    assert recipe_class("noise(sigma=50.0)", ["clean", "noise"]) == 1 and recipe_class("", ["clean", "noise"]) == 0
    for recipe in ("jpeg(quality=30.0)", "noise(sigma=5.0) > jpeg(quality=30.0)"):
        with pytest.raises(ConfigError, match=r"jpeg\(quality=30") as e:
            recipe_class(recipe, ["noise", "clean"])
        assert "\n" not in str(e.value) and "noise, clean" in str(e.value)
    cfg = _dcpt_cfg(data)
    cfg["data"]["train"]["compose"]["parts"][0]["tasks"].append("jpeg(quality=30)")
    with pytest.raises(ConfigError, match="'jpeg'.*noise, clean") as e:
        run(cfg, out_dir=tmp_path / "r1")
    assert "\n" not in str(e.value)
    cfg = copy.deepcopy(_dcpt_cfg(data))
    cfg["data"]["val"]["tasks"] = ["blur(sigma=2)"]
    with pytest.raises(ConfigError, match=r"data.val.tasks.*blur"):
        run(cfg, out_dir=tmp_path / "r2")
