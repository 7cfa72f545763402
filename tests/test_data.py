"""gir.data: folders, patch geometry, degradation sampling modes, paired folders, determinism."""
from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pytest

from conftest import natural_image
from gir.data import (CleanPatches, ComposeSamplers, ConfigError, DegradedFolder, GirChains, IndexBatches,
                      MixTasks, PairedFolders, SingleOp, build_train_set, build_val_set, list_images, sample_rng)
from gir.data.content import MIN_SIDE, VEIL_STRENGTH, paint_flat_regions, shape_mask, veil
from gir.data.patches import centre_crop, pad_to, random_crop, random_flip_rot
from gir.errors import GirError
from gir.io import write_image


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory) -> Path:
    """Six small synthetic images of different sizes (one smaller than the patch), one in a subfolder."""
    d = tmp_path_factory.mktemp("clean")
    (d / "sub").mkdir()
    sizes = [(40, 52), (33, 47), (64, 48), (20, 18), (50, 50), (45, 61)]
    for i, (h, w) in enumerate(sizes):
        where = d / "sub" if i == 5 else d
        write_image(where / f"im{i}.png", natural_image(h, w, seed=i))
    (d / "notes.txt").write_text("not an image")
    return d


def _single(clean_dir, seed=0, **kw):
    return DegradedFolder([clean_dir], SingleOp("noise"), patch_size=24, seed=seed, **kw)


# ------------------------------------------------------------------------------------------- folders
def test_list_images_recursive_suffixes_and_errors(clean_dir, tmp_path):
    files = list_images([clean_dir])
    assert len(files) == 6 and all(p.suffix == ".png" for p in files)
    assert len(list_images(clean_dir, recursive=False)) == 5
    assert len(list_images([clean_dir, clean_dir / "sub"])) == 6  # duplicates dropped
    assert len(list_images(clean_dir, max_images=2)) == 2
    with pytest.raises(ConfigError, match="does not exist"):
        list_images(tmp_path / "nope", key="data.train.roots")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"data.train.roots: no images"):
        list_images(tmp_path / "empty", key="data.train.roots")
    assert issubclass(ConfigError, GirError)


# ------------------------------------------------------------------------------------------ geometry
def test_crop_pads_small_images_and_keeps_pairs_aligned():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (10, 7, 3), dtype=np.uint8)
    assert pad_to(small, 16).shape == (16, 16, 3)
    assert pad_to(rng.integers(0, 255, (1, 5, 3), dtype=np.uint8), 4).shape == (4, 5, 3)
    a = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    b = 255 - a
    for seed in range(8):
        ca, cb = random_crop([a, b], 16, np.random.default_rng(seed))
        fa, fb = random_flip_rot([ca, cb], np.random.default_rng(seed))
        assert fa.shape == (16, 16, 3) and np.array_equal(fb, 255 - fa)
    # all 8 dihedral transforms occur
    img = np.arange(16, dtype=np.uint8).reshape(4, 4, 1)
    seen = {random_flip_rot([img], np.random.default_rng(s))[0].tobytes() for s in range(200)}
    assert len(seen) == 8
    assert centre_crop(a, 20).shape == (20, 20, 3) and np.array_equal(centre_crop(a, 20), a[5:25, 10:30])
    assert centre_crop(a, 100).shape == a.shape


# ----------------------------------------------------------------------------------- determinism
def test_sample_is_pure_function_of_seed_and_index(clean_dir):
    ds1, ds2 = _single(clean_dir), _single(clean_dir)
    order = [7, 3, 11, 3]
    first = [ds1[i] for i in order]
    second = [ds2[i] for i in reversed(order)][::-1]  # other instance, other call order
    for x, y in zip(first, second):
        assert np.array_equal(x["lq"], y["lq"]) and np.array_equal(x["gt"], y["gt"])
        assert x["recipe"] == y["recipe"] and x["task"] == y["task"] == "noise"
    s = first[0]
    assert s["lq"].shape == s["gt"].shape == (3, 24, 24) and s["lq"].dtype == np.float32
    assert 0.0 <= s["lq"].min() and s["lq"].max() <= 1.0
    assert not np.array_equal(ds1[0]["gt"], ds1[1]["gt"])
    assert not np.array_equal(_single(clean_dir, seed=1)[0]["lq"], ds1[0]["lq"])
    # 8-bit quantised LQ
    assert np.allclose(s["lq"] * 255, np.round(s["lq"] * 255), atol=1e-3)


def test_dataloader_batches_independent_of_num_workers(clean_dir):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    ds = _single(clean_dir)

    def batches(workers):
        dl = DataLoader(ds, batch_sampler=IndexBatches(3, 2, 6), num_workers=workers)
        return [(b["lq"], b["gt"], b["index"], b["task"]) for b in dl]

    a, b = batches(0), batches(2)
    assert len(a) == 4
    for x, y in zip(a, b):
        assert torch.equal(x[0], y[0]) and torch.equal(x[1], y[1]) and torch.equal(x[2], y[2])
        assert x[3] == y[3]
    assert a[0][2].tolist() == [6, 7, 8]  # iteration 3 of batch 3


def test_index_batches_split_ranks_like_one_big_batch():
    one = list(IndexBatches(4, 0, 3))
    two = [list(IndexBatches(2, 0, 3, rank=r, world_size=2)) for r in range(2)]
    for t in range(3):
        assert sorted(two[0][t] + two[1][t]) == one[t]
        assert not set(two[0][t]) & set(two[1][t])
    resumed = list(IndexBatches(4, 1, 3))
    assert resumed == one[1:]


# ----------------------------------------------------------------------------------- sampling modes
def test_single_random_and_fixed_params():
    s = SingleOp("noise", random=True)
    sig = [s.draw(sample_rng(0, i)).recipe.steps[0].params["sigma"] for i in range(50)]
    assert len(set(sig)) == 50 and 1.0 <= min(sig) and max(sig) <= 30.0
    fixed = SingleOp("noise", params={"sigma": 25}, random=True)
    assert {fixed.draw(sample_rng(0, i)).recipe.steps[0].params["sigma"] for i in range(10)} == {25.0}
    rep = SingleOp("jpeg", random=False)
    d = rep.draw(sample_rng(0, 0))
    assert d.recipe.steps[0].params == {"quality": 50} and d.recipe.seed is not None
    with pytest.raises(ConfigError, match="unknown op"):
        SingleOp("nosie")
    with pytest.raises(ConfigError, match="params"):
        SingleOp("noise", params={"sigma": 999})


def _freqs(sampler, n=2000):
    counts = collections.Counter(sampler.draw(sample_rng(5, i)).task for i in range(n))
    return {k: v / n for k, v in counts.items()}


def test_mix_honours_weights_and_repeat_ratios():
    w = MixTasks([{"recipe": "noise(sigma=15)", "name": "a", "weight": 5},
                  {"recipe": "jpeg(quality=30)", "name": "b", "weight": 3},
                  {"recipe": "noise > jpeg", "name": "c", "weight": 2}])
    f = _freqs(w)
    for name, expect in {"a": 0.5, "b": 0.3, "c": 0.2}.items():
        assert abs(f[name] - expect) < 0.03, (name, f)
    r = MixTasks([{"recipe": "noise", "name": "H", "repeat": 1}, {"recipe": "jpeg", "name": "R", "repeat": 120},
                  {"recipe": "noise(sigma=5)", "name": "N", "repeat": 9}])
    f = _freqs(r)
    for name, expect in {"H": 1 / 130, "R": 120 / 130, "N": 9 / 130}.items():
        assert abs(f.get(name, 0.0) - expect) < 0.015, (name, f)
    # repeat multiplies the size of each task's image pool (a repeat sampler over datasets)
    pooled = MixTasks([{"recipe": "noise", "name": "x", "repeat": 1, "roots": ["/a"]},
                       {"recipe": "jpeg", "name": "y", "repeat": 1}])
    pooled.bind([30, 10])  # main pool 30 images, task x's pool 10
    assert np.allclose(pooled.probs, [0.25, 0.75])


def test_mix_random_tasks_redraw_strengths_and_fixed_tasks_do_not():
    m = MixTasks(["noise(sigma=25)", {"recipe": "noise > jpeg", "random": True, "name": "rnd"}])
    fixed, rand = set(), set()
    for i in range(200):
        d = m.draw(sample_rng(1, i))
        (rand if d.task == "rnd" else fixed).add(d.recipe.to_text())
    assert fixed == {"noise(sigma=25.0)"}
    assert len(rand) > 50 and all(t.startswith("noise(") and "> jpeg(" in t for t in rand)


def test_mix_ranges_narrow_the_random_range_of_named_parameters():
    m = MixTasks([{"recipe": "ringing", "random": True, "ranges": {"omega": [1.05, 1.6]}, "name": "strong"},
                  {"recipe": "blur > noise", "random": True, "ranges": {"sigma": [2.0, 3.0]}, "name": "bn"}])
    omegas, sizes, sigmas = [], set(), []
    for i in range(400):
        d = m.draw(sample_rng(4, i))
        if d.task == "strong":
            (step,) = d.recipe.steps
            omegas.append(step.params["omega"])
            sizes.add(step.params["size"])
        else:
            sigmas += [s.params["sigma"] for s in d.recipe.steps]  # both ops have a sigma: both narrowed
    assert 1.05 <= min(omegas) < 1.1 and 1.55 < max(omegas) <= 1.6
    assert sizes == set(range(9, 24, 2))  # parameters not named keep the op's own range
    assert 2.0 <= min(sigmas) and max(sigmas) <= 3.0
    per_op = MixTasks([{"recipe": "blur > noise", "random": True,
                        "ranges": {"blur.sigma": [0.3, 0.5], "noise.sigma": [20.0, 25.0]}}])
    for i in range(50):
        b, n = per_op.draw(sample_rng(5, i)).recipe.steps
        assert 0.3 <= b.params["sigma"] <= 0.5 and 20.0 <= n.params["sigma"] <= 25.0  # op.param: that op only
    again = [MixTasks(m_tasks).draw(sample_rng(4, 7)).recipe.to_text() for m_tasks in
             [[{"recipe": "ringing", "random": True, "ranges": {"omega": [1.05, 1.6]}}]] * 2]
    assert again[0] == again[1]


@pytest.mark.parametrize("tasks, match", [
    ([], "non-empty"),
    ([{"recipe": "ringing", "ranges": {"omega": [1, 2]}}], "only with random: true"),
    ([{"recipe": "ringing", "random": True, "ranges": {"sigma": [1, 2]}}], "not a parameter of ringing: sigma"),
    ([{"recipe": "ringing", "random": True, "ranges": {"noise.sigma": [1, 2]}}],
     "not a parameter of ringing: noise.sigma"),
    ([{"recipe": "ringing", "random": True, "ranges": {"omega": [2, 1]}}], "above high"),
    ([{"recipe": "ringing", "random": True, "ranges": {"omega": [1, 9]}}], r"ranges.omega: ringing"),
    ([{"recipe": "ringing", "random": True, "ranges": {"omega": 1.2}}], r"expected \[low, high\]"),
    ([{"recipe": "ringing", "random": True, "ranges": [1, 2]}], "expected a mapping"),
    (["noise", {"recipe": "jpeg", "bogus": 1}], "unknown key 'bogus'"),
    ([{"recipe": "noise", "weight": 1}, {"recipe": "jpeg", "repeat": 2}], "either weight or repeat"),
    ([{"recipe": "noise", "weight": -1}], "positive"),
    (["noise", "noise"], "unique"),
    (["noise(sigma=-3)"], r"tasks\[0\].recipe"),
])
def test_mix_config_errors(tasks, match):
    with pytest.raises(ConfigError, match=match):
        MixTasks(tasks)


def test_gir_mode_yields_varied_valid_chains():
    from gir.degradations import OPS

    g = GirChains(order="1-4", pool=["noise", "jpeg", "blur", "resize", "rain"])
    draws = [g.draw(sample_rng(3, i)) for i in range(300)]
    texts = {d.recipe.to_text() for d in draws}
    assert len(texts) > 250  # strengths and chains vary
    orders = collections.Counter(len(d.recipe.steps) for d in draws)
    assert set(orders) == {1, 2, 3, 4}
    for d in draws:
        ops = [s.op for s in d.recipe.steps]
        assert len(set(ops)) == len(ops) and d.task == f"order-{len(ops)}"
        assert all(not OPS.get(o).acquisition for o in ops[1:])  # weather only as D_1
    assert {d.recipe.steps[0].op for d in draws} >= {"rain", "noise"}
    with pytest.raises(ConfigError, match="order"):
        GirChains(order="5-2")
    with pytest.raises(ConfigError, match="needs more"):
        GirChains(order="1-5", pool=["noise", "jpeg"])
    with pytest.raises(ConfigError, match=r"pool\[1\]"):
        GirChains(pool=["noise", "fog"])


def test_scene_depth_ops_run_on_patches(clean_dir):
    ds = DegradedFolder([clean_dir], SingleOp("haze"), patch_size=16, seed=0)
    s = ds[4]
    assert s["lq"].shape == (3, 16, 16) and not np.array_equal(s["lq"], s["gt"])
    assert len(ds.depths._maps) == 1  # the whole image's depth, estimated once


# --------------------------------------------------------------------------------------- paired folders
def test_paired_folders_match_by_stem_and_share_geometry(tmp_path):
    lq, gt = tmp_path / "lq", tmp_path / "gt"
    lq.mkdir(), gt.mkdir()
    for i in range(3):
        clean = natural_image(30 + i, 40, seed=i)
        write_image(gt / f"{i:03d}.png", clean)
        write_image(lq / f"{i:03d}.png", 1.0 - clean)  # the pair is recognisable pixel by pixel
    write_image(lq / "extra.png", natural_image(8, 8))  # LQ without GT is ignored
    ds = PairedFolders(lq, gt, patch_size=16, seed=0)
    assert len(ds) == 3
    for i in range(20):
        s = ds[i]
        assert s["lq"].shape == (3, 16, 16) and s["task"] == "paired"
        assert np.allclose(s["lq"], 1.0 - s["gt"], atol=1.5 / 255)
    write_image(gt / "lonely.png", natural_image(8, 8))
    with pytest.raises(ConfigError, match="no LQ file with the same stem"):
        PairedFolders(lq, gt, patch_size=16)


def test_paired_size_mismatch_is_reported(tmp_path):
    (tmp_path / "lq").mkdir(), (tmp_path / "gt").mkdir()
    write_image(tmp_path / "gt" / "a.png", natural_image(20, 20))
    write_image(tmp_path / "lq" / "a.png", natural_image(10, 10))
    ds = PairedFolders(tmp_path / "lq", tmp_path / "gt", patch_size=8)
    with pytest.raises(ConfigError, match="does not match its GT"):
        ds[0]


# ------------------------------------------------------------------------------------ config builders
def test_compose_draws_parts_by_weight_and_remaps_their_pools():
    c = ComposeSamplers([
        {"mode": "gir", "weight": 6, "order": "2-3", "pool": ["noise", "jpeg", "blur"]},
        {"mode": "mix", "weight": 3, "tasks": [{"recipe": "haze", "random": True, "name": "haze"},
                                               {"recipe": "noise", "name": "own", "roots": "/own"}]},
        {"mode": "clean", "weight": 1},
    ])
    assert c.pools == [["/own"]] and c.uses_main_pool
    assert c.task_names() == ["order-2", "order-3", "haze", "own", "clean"]
    f = _freqs(c, 4000)
    assert abs(f["order-2"] + f["order-3"] - 0.6) < 0.03 and abs(f["clean"] - 0.1) < 0.02, f
    c.bind([100, 100])  # equal weights inside the mix part
    draws = [c.draw(sample_rng(7, i)) for i in range(400)]
    assert {d.pool for d in draws if d.task == "own"} == {1} and {d.pool for d in draws if d.task != "own"} == {0}
    assert all(d.recipe.steps == () for d in draws if d.task == "clean")
    assert [d.recipe.to_text() for d in draws[:50]] == [c.draw(sample_rng(7, i)).recipe.to_text() for i in range(50)]


@pytest.mark.parametrize("parts, match", [
    ([], "non-empty"),
    (["gir"], r"parts\[0\]: expected a mapping with a 'mode'"),
    ([{"mode": "compose", "parts": []}], "cannot be 'compose'"),
    ([{"mode": "gir", "weight": 0}], "positive"),
    ([{"mode": "gir", "ordr": "1-2"}], r"parts\[0\]: unknown key 'ordr'"),
    ([{"mode": "mix", "tasks": ["noise(sigma=-3)"]}], r"parts\[0\].tasks\[0\].recipe"),
])
def test_compose_config_errors(parts, match):
    with pytest.raises(ConfigError, match=match):
        ComposeSamplers(parts)


def test_clean_patches_are_the_identity(clean_dir):
    ds = DegradedFolder([clean_dir], CleanPatches(), patch_size=24, seed=3)
    s = ds[4]
    assert s["task"] == "clean" and s["recipe"] == "" and np.array_equal(s["lq"], s["gt"])


def test_clean_patches_from_their_own_folder(clean_dir, tmp_path):
    """``mode: clean`` with ``roots`` draws from those folders only (hard clean examples beside the photos)."""
    hard = tmp_path / "hard"
    hard.mkdir()
    write_image(hard / "h.png", np.full((40, 40, 3), 0.25, np.float32))
    c = ComposeSamplers([{"mode": "clean", "weight": 1}, {"mode": "clean", "name": "hard", "roots": [str(hard)]}])
    assert c.pools == [[str(hard)]] and c.uses_main_pool
    ds = DegradedFolder([clean_dir], c, patch_size=24, seed=3)
    samples = [ds[i] for i in range(12)]
    hard_ones = [s for s in samples if s["task"] == "hard"]
    assert hard_ones and all(np.allclose(s["gt"], 0.25, atol=1 / 255) and np.array_equal(s["lq"], s["gt"])
                             for s in hard_ones)
    assert any(not np.allclose(s["gt"], 0.25, atol=1 / 255) for s in samples if s["task"] == "clean")
    only = DegradedFolder([], CleanPatches(roots=str(hard)), patch_size=24, seed=3)
    assert np.allclose(only[0]["gt"], 0.25, atol=1 / 255)
    with pytest.raises(ConfigError, match="roots"):
        CleanPatches(roots=[])


def test_context_margin_degrades_a_region_and_cuts_its_centre(clean_dir):
    ds = DegradedFolder([clean_dir], SingleOp("noise"), patch_size=16, seed=2, context_margin=8)
    s = ds[3]
    assert s["lq"].shape == s["gt"].shape == (3, 16, 16) and s["lq_context"].shape == (3, 32, 32)
    assert np.array_equal(s["lq"], s["lq_context"][:, 8:24, 8:24])  # one degradation of the whole region
    assert not np.array_equal(s["lq"], s["gt"]) and np.array_equal(ds[3]["lq_context"], s["lq_context"])
    assert "lq_context" not in DegradedFolder([clean_dir], SingleOp("noise"), patch_size=16, seed=2)[3]


def test_build_train_set_modes(clean_dir, tmp_path):
    base = {"roots": [str(clean_dir)], "single": {"op": "jpeg"}, "mix": {"tasks": ["noise", "jpeg"]},
            "gir": {"order": "1-2", "pool": ["noise", "jpeg"]}, "clean": {},
            "compose": {"parts": [{"mode": "single", "op": "blur"}, {"mode": "clean", "weight": 2}]}}
    for mode in ("single", "mix", "gir", "clean", "compose"):
        ds = build_train_set({**base, "mode": mode}, seed=0, patch_size=16)
        assert ds[0]["lq"].shape == (3, 16, 16)
    with pytest.raises(ConfigError, match="unknown mode 'sigle'"):
        build_train_set({**base, "mode": "sigle"}, seed=0, patch_size=16)
    with pytest.raises(ConfigError, match="data.train.single: unknown key 'sigma'"):
        build_train_set({**base, "mode": "single", "single": {"op": "noise", "sigma": 3}}, 0, 16)
    with pytest.raises(ConfigError, match="paired.lq"):
        build_train_set({"mode": "paired", "paired": {}}, 0, 16)
    with pytest.raises(ConfigError, match="no folder given"):
        build_train_set({"mode": "single", "roots": []}, 0, 16)


def test_val_set_is_fixed_and_centre_cropped(clean_dir):
    section = {"roots": [str(clean_dir)], "max_images": 2, "crop": 24,
               "tasks": ["noise(sigma=25)", {"name": "j", "recipe": "jpeg(quality=20)", "seed": 4}]}
    a, b = list(build_val_set(section)), list(build_val_set(section))
    assert len(a) == 4 and [x.task for x in a] == ["noise(sigma=25.0)", "j"] * 2
    for x, y in zip(a, b):
        assert np.array_equal(x.lq, y.lq) and x.gt.shape == (24, 24, 3)
    # different images of the same task get different noise realisations
    assert not np.array_equal(a[0].lq - a[0].gt, a[2].lq - a[2].gt)
    assert build_val_set({"roots": []}) is None
    with pytest.raises(ConfigError, match="at least one task"):
        build_val_set({"roots": [str(clean_dir)]})
    with pytest.raises(ConfigError, match=r"tasks\[0\]: unknown key 'sede'"):
        build_val_set({"roots": [str(clean_dir)], "tasks": [{"recipe": "noise", "sede": 1}]})


# ------------------------------------------------------------------------------------- flat regions
def test_paint_flat_regions_paints_solid_shapes_deterministically():
    img = (natural_image(96, 96, seed=1) * 255).astype(np.uint8)
    a = paint_flat_regions(img, np.random.default_rng(3), margin=24)
    assert np.array_equal(a, paint_flat_regions(img, np.random.default_rng(3), margin=24))
    assert not np.array_equal(a, paint_flat_regions(img, np.random.default_rng(4), margin=24))
    assert a is not img and np.array_equal(img, (natural_image(96, 96, seed=1) * 255).astype(np.uint8))
    painted = np.any(a != img, axis=2)
    assert painted.sum() >= MIN_SIDE ** 2 * 0.7  # at least one shape, barely covered by chance
    colours = {tuple(c) for c in a[painted]}
    assert 1 <= len(colours) <= 3  # each shape one solid colour


def test_flat_region_shapes_respect_their_contract():
    for seed in range(40):
        rng = np.random.default_rng(seed)
        edge = shape_mask("edge", 64, 80, 16, rng)
        rows, cols = edge.any(1), edge.any(0)
        depth = min(rows.sum(), cols.sum())  # the band spans the whole other side
        assert rows.all() or cols.all()
        assert 17 <= depth <= 48
        for kind in ("rectangle", "ellipse"):
            m = shape_mask(kind, 64, 80, 16, rng)
            ys, xs = np.nonzero(m)
            assert MIN_SIDE - 1 <= np.ptp(ys) + 1 <= 32 and MIN_SIDE - 1 <= np.ptp(xs) + 1 <= 32
    assert shape_mask("rectangle", 10, 12, 0, np.random.default_rng(0)).any()  # small regions still work


def test_flat_regions_paint_the_target_before_degradation(clean_dir):
    plain = _single(clean_dir, seed=5, context_margin=8)
    flat = _single(clean_dir, seed=5, context_margin=8, flat_regions=1.0)
    changed = 0
    for i in range(6):
        p, f = plain[i], flat[i]
        assert p["recipe"] == f["recipe"]  # same task, image, window and recipe seed
        changed += not np.array_equal(p["gt"], f["gt"])
        assert not np.array_equal(f["lq"], f["gt"])  # painted, then degraded
    assert changed >= 4  # a shape may fall in the margin only


def test_veil_is_a_uniform_pale_blend():
    img = (natural_image(40, 48, seed=2) * 255).astype(np.uint8)
    a = veil(img, np.random.default_rng(1))
    assert a.dtype == np.uint8 and np.array_equal(a, veil(img, np.random.default_rng(1)))
    x, y = img.reshape(-1, 3).astype(float), a.reshape(-1, 3).astype(float)
    for ch in range(3):  # y = (1 - a) x + a c exactly, up to rounding, with one a for the whole image
        slope, icpt = np.polyfit(x[:, ch], y[:, ch], 1)
        assert 1 - VEIL_STRENGTH[1] - 0.01 <= slope <= 1 - VEIL_STRENGTH[0] + 0.01
        assert np.abs(slope * x[:, ch] + icpt - y[:, ch]).max() <= 0.6
        assert icpt / (1 - slope) >= 0.55 * 255  # the veil's colour is light
    assert y.std() < x.std() and y.mean() > x.mean() - 10


def test_veiled_samples_keep_the_veil_in_the_target(clean_dir):
    plain, pale = _single(clean_dir, seed=5), _single(clean_dir, seed=5, veiled=1.0)
    for i in range(4):
        p, v = plain[i], pale[i]
        assert p["recipe"] == v["recipe"] and v["gt"].std() < p["gt"].std()
    with pytest.raises(ConfigError, match=r"data.train.veil_strength: expected 0 <= low <= high < 1"):
        _single(clean_dir, veiled=0.5, veil_strength=[0.5, 0.2])
    with pytest.raises(ConfigError, match=r"data.train.veil_strength: expected \[low, high\]"):
        _single(clean_dir, veiled=0.5, veil_strength=[0.1])


def test_gray_samples_have_a_grey_target_and_colour_noise(clean_dir):
    plain, grey = _single(clean_dir, seed=5), _single(clean_dir, seed=5, gray=1.0)
    for i in range(4):
        p, g = plain[i], grey[i]
        assert p["recipe"] == g["recipe"]
        assert np.array_equal(g["gt"][0], g["gt"][1]) and np.array_equal(g["gt"][1], g["gt"][2])
        assert not np.array_equal(p["gt"][0], p["gt"][1])  # the photos themselves are in colour
        noise = g["lq"] - g["gt"]
        assert np.abs(noise[0] - noise[1]).mean() > 0.001  # the noise keeps its own colour


@pytest.mark.parametrize("config", sorted((Path(__file__).parent.parent / "configs").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_every_shipped_config_loads_and_its_sampler_draws(config):
    from gir.data.tasks import build_task_sampler
    from gir.training.config import load_config

    cfg = load_config(config)
    train = cfg["data"]["train"]
    mode = train.get("mode", "gir")
    if mode == "paired":
        return
    sampler = build_task_sampler(mode, train.get(mode), f"data.train.{mode}")
    draws = [sampler.draw(sample_rng(0, i)) for i in range(20)]
    assert all(d.task for d in draws) and (mode == "clean" or any(d.recipe.steps for d in draws))
