"""The degradation analyzer: targets from recipes, training through `gir train`, inference, calibration,
JPEG-table fusion and the `gir analyze` command (tiny analyzers the tests train themselves)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from conftest import natural_image
from gir.analysis.analyze import Analyzer, Calibration, Diagnosis, Finding, aggregate, crop_grid, fuse_jpeg_tables
from gir.analysis.calibration import expected_calibration_error, fit_platt
from gir.analysis.families import (FAMILIES, NUM_OUTPUTS, OP_FAMILY, STRENGTHS, decode_strength, encode_strengths,
                                   recipe_targets)
from gir.io import write_image
from gir.training import read_metrics, run


# ------------------------------------------------------------------------------------------- targets
def test_every_op_has_a_family_or_is_a_declared_composite():
    from gir.degradations import OPS

    assert set(OPS.names()) == set(OP_FAMILY)
    assert set(f for f in OP_FAMILY.values() if f) == set(FAMILIES)
    assert NUM_OUTPUTS == len(FAMILIES) + 1 + len(STRENGTHS)


def test_recipe_targets_read_families_and_strengths():
    t = recipe_targets("blur(sigma=2.0) > poisson_noise(peak=50) > noise(sigma=20) > jpeg(quality=40)")
    assert t.present() == ["noise", "blur", "jpeg"] and t.clean == 0.0
    s = dict(zip([x.name for x in STRENGTHS], t.strengths))
    assert s["sigma"] == pytest.approx(math.hypot(20.0, 255.0 * math.sqrt(0.5 / 50)), rel=1e-5)
    assert s["quality"] == 40 and s["width"] == pytest.approx(2.0)
    assert math.isnan(s["factor"]) and math.isnan(s["density"])
    assert recipe_targets("motion_blur(length=12)").strengths[2] == pytest.approx(12 / math.sqrt(12))
    assert recipe_targets("defocus_blur(radius=4)").strengths[2] == pytest.approx(2.0)
    assert recipe_targets("sr(scale=3)").strengths[3] == 3.0
    clean = recipe_targets("")
    assert clean.clean == 1.0 and not clean.present() and np.isnan(clean.strengths).all()
    with pytest.raises(ValueError, match="composite"):
        recipe_targets("realesrgan")


def test_strength_encoding_round_trips():
    values = np.array([[25.0, 30.0, 1.5, 2.0, 1.2, 0.1]], np.float32)
    enc = encode_strengths(values)
    assert [decode_strength(i, u) for i, u in enumerate(enc[0])] == pytest.approx(values[0].tolist(), rel=1e-5)
    assert np.isnan(encode_strengths(np.full((1, len(STRENGTHS)), np.nan, np.float32))).all()


# ---------------------------------------------------------------------------------------- inference parts
def test_crop_grid_spreads_windows_and_stays_inside():
    corners = crop_grid(600, 900, 128, 12)
    assert 9 <= len(corners) <= 12 and len(set(corners)) == len(corners)
    assert all(0 <= y <= 600 - 128 and 0 <= x <= 900 - 128 for y, x in corners)
    assert (0, 0) in corners and (600 - 128, 900 - 128) in corners
    assert crop_grid(100, 90, 128, 12) == [(0, 0)]
    # 3 rows x 4 columns (about sqrt(12 * 900 / 600) columns), evenly stepped, row-major
    assert corners == [(y, x) for y in (0, 236, 472) for x in (0, 257, 515, 772)]
    assert crop_grid(600, 128, 128, 12) == [(y, 0) for y in (0, 94, 189, 283, 378, 472)]  # a strip: one column


def test_aggregate_uses_the_most_telling_windows():
    f = len(FAMILIES)
    out = np.zeros((8, NUM_OUTPUTS), np.float32)
    out[:, 0] = [-5, -5, -5, -5, 3, 3, 3, 3]  # noise in half of the windows
    out[:, f] = [4, 4, 4, 4, -2, -2, -2, -2]  # clean where there is none
    z, _ = aggregate(out, top=4)
    assert z[0] == pytest.approx(3.0) and z[-1] == pytest.approx(-2.0)


def test_platt_fit_recovers_a_known_calibration_and_lowers_ece():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 3, 20000)
    a, b = 0.5, -1.0  # true p = sigmoid(0.5 z - 1): the raw sigmoid(z) is over-confident
    y = (rng.random(z.size) < 1 / (1 + np.exp(-(a * z + b)))).astype(int)
    fa, fb = fit_platt(z, y)
    assert fa == pytest.approx(a, abs=0.05) and fb == pytest.approx(b, abs=0.08)
    raw = expected_calibration_error(1 / (1 + np.exp(-z)), y)
    cal = expected_calibration_error(1 / (1 + np.exp(-(fa * z + fb))), y)
    assert raw > 0.1 and cal < 0.02
    assert fit_platt(z, np.ones_like(y)) == (1.0, 0.0)


def _diag(p_jpeg=0.1, q_pix=60.0, clean=0.9) -> Diagnosis:
    findings = {f: Finding(0.01) for f in FAMILIES}
    findings["jpeg"] = Finding(p_jpeg, {"quality": q_pix})
    return Diagnosis(clean, findings, (64, 64), 1)


def test_jpeg_tables_decide_quality_unless_pixels_show_an_earlier_harder_save():
    from gir.analysis.jpeg_tables import JpegTables

    d = _diag()
    fuse_jpeg_tables(d, JpegTables(30.0, True, 0.0, 2, "4:2:0"))
    assert d.findings["jpeg"].p == 1.0 and d.findings["jpeg"].strength["quality"] == 30.0
    assert d.findings["jpeg"].source == "jpeg tables" and d.clean == 0.0
    d = _diag()
    fuse_jpeg_tables(d, JpegTables(98.0, True, 0.0, 2, "4:2:0"))  # an invisible save: clean stays clean
    assert d.clean == 0.9 and d.findings["jpeg"].strength["quality"] == 98.0
    d = _diag(p_jpeg=0.95, q_pix=35.0)  # compressed at ~35, re-saved at 95: the pixels tell
    fuse_jpeg_tables(d, JpegTables(95.0, True, 0.0, 2, "4:2:0"))
    assert d.findings["jpeg"].strength["quality"] == 35.0 and "later save" in d.findings["jpeg"].source


# --------------------------------------------------------------------------- training a tiny analyzer
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("an")
    (root / "train").mkdir(), (root / "val").mkdir()
    for i in range(4):
        write_image(root / "train" / f"t{i}.png", natural_image(48, 56, seed=30 + i))
    write_image(root / "val" / "v.png", natural_image(40, 40, seed=40))
    cfg = {
        "name": "tiny_analyzer", "seed": 3,
        "objective": {"type": "analyze"},
        "model": {"type": "analyzer", "backbone": {"type": "srcnn", "preset": "small", "c1": 8, "c2": 8},
                  "width": 16, "crop": 32},
        "data": {"train": {"mode": "compose", "roots": [str(root / "train")], "structures": 0.5,
                           "compose": {"parts": [{"mode": "mix", "weight": 1, "tasks": [
                               {"recipe": "noise", "random": True}, {"recipe": "jpeg", "random": True}]},
                               {"mode": "clean", "weight": 1}]}},
                 "val": {"roots": [str(root / "val")], "crop": 32, "tasks": ["noise(sigma=30)", "jpeg(quality=20)"]}},
        "train": {"iterations": 4, "batch_size": 4, "patch_size": 32, "log_interval": 2, "val_interval": 4,
                  "save_interval": 2, "progress": False},
    }
    return run(cfg, out_dir=root / "run")


def test_analyzer_trains_through_gir_train_and_resumes_exactly(tiny_run, tmp_path):
    recs = read_metrics(tiny_run / "metrics.jsonl")
    train = [r for r in recs if r["type"] == "train"]
    assert {"classify", "strength"} <= set(train[-1]["terms"])
    val = [r for r in recs if r["type"] == "val"][-1]
    assert val["score_name"] == "accuracy" and len(val["tasks"]) == 2
    assert (tiny_run / "curves.png").is_file()
    from gir.training import load_config

    cfg = load_config(tiny_run / "config.yaml")
    part = run(cfg, ["train.stop_at=2"], out_dir=tmp_path / "part")
    run(resume=part)
    from gir.models.checkpoint import load_state

    a = load_state(tiny_run / "models" / "net_4.safetensors", "params")[0]
    b = load_state(part / "models" / "net_4.safetensors", "params")[0]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_analysis_is_deterministic_and_reports_every_family(tiny_run):
    an = Analyzer(tiny_run / "models" / "net_latest.safetensors", crops=4)
    img = natural_image(90, 120, seed=5)
    d1, d2 = an(img), an(img)
    assert d1.to_dict() == d2.to_dict()
    out = d1.to_dict()
    assert set(out["degradations"]) == set(FAMILIES) and 0.0 <= out["clean"] <= 1.0
    assert set(out["degradations"]["noise"]) == {"p", "sigma", "source"}
    assert set(out["degradations"]["jpeg"]) == {"p", "quality", "source"}
    assert "uncalibrated" in " ".join(d1.notes)  # a raw training checkpoint says so


def test_gir_analyze_json_and_bad_files(tiny_run, tmp_path, capsys):
    from gir.cli import main

    from PIL import Image

    good = tmp_path / "a.jpg"
    Image.fromarray((natural_image(80, 96, seed=2) * 255).astype(np.uint8)).save(good, quality=25)
    bad = tmp_path / "b.png"
    bad.write_bytes(b"not an image")
    weights = str(tiny_run / "models" / "net_latest.safetensors")
    code = main(["analyze", str(good), str(bad), "--json", "--weights", weights, "--crops", "2"])
    captured = capsys.readouterr()
    assert code != 0 and "b.png" in captured.err
    rows = json.loads(captured.out)
    assert len(rows) == 1 and rows[0]["file"] == str(good)
    jpeg = rows[0]["degradations"]["jpeg"]
    assert jpeg["quality"] == 25 and "jpeg tables" in jpeg["source"] and jpeg["p"] == 1.0
    code = main(["analyze", str(good), "--weights", weights, "--crops", "2"])
    line = capsys.readouterr().out
    assert code == 0 and "jpeg 100% (quality 25" in line
    other = tmp_path / "c.png"
    Image.fromarray((natural_image(64, 64, seed=3) * 255).astype(np.uint8)).save(other)
    code = main(["analyze", str(good), str(bad), str(other), "--weights", weights, "--crops", "2"])
    captured = capsys.readouterr()
    assert code == 1 and len(captured.out.splitlines()) == 2  # one line per analysed photo
    assert "analyzed 2 image(s); 1 failed" in captured.err and "b.png" in captured.err


def test_structures_are_drawn_deterministically():
    from gir.data.content import paint_structure

    base = (natural_image(96, 96, seed=1) * 255).astype(np.uint8)
    a = paint_structure(base, np.random.default_rng(4))
    b = paint_structure(base, np.random.default_rng(4))
    assert np.array_equal(a, b) and not np.array_equal(a, base)
    assert np.array_equal(base, (natural_image(96, 96, seed=1) * 255).astype(np.uint8))  # input untouched


def test_calibration_identity_is_the_sigmoid():
    z = np.linspace(-4, 4, len(FAMILIES) + 1)
    assert Calibration.identity().apply(z) == pytest.approx(1 / (1 + np.exp(-z)))


def test_shipped_analyzer_finds_noise_and_its_sigma_on_an_image_the_test_makes():
    """The shipped weights (the README's `gir analyze`) read the noise of images the test makes: the conftest
    scene carries Gaussian texture of std 0.03 (7.65 on the 0-255 scale); with sigma 25 added the total is
    sqrt(25^2 + 7.65^2) = 26.1."""
    from gir.analysis.analyze import analyze

    clean = natural_image(256, 256, seed=3)
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 25 / 255, clean.shape), 0, 1).astype(np.float32)
    noisy = np.rint(noisy * 255).astype(np.float32) / 255
    d = analyze(noisy)
    assert d.findings["noise"].p > 0.9 and abs(d.findings["noise"].strength["sigma"] - 26.1) < 4
    assert abs(analyze(clean).findings["noise"].strength["sigma"] - 7.65) < 3
    smooth = cv2.GaussianBlur(clean, (0, 0), 2.0)  # the texture blurred away: no noise left
    assert analyze(smooth).findings["noise"].p < 0.5
    assert analyze(noisy).to_dict() == d.to_dict()  # deterministic


def test_hard_clean_windows_cover_the_photo_and_are_mined_deterministically(tiny_run, tmp_path):
    """gir.training.hard_clean: a stride-``size`` grid flush with the edges; a window is written (with its
    margin) where a mined family reaches the threshold, and the same inputs write the same files."""
    from gir.analysis.analyze import Analyzer
    from gir.io import read_rgb
    from gir.training.hard_clean import mine, windows

    assert windows(100, 70, 32) == [(y, x) for y in (0, 32, 64, 68) for x in (0, 32, 38)]
    assert windows(20, 70, 32) == []
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        write_image(photos / f"p{i}.png", natural_image(64, 80, seed=50 + i))
    an = Analyzer(tiny_run / "models" / "net_latest.safetensors", scratches=None, kernel=None, exposure=False)
    assert mine([photos], tmp_path / "none", analyzer=an, threshold=1.01) == []
    found = mine([photos], tmp_path / "all", analyzer=an, threshold=0.0, margin=4)
    assert len(found) == 2 * len(windows(64, 80, 32)) and {f for _, f, _ in found} <= {"noise", "damage"}
    first = read_rgb(tmp_path / "all" / "p0_0_0.png")
    assert first.shape == (36, 36, 3)  # 32 + a 4-px margin on the sides inside the photo
    assert np.allclose(first, read_rgb(photos / "p0.png")[:36, :36], atol=1 / 255)
    again = mine([photos], tmp_path / "again", analyzer=an, threshold=0.0, margin=4)
    assert again == found
