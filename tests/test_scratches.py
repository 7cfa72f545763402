"""Scratches: the synthesis with its mask, the detector network and objective, the analysis fusion, the
biharmonic fill and the inpainting expert's consistency model."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import natural_image
from gir.analysis.analyze import Diagnosis, Finding
from gir.analysis.families import FAMILIES
from gir.analysis.scratches import (carry_scratches, damage_probability, fill_mask, fuse_scratches,
                                    probability_map)
from gir.degradations.scratches import COVERED, crack_mask, synthesize_scratches
from gir.metrics import psnr
from gir.models import build_model
from gir.restore.classical import inpaint


def test_same_seed_same_damage_and_the_mask_marks_what_changed():
    img = natural_image(96, 128, seed=3)
    a = synthesize_scratches(img, np.random.default_rng(7), damaged=1.0)
    b = synthesize_scratches(img, np.random.default_rng(7), damaged=1.0)
    assert a.image.tobytes() == b.image.tobytes() and a.mask.tobytes() == b.mask.tobytes()
    assert a.image.dtype == np.float32 and a.mask.shape == img.shape[:2]
    assert set(np.unique(a.mask)) <= {0.0, 1.0}


def test_undamaged_samples_have_an_empty_mask_but_are_still_scanned():
    img = natural_image(64, 64, seed=1)
    seen_change = False
    for seed in range(6):
        s = synthesize_scratches(img, np.random.default_rng(seed), damaged=0.0)
        assert not s.mask.any()
        seen_change |= psnr(s.image, img) < 60
    assert seen_change  # grain, blur, JPEG or toning happened to some


def test_an_opaque_line_on_grey_is_marked_where_it_is_drawn():
    """Without the scan steps (a seed whose draws skip them is not needed: compare with the drawn colour):
    every masked pixel differs from the grey it replaced, and pixels far from the mask are untouched."""
    img = np.full((80, 80, 3), 0.5, np.float32)
    for seed in range(20):
        s = synthesize_scratches(img, np.random.default_rng(seed), damaged=1.0)
        if s.mask.any():
            diff = np.abs(s.image - img).max(axis=2)
            assert np.median(diff[s.mask > 0]) > 0.1  # damage is visible where marked
            from scipy import ndimage

            far = ~ndimage.binary_dilation(s.mask > 0, iterations=4)
            assert np.median(diff[far]) < 0.06  # grain and JPEG only
            return
    pytest.fail("no damaged sample in 20 seeds")


def test_a_crack_is_thin_and_connected():
    m = crack_mask(128, 128, np.random.default_rng(2), steps=20, step=5.0, thickness=2.0, branch=0.0)
    from scipy import ndimage

    covered = m >= COVERED
    assert 0 < covered.mean() < 0.1
    assert ndimage.label(covered)[1] <= 2  # one walk (it may leave the frame and come back once)


def test_mask_unet_gives_one_logit_per_pixel_for_any_size():
    net = build_model({"type": "mask_unet"}).eval()
    with torch.no_grad():
        for h, w in ((37, 53), (64, 64)):
            assert net(torch.rand(2, 3, h, w)).shape == (2, 1, h, w)
    assert net.channels_out == 1


def test_tiled_probability_map_equals_one_pass(monkeypatch):
    import gir.analysis.scratches as sc

    torch.manual_seed(0)
    net = build_model({"type": "mask_unet"}).eval()
    img = natural_image(200, 232, seed=4)
    monkeypatch.setattr(sc, "TILE", 10_000)
    whole = probability_map(img, net)
    monkeypatch.setattr(sc, "TILE", 96)
    tiled = probability_map(img, net)
    assert np.abs(tiled - whole).max() < 0.01


def test_scratch_mask_objective_trains_and_validates(tmp_path):
    from conftest import train_tiny

    val, terms = train_tiny(tmp_path, {"type": "mask_unet", "channels": [8, 8, 8], "blocks": 1},
                            {"type": "scratch_mask"}, patch=32)
    assert 0.0 <= val["f1"] <= 1.0 and 0.0 <= val["false_alarm"] <= 1.0 and val["n"] == 1
    assert {"bce", "dice"} <= terms


def test_scratch_mask_objective_refuses_an_image_network(tmp_path):
    from gir.io import write_image
    from gir.training.engine import run as train

    d = tmp_path / "t"
    d.mkdir()
    write_image(d / "a.png", natural_image(64, 64, seed=0))
    cfg = {"name": "sm", "model": {"type": "srcnn"}, "objective": {"type": "scratch_mask"},
           "data": {"train": {"mode": "clean", "roots": [str(d)], "num_workers": 0}},
           "train": {"iterations": 1, "batch_size": 1, "patch_size": 32, "progress": False},
           "loss": [{"type": "l1"}]}
    with pytest.raises(Exception, match="one-channel detector"):
        train(cfg, out_dir=tmp_path / "run")


def test_damage_probability_rises_with_the_area():
    ps = [damage_probability(a) for a in (0.0, 0.05, 0.2, 0.5, 2.0, 10.0)]
    assert ps[0] == 0.0 and all(a < b for a, b in zip(ps, ps[1:]))
    assert damage_probability(0.2) == pytest.approx(0.5) and damage_probability(0.5) > 0.9


def _diagnosis(h=32, w=32, p=0.1):
    return Diagnosis(0.9, {f: Finding(p) for f in FAMILIES}, (h, w), 1)


def test_fusion_sets_the_mask_area_and_probability_and_carries_over():
    mask = np.zeros((32, 32), bool)
    mask[10:14, :] = True  # 12.5% of the photo
    d = _diagnosis(p=0.6)  # the analyzer network agrees: the mask's evidence becomes the family's
    fuse_scratches(d, mask)
    f = d.findings["damage"]
    assert f.mask is mask and f.strength["area"] == pytest.approx(12.5) and f.strength["p_mask"] > 0.99
    assert f.p > 0.99 and d.clean < 0.01 and "scratch detector" in f.source
    later = _diagnosis(p=0.6)
    carry_scratches(later, d)
    assert later.findings["damage"].p == f.p and later.findings["damage"].mask is mask
    doubt = _diagnosis(p=0.1)  # the network calls it clean (text, a fence...): p and clean stay its own
    fuse_scratches(doubt, mask)
    assert doubt.findings["damage"].p == 0.1 and doubt.clean == 0.9
    assert doubt.findings["damage"].strength["p_mask"] > 0.99 and "--only damage" in doubt.notes[-1]
    assert "area" in doubt.to_dict()["degradations"]["damage"]


def test_damage_without_a_single_mark_is_capped():
    """The network's damage reading needs marks to repair: with an empty mask it is capped (a clean tile of
    scikit-image's coins read 0.61), with one marked pixel it stands."""
    from gir.analysis.scratches import NO_MARKS_CAP

    d = _diagnosis(p=0.61)
    fuse_scratches(d, np.zeros((32, 32), bool))
    assert d.findings["damage"].p == NO_MARKS_CAP and "marks nothing" in d.findings["damage"].source
    one = np.zeros((32, 32), bool)
    one[5, 5] = True
    d2 = _diagnosis(p=0.61)
    fuse_scratches(d2, one)
    assert d2.findings["damage"].p == pytest.approx(0.61)
    low = _diagnosis(p=0.1)
    fuse_scratches(low, np.zeros((32, 32), bool))
    assert low.findings["damage"].p == 0.1  # never raised


def test_inpaint_keeps_every_known_pixel_and_fills_a_line_close_to_the_truth():
    img = natural_image(96, 96, seed=5)
    hole = np.zeros((96, 96), bool)
    hole[40:46, :] = True
    damaged = img.copy()
    damaged[hole] = 1.0
    out = inpaint(damaged, hole)
    assert np.array_equal(out[~hole], damaged[~hole])
    assert psnr(out, img) > psnr(damaged, img) + 10
    assert inpaint(damaged, np.zeros_like(hole)) is damaged


def test_fill_mask_grows_by_the_given_pixels():
    m = np.zeros((9, 9), bool)
    m[4, 4] = True
    assert fill_mask(m, 1).sum() == 9 and fill_mask(m, 0).sum() == 1


def test_inpaint_expert_observes_the_input_inside_its_hole(scratched_line):
    from gir.restore.experts import InpaintExpert

    img, damaged, _ = scratched_line
    e = InpaintExpert("inpaint", ("damage",), "inpaint", "test")
    out = e(damaged)
    obs = e.observe(out)
    assert np.array_equal(obs, damaged)  # outside: the output equals the input; inside: the input itself
    assert psnr(out, img) > psnr(damaged, img) + 10
    assert "filled" in e.note()


def test_scratch_repair_runs_unasked_only_where_the_analyzer_network_agrees():
    """The detector's mask alone (thin bright structure is marked too) does not start a repair; the analyzer
    network's agreement does, and ``--only damage`` counts the mask's own evidence (policy ``mask_p``);
    verification counts it too, so a fill that removes what the detector saw has helped."""
    from gir.restore.plan import make_plan
    from gir.restore.verify import _probs

    mask = np.zeros((32, 32), bool)
    mask[8:12, :] = True
    covers = {"damage": "inpaint"}
    for p_net, unasked_runs in ((0.05, False), (0.8, True)):
        d = _diagnosis(p=0.0)
        d.findings["damage"].p = p_net
        fuse_scratches(d, mask)
        plan = make_plan(d, covers)
        assert bool(plan.steps) is unasked_runs
        assert [s.expert for s in make_plan(d, covers, only=["damage"]).steps] == ["inpaint"]
        assert _probs(d)["damage"] > 0.99
