"""gir.training: config loading and overrides, registries, schedules, runs, checkpoints, exact resume, DDP."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import REPO, natural_image
from gir.data import ConfigError
from gir.errors import GirError
from gir.io import write_image
from gir.models.checkpoint import load_model, load_state
from gir.training import load_config, read_metrics, run
from gir.training.config import apply_override, dump_config


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("data")
    (root / "train").mkdir(), (root / "val").mkdir()
    for i in range(5):
        write_image(root / "train" / f"t{i}.png", natural_image(36 + 3 * i, 44, seed=10 + i))
    for i in range(2):
        write_image(root / "val" / f"v{i}.png", natural_image(40, 40, seed=20 + i))
    return {"train": root / "train", "val": root / "val"}


def _cfg(data, **train) -> dict:
    """A tiny srcnn run: 2 x 16 x 16 patches, mix of two tasks, validation on 2 images x 2 tasks."""
    return {
        "name": "tiny",
        "model": {"type": "srcnn", "preset": "small", "c1": 8, "c2": 8},
        "data": {"train": {"mode": "mix", "roots": [str(data["train"])],
                           "mix": {"tasks": ["noise(sigma=20)", {"recipe": "jpeg", "random": True}]}},
                 "val": {"roots": [str(data["val"])], "crop": 32,
                         "tasks": ["noise(sigma=20)", {"name": "jpeg30", "recipe": "jpeg(quality=30)"}]}},
        "train": {"iterations": 6, "batch_size": 2, "patch_size": 16, "log_interval": 2, "val_interval": 3,
                  "save_interval": 3, "progress": False, **train},
    }


def _weights(run_dir: Path, it, key="params") -> dict[str, torch.Tensor]:
    return load_state(run_dir / "models" / f"net_{it}.safetensors", key=key)[0]


def _assert_same(a: dict, b: dict, atol=1e-6) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=atol, rtol=0), (k, (a[k] - b[k]).abs().max())


# ------------------------------------------------------------------------------------------------- config
def test_import_is_cheap():
    code = "import sys, gir.training; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_overrides_and_yaml_round_trip(data, tmp_path):
    text = yaml.safe_dump(_cfg(data))
    cfg = load_config(text, ["train.iterations=100", "model.preset=paper", "data.train.mode=gir",
                             "optim.lr=1e-3", "loss.0.type=charbonnier", "schedule.type=constant",
                             "data.val.tasks.1.seed=7", "data.train.gir.pool=[noise, jpeg]"])
    assert cfg["train"]["iterations"] == 100 and cfg["model"]["preset"] == "paper"
    assert cfg["model"]["c1"] == 8  # other keys of the section stay
    assert cfg["data"]["train"]["mode"] == "gir" and cfg["data"]["train"]["gir"]["pool"] == ["noise", "jpeg"]
    assert cfg["optim"]["lr"] == 1e-3 and cfg["optim"]["type"] == "adamw"  # a string "1e-3" became a float
    assert cfg["loss"] == [{"type": "charbonnier"}]  # a new type drops the old type's keys
    assert cfg["schedule"] == {"type": "constant"}
    assert cfg["data"]["val"]["tasks"][1]["seed"] == 7
    assert cfg["train"]["batch_size"] == 2 and cfg["train"]["ema"] == 0.999  # defaults filled in
    assert cfg["data"]["train"]["roots"] == [str(data["train"])]
    # dump -> load is the identity on a resolved config
    path = tmp_path / "c.yaml"
    path.write_text(dump_config(cfg))
    assert load_config(path) == cfg
    from gir.training import describe

    listing = "\n".join(describe())
    assert "train.iterations = 1000" in listing and "data.train.gir.order = 1-5" in listing
    # relative paths are resolved against the current directory
    old = os.getcwd()
    os.chdir(data["train"].parent)
    try:
        rel = load_config({"data": {"train": {"roots": "train", "compose": {"parts": [
            {"mode": "mix", "tasks": [{"recipe": "noise", "roots": "train"}]}, {"mode": "clean"}]}}}})
    finally:
        os.chdir(old)
    assert rel["data"]["train"]["roots"] == [str(data["train"])]
    assert rel["data"]["train"]["compose"]["parts"][0]["tasks"][0]["roots"] == [str(data["train"])]


def test_registries_build_from_yaml_text():
    from gir.data.tasks import TASK_SAMPLERS
    from gir.training.losses import LOSSES, LossSet
    from gir.training.optim import OPTIMIZERS, SCHEDULERS, build_optimizer, build_schedule

    cfg = load_config("""
optim: {type: adam, lr: 3e-4, betas: [0.8, 0.99]}
schedule: {type: cosine, warmup: 10, min_lr: 0}
loss:
  - {type: charbonnier, weight: 0.5, eps: 1e-2}
  - {type: mse, weight: 2}
data: {train: {mode: single, single: {op: jpeg, params: {quality: 40}, random: false}}}
train: {iterations: 110}
""")
    assert {"adam", "adamw"} <= set(OPTIMIZERS) and {"cosine", "constant"} <= set(SCHEDULERS)
    assert {"l1", "mse", "charbonnier", "perceptual", "gan"} <= set(LOSSES)
    p = torch.nn.Parameter(torch.zeros(3))
    opt = build_optimizer(cfg["optim"], [p])
    assert isinstance(opt, torch.optim.Adam) and opt.defaults["betas"] == (0.8, 0.99)
    assert opt.defaults["lr"] == pytest.approx(3e-4)
    sch = build_schedule(cfg["schedule"], 110, 3e-4)
    f = [sch.factor(t) for t in range(1, 111)]
    assert f[4] == pytest.approx(0.5) and f[9] == pytest.approx(1.0)  # linear warm-up
    assert all(a >= b for a, b in zip(f[9:], f[10:])) and f[-1] == pytest.approx(0.0, abs=1e-12)
    assert f[59] == pytest.approx(0.5, abs=0.02)  # half-way through the cosine
    losses = LossSet(cfg["loss"])
    x, y = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.1)
    total, terms = losses(x, y)
    assert terms["charbonnier"].item() == pytest.approx(np.sqrt(0.01 + 1e-4), rel=1e-5)
    assert total.item() == pytest.approx(0.5 * np.sqrt(0.0101) + 2 * 0.01, rel=1e-5)
    d = cfg["data"]["train"]
    sampler = TASK_SAMPLERS.build({"type": d["mode"], **d["single"]})
    assert sampler.draw(np.random.default_rng(0)).recipe.steps[0].params == {"quality": 40}


@pytest.mark.parametrize("change, match", [
    ({"train": {"iteratons": 5}}, "unknown key train.iteratons"),
    ({"train": {"iterations": "many"}}, "train.iterations must be an integer"),
    ({"train": {"iterations": 0}}, "train.iterations must be >= 1"),
    ({"train": {"amp": "fp8"}}, "train.amp must be one of"),
    ({"train": {"ema": True}}, "train.ema must be a number"),
    ({"data": {"train": {"mode": "sigle"}}}, "unknown mode 'sigle'"),
    ({"data": {"train": {"roots": ["/no/such/folder"]}}}, "does not exist"),
    ({"data": {"train": {"mix": {"tasks": ["noise > blurr"]}}}}, "unknown op 'blurr'"),
    ({"model": {"type": "unet9000"}}, "unknown architecture 'unet9000'"),
    ({"model": {"type": "srcnn", "depth": 3}}, "config: model: .*depth"),
    ({"loss": [{"type": "ssim_loss"}]}, "unknown loss 'ssim_loss'"),
    ({"loss": [{"type": "perceptual"}]}, "gir bundles no VGG weights"),
    ({"loss": []}, "non-empty list"),
    ({"optim": {"type": "adamw", "lr": -1}}, "optim.lr must be > 0"),
    ({"optim": {"type": "adamw", "momentum": 0.9}}, "unknown key 'momentum'"),
    ({"data": {"val": {"roots": ["/no/such/val"]}}}, "data.val.roots: /no/such/val does not exist"),
    ({"data": {"train": {"context_margin": 8}}}, "context_margin needs a model with image-level context"),
    ({"data": {"train": {"flat_regions": 1.5}}}, "data.train.flat_regions must be <= 1"),
])
def test_bad_config_raises_one_line_gir_error(data, tmp_path, change, match):
    cfg = _cfg(data)
    for section, value in change.items():
        if isinstance(value, dict) and isinstance(cfg.get(section), dict) and section not in ("model", "optim"):
            for k, v in value.items():
                cfg[section][k] = {**cfg[section][k], **v} if isinstance(v, dict) else v
        else:
            cfg[section] = value
    with pytest.raises(GirError, match=match) as e:
        run(cfg, out_dir=tmp_path / "run")
    assert "\n" not in str(e.value)


def test_empty_folder_and_bad_overrides(data, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no images"):
        run(_cfg(data), [f"data.train.roots={tmp_path / 'empty'}"], out_dir=tmp_path / "r1")
    with pytest.raises(ConfigError, match="expected dotted.key=value"):
        load_config(_cfg(data), ["train.iterations"])
    with pytest.raises(ConfigError, match="unknown key train.itrs"):
        load_config(_cfg(data), ["train.itrs=3"])
    with pytest.raises(ConfigError, match="not an index"):
        apply_override({}, "loss.4.weight=1")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {iterations: 3\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(bad)


# ---------------------------------------------------------------------------------------------- runs
def test_training_run_writes_everything(data, tmp_path):
    out = run(_cfg(data), ["train.log_interval=1"], out_dir=tmp_path / "run")
    assert out == tmp_path / "run"
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["train"]["log_interval"] == 1 and saved["model"]["c1"] == 8
    assert load_config(out / "config.yaml") == saved
    recs = read_metrics(out / "metrics.jsonl")
    train = [r for r in recs if r["type"] == "train"]
    val = [r for r in recs if r["type"] == "val"]
    assert [r["iter"] for r in train] == [1, 2, 3, 4, 5, 6]
    assert all(np.isfinite(r["loss"]) and r["lr"] > 0 and r["it_s"] > 0 for r in train)
    assert sum(sum(t["n"] for t in r["tasks"].values()) for r in train) == 12  # 6 iterations x batch 2
    assert set().union(*(r["tasks"] for r in train)) <= {"noise(sigma=20.0)", "jpeg (random)"}
    assert [r["iter"] for r in val] == [3, 6] and val[0]["weights"] == "ema"
    assert set(val[0]["tasks"]) == {"noise(sigma=20.0)", "jpeg30"}
    assert all(v["n"] == 2 and 5 < v["psnr"] < 60 and 0 < v["ssim"] <= 1 for v in val[-1]["tasks"].values())
    assert recs[-1]["type"] == "end" and recs[-1]["completed"]
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (out / "models").iterdir()) == [
        "net_3.safetensors", "net_6.safetensors", "net_latest.safetensors"]
    _assert_same(_weights(out, 6), _weights(out, "latest"))
    params, ema = _weights(out, 6), _weights(out, 6, "params_ema")
    assert not all(torch.equal(params[k], ema[k]) for k in params)  # EMA weights are their own
    model = load_model(out / "models" / "net_6.safetensors")  # architecture rebuilt from the stored config
    assert model(torch.rand(1, 3, 20, 20)).shape == (1, 3, 20, 20)
    state = torch.load(out / "states" / "6.pt", weights_only=True)
    assert state["iteration"] == 6 and state["ema"]["updates"] == 6 and "optimizer" in state
    with pytest.raises(ConfigError, match="already holds a run"):
        run(_cfg(data), out_dir=out)


def test_kill_and_resume_gives_the_same_weights(data, tmp_path):
    full = run(_cfg(data), out_dir=tmp_path / "full")
    part = run(_cfg(data), ["train.stop_at=3"], out_dir=tmp_path / "part")
    assert not (part / "models" / "net_6.safetensors").exists()
    assert yaml.safe_load((part / "config.yaml").read_text())["train"]["stop_at"] is None
    run(None, resume=part)
    for key in ("params", "params_ema"):
        _assert_same(_weights(full, 6, key), _weights(part, 6, key))
    recs = read_metrics(part / "metrics.jsonl")
    train_iters = [r["iter"] for r in recs if r["type"] == "train"]
    assert train_iters == sorted(set(train_iters)) and train_iters[-1] == 6  # no duplicated records
    val = [(r["iter"], r["psnr"]) for r in recs if r["type"] == "val"]
    assert val == [(r["iter"], r["psnr"]) for r in read_metrics(full / "metrics.jsonl") if r["type"] == "val"]
    # resuming a finished run does nothing; an override may extend it
    run(None, resume=full)
    assert not (full / "models" / "net_7.safetensors").exists()


def test_sigint_saves_state_and_resume_matches(data, tmp_path):
    """A real interruption: SIGINT arrives mid-run; the run saves, raises, and resumes exactly."""
    from gir.training.engine import TrainingInterrupted

    cfg = _cfg(data, iterations=100000, log_interval=2, val_interval=0, save_interval=0)
    cfg["data"]["val"] = {}
    out = tmp_path / "sig"

    def interrupt():
        deadline = time.time() + 60
        while time.time() < deadline:
            m = out / "metrics.jsonl"
            if m.exists() and m.read_text().strip():
                break
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(TrainingInterrupted, match="--resume"):
        run(cfg, out_dir=out)
    stopped = max(int(p.stem) for p in (out / "states").glob("*.pt"))
    assert stopped >= 2
    target = stopped + 3
    run(None, [f"train.stop_at={target}"], resume=out)
    ref = run(cfg, [f"train.stop_at={target}"], out_dir=tmp_path / "ref")
    _assert_same(_weights(ref, target), _weights(out, target))
    _assert_same(_weights(ref, target, "params_ema"), _weights(out, target, "params_ema"))


def test_gan_and_perceptual_terms_train_and_resume(data, tmp_path):
    from gir.training.vgg import VGGFeatures, layer_names

    # Random "VGG19" weights for the first two blocks: the loss only needs the layers up to conv2_2.
    gen = torch.Generator().manual_seed(0)
    state, cin = {}, 3
    for i, name in enumerate(layer_names("vgg19")[:layer_names("vgg19").index("conv2_2") + 1]):
        if name.startswith("conv"):
            cout = 64 if name.startswith("conv1") else 128
            state[f"features.{i}.weight"] = torch.randn(cout, cin, 3, 3, generator=gen) * 0.05
            state[f"features.{i}.bias"] = torch.zeros(cout)
            cin = cout
    vgg = tmp_path / "vgg.pth"
    torch.save(state, vgg)
    assert len(VGGFeatures("vgg19", ["conv2_2"], vgg).body) == 8
    loss = [{"type": "l1"}, {"type": "perceptual", "weight": 0.1, "weights": str(vgg),
                             "layers": {"conv1_2": 1.0, "relu2_2": 0.5}},
            {"type": "gan", "weight": 0.05, "channels": 8, "layers": 2, "kind": "lsgan"}]
    cfg = {**_cfg(data, iterations=4, save_interval=2, val_interval=0, log_interval=1), "loss": loss}
    full = run(cfg, out_dir=tmp_path / "full")
    train = [r for r in read_metrics(full / "metrics.jsonl") if r["type"] == "train"]
    assert set(train[0]["terms"]) == {"l1", "perceptual", "gan", "discriminator"}
    assert all(np.isfinite(v) for r in train for v in r["terms"].values())
    st = torch.load(full / "states" / "4.pt", weights_only=True)
    assert "discriminator" in st and "optimizer_d" in st
    part = run(cfg, ["train.stop_at=2"], out_dir=tmp_path / "part")
    run(None, resume=part)
    _assert_same(_weights(full, 4), _weights(part, 4))
    with pytest.raises(ConfigError, match="lacks"):
        run({**cfg, "loss": [{"type": "perceptual", "weights": str(vgg), "layers": {"conv3_1": 1}}]},
            out_dir=tmp_path / "bad")


def test_bf16_autocast_and_grad_clip_on_cpu(data, tmp_path):
    out = run(_cfg(data, iterations=2, amp="bf16", grad_clip=0.1, ema=0, val_interval=0),
              out_dir=tmp_path / "bf16")
    recs = read_metrics(out / "metrics.jsonl")
    assert all(np.isfinite(r["loss"]) for r in recs if r["type"] == "train")
    assert [r["weights"] for r in recs if r["type"] == "val"] == ["params"]  # EMA off


def test_ddp_two_processes_match_one_process_with_double_batch(data, tmp_path):
    """torchrun, 2 CPU ranks (gloo) x batch 2 == 1 process x batch 4: same samples, averaged gradients."""
    cfg_path = tmp_path / "ddp.yaml"
    cfg_path.write_text(yaml.safe_dump(_cfg(data, iterations=4, val_interval=0, threads=1)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "gir.training", str(cfg_path), "--out", str(tmp_path / "ddp")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    end = read_metrics(tmp_path / "ddp" / "metrics.jsonl")[-1]
    assert end["type"] == "end" and end["world_size"] == 2
    assert end["ranks_in_sync"] and len(set(end["param_digests"])) == 1  # both ranks hold identical weights
    train = [r for r in read_metrics(tmp_path / "ddp" / "metrics.jsonl") if r["type"] == "train"]
    assert sum(sum(t["n"] for t in r["tasks"].values()) for r in train) == 16  # both ranks' samples
    single = run(str(cfg_path), ["train.batch_size=4"], out_dir=tmp_path / "single")
    _assert_same(_weights(tmp_path / "ddp", 4), _weights(single, 4), atol=1e-5)


def test_context_margin_trains_the_context_map_on_the_region_around_the_patch(data, tmp_path):
    cfg = _cfg(data, iterations=2, patch_size=32, val_interval=0, save_interval=2)
    cfg["model"] = {"type": "wavelet_unet", "preset": "cpu", "context": 4, "context_window": 32}
    cfg["data"]["train"]["context_margin"] = 16
    run(cfg, out_dir=tmp_path / "run")
    # the map's FiLM starts at zero; it moved, so gradients reached it through the cropped region codes
    assert _weights(tmp_path / "run", 2)["local_film.weight"].abs().max() > 0


def test_psnr_loss_is_minus_psnr_per_image_and_balances_errors():
    from gir.training.losses import LOSSES

    loss = LOSSES.build({"type": "psnr"})
    gt = torch.zeros(2, 3, 8, 8)
    pred = gt.clone()
    pred[0] += 0.1      # MSE 1e-2 -> 20 dB
    pred[1] += 0.01     # MSE 1e-4 -> 40 dB
    assert loss.per_sample(pred, gt).tolist() == pytest.approx([-20.0, -40.0], abs=1e-3)
    assert float(loss(pred, gt)) == pytest.approx(-30.0, abs=1e-3)
    # The log gives each image a gradient inversely proportional to its error: the nearly clean image is
    # pulled as hard (in dB) as the noisy one, unlike L1 / MSE.
    pred.requires_grad_(True)
    loss(pred, gt).backward()
    g = pred.grad.flatten(1).norm(dim=1)
    assert float(g[1] / g[0]) == pytest.approx(10.0, rel=1e-3)  # 10x smaller error, 10x the pull
