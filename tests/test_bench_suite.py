"""GIR benchmark suite builder, suite files, spectral clustering and AR/ER scoring (gir.bench)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import natural_image
from gir.bench.scores import ScoreError, acceptance_rate, excellence_rate, summarize, task_rows
from gir.bench.spectral import gaussian_affinity, kmeans, nearest_to_centres, spectral_clustering
from gir.bench.suite import (SINGLE_ORDER, SuiteError, Task, build_suite, colour_histograms, degrade_for_task,
                             follows_order_rule, gir_pool, histogram_similarity, load_suite, suite_json,
                             write_suite)
from gir.degradations import OPS, Recipe

SMALL = dict(n_candidates=60, n_images=2, crop=48, n_init=3)


@pytest.fixture(scope="module")
def images():
    return [natural_image(64, 72, seed=i) for i in range(2)]


@pytest.fixture(scope="module")
def suite(images):
    return build_suite(3, images, **SMALL)


# -- suite structure -------------------------------------------------------------------------------

def test_layout_ids_groups_orders(suite):
    tasks = suite["tasks"]
    assert [t["id"] for t in tasks] == list(range(1, 101))
    assert suite["seed"] == 3 and suite["version"] == 1
    for group, orders, first in (("single", [1], 1), ("representative", [2, 3, 4, 5], 11),
                                 ("random", [1, 2, 3, 4, 5], 51)):
        members = [t for t in tasks if t["group"] == group]
        assert [t["order"] for t in members] == [k for k in orders for _ in range(10)]
        assert members[0]["id"] == first
    for t in tasks:
        assert len(t["recipe"]) == t["order"]


def test_single_tasks_are_the_ten_at_representative_settings(suite):
    singles = suite["tasks"][:10]
    assert sorted(gir_pool()) == sorted(SINGLE_ORDER) and len(SINGLE_ORDER) == 10
    assert [t["recipe"][0]["op"] for t in singles] == list(SINGLE_ORDER)
    for t in singles:
        step = t["recipe"][0]
        assert step["params"] == OPS.get(step["op"]).representative()


def test_every_task_follows_the_ordering_rule(suite):
    pool = set(gir_pool())
    for t in suite["tasks"]:
        recipe = Recipe.from_dict({"steps": t["recipe"]})
        assert follows_order_rule(recipe), t["text"]
        assert {s.op for s in recipe.steps} <= pool
        assert t["text"] == recipe.to_text()


def test_representative_tasks_use_fixed_strengths_and_are_distinct(suite):
    rep = [t for t in suite["tasks"] if t["group"] == "representative"]
    for t in rep:
        for s in t["recipe"]:
            assert s["params"] == OPS.get(s["op"]).representative()
        assert t["cluster_size"] >= 1
    for k in (2, 3, 4, 5):
        chains = [tuple(s["op"] for s in t["recipe"]) for t in rep if t["order"] == k]
        assert len(set(chains)) == 10
        sizes = [t["cluster_size"] for t in rep if t["order"] == k]
        assert sizes == sorted(sizes, reverse=True)


def test_random_tasks_use_random_strengths(suite):
    rand = [t for t in suite["tasks"] if t["group"] == "random"]
    non_rep = sum(s["params"] != OPS.get(s["op"]).representative() for t in rand for s in t["recipe"])
    assert non_rep > 0.8 * sum(len(t["recipe"]) for t in rand)


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path, images, suite):
    a = write_suite(suite, tmp_path / "a.json")
    b = write_suite(build_suite(3, images, **SMALL), tmp_path / "sub" / "b.json")
    assert a.read_bytes() == b.read_bytes()
    assert a.read_text() == suite_json(json.loads(a.read_text()))  # canonical form round-trips
    other = build_suite(4, images, **SMALL)["tasks"]
    assert [t["text"] for t in other[:10]] == [t["text"] for t in suite["tasks"][:10]]
    assert all(o["text"] != t["text"] for o, t in zip(other[50:], suite["tasks"][50:]))
    assert [o["seed"] for o in other] != [t["seed"] for t in suite["tasks"]]
    assert len({t["seed"] for t in suite["tasks"]}) == 100


def test_build_is_deterministic_across_processes(tmp_path):
    code = ("import sys; sys.path.insert(0, 'tests'); from conftest import natural_image; "
            "from gir.bench.suite import build_suite, suite_json; "
            "imgs = [natural_image(40, 40, seed=i) for i in range(2)]; "
            "sys.stdout.write(suite_json(build_suite(9, imgs, n_candidates=40, n_images=2, crop=32, n_init=2)))")
    from conftest import REPO
    runs = [subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert runs[0] == runs[1] and '"id": 100' in runs[0]


def test_build_rejects_bad_input(images):
    with pytest.raises(ValueError, match="seed"):
        build_suite(-1, images, **SMALL)
    with pytest.raises(ValueError, match="at least one image"):
        build_suite(0, [], **SMALL)
    with pytest.raises(ValueError, match="distinct candidate chains"):
        build_suite(0, images, n_candidates=5, n_images=1, crop=32)


# -- loading and degrading ---------------------------------------------------------------------------

def test_load_suite_round_trip_and_degrade(tmp_path, suite, images):
    path = write_suite(suite, tmp_path / "suite.json")
    tasks = load_suite(path)
    assert [t.id for t in tasks] == list(range(1, 101))
    t = tasks[30]
    assert isinstance(t, Task) and t.recipe.seed == t.seed == suite["tasks"][30]["seed"]
    assert t.text == suite["tasks"][30]["text"] and t.order == len(t.recipe.steps)
    gt = images[0]
    lq = degrade_for_task(t, gt)
    assert lq.dtype == np.float32 and lq.shape == gt.shape
    assert np.array_equal(lq, degrade_for_task(t, gt))
    assert np.allclose(lq * 255, np.round(lq * 255), atol=1e-3)  # on 8-bit levels
    raw = degrade_for_task(t, gt, quantize=False)
    assert np.abs(raw - lq).max() <= 0.5 / 255 + 1e-6 and not np.array_equal(raw, lq)
    noisy = next(x for x in tasks if x.group == "single" and x.recipe.steps[0].op == "noise")
    other = Task(noisy.id, noisy.group, noisy.order, noisy.recipe.with_seed(noisy.seed + 1), noisy.seed + 1)
    assert not np.array_equal(degrade_for_task(noisy, gt), degrade_for_task(other, gt))


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(version=2), "version"),
    (lambda d: d.pop("tasks"), "'tasks' list"),
    (lambda d: d["tasks"][4].update(recipe=[{"op": "nosuchop"}]), "task 5: step 1: unknown op"),
    (lambda d: d["tasks"][4].update(order=3), "task 5: 'order'"),
    (lambda d: d["tasks"][7].update(seed=-2), "task 8: 'seed'"),
    (lambda d: d["tasks"][7].update(group="hard"), "task 8: 'group'"),
    (lambda d: d["tasks"][8].update(id=3), "duplicate task id"),
    (lambda d: d["tasks"][2]["recipe"][0]["params"].update(sigma=-5), "task 3: noise: .*out of range"),
])
def test_load_suite_errors_name_the_file(tmp_path, suite, mutate, message):
    d = json.loads(suite_json(suite))
    mutate(d)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(d))
    with pytest.raises(SuiteError, match=message) as info:
        load_suite(path)
    msg = str(info.value)
    assert msg.startswith(str(path) + ": ") and "\n" not in msg


def test_load_suite_unreadable(tmp_path):
    (tmp_path / "trunc.json").write_text('{"seed": 1, "version": 1, "tasks": [')
    with pytest.raises(SuiteError, match=r"trunc\.json: invalid JSON"):
        load_suite(tmp_path / "trunc.json")
    with pytest.raises(SuiteError, match=r"missing\.json: cannot read"):
        load_suite(tmp_path / "missing.json")


# -- histogram similarity and spectral clustering -----------------------------------------------------

def test_colour_histograms_and_similarity():
    rng = np.random.default_rng(0)
    img = rng.random((20, 30, 3), dtype=np.float32)
    h = colour_histograms(img, 8)
    assert h.shape == (3, 8) and np.allclose(h.sum(axis=1), 1.0)
    dark, bright = np.zeros((4, 4, 3), np.float32), np.ones((4, 4, 3), np.float32)
    sim = histogram_similarity(np.stack([colour_histograms(x, 8) for x in (dark, bright, dark)]))
    assert np.allclose(sim, [[1, 0, 1], [0, 1, 0], [1, 0, 1]])


def _blobs(seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    truth = np.repeat(np.arange(3), [15, 25, 20])
    pts = centres[truth] + rng.normal(scale=0.5, size=(len(truth), 2))
    perm = rng.permutation(len(truth))
    return pts[perm], truth[perm]


def test_spectral_clustering_recovers_three_blobs():
    pts, truth = _blobs()
    dist = np.linalg.norm(pts[:, None] - pts[None], axis=2)
    cl = spectral_clustering(gaussian_affinity(dist, scale=1.0), 3, np.random.default_rng(1), n_init=5)
    # Same partition up to relabelling: each true blob maps to exactly one cluster and vice versa.
    pairs = set(zip(truth.tolist(), cl.labels.tolist()))
    assert len(pairs) == 3 and len({p[1] for p in pairs}) == 3
    assert np.allclose(np.linalg.norm(cl.embedding, axis=1), 1.0)
    picks = nearest_to_centres(cl.embedding, cl.labels, cl.centers)
    assert sorted(truth[picks].tolist()) == [0, 1, 2]
    again = spectral_clustering(gaussian_affinity(dist, scale=1.0), 3, np.random.default_rng(1), n_init=5)
    assert np.array_equal(again.labels, cl.labels)


def test_spectral_clustering_rejects_bad_affinity():
    with pytest.raises(ValueError, match="symmetric"):
        spectral_clustering(np.array([[0.0, 1.0], [0.0, 0.0]]), 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="k <= n"):
        spectral_clustering(np.ones((3, 3)), 4, np.random.default_rng(0))


def test_kmeans_finds_the_obvious_split_and_keeps_clusters_non_empty():
    pts = np.array([[0.0], [0.1], [10.0], [10.2]])
    labels, centers, inertia = kmeans(pts, 2, np.random.default_rng(0), n_init=3)
    assert labels[0] == labels[1] != labels[2] == labels[3]
    assert inertia == pytest.approx(0.005 + 0.02)
    same = np.zeros((5, 2))
    labels, _, _ = kmeans(same, 3, np.random.default_rng(0), n_init=2)
    assert sorted(set(labels.tolist())) == [0, 1, 2]


# -- AR / ER ---------------------------------------------------------------------------------------

MODEL = {1: {"psnr": 30.0, "ssim": 0.9}, 2: {"psnr": 25.0, "ssim": 0.7}, 3: {"psnr": 28.0, "ssim": 0.8},
         4: {"psnr": float("nan"), "ssim": 0.5}}
ACC = {1: 29.0, 2: 25.0, 3: 28.5, 4: 20.0}  # reached on 1, 2 (tie), not 3, not 4 (NaN)
EXC = {"1": {"psnr": 30.0}, "2": {"psnr": 26.0}, "3": {"psnr": 29.0}, "4": {"psnr": 21.0}}  # only 1 (tie)


def test_acceptance_and_excellence_rates_count_ties():
    assert acceptance_rate(MODEL, ACC) == 0.5
    assert excellence_rate(MODEL, EXC) == 0.25
    assert acceptance_rate({1: 0.9, 2: 0.7}, {1: 0.9, 2: 0.71}, key="ssim") == 0.5
    assert acceptance_rate({1: 0.2, 2: 0.3}, {1: 0.25, 2: 0.25}, higher_is_better=False) == 0.5  # e.g. LPIPS


def test_rates_name_missing_lines():
    with pytest.raises(ScoreError, match="no acceptance line for task.* 2, 4"):
        acceptance_rate(MODEL, {1: 29.0, 3: 28.0})
    with pytest.raises(ScoreError, match="task 3 has no 'psnr'"):
        excellence_rate(MODEL, {**EXC, "3": {"ssim": 0.5}})
    with pytest.raises(ScoreError, match="no model scores"):
        acceptance_rate({}, ACC)


def test_summarize_overall_per_order_and_group():
    tasks = [Task(1, "single", 1, None, 0), Task(2, "representative", 2, None, 0),
             Task(3, "representative", 2, None, 0), Task(4, "random", 3, None, 0)]
    model = {**MODEL, 4: {"psnr": 19.0, "ssim": 0.5}}
    rows = task_rows(tasks, model, ACC, EXC)
    assert rows[1] == {"id": 2, "group": "representative", "order": 2, "psnr": 25.0, "ssim": 0.7,
                       "acceptance": 25.0, "excellence": 26.0}
    s = summarize(rows)
    assert s["n"] == 4 and s["psnr"] == pytest.approx(25.5) and s["ssim"] == pytest.approx(0.725)
    assert s["ar"] == 0.5 and s["er"] == 0.25
    assert s["ar"] == acceptance_rate(model, ACC)
    assert list(s["by_order"]) == [1, 2, 3]
    assert s["by_order"][2] == {"n": 2, "psnr": 26.5, "ssim": pytest.approx(0.75), "ar": 0.5, "er": 0.0}
    assert s["by_group"]["single"]["er"] == 1.0 and s["by_group"]["random"]["ar"] == 0.0
    no_lines = summarize(task_rows(tasks, model))
    assert "ar" not in no_lines and no_lines["psnr"] == s["psnr"]
    with pytest.raises(ScoreError, match="acceptance missing for task.* 4"):
        summarize(rows[:3] + [{k: v for k, v in rows[3].items() if k != "acceptance"}])
    with pytest.raises(ScoreError, match="suite does not have"):
        task_rows(tasks[:2], model)
