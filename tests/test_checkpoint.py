"""Checkpoint files: round trips, EMA preference, strict loading, safe unpickling, rebuilding from metadata."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from gir.errors import GirError
from gir.models import CheckpointError, build_model, load_model, load_state, load_weights, save_checkpoint

CFG = {"type": "srresnet", "preset": "small", "bn": True, "blocks": 2}


def _model(cfg=CFG, seed=0):
    torch.manual_seed(seed)
    return build_model(dict(cfg))


def _randomised_state(model, seed):
    """A state dict of the model's shapes with fresh random values (so EMA and raw weights differ)."""
    g = torch.Generator().manual_seed(seed)
    return {k: (torch.rand(v.shape, generator=g) if v.is_floating_point() else v.clone())
            for k, v in model.state_dict().items()}


def _x():
    return torch.rand(1, 3, 20, 24, generator=torch.Generator().manual_seed(5))


def test_round_trip_gives_identical_outputs(tmp_path):
    model = _model().eval()
    ema = _randomised_state(model, 1)
    path = tmp_path / "ckpt.safetensors"
    save_checkpoint(path, model.state_dict(), ema, model_cfg=CFG, meta={"iter": 7})

    fresh = _model(seed=123).eval()
    info = load_weights(fresh, path, key="params")
    assert info["key"] == "params" and info["meta"] == {"iter": 7} and info["model_cfg"] == CFG
    with torch.no_grad():
        assert torch.equal(fresh(_x()), model(_x()))
    # Buffers (batch-norm statistics) travel too.
    for k, v in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v)


def test_file_layout(tmp_path):
    model = _model()
    path = tmp_path / "ckpt.safetensors"
    save_checkpoint(path, model.state_dict(), model.state_dict(), model_cfg=CFG,
                    meta={"psnr": np.float32(31.5), "step": np.int64(3), "root": tmp_path})
    with safe_open(str(path), framework="pt") as f:
        keys, md = set(f.keys()), f.metadata()
    names = set(model.state_dict())
    assert keys == {f"params/{n}" for n in names} | {f"params_ema/{n}" for n in names}
    assert md["format"] == "gir.checkpoint"
    assert load_state(path)[1]["meta"] == {"psnr": 31.5, "step": 3, "root": str(tmp_path)}
    # Written atomically: nothing but the checkpoint is left in the folder.
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.safetensors"]


def test_ema_preferred_and_params_fallback(tmp_path):
    model = _model()
    raw, ema = _randomised_state(model, 1), _randomised_state(model, 2)
    both, only_raw = tmp_path / "both.safetensors", tmp_path / "raw.safetensors"
    save_checkpoint(both, raw, ema, model_cfg=CFG)
    save_checkpoint(only_raw, raw, None, model_cfg=CFG)
    name = "head.0.weight"

    state, info = load_state(both)
    assert info["key"] == "params_ema" and torch.equal(state[name], ema[name])
    state, info = load_state(both, key="params")
    assert info["key"] == "params" and torch.equal(state[name], raw[name])
    state, info = load_state(only_raw)  # no EMA in the file -> params
    assert info["key"] == "params" and torch.equal(state[name], raw[name])

    ema_only = tmp_path / "ema.safetensors"
    save_file({f"params_ema/{k}": v for k, v in ema.items()}, str(ema_only))
    with pytest.raises(CheckpointError, match="no 'params' weights"):
        load_state(ema_only, key="params")


def test_mismatched_architecture_names_the_tensors(tmp_path):
    path = tmp_path / "resnet.safetensors"
    save_checkpoint(path, _model({"type": "resnet", "channels": 16, "blocks": 3}).state_dict())

    with pytest.raises(CheckpointError) as err:  # same names, different widths
        load_weights(_model({"type": "resnet", "channels": 8, "blocks": 3}), path)
    msg = str(err.value)
    assert msg.startswith(str(path)) and "\n" not in msg
    assert "shape mismatch" in msg and "head.weight [16, 3, 3, 3] vs model [8, 3, 3, 3]" in msg

    with pytest.raises(CheckpointError) as err:  # fewer blocks in the model
        load_weights(_model({"type": "resnet", "channels": 16, "blocks": 2}), path)
    assert "4 unexpected: " in str(err.value) and "blocks.2.conv1.weight" in str(err.value)

    with pytest.raises(CheckpointError) as err:  # more blocks in the model
        load_weights(_model({"type": "resnet", "channels": 16, "blocks": 5}), path)
    assert "8 missing: blocks.3.conv1.weight" in str(err.value) and "(+4 more)" in str(err.value)
    assert "unexpected" not in str(err.value)
    assert isinstance(err.value, GirError)
    # strict=False: the model's extra tensors keep their values and are named; shapes must still fit
    bigger = _model({"type": "resnet", "channels": 16, "blocks": 5})
    kept = bigger.blocks[4].conv1.weight.detach().clone()
    info = load_weights(bigger, path, strict=False)
    assert len(info["missing"]) == 8 and "blocks.4.conv1.weight" in info["missing"]
    assert torch.equal(bigger.blocks[4].conv1.weight, kept)
    assert torch.equal(bigger.head.weight, load_state(path, "params")[0]["head.weight"])
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_weights(_model({"type": "resnet", "channels": 8, "blocks": 5}), path, strict=False)


def test_exclude_leaves_out_a_branch_the_model_drops(tmp_path):
    path = tmp_path / "resnet.safetensors"
    saved = _model({"type": "resnet", "channels": 16, "blocks": 3})
    save_checkpoint(path, saved.state_dict())
    smaller = _model({"type": "resnet", "channels": 16, "blocks": 2})
    info = load_weights(smaller, path, exclude=["blocks.2."])
    assert sorted(info["excluded"]) == sorted(k for k in saved.state_dict() if k.startswith("blocks.2."))
    assert info["missing"] == []
    assert torch.equal(smaller.blocks[1].conv1.weight, saved.blocks[1].conv1.weight)
    # a prefix that matches nothing is a typo, not a no-op
    with pytest.raises(CheckpointError, match=r"init.exclude: no tensor starts with 'block.2.'") as err:
        load_weights(smaller, path, exclude=["blocks.2.", "block.2."])
    assert str(err.value).startswith(str(path))


def _touch(path):  # what the malicious pickle below would run if it were unpickled freely
    Path(path).write_text("ran")
    return path


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (_touch, (str(self.marker),))


def test_pth_with_pickled_object_is_refused(tmp_path):
    marker = tmp_path / "marker.txt"
    path = tmp_path / "evil.pth"
    torch.save({"weight": torch.zeros(2), "extra": _Payload(marker)}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_state(path)
    assert not marker.exists()
    # The file really is dangerous: unrestricted unpickling runs the payload.
    torch.load(path, weights_only=False)
    assert marker.read_text() == "ran"


def test_plain_state_dicts_are_accepted(tmp_path):
    model = _model().eval()
    state = _randomised_state(model, 3)
    ref = _model(seed=9).eval()
    ref.load_state_dict(state)

    plain_st = tmp_path / "plain.safetensors"
    save_file(state, str(plain_st))
    nested_pth = tmp_path / "nested.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, nested_pth)
    basicsr_pt = tmp_path / "basicsr.pt"
    torch.save({"params": _randomised_state(model, 4), "params_ema": state}, basicsr_pt)

    for path in (plain_st, nested_pth, basicsr_pt):
        fresh = _model(seed=1).eval()
        info = load_weights(fresh, path)
        assert info["model_cfg"] is None
        with torch.no_grad():
            assert torch.equal(fresh(_x()), ref(_x())), path.name


def test_load_model_rebuilds_from_metadata(tmp_path):
    cfg = {"type": "nafnet", "preset": "small", "width": 8, "enc_blocks": [1, 1], "dec_blocks": [1, 1]}
    model = _model(cfg).eval()
    ema = _randomised_state(model, 6)
    path = tmp_path / "naf.safetensors"
    save_checkpoint(path, model.state_dict(), ema, model_cfg=cfg)

    loaded = load_model(path)
    assert type(loaded).__name__ == "NAFNet" and not loaded.training
    model.load_state_dict(ema)
    with torch.no_grad():
        assert torch.equal(loaded(_x()), model(_x()))

    bare = tmp_path / "bare.safetensors"
    save_checkpoint(bare, model.state_dict())
    with pytest.raises(CheckpointError, match="no model_cfg"):
        load_model(bare)


def test_unreadable_inputs_raise_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_state(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(CheckpointError):
        load_state(junk)
    with pytest.raises(CheckpointError, match="not JSON-serialisable|cannot be stored as JSON"):
        save_checkpoint(tmp_path / "x.safetensors", {"w": torch.zeros(1)}, meta={"bad": object()})
    assert not (tmp_path / "x.safetensors").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["junk.safetensors"]


def test_overwrite_replaces_the_file(tmp_path):
    path = tmp_path / "sub" / "c.safetensors"
    save_checkpoint(path, {"w": torch.zeros(3)}, meta={"v": 1})
    save_checkpoint(path, {"w": torch.ones(3)}, meta={"v": 2})
    state, info = load_state(path)
    assert torch.equal(state["w"], torch.ones(3)) and info["meta"] == {"v": 2}


def test_export_keeps_only_the_ema_weights_and_the_config(tmp_path):
    from gir.models.checkpoint import export_weights

    model = _model()
    ema = _randomised_state(model, 3)
    src = tmp_path / "run" / "net_10.safetensors"
    save_checkpoint(src, _randomised_state(model, 2), ema, model_cfg=CFG, meta={"iteration": 10})
    meta = export_weights(src, tmp_path / "ship.safetensors", meta={"card": "x.md"})
    assert meta["iteration"] == 10 and meta["card"] == "x.md" and meta["weights"] == "params_ema"
    with safe_open(str(tmp_path / "ship.safetensors"), framework="pt") as f:
        assert all(k.startswith("params/") for k in f.keys())
    assert (tmp_path / "ship.safetensors").stat().st_size < 0.6 * src.stat().st_size
    shipped = load_model(tmp_path / "ship.safetensors").eval()
    expected = _model().eval()
    expected.load_state_dict(ema)
    with torch.no_grad():
        assert torch.equal(shipped(_x()), expected(_x()))


def test_fp16_export_halves_the_file_and_loads_into_float32(tmp_path):
    from gir.models.checkpoint import export_weights

    model = _model()
    src = tmp_path / "net.safetensors"
    save_checkpoint(src, _randomised_state(model, 2), _randomised_state(model, 3), model_cfg=CFG, meta={})
    export_weights(src, tmp_path / "full.safetensors")
    meta = export_weights(src, tmp_path / "half.safetensors", fp16=True)
    assert meta["stored_as"] == "float16"
    assert (tmp_path / "half.safetensors").stat().st_size < 0.6 * (tmp_path / "full.safetensors").stat().st_size
    full, half = load_model(tmp_path / "full.safetensors"), load_model(tmp_path / "half.safetensors")
    assert all(p.dtype == torch.float32 for p in half.parameters())
    with torch.no_grad():
        a, b = full(_x()), half(_x())
        assert ((a - b).abs().max() / a.abs().max()) < 1e-2  # float16's rounding of the weights only


def test_export_refuses_checkpoints_without_a_model_config(tmp_path):
    from gir.models.checkpoint import export_weights

    src = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(src))
    with pytest.raises(CheckpointError, match="model config"):
        export_weights(src, tmp_path / "out.safetensors")
