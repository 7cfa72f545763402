"""Upscaling (issue 29): MATLAB's bicubic resize, the SR protocol, the multi-scale network, tiling at the low
resolution, `gir restore --scale` and the `upscale` training objective."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gir.bench.evaluate import mean_table, score_pairs
from gir.bench.superres import bicubic, load_sr_images, low_resolution, modcrop, sr_pairs
from gir.degradations.matlab_resize import imresize, imresize_torch, resize_matrix
from gir.errors import GirError
from gir.io import read_rgb, write_image
from gir.metrics import psnr
from gir.metrics.niqe import halve
from gir.models import build_model, save_checkpoint
from gir.restore.engine import Restorer
from gir.restore.tiling import TileGrid, run_tiled
from gir.restore.upscale import Upscaler, check_output_size, parse_scale

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "test"


def _rng_image(h, w, seed=0):
    return np.random.default_rng(seed).random((h, w, 3)).astype(np.float32)


# ------------------------------------------------------------------------------------------ MATLAB resize
def test_resize_rows_sum_to_one_and_sizes_are_matlabs():
    for n, s in ((10, 0.5), (11, 1 / 3), (7, 4.0), (9, 0.25), (5, 3.0)):
        m = resize_matrix(n, s)
        assert m.shape == (int(np.ceil(n * s - 1e-9)), n)
        assert np.allclose(m.sum(1), 1.0)


def test_half_size_equals_niqe_halve():
    x = np.random.default_rng(1).random((37, 52))
    assert np.abs(imresize(x, 0.5) - halve(x)).max() < 1e-12


def test_upscaling_interpolates_and_keeps_constants():
    x = np.random.default_rng(2).random((9, 11, 3))
    up = imresize(x, 3.0)
    assert up.shape == (27, 33, 3)
    # MATLAB's x3 puts output 3k+1 (0-based) exactly on input k: the cubic kernel is 1 there, 0 at the others
    assert np.allclose(up[1::3, 1::3], x)
    assert np.allclose(imresize(np.full((8, 8), 0.3), 0.25), 0.3)


def test_torch_resize_matches_numpy():
    x = np.random.default_rng(3).random((2, 3, 24, 36)).astype(np.float32)
    t = imresize_torch(torch.from_numpy(x), 1 / 3).numpy()
    want = np.stack([imresize(img.transpose(1, 2, 0), 1 / 3).transpose(2, 0, 1) for img in x])
    assert np.abs(t - want).max() < 1e-5


@pytest.mark.skipif(not (SHARED / "set5").is_dir(), reason="../shared/data/test/set5 is absent")
def test_bicubic_baseline_reproduces_published_set5_and_set14():
    """The literature's bicubic numbers (Set5 33.66 / 30.39 / 28.42, Set14 30.24 / 27.55 / 26.00) are the
    calibration of the whole protocol: MATLAB resize, 8-bit LR, Y channel, border shave, gray images."""
    published = {("set5", 2): 33.66, ("set5", 3): 30.39, ("set5", 4): 28.42,
                 ("set14", 2): 30.24, ("set14", 3): 27.55, ("set14", 4): 26.00}
    for (name, scale), want in published.items():
        scores = score_pairs({}, sr_pairs(load_sr_images(SHARED / name), [scale]), crop_border=scale, y_channel=True, baseline=bicubic)
        got = mean_table(scores, by=("method",))[("input",)]["psnr"]
        assert got == pytest.approx(want, abs=0.03), (name, scale, got)


def test_protocol_pairs():
    gt = _rng_image(50, 47)
    (pair,) = list(sr_pairs([("d", "a.png", gt)], [4]))
    assert pair.gt.shape == (48, 44, 3) and pair.lq.shape == (12, 11, 3) and pair.told == 4
    assert np.array_equal(pair.lq, np.round(pair.lq * 255) / 255)  # 8-bit levels, as the LR files are
    assert np.array_equal(modcrop(gt, 4), pair.gt)
    assert np.array_equal(low_resolution(pair.gt, 4), pair.lq)


def test_gray_file_is_scored_on_its_gray_values():
    g = np.random.default_rng(4).random((20, 20, 1)).astype(np.float32)
    out = np.clip(g + 0.01, 0, 1)
    assert psnr(out, g, y_channel=True) == pytest.approx(psnr(out[..., 0], g[..., 0]), abs=1e-9)


# ------------------------------------------------------------------------------------------ network
def test_fresh_network_is_bicubic_and_every_scale_has_its_size():
    net = build_model({"type": "rlfn", "preset": "small"}).eval()
    x = torch.rand(1, 3, 13, 17)
    for s in (2, 3, 4):
        y = net(x, scale=s)
        assert y.shape == (1, 3, 13 * s, 17 * s)
        base = torch.nn.functional.interpolate(x, scale_factor=s, mode="bicubic", align_corners=False)
        assert torch.allclose(y, base)
    with pytest.raises(Exception, match="x5"):
        net(x, scale=5)
    d = net.descriptor()
    assert d.scales == (2, 3, 4) and d.scale == 2


def _trained_looking_net(seed=0, std=0.01):
    torch.manual_seed(seed)
    net = build_model({"type": "rlfn", "preset": "small", "channels": 16, "blocks": 1}).eval()
    for p in net.tails.parameters():
        torch.nn.init.normal_(p, std=std)
    return net


def test_tiles_at_low_resolution_blend_to_the_untiled_result():
    net = _trained_looking_net()
    x = _rng_image(70, 93)
    whole = Restorer(net, tile=0, scale=3, impulse_repair=False)(x)
    tiled = Restorer(net, tile=32, overlap=16, scale=3, impulse_repair=False)(x)
    assert whole.shape == tiled.shape == (210, 279, 3)
    assert np.abs(whole - tiled).max() < 0.01


def test_scaled_grid_covers_the_output_once():
    grid = TileGrid.build(50, 70, 24, 24, 8, 1)
    big = grid.scaled(4)
    ones = np.ones((50, 70, 3), np.float32)
    out = run_tiled(ones, grid, lambda t: np.ones((t.shape[0], t.shape[1] * 4, t.shape[2] * 4, 3), np.float32),
                    out_grid=big)
    assert out.shape == (200, 280, 3) and np.allclose(out, 1.0)


def test_restorer_refuses_a_scale_the_model_lacks():
    with pytest.raises(GirError, match="upscales x2, x3, x4; x5"):
        Restorer(_trained_looking_net(), scale=5)
    with pytest.raises(GirError, match="does not upscale"):
        Restorer(build_model({"type": "srcnn", "preset": "small"}), scale=2)


def test_self_ensemble_of_an_upscaler_keeps_the_output_size():
    out = Restorer(_trained_looking_net(), tile=0, scale=2, impulse_repair=False, ensemble=4)(_rng_image(21, 30))
    assert out.shape == (42, 60, 3)


# ------------------------------------------------------------------------------------------ restore --scale
@pytest.mark.parametrize("bad", [0, 7, 1.5, "1.5", "x2", -2])
def test_bad_scales_get_one_line(bad):
    with pytest.raises(GirError, match="--scale must be 1, 2, 3 or 4"):
        parse_scale(bad)


def test_good_scales():
    assert [parse_scale(v) for v in (1, "2", 3.0, " 4 ")] == [1, 2, 3, 4]


def test_output_over_the_pixel_limit_is_refused_naming_the_size():
    with pytest.raises(GirError, match="x4 of 600x500 would be 2400x2000 = 4,800,000 pixels"):
        check_output_size(600, 500, 4, limit=4_000_000, name="a.png")
    check_output_size(600, 500, 2, limit=4_000_000)


def test_upscaler_falls_back_to_bicubic_when_the_network_is_inconsistent(tmp_path):
    net = _trained_looking_net()
    for p in net.tails.parameters():
        torch.nn.init.normal_(p, std=0.5)  # a wild detail branch: far from its input when shrunk back
    path = tmp_path / "wild.safetensors"
    save_checkpoint(path, net.state_dict(), None, {"type": "rlfn", "preset": "small", "channels": 16, "blocks": 1})
    x = _rng_image(24, 24)
    out, rec = Upscaler(2, str(path), tile=0)(x)
    assert out.shape == (48, 48, 3) and rec.method == "bicubic" and "bicubic instead" in rec.why
    assert np.allclose(out, np.clip(imresize(x, 2.0), 0, 1), atol=1e-6)


def test_photos_that_showed_more_than_down_sampling_get_the_real_photo_network(tmp_path):
    paths = {}
    for name, seed in (("fidelity", 0), ("real", 1)):
        paths[name] = tmp_path / f"{name}.safetensors"
        save_checkpoint(paths[name], _trained_looking_net(seed, std=0.001).state_dict(), None,
                        {"type": "rlfn", "preset": "small", "channels": 16, "blocks": 1})
    up = Upscaler(2, str(paths["fidelity"]), real_model=str(paths["real"]), tile=0)
    x = np.full((20, 24, 3), 0.5, np.float32)
    x[5:15, 6:18] = 0.7
    _, plain = up(x)
    _, real = up(x, degraded=("jpeg", "noise"))
    assert plain.method == "fidelity" and "only down-sampling" in plain.why
    assert real.method == "real" and "showed jpeg, noise" in real.why
    _, asked = Upscaler(2, "bicubic")(x)
    assert asked.method == "bicubic" and asked.why == "asked for"


def test_pipeline_scale_with_a_network_checkpoint(tmp_path):
    from gir.restore.pipeline import Pipeline

    net = _trained_looking_net()
    path = tmp_path / "sr.safetensors"
    save_checkpoint(path, net.state_dict(), None, {"type": "rlfn", "preset": "small", "channels": 16, "blocks": 1})
    flat = np.full((40, 52, 3), 0.5, np.float32)
    flat[10:30, 10:40] = 0.8
    pipe = Pipeline(experts={}, analyzer=lambda rgb, **kw: _clean_diagnosis(), scale=3, upscaler=str(path),
                    tile=0)
    outcome = pipe.run(flat)
    assert outcome.image.shape == (120, 156, 3) and outcome.changed
    assert outcome.upscale.method == "sr" and outcome.upscale.residual < 4.0
    assert "upscale x3: sr" in outcome.explain() and outcome.to_dict()["upscale"]["scale"] == 3


def _clean_diagnosis():
    from gir.analysis.analyze import Diagnosis, Finding
    from gir.analysis.families import FAMILIES

    return Diagnosis(0.99, {name: Finding(0.01, {}) for name in FAMILIES}, (64, 64), 1)


def test_cli_scale_writes_an_image_s_times_larger_and_refuses_bad_scales(tmp_path, capsys):
    from gir.cli import main

    src = tmp_path / "in.png"
    write_image(src, _rng_image(20, 30) * 0.2 + 0.4)
    out = tmp_path / "out.png"
    assert main(["restore", str(src), "-o", str(out), "--scale", "2", "-q"]) == 0
    assert read_rgb(out).shape == (40, 60, 3)
    capsys.readouterr()
    assert main(["restore", str(src), "-o", str(tmp_path / "b.png"), "--scale", "1.5"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--scale must be 1, 2, 3 or 4" in err
    assert not (tmp_path / "b.png").exists()


# ------------------------------------------------------------------------------------------ training
def test_upscale_objective_trains_and_validates(tmp_path):
    from gir.training.engine import run as train

    from conftest import clean_run_config

    cfg = clean_run_config(tmp_path, {"type": "rlfn", "preset": "small", "channels": 8, "blocks": 1},
                           {"type": "upscale", "scales": [2, 3, 4]}, patch=24, iterations=3)
    run_dir = train(cfg, out_dir=tmp_path / "run")
    import json

    vals = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()
            if '"val"' in line]
    assert vals and set(vals[-1]["tasks"]) == {"x2", "x3", "x4"}
    assert all(np.isfinite(t["psnr_in"]) for t in vals[-1]["tasks"].values())


def test_upscale_objective_refuses_a_patch_size_that_is_not_a_multiple(tmp_path):
    from gir.training.engine import run as train

    d = tmp_path / "t"
    d.mkdir()
    write_image(d / "a.png", _rng_image(64, 64))
    cfg = {"name": "sr", "model": {"type": "rlfn", "preset": "small", "channels": 8, "blocks": 1},
           "objective": {"type": "upscale", "scales": [2, 3]},
           "data": {"train": {"mode": "clean", "roots": [str(d)], "num_workers": 0}},
           "train": {"iterations": 1, "batch_size": 1, "patch_size": 32, "progress": False},
           "loss": [{"type": "l1"}]}
    with pytest.raises(Exception, match="multiple of every scale"):
        train(cfg, out_dir=tmp_path / "run")
