"""The default restore path: plan (pure), verify, and the pipeline with made-up analyzers and experts."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from gir.analysis.analyze import Diagnosis, Finding
from gir.analysis.families import FAMILIES
from gir.errors import GirError
from gir.restore.experts import ClassicalExpert, coverage
from gir.restore.plan import ORDER, Step, make_plan, parse_families
from gir.restore.pipeline import Pipeline
from gir.restore.verify import MAX_TONE_SHIFT, verify

COVERS = {"impulse": "impulse", "jpeg": "jpeg", "noise": "noise", "blur": "sharpen", "resize": "sharpen",
          "damage": "general", "haze": "general", "rain": "general"}


def diag(clean: float = 0.9, **found) -> Diagnosis:
    """A diagnosis with p = found[family] (a float, or (p, strengths)) and 0.01 elsewhere."""
    findings = {}
    for name in FAMILIES:
        value = found.get(name, 0.01)
        p, strength = value if isinstance(value, tuple) else (value, {})
        findings[name] = Finding(float(p), dict(strength))
    return Diagnosis(clean, findings, (64, 64), 1)


# ------------------------------------------------------------------------------------------------ plan
def test_clean_photo_gets_an_empty_plan():
    plan = make_plan(diag(), COVERS)
    assert plan.empty and plan.skipped == {}


def test_blur_yields_to_resize_read_at_least_as_probably():
    plan = make_plan(diag(0.0, resize=0.66, blur=0.65), COVERS)
    assert [s.families for s in plan.steps] == [("resize",)] and "side effect of resize" in plan.skipped["blur"]
    assert "blur" in make_plan(diag(0.0, resize=0.44, blur=0.87), COVERS).steps[0].families
    # asked for with --only, it runs
    assert [s.families for s in make_plan(diag(0.0, resize=0.66, blur=0.65), COVERS, only=["blur"]).steps] == [
        ("blur",)]


def test_plan_undoes_the_last_degradation_first():
    plan = make_plan(diag(0.0, noise=0.8, jpeg=(0.9, {"quality": 30.0}), blur=0.7, haze=0.6), COVERS)
    assert [s.expert for s in plan.steps] == ["jpeg", "noise", "sharpen", "general"]
    assert plan.steps[0].strengths == {"jpeg.quality": 30.0}


def test_one_expert_for_two_families_runs_once_at_the_first_place():
    plan = make_plan(diag(0.0, blur=0.9, resize=0.7), COVERS)  # (a table where one expert has both)
    assert len(plan.steps) == 1 and plan.steps[0].families == ("resize", "blur")


def test_damage_needs_high_confidence_unless_asked_for():
    plan = make_plan(diag(0.2, damage=0.7), COVERS)
    assert plan.empty and "below the 90%" in plan.skipped["damage"]
    assert [s.expert for s in make_plan(diag(0.2, damage=0.7), COVERS, only=["damage"]).steps] == ["general"]
    assert [s.expert for s in make_plan(diag(0.0, damage=0.95), COVERS).steps] == ["general"]
    assert "below the 60%" in make_plan(diag(0.2, blur=0.55), COVERS).skipped["blur"]  # the brick of the held-out set
    assert [s.expert for s in make_plan(diag(0.2, blur=0.62), COVERS).steps] == ["sharpen"]


def test_mild_jpeg_is_reported_not_restored():
    plan = make_plan(diag(0.5, jpeg=(0.8, {"quality": 90.0})), COVERS)
    assert plan.empty and plan.skipped["jpeg"].startswith("mild")


def test_only_skip_and_missing_experts():
    d = diag(0.0, noise=0.9, jpeg=(0.9, {"quality": 20.0}), snow=0.8)
    assert [s.expert for s in make_plan(d, COVERS, only=["noise"]).steps] == ["noise"]
    plan = make_plan(d, COVERS, skip=["jpeg"])
    assert [s.expert for s in plan.steps] == ["noise"]
    assert plan.skipped == {"jpeg": "--skip", "snow": "no expert for it"}


def test_replanning_only_plans_later_families():
    d = diag(0.0, noise=0.9, jpeg=(0.9, {"quality": 20.0}), blur=0.8)
    assert [s.expert for s in make_plan(d, COVERS, after=["noise"]).steps] == ["sharpen"]


def test_replanning_skips_done_families_and_band_limits_that_a_step_revealed():
    covers = {**COVERS, "resize": "band", "ringing": "band"}
    d = diag(0.0, blur=0.8, ringing=0.7, resize=0.6)
    # band ran at resize's place (before blur): blur is still planned, ringing (done with it) is not
    plan = make_plan(d, covers, after=["resize"], done=["resize", "ringing"], first=["resize", "ringing", "blur"])
    assert [s.families for s in plan.steps] == [("blur",)]
    # resize seen only after the JPEG step: left alone, and said why
    plan = make_plan(diag(0.0, resize=0.7, blur=0.8), covers, after=["jpeg"], done=["jpeg"], first=["jpeg"])
    assert [s.expert for s in plan.steps] == ["sharpen"] and "appeared only after" in plan.skipped["resize"]
    asked = make_plan(diag(0.0, resize=0.7), covers, only=["resize"], after=["jpeg"], done=["jpeg"], first=["jpeg"])
    assert [s.expert for s in asked.steps] == ["band"]  # --only resize: the user asked for it


def test_an_undone_band_step_still_lets_sharpening_run():
    """`band` (resize, ringing) runs at resize's place; undone, the blur between them still gets its turn."""
    def analyzer(rgb, jpeg=None, file=None):
        sharpened = float(rgb.mean()) > 0.505  # the test photo averages 0.5; "sharpening" adds 0.01
        return diag(0.0, resize=0.7, ringing=0.6, blur=0.2 if sharpened else 0.8)

    experts = {"band": ClassicalExpert("band", ("resize", "ringing"), "classical", "t", fn=lambda r: r * 0.999),
               "sharpen": ClassicalExpert("sharpen", ("blur",), "classical", "t", fn=lambda r: r + 0.01)}
    outcome = Pipeline(analyzer=analyzer, experts=experts, device="cpu").run(_photo())
    assert [(r.step.expert, r.check.kept) for r in outcome.records] == [("band", False), ("sharpen", True)]


def test_parse_families_rejects_unknown_names():
    assert parse_families("noise, jpeg", "--only") == {"noise", "jpeg"}
    assert parse_families(None, "--only") is None
    with pytest.raises(GirError, match="--skip: unknown degradation family nois; known"):
        parse_families("nois", "--skip")


def test_the_restore_order_undoes_the_last_degradation_first():
    """Impulses, JPEG, noise, then resolution and blur; the acquisition-time degradations (a random chain's
    first op only) last, since they happened first."""
    from gir.analysis.families import OP_FAMILY
    from gir.degradations import OPS

    pos = {f: i for i, f in enumerate(ORDER)}
    assert pos["impulse"] < pos["jpeg"] < pos["noise"] < min(pos["resize"], pos["blur"])
    acquisition = {OP_FAMILY[op] for op in OPS if OPS.get(op).acquisition}
    assert acquisition == {"rain", "raindrop", "snow", "haze", "low_light"}
    assert min(pos[f] for f in acquisition) > max(pos[f] for f in set(FAMILIES) - acquisition)


# ---------------------------------------------------------------------------------------------- verify
def _img(seed=0):
    return np.random.default_rng(seed).uniform(0.2, 0.8, (64, 64, 3)).astype(np.float32)


def test_verify_keeps_a_step_that_removed_its_family():
    x = _img()
    check = verify(["noise"], diag(0.0, noise=0.9), diag(0.9, noise=0.1), x, x)
    assert check.kept and check.why.startswith("helped: noise 90% -> 10%")


def test_verify_undoes_a_step_that_did_not_help():
    x = _img()
    check = verify(["noise"], diag(0.0, noise=0.9), diag(0.0, noise=0.85), x, x)
    assert not check.kept and "did not help" in check.why


def test_a_jpeg_step_that_removed_the_noise_it_was_read_as_helped():
    """The analyzer reads a JPEG of fine texture as noise (policy ``removes_too``): a JPEG step whose own
    family barely falls helped when the noise read before is gone; not when no noise was read, nor for a
    step of another family."""
    x = _img()
    check = verify(["jpeg"], diag(0.0, jpeg=0.11, noise=0.97), diag(0.9, jpeg=0.02, noise=0.0), x, x)
    assert check.kept and check.why == "helped: jpeg 11% -> 2%, noise 97% -> 0%"
    assert not verify(["jpeg"], diag(0.0, jpeg=0.11, noise=0.97), diag(0.0, jpeg=0.02, noise=0.6), x, x).kept
    assert not verify(["jpeg"], diag(0.0, jpeg=0.11), diag(0.9, jpeg=0.02), x, x).kept
    assert not verify(["resize"], diag(0.0, resize=0.55, noise=0.9), diag(0.9, resize=0.54), x, x).kept
    # the noise it removed lay on edges: 4-px bars beside a flat area, smoothed (structure, not noise)
    bars = np.repeat(np.tile(np.repeat(np.array([0.2, 0.8], np.float32), 4), 8)[None, :, None], 64, 0).repeat(3, 2)
    bars[:, :16] = 0.5
    smoothed = cv2.GaussianBlur(bars, (0, 0), 1.0)
    check = verify(["jpeg"], diag(0.0, jpeg=0.11, noise=0.97), diag(0.9, jpeg=0.02, noise=0.0), bars, smoothed)
    assert not check.kept and "structure, not noise" in check.why


def test_band_limit_families_need_a_smaller_drop():
    """The analyzer's evidence of down-sampling and ringing falls less when restored (calibrated in
    benchmarks/verify_calibration.py): a drop of 0.06 keeps a band step, not a noise step."""
    x = _img()
    assert verify(["resize"], diag(0.0, resize=0.70), diag(0.0, resize=0.64), x, x).kept
    assert verify(["resize", "ringing"], diag(0.0, resize=0.7, ringing=0.6), diag(0.0, resize=0.67, ringing=0.57),
                  x, x).kept
    assert not verify(["resize"], diag(0.0, resize=0.70), diag(0.0, resize=0.67), x, x).kept
    assert not verify(["noise"], diag(0.0, noise=0.70), diag(0.0, noise=0.64), x, x).kept


def test_verify_undoes_a_step_that_introduced_a_degradation_but_not_a_revealed_later_one():
    x = _img()
    before, after = diag(0.0, noise=0.9), diag(0.0, noise=0.1, damage=0.8)
    assert "introduced damage" in verify(["noise"], before, after, x, x).why
    after = diag(0.0, noise=0.1, blur=0.8)
    assert verify(["noise"], before, after, x, x, later=["blur"]).kept


def test_verify_undoes_a_tone_shift_except_for_tonal_families():
    x = _img()
    darker = x - 3 * MAX_TONE_SHIFT
    check = verify(["noise"], diag(0.0, noise=0.9), diag(0.9, noise=0.1), x, darker)
    assert not check.kept and "shifted tones" in check.why
    assert verify(["haze"], diag(0.0, haze=0.9), diag(0.9, haze=0.1), x, darker).kept
    assert not verify(["damage"], diag(0.0, damage=0.95), diag(0.9, damage=0.1), x, darker).kept  # kept strict


def test_a_scratch_repair_is_kept_when_the_detector_no_longer_finds_its_marks():
    """gir.restore.verify.mask_gone: the detector, sure before, lets go after the fill; then the network may
    still read damage. A network that lets go while the detector still finds marks is not enough."""
    x = _img()
    before = diag(0.0, damage=(1.0, {"area": 30.0, "p_mask": 1.0}))
    unsure = diag(0.0, damage=(0.95, {"area": 0.16, "p_mask": 0.35}))
    network_stays = diag(0.0, damage=(0.99, {"area": 0.0, "p_mask": 0.0}))
    detector_stays = diag(0.0, damage=(0.09, {"area": 1.5, "p_mask": 0.995}))
    half_filled = diag(0.0, damage=(0.95, {"area": 15.0, "p_mask": 1.0}))
    assert verify(["damage"], before, network_stays, x, x).kept
    assert not verify(["damage"], before, detector_stays, x, x).kept
    assert not verify(["damage"], before, half_filled, x, x).kept
    assert not verify(["damage"], unsure, network_stays, x, x).kept  # the detector was not sure of its marks


def test_a_denoising_residual_on_the_edges_is_removed_structure():
    """Rule 4: noise does not know where the edges are (edge ratio near 1); removing structure puts the
    residual on them, and the step is undone even though it explains its input within the noise told."""
    import cv2

    from conftest import natural_image
    from gir.restore.verify import EDGE_RATIO, edge_residual_ratio

    clean = natural_image(96, 96, seed=3)
    noisy = clean + np.random.default_rng(0).normal(0, 15 / 255, clean.shape).astype(np.float32)
    smoothed = cv2.GaussianBlur(clean, (0, 0), 2.0)  # what a denoiser told too much does to a clean photo
    assert 0.6 < edge_residual_ratio(noisy, clean) < 1.5
    assert edge_residual_ratio(clean, smoothed) > 1.5 * EDGE_RATIO
    before, after = diag(0.0, noise=0.9), diag(0.9, noise=0.1)
    kept = verify(["noise"], before, after, noisy, clean, observed=clean, noise=15.0)
    assert kept.kept, kept.why
    refused = verify(["noise"], before, after, clean, smoothed, observed=smoothed, noise=15.0)
    assert not refused.kept and "removed structure" in refused.why
    # other families are not judged by it (a deblurring residual lies on edges by nature)
    assert verify(["blur"], diag(0.0, blur=0.9), diag(0.9, blur=0.1), clean, smoothed, observed=smoothed,
                  noise=15.0).kept


def test_large_photos_are_judged_on_a_spread_of_tiles_within_the_budget():
    from gir.restore.verify import EDGE_BUDGET, edge_windows

    assert edge_windows(300, 400) == [(slice(0, 300), slice(0, 400))]
    wins = edge_windows(4000, 6000)
    area = sum((y.stop - y.start) * (x.stop - x.start) for y, x in wins)
    assert area <= EDGE_BUDGET and area > EDGE_BUDGET / 2
    assert min(y.start for y, _ in wins) == 0 and max(y.stop for y, _ in wins) > 3000  # spread top to bottom


def test_noise_revealed_by_brightening_is_not_counted_as_introduced():
    x = _img()
    before, after = diag(0.0, low_light=0.9, noise=0.1), diag(0.0, low_light=0.2, noise=0.8)
    assert verify(["low_light"], before, after, x, x).kept
    assert not verify(["haze"], diag(0.0, haze=0.9, noise=0.1), diag(0.0, haze=0.2, noise=0.8), x, x).kept


# -------------------------------------------------------------------------------------------- pipeline
def _noise_level(rgb: np.ndarray) -> float:
    """Robust noise sigma (0-1 scale) from the median absolute Laplacian-like residual."""
    g = rgb.mean(axis=2)
    r = g - cv2.GaussianBlur(g, (0, 0), 1.0)
    return float(np.median(np.abs(r)) / 0.6745 * 1.6)


class FakeAnalyzer:
    """Says `noise` when the image is noisy, `damage` when it has a black pixel row, else clean."""

    def __call__(self, rgb, jpeg=None, file=None):
        noisy = _noise_level(rgb) > 0.02
        damaged = bool((rgb[..., 0].max(axis=1) < 0.02).any())
        d = diag(0.0 if noisy or damaged else 0.95, noise=0.9 if noisy else 0.02, damage=0.95 if damaged else 0.01)
        d.file = file
        return d


def _smooth(rgb):
    return cv2.GaussianBlur(rgb, (0, 0), 1.5)


def _darken(rgb):
    return np.clip(_smooth(rgb) - 0.1, 0, 1)


def _photo():
    y, x = np.mgrid[0:96, 0:96] / 96.0
    return np.stack([0.3 + 0.4 * x, 0.3 + 0.4 * y, 0.5 + 0 * x], -1).astype(np.float32)


def _pipeline(noise_fn=_smooth, **kw):
    experts = {"noise": ClassicalExpert("noise", ("noise",), "classical", "test", fn=noise_fn),
               "general": ClassicalExpert("general", ("damage",), "classical", "test", fn=lambda r: r * 0 + 0.5)}
    return Pipeline(analyzer=FakeAnalyzer(), experts=experts, device="cpu", **kw)


def test_clean_photo_comes_back_as_the_same_pixels():
    img = _photo()
    outcome = _pipeline().run(img)
    assert outcome.plan.empty and not outcome.records and not outcome.changed
    assert outcome.image is img
    assert "nothing to do" in outcome.explain()


def test_noisy_photo_is_denoised_and_the_step_is_kept():
    img = _photo()
    noisy = np.clip(img + np.random.default_rng(0).normal(0, 0.08, img.shape), 0, 1).astype(np.float32)
    outcome = _pipeline().run(noisy)
    assert [r.step.expert for r in outcome.records] == ["noise"] and outcome.records[0].check.kept
    assert np.abs(outcome.image - img).mean() < np.abs(noisy - img).mean() / 2
    d = outcome.to_dict()
    assert d["changed"] and d["steps"][0]["kept"] and json.dumps(d)


def test_a_grey_photo_comes_back_grey():
    """An expert that tints its output (colour networks leave 3-5/255 of colour in grey photos) returns a grey
    photo grey: every step's output is projected onto grey before it is verified; a colour photo is not."""
    from gir.restore.pipeline import grey, is_grey

    def tinted(rgb):
        return np.clip(_smooth(rgb) + np.float32([0.02, 0.0, -0.02]), 0, 1)

    g = _photo().mean(axis=2, keepdims=True).repeat(3, axis=2)
    noisy = np.clip(g + np.random.default_rng(0).normal(0, 0.08, g.shape[:2])[..., None], 0, 1).astype(np.float32)
    assert is_grey(noisy) and not is_grey(_photo())
    outcome = _pipeline(noise_fn=tinted).run(noisy)
    assert outcome.records[0].check.kept and np.ptp(outcome.image, axis=2).max() == 0.0
    assert np.allclose(outcome.image, grey(tinted(noisy)))
    colour = np.clip(_photo() + np.random.default_rng(0).normal(0, 0.08, (96, 96, 3)), 0, 1).astype(np.float32)
    assert np.ptp(_pipeline(noise_fn=tinted).run(colour).image, axis=2).max() > 0.03


def test_a_harmful_step_is_undone_and_reported():
    noisy = np.clip(_photo() + np.random.default_rng(1).normal(0, 0.08, (96, 96, 3)), 0, 1).astype(np.float32)
    outcome = _pipeline(noise_fn=_darken).run(noisy)
    assert not outcome.changed and outcome.image is noisy
    assert "UNDONE" in outcome.explain() and "shifted tones" in outcome.records[0].check.why


def test_an_expert_for_two_families_runs_once_even_when_undone():
    """`band` covers resize and ringing, which blur separates in the restore order; undone for resize, it is
    not run again for ringing."""
    calls = []

    def analyzer(rgb, jpeg=None, file=None):
        return diag(0.0, resize=0.8, ringing=0.7)  # never changes: every step is undone

    def band(rgb):
        calls.append(1)
        return rgb * 0.99

    experts = {"band": ClassicalExpert("band", ("resize", "ringing"), "classical", "test", fn=band)}
    outcome = Pipeline(analyzer=analyzer, experts=experts, device="cpu").run(_photo())
    assert len(calls) == 1 and len(outcome.records) == 1 and not outcome.changed
    assert outcome.records[0].step.families == ("resize", "ringing")


def test_only_and_skip_reach_the_plan():
    noisy = np.clip(_photo() + np.random.default_rng(2).normal(0, 0.08, (96, 96, 3)), 0, 1).astype(np.float32)
    assert not _pipeline(skip="noise").run(noisy).records
    with pytest.raises(GirError, match="--only: unknown"):
        _pipeline(only="noize")


def test_coverage_first_expert_wins():
    a = ClassicalExpert("a", ("noise", "blur"), "classical", "")
    b = ClassicalExpert("b", ("blur", "haze"), "classical", "")
    assert coverage({"a": a, "b": b}) == {"noise": "a", "blur": "a", "haze": "b"}


def test_restore_files_copies_an_unchanged_photo_byte_for_byte(tmp_path, monkeypatch):
    import gir.restore.pipeline as pipeline_mod
    from gir.io import write_image
    from gir.restore.files import restore_files

    monkeypatch.setattr(pipeline_mod, "get_analyzer", lambda *a, **k: FakeAnalyzer())
    monkeypatch.setattr(pipeline_mod, "shipped_experts", lambda options: {})
    src = tmp_path / "clean.jpg"
    write_image(src, _photo(), quality=90)
    lines = []
    report = restore_files([str(src)], tmp_path / "out", progress=False, log=lines.append, explain=True,
                           write_json=True)
    assert report.done == 1 and not report.failures
    out = tmp_path / "out" / "clean.jpg"
    assert out.read_bytes() == src.read_bytes()
    assert json.loads((tmp_path / "out" / "clean.jpg.json").read_text())["changed"] is False
    assert any("nothing to do" in line for line in lines)
    with pytest.raises(GirError, match="do not apply to --model"):
        restore_files([str(src)], tmp_path / "o2", model="x", only="noise")


def test_tone_check_of_a_denoiser_ignores_clipped_regions():
    """Noise clipped at black biases the mean there; a denoiser that removes it is not shifting tones."""
    from gir.restore.verify import tone_shift

    clean = np.full((64, 64, 3), 0.5, np.float32)
    clean[:, :48] = 0.0  # mostly black (on the 16-px cells of the check)
    noisy = np.clip(clean + np.random.default_rng(3).normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)
    assert tone_shift(noisy, clean) > MAX_TONE_SHIFT  # the bias the plain check sees
    check = verify(["noise"], diag(0.0, noise=0.9), diag(0.9, noise=0.1), noisy, clean)
    assert check.kept and check.tone_shift < MAX_TONE_SHIFT * 255


def test_a_family_just_under_the_threshold_is_not_gone():
    x = _img()
    check = verify(["haze"], diag(0.0, haze=0.66), diag(0.0, haze=0.499), x, x)
    assert not check.kept and "did not help" in check.why


def test_integer_images_are_refused_not_misread():
    with pytest.raises(GirError, match="float image"):
        _pipeline().run((_photo() * 255).astype(np.uint8))


def test_cli_names_a_misspelt_family_in_one_line(tmp_path, capsys):
    from gir.cli import main
    from gir.io import write_image

    src = tmp_path / "a.png"
    write_image(src, _photo())
    assert main(["restore", str(src), "-o", str(tmp_path / "out"), "--skip", "nois"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--skip: unknown degradation family nois" in err[0] and "pipeline needs" not in err[0]
    assert not (tmp_path / "out").exists()


class _Recorder(ClassicalExpert):
    """A classical expert that records the strengths each call was given."""

    def __call__(self, rgb, progress=False, strengths=None):
        self.seen = dict(strengths or {})
        return super().__call__(rgb, progress, strengths)


def test_condition_overrides_the_analysis_and_out_of_range_sigma_is_refused():
    rec = _Recorder("noise", ("noise",), "classical", "t", fn=_smooth)
    noisy = np.clip(_photo() + np.random.default_rng(0).normal(0, 0.08, (96, 96, 3)), 0, 1).astype(np.float32)
    Pipeline(analyzer=FakeAnalyzer(), experts={"noise": rec}, device="cpu",
             conditions={"noise.sigma": 30}).run(noisy)
    assert rec.seen["noise.sigma"] == 30.0
    with pytest.raises(GirError, match="noise.sigma=80: out of range"):
        Pipeline(analyzer=FakeAnalyzer(), experts={"noise": rec}, device="cpu", conditions={"noise.sigma": 80})


def test_a_later_step_is_told_the_noise_an_earlier_kept_step_left():
    """After a kept denoising step a later plug-and-play step treats its input as noisy at 0.35 sigma; after
    another kept step, at the RMS of what that step changed (gir.restore.pipeline.left_behind)."""
    from gir.restore.pipeline import DENOISED_RESIDUAL, left_behind

    step = Step("denoise", ("noise",), {"noise": 0.9}, {"noise.sigma": 20.0})
    x = _photo()
    assert left_behind(step, x, x) == pytest.approx(DENOISED_RESIDUAL * 20)
    jpeg = Step("jpeg", ("jpeg",), {"jpeg": 0.9}, {"jpeg.quality": 40.0})
    assert left_behind(jpeg, x, x + 4 / 255) == pytest.approx(4.0, rel=1e-3)
    assert left_behind(jpeg, x, x, earlier=3.0) == 3.0


def test_gir_analyze_and_restore_explain_report_the_same_diagnosis(tmp_path, capsys):
    """Issue 30: a PNG of a decoded JPEG read JPEG quality 37 in `gir analyze` and 8 in `--explain`; both now
    take the diagnosis from gir.analysis.analyze.diagnose (the pixels' quantiser lattice included)."""
    import io

    from PIL import Image

    from conftest import natural_image
    from gir.cli import main

    img = (natural_image(96, 128, seed=4) * 255).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=25)
    buf.seek(0)
    src = tmp_path / "decoded.png"
    Image.open(buf).convert("RGB").save(src)
    assert main(["analyze", str(src), "--json"]) == 0
    analyzed = json.loads(capsys.readouterr().out)[0]["degradations"]["jpeg"]
    outcome = Pipeline(device="cpu").run(src)
    explained = outcome.diagnosis.to_dict()["degradations"]["jpeg"]
    assert analyzed == explained and "lattice" in analyzed["source"]
