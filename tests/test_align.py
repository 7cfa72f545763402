"""Paired-data alignment (gir.data.align, `gir data align`): registration accuracy, rejection of pairs that
cannot be aligned, the batch writer and its report, frame matching by timing, and the command line."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from gir.cli import main
from gir.data.align import (DEFAULT_MAX_RESIDUAL, Alignment, _about_centre, _compose, _translation,
                            align_frames, align_pairs, corner_error, estimate_transform, invert_matrix,
                            match_frames, read_frame_times, valid_overlap, warp_to)
from gir.errors import GirError
from gir.io import read_rgb, write_image

SIZE = 224


def _photo(name: str) -> np.ndarray:
    """A skimage photo as float32 RGB in [0, 1], downscaled to 384 px on its short side."""
    img = getattr(skdata, name)()
    if img.ndim == 2:
        img = np.dstack([img] * 3)
    img = img[:, :, :3].astype(np.float32) / 255.0
    f = 384 / min(img.shape[:2])
    return cv2.resize(img, (round(img.shape[1] * f), round(img.shape[0] * f)), interpolation=cv2.INTER_AREA)


def _quantize(img: np.ndarray) -> np.ndarray:
    return (np.round(np.clip(img, 0, 1) * 255) / 255).astype(np.float32)


def _pair(name: str, angle: float = 0.0, scale: float = 1.0, dx: float = 0.0, dy: float = 0.0,
          size: int = SIZE, noise: float = 0.0, blur: float = 0.0, seed: int = 0):
    """(lq, gt, true LQ->GT matrix): centre crops of a photo and of its copy moved by a known similarity
    (about the photo's centre), with optional Gaussian blur and noise on the LQ, both quantised to 8 bits."""
    src = _photo(name)
    h, w = src.shape[:2]
    move = _compose(_translation(dx, dy), _about_centre(angle, scale, ((w - 1) / 2, (h - 1) / 2)))
    moved = cv2.warpAffine(src, move, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    oy, ox = (h - size) // 2, (w - size) // 2
    gt, lq = src[oy:oy + size, ox:ox + size], moved[oy:oy + size, ox:ox + size]
    if blur:
        lq = cv2.GaussianBlur(lq, (0, 0), blur)
    if noise:
        lq = lq + noise * np.random.default_rng(seed).standard_normal(lq.shape).astype(np.float32)
    true = _compose(_translation(-ox, -oy), invert_matrix(move), _translation(ox, oy))
    return _quantize(lq), _quantize(gt), true


# ------------------------------------------------------------------------------------------ accuracy
@pytest.mark.parametrize("method", ["phase", "auto"])
@pytest.mark.parametrize("shift", [(0.25, -0.5), (3.5, 1.75), (-12.4, 7.1)])
def test_translation_recovered_to_a_tenth_of_a_pixel(method, shift):
    lq, gt, true = _pair("astronaut", dx=shift[0], dy=shift[1])
    a = estimate_transform(lq, gt, model="translation", method=method)
    assert a.ok, a.why
    assert corner_error(a.matrix, true, lq.shape) < 0.1
    assert a.params()["dx"] == pytest.approx(-shift[0], abs=0.1)  # the LQ content moved by +shift
    assert a.residual < 0.1 and a.correlation > 0.9


@pytest.mark.parametrize("name,angle,scale,dx,dy", [
    ("astronaut", 2.5, 1.025, 14.0, -9.5),
    ("coffee", -3.0, 0.97, -20.0, 6.3),
    ("chelsea", 0.7, 1.012, 4.2, 18.8),
])
@pytest.mark.parametrize("degraded", [False, True], ids=["clean", "noise+blur"])
def test_similarity_recovered(name, angle, scale, dx, dy, degraded):
    lq, gt, true = _pair(name, angle, scale, dx, dy, noise=5 / 255 if degraded else 0.0,
                         blur=0.8 if degraded else 0.0)
    a = estimate_transform(lq, gt, model="similarity", method="auto")
    assert a.ok, a.why
    assert corner_error(a.matrix, true, lq.shape) < 0.5
    p = a.params()
    assert p["rotation"] == pytest.approx(-angle, abs=0.05)
    assert p["scale"] == pytest.approx(1 / scale, abs=1e-3)
    assert a.residual <= DEFAULT_MAX_RESIDUAL


@pytest.mark.parametrize("model,method", [("similarity", "phase"), ("similarity", "ecc"), ("affine", "auto")])
def test_other_estimators(model, method):
    lq, gt, true = _pair("astronaut", 1.5, 0.985, 2.0 if method == "ecc" else 11.0, -1.5)
    a = estimate_transform(lq, gt, model=model, method=method)
    assert a.ok, a.why
    assert a.model == model and a.method == method
    assert corner_error(a.matrix, true, lq.shape) < 0.5


def test_different_sizes_register_through_the_scale():
    lq, gt, true = _pair("coffee", 1.0, 1.0, 0.0, 0.0)
    small = cv2.resize(lq, (168, 168), interpolation=cv2.INTER_AREA)  # LQ at 3/4 of the GT's resolution
    a = estimate_transform(small, gt)
    assert a.ok, a.why
    assert a.params()["scale"] == pytest.approx(SIZE / 168, rel=2e-3)


def test_different_scenes_rejected():
    lq, _, _ = _pair("coffee")
    _, gt, _ = _pair("astronaut")
    a = estimate_transform(lq, gt)
    assert not a.ok and "correlation" in a.why
    assert abs(a.correlation) < 0.3


def test_heavily_blurred_lq_rejected():
    lq, gt, _ = _pair("astronaut", 1.0, 1.01, 5.0, -3.0, blur=8.0)
    a = estimate_transform(lq, gt)
    assert not a.ok and "correlation" in a.why
    # a milder blur (sigma 2) stays accepted
    lq2, gt2, true2 = _pair("astronaut", 1.0, 1.01, 5.0, -3.0, blur=2.0)
    b = estimate_transform(lq2, gt2)
    assert b.ok, b.why
    assert corner_error(b.matrix, true2, lq2.shape) < 0.5


def test_bad_arguments():
    img = np.zeros((64, 64, 3), np.float32)
    with pytest.raises(ValueError, match="model"):
        estimate_transform(img, img, model="homography")
    with pytest.raises(ValueError, match="method"):
        estimate_transform(img, img, method="sift")
    with pytest.raises(ValueError, match="too small"):
        estimate_transform(img[:10], img)


# ------------------------------------------------------------------------------------ warp and overlap
def test_valid_overlap_is_covered_and_maximal():
    rng = np.random.default_rng(1)
    for _ in range(12):
        m = _compose(_translation(*rng.uniform(-15, 15, 2)), _about_centre(rng.uniform(-8, 8), rng.uniform(0.9, 1.1),
                                                                             (20.0, 15.0)))
        lq_shape = tuple(int(v) for v in rng.integers(20, 48, 2))
        gt_shape = tuple(int(v) for v in rng.integers(20, 48, 2))
        x, y, w, h = valid_overlap(m, lq_shape, gt_shape)
        inv = invert_matrix(m)
        yy, xx = np.mgrid[0:gt_shape[0], 0:gt_shape[1]]
        u = inv[0, 0] * xx + inv[0, 1] * yy + inv[0, 2]
        v = inv[1, 0] * xx + inv[1, 1] * yy + inv[1, 2]
        eps = 1e-9
        mask = (u >= -eps) & (u <= lq_shape[1] - 1 + eps) & (v >= -eps) & (v <= lq_shape[0] - 1 + eps)
        assert mask[y:y + h, x:x + w].all()
        assert w * h == _largest_rectangle(mask)


def _largest_rectangle(mask: np.ndarray) -> int:
    best = 0
    for top in range(mask.shape[0]):
        cols = np.ones(mask.shape[1], bool)
        for bottom in range(top, mask.shape[0]):
            cols &= mask[bottom]
            run = longest = 0
            for c in cols:
                run = run + 1 if c else 0
                longest = max(longest, run)
            best = max(best, longest * (bottom - top + 1))
    return best


def test_warp_to_inverts_a_known_shift():
    _, gt, _ = _pair("chelsea")
    moved = warp_to(gt, _translation(3.0, -2.0), gt.shape)
    back = warp_to(moved, Alignment(matrix=_translation(-3.0, 2.0), model="translation", method="phase",
                                    lq_shape=gt.shape[:2], gt_shape=gt.shape[:2]), gt.shape)
    assert back.shape == gt.shape and back.dtype == np.float32
    assert np.abs(back[8:-8, 8:-8] - gt[8:-8, 8:-8]).max() < 1e-5


# ----------------------------------------------------------------------------------------------- batch
def _folders(tmp_path):
    lq_dir, gt_dir = tmp_path / "lq_in", tmp_path / "gt_in"
    lq_dir.mkdir()
    gt_dir.mkdir()
    lq, gt, _ = _pair("astronaut", 1.5, 1.01, 6.0, -4.0, size=160)
    write_image(lq_dir / "good.png", lq)
    write_image(gt_dir / "good.png", gt)
    other, _, _ = _pair("coffee", size=160)
    write_image(lq_dir / "other.jpg", other, quality=95)
    write_image(gt_dir / "other.png", gt)
    (lq_dir / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    write_image(gt_dir / "broken.png", gt)
    return lq_dir, gt_dir


def test_align_pairs_end_to_end(tmp_path):
    lq_dir, gt_dir = _folders(tmp_path)
    out = tmp_path / "pairs"
    report = align_pairs(lq_dir, gt_dir, out)
    status = {p.name: p for p in report.pairs}
    assert sorted(status) == ["broken.png", "good.png", "other.png"]
    assert status["good.png"].kept
    assert not status["other.png"].kept and "correlation" in status["other.png"].why
    assert not status["broken.png"].kept and "broken.png" in status["broken.png"].why
    assert sorted(p.name for p in (out / "lq").iterdir()) == ["good.png"]
    assert sorted(p.name for p in (out / "gt").iterdir()) == ["good.png"]
    lq_out, gt_out = read_rgb(out / "lq" / "good.png"), read_rgb(out / "gt" / "good.png")
    assert lq_out.shape == gt_out.shape and lq_out.shape[0] > 100
    # the written pair is aligned: a second registration finds (almost) nothing left to do
    again = estimate_transform(lq_out, gt_out, model="translation")
    assert again.ok and abs(again.params()["dx"]) < 0.2 and abs(again.params()["dy"]) < 0.2

    text = (out / "report.json").read_text()
    assert "Infinity" not in text and "NaN" not in text  # strict JSON
    rec = json.loads(text)
    assert rec["kept"] == 1 and rec["rejected"] == 2
    rows = {r["name"]: r for r in rec["pairs"]}
    assert rows["good.png"]["kept"] and rows["good.png"]["residual_px"] < 0.5
    assert {"dx", "dy", "rotation_deg", "scale", "correlation", "matrix"} <= set(rows["good.png"])
    assert rows["broken.png"]["why"] and not rows["broken.png"]["kept"]
    assert "good.png" in (out / "report.txt").read_text()

    with pytest.raises(GirError, match="already exists"):
        align_pairs(lq_dir, gt_dir, out)
    before = (out / "lq" / "good.png").read_bytes()
    again = align_pairs(lq_dir, gt_dir, out, overwrite=True)
    assert len(again.kept) == 1 and (out / "lq" / "good.png").read_bytes() == before  # deterministic


def test_align_pairs_user_errors(tmp_path):
    lq_dir, gt_dir = _folders(tmp_path)
    with pytest.raises(GirError, match="does not exist"):
        align_pairs(tmp_path / "nope", gt_dir, tmp_path / "o1")
    write_image(gt_dir / "lonely.png", np.zeros((32, 32, 3), np.float32))
    with pytest.raises(GirError, match="no LQ file"):
        align_pairs(lq_dir, gt_dir, tmp_path / "o2")


# ---------------------------------------------------------------------------------------------- frames
def test_match_frames_smallest_error_one_to_one():
    lq = [0.0, 0.04, 0.1, 0.21, 0.3]
    gt = [0.2, 0.0, 0.1, 0.5]  # unsorted on purpose
    pairs = match_frames(lq, gt)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1), (2, 2), (3, 0)]
    assert [e for _, _, e in pairs] == pytest.approx([0.0, 0.0, 0.01])
    assert len({j for _, j, _ in pairs}) == len(pairs)  # one-to-one
    assert [gt[j] for _, j, _ in pairs] == sorted(gt[j] for _, j, _ in pairs)  # monotone
    # every LQ frame's partner is its nearest GT frame
    for i, j, err in pairs:
        assert err == pytest.approx(min(abs(lq[i] - t) for t in gt))
    assert [(i, j) for i, j, _ in match_frames(lq, gt, max_error=0.005)] == [(0, 1), (2, 2)]
    assert match_frames([], gt) == []


def test_read_frame_times(tmp_path):
    img = np.zeros((8, 8, 3), np.float32)
    for name in ("f_2.png", "f_10.png", "f_1.png"):
        write_image(tmp_path / name, img)
    frames = read_frame_times(tmp_path, fps=25)
    assert [p.name for p, _ in frames] == ["f_1.png", "f_2.png", "f_10.png"]
    assert [t for _, t in frames] == pytest.approx([0.0, 0.04, 0.08])
    with pytest.raises(GirError, match="times.txt"):
        read_frame_times(tmp_path)
    (tmp_path / "times.csv").write_text("file,time\nf_10.png,0.5\nf_1.png, 0.1\n# note\n")
    assert [(p.name, t) for p, t in read_frame_times(tmp_path)] == [("f_1.png", 0.1), ("f_10.png", 0.5)]
    (tmp_path / "times.csv").write_text("f_1.png 0.1\nmissing.png 0.2\n")
    with pytest.raises(GirError, match="missing.png"):
        read_frame_times(tmp_path)


def test_align_frames(tmp_path):
    lq_dir, gt_dir = tmp_path / "lqf", tmp_path / "gtf"
    lq_dir.mkdir()
    gt_dir.mkdir()
    for k, name in enumerate(["astronaut", "coffee"]):
        lq, gt, _ = _pair(name, 0.0, 1.0, 2.5, -1.0, size=128)
        write_image(lq_dir / f"{k:03d}.png", lq)
        write_image(gt_dir / f"gt_{k:03d}.png", gt)
    (gt_dir / "times.txt").write_text("gt_000.png 0.02\ngt_001.png 0.52\n")
    report = align_frames(lq_dir, gt_dir, tmp_path / "out", lq_fps=2.0, model="translation")
    assert [p.name for p in report.kept] == ["gt_000.png", "gt_001.png"]
    assert [p.frame_error for p in report.pairs] == pytest.approx([0.02, 0.02])
    assert report.unmatched == {"lq": 0, "gt": 0}
    # the same through the command line; without --lq-fps the LQ folder needs a times file
    args = ["data", "align", str(lq_dir), str(gt_dir), "--out", str(tmp_path / "cli"), "--frames", "--model",
            "translation"]
    assert main(args) == 2
    assert main(args + ["--lq-fps", "2"]) == 0
    assert json.loads((tmp_path / "cli" / "report.json").read_text())["kept"] == 2


# ------------------------------------------------------------------------------------------------- CLI
def test_cli_align(tmp_path, capsys):
    lq_dir, gt_dir = _folders(tmp_path)
    out = tmp_path / "cli_out"
    assert main(["data", "align", str(lq_dir), str(gt_dir), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "good.png" in printed and "kept" in printed and "rejected" in printed
    assert "kept 1 of 3 pair(s)" in printed
    assert (out / "report.json").is_file()
    # existing outputs: a one-line error and status 2
    assert main(["data", "align", str(lq_dir), str(gt_dir), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_cli_errors(tmp_path, capsys):
    assert main(["data", "align", str(tmp_path / "missing"), str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gir: error:") and "missing" in err and "\n" not in err
    assert main(["data", "align", str(tmp_path), str(tmp_path), "--out", str(tmp_path / "o"), "--lq-fps", "5"]) == 2
    assert "--frames" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["data", "align", str(tmp_path), str(tmp_path), "--out", str(tmp_path / "o"), "--model", "bogus"])
    assert e.value.code == 2


def test_import_gir_does_not_load_opencv():
    code = "import sys, gir, gir.data, gir.cli; gir.cli.build_parser(); print('cv2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
