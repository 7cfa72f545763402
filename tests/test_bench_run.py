"""gir bench run / lines / real / CLI: reports, AR/ER against hand-made lines, resumable lines, methods."""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import natural_image
from gir.bench import lines as lines_mod
from gir.bench.cli import add_bench_parser
from gir.bench.lines import Budget, build_lines, export_lines, read_lines, single_task_nets
from gir.bench.methods import METHODS, resolve_method
from gir.bench.real import bench_real
from gir.bench.report import COLUMNS, shown_path
from gir.bench.run import (compare_reports, degraded_input, file_sha256, gt_digest, load_gt, load_tasks,
                           parse_task_ids, run_bench, unique_labels)
from gir.bench.scores import summarize, task_rows
from gir.degradations import Recipe
from gir.errors import GirError
from gir.io import write_image
from gir.metrics import psnr

CROP = 32
TASKS = [(1, "single", "noise(sigma=25)"), (11, "representative", "blur > jpeg(quality=30)"),
         (51, "random", "noise(sigma=10) > resize(scale=2)")]
TINY = Budget(iterations=2, batch_size=2, patch_size=16, lr=1e-3, warmup=0)


def _suite(tasks) -> dict:
    out = {"seed": 5, "version": 1, "tasks": []}
    for tid, group, text in tasks:
        r = Recipe.parse(text)
        out["tasks"].append({"id": tid, "group": group, "order": len(r.steps), "seed": 100 + tid,
                             "recipe": [{"op": s.op, "params": s.params} for s in r.steps], "text": r.to_text()})
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    for folder, n, hw in (("gt/setA", 2, (48, 56)), ("gt/setB", 1, (40, 40)), ("train", 3, (64, 64))):
        (root / folder).mkdir(parents=True)
        for i in range(n):
            write_image(root / folder / f"im{i}.png", natural_image(*hw, seed=i + 10 * len(folder)))
    (root / "suite.json").write_text(json.dumps(_suite(TASKS)))
    return {"root": root, "suite": root / "suite.json", "gt": [root / "gt/setA", root / "gt/setB"],
            "train": [root / "train"]}


@pytest.fixture(scope="module")
def identity_run(data):
    return run_bench("identity", data["suite"], data["gt"], CROP, out_dir=data["root"] / "out-identity",
                     progress=False)[0]


# -- run: outputs -------------------------------------------------------------------------------------

def test_run_writes_every_output_with_the_documented_columns(identity_run):
    out = identity_run.out_dir
    with open(out / "tasks.csv") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == COLUMNS
    assert [int(r[0]) for r in rows[1:]] == [1, 11, 51]
    doc = json.loads((out / "tasks.json").read_text())
    assert [r["id"] for r in doc["tasks"]] == [1, 11, 51] and set(doc["tasks"][0]) == set(COLUMNS)
    assert doc["meta"]["images"] == 3 and doc["meta"]["crop"] == CROP
    # identity: the output is the input, so its scores equal the input's; no lines -> n/a
    for r in doc["tasks"]:
        assert r["psnr"] == pytest.approx(r["input_psnr"]) and r["acceptance_psnr"] is None
        assert r["reached_acceptance"] is None
    md = (out / "summary.md").read_text()
    assert "| all | 3 |" in md and "n/a" in md and "| order 2 | 2 |" in md and "| random | 1 |" in md
    assert (out / "psnr_per_task.png").read_bytes()[:4] == b"\x89PNG"
    page = (out / "html" / "index.html").read_text()
    for tid in (1, 11, 51):
        for kind in ("input", "output", "ground-truth"):
            assert f"img/task-{tid:03d}-{kind}.jpg" in page
            assert (out / "html" / "img" / f"task-{tid:03d}-{kind}.jpg").stat().st_size > 0


def test_inputs_use_the_pair_seed_and_differ_between_images(data):
    tasks = load_tasks(data["suite"], [1])
    gt = load_gt(data["gt"], CROP)
    assert [g.img.shape for g in gt] == [(32, 32, 3)] * 3
    a = degraded_input(tasks[0], gt[0])
    assert np.array_equal(a, degraded_input(tasks[0], gt[0]))  # reproducible
    noise0 = a - gt[0].img
    noise1 = degraded_input(tasks[0], gt[1]) - gt[1].img
    assert not np.allclose(noise0, noise1, atol=0.02)  # each image has its own noise realisation
    assert np.all(a * 255 == np.round(a * 255))  # 8-bit levels


def test_classical_and_identity_methods(data):
    task = load_tasks(data["suite"], [1])[0]
    g = load_gt(data["gt"], CROP)[0]
    lq = degraded_input(task, g)
    assert np.array_equal(resolve_method("identity")(lq, task), lq)
    restored = resolve_method("classical")(lq, task)
    assert restored.shape == lq.shape and psnr(restored, g.img) > psnr(lq, g.img) + 1.0  # NLM on sigma 25
    assert {"identity", "classical", "step-by-step"} <= set(METHODS.names())


# -- AR / ER against a hand-made lines file ----------------------------------------------------------

def _record(task, acc, exc, prov, ckpt="none.safetensors"):
    return {"task": task.id, "group": task.group, "order": task.order, "text": task.text,
            "recipe": [{"op": s.op, "params": dict(s.params)} for s in task.recipe.steps],
            "acceptance": {"psnr": acc, "ssim": 0.5, "checkpoint": ckpt},
            "excellence": {"psnr": exc, "ssim": 0.6, "checkpoint": ckpt}, "key": "hand", "provenance": prov}


def test_ar_er_match_scores_summarize_on_hand_made_lines(data, identity_run, tmp_path):
    psnrs = {r["id"]: r["psnr"] for r in identity_run.rows}
    tasks = load_tasks(data["suite"])
    prov = {"suite_sha256": file_sha256(data["suite"]), "gt_sha256": gt_digest(load_gt(data["gt"], CROP)),
            "crop": CROP, "gt": [str(d) for d in data["gt"]]}
    # task 1: reaches acceptance only; task 11: a tie (reached) and below excellence by 0.5 (reached);
    # task 51: reaches neither. AR = 2/3, ER = 1/3.
    lines = {1: (psnrs[1] - 1.0, psnrs[1] + 1.0), 11: (psnrs[11], psnrs[11] - 0.5),
             51: (psnrs[51] + 0.1, psnrs[51] + 2)}
    path = tmp_path / "lines.jsonl"
    path.write_text("".join(json.dumps(_record(t, *lines[t.id], prov)) + "\n" for t in tasks))
    res = run_bench("identity", data["suite"], data["gt"], CROP, lines=path, out_dir=tmp_path / "out",
                    progress=False)[0]
    assert res.summary["ar"] == pytest.approx(2 / 3) and res.summary["er"] == pytest.approx(1 / 3)
    expected = summarize(task_rows(tasks, {i: {"psnr": p} for i, p in psnrs.items()},
                                   {i: v[0] for i, v in lines.items()}, {i: v[1] for i, v in lines.items()}),
                         metrics=("psnr",))
    assert res.summary["ar"] == expected["ar"] and res.summary["er"] == expected["er"]
    assert res.summary["by_order"][2]["ar"] == expected["by_order"][2]["ar"] == 0.5
    flags = {r["id"]: (r["reached_acceptance"], r["reached_excellence"]) for r in res.rows}
    assert flags == {1: (True, False), 11: (True, True), 51: (False, False)}
    assert "| all | 3 |" in (res.out_dir / "summary.md").read_text() and "| 67% | 33% |" in (
        res.out_dir / "summary.md").read_text()
    assert not res.notes  # same ground truth and crop: no warning

    other = run_bench("identity", data["suite"], data["gt"], 24, lines=path, out_dir=tmp_path / "o2",
                      progress=False)[0]
    assert any("other ground truth" in n for n in other.notes)


def test_several_models_share_inputs_and_get_a_comparison(data, identity_run, tmp_path):
    ident, classic = run_bench(["identity", "classical"], data["suite"], data["gt"], CROP, out_dir=tmp_path / "cmp",
                               progress=False)
    assert ident.out_dir == tmp_path / "cmp" / "identity" and classic.out_dir == tmp_path / "cmp" / "classical"
    assert [r["psnr"] for r in ident.rows] == [r["psnr"] for r in identity_run.rows]  # same inputs as alone
    assert [r["input_psnr"] for r in classic.rows] == [r["input_psnr"] for r in ident.rows]
    table = (tmp_path / "cmp" / "compare.md").read_text()
    assert f"| `identity` | {ident.summary['psnr']:.2f} |" in table
    assert f"| `classical` | {classic.summary['psnr']:.2f} |" in table
    assert (tmp_path / "cmp" / "psnr_per_task.png").stat().st_size > 0
    per_task = list(csv.DictReader((tmp_path / "cmp" / "compare.csv").open()))
    assert [float(r["classical"]) for r in per_task] == pytest.approx([r["psnr"] for r in classic.rows], abs=1e-4)


def test_separate_runs_compare_like_one(data, identity_run, tmp_path):
    classic = run_bench("classical", data["suite"], data["gt"], CROP, out_dir=tmp_path / "c", progress=False)[0]
    path = compare_reports([identity_run.out_dir, classic.out_dir], tmp_path / "cmp")
    assert f"| `classical` | {classic.summary['psnr']:.2f} |" in path.read_text()
    other_crop = run_bench("identity", data["suite"], data["gt"], 24, out_dir=tmp_path / "i24", progress=False)[0]
    with pytest.raises(GirError, match="cannot be compared"):
        compare_reports([identity_run.out_dir, other_crop.out_dir], tmp_path / "bad")
    with pytest.raises(GirError, match="not a `gir bench run` report"):
        compare_reports([tmp_path], tmp_path / "bad")


def test_reports_name_shipped_files_and_cwd_paths_without_the_machines_folders(data, tmp_path, monkeypatch):
    import gir

    shipped = Path(gir.__file__).parent / "bench" / "default_suite.json"
    assert shown_path(str(shipped)) == "<gir>/bench/default_suite.json"
    monkeypatch.chdir(data["root"])
    assert shown_path(str(data["root"] / "gt" / "setA")) == "./gt/setA"
    assert shown_path("../relative/stays") == "../relative/stays"
    outside = tmp_path.resolve() / "elsewhere"
    assert shown_path(str(outside)) == str(outside)
    run = run_bench("identity", data["suite"], data["gt"], CROP, out_dir=tmp_path / "shown", progress=False)[0]
    md = (run.out_dir / "summary.md").read_text()
    assert "- suite: `./suite.json`" in md and "`./gt/setA`, `./gt/setB`" in md


def test_checkpoints_of_two_runs_get_distinct_labels():
    assert unique_labels(["runs/a/models/net_9.safetensors", "runs/b/models/net_9.safetensors", "x/m.safetensors",
                          "y/m.safetensors", "identity"]) == ["a-net_9", "b-net_9", "m", "m-2", "identity"]


def test_lines_for_another_suite_are_refused(data, tmp_path):
    t = load_tasks(data["suite"], [1])[0]
    path = tmp_path / "lines.jsonl"
    path.write_text(json.dumps(_record(t, 20.0, 25.0, {"suite_sha256": "0" * 64})) + "\n")
    with pytest.raises(GirError, match="another suite"):
        run_bench("identity", data["suite"], data["gt"], CROP, lines=path, out_dir=tmp_path / "o", progress=False)[0]


# -- lines build -------------------------------------------------------------------------------------

def test_lines_build_stores_provenance_and_resumes(data, tmp_path, monkeypatch):
    out = tmp_path / "lines"
    path = build_lines(out, data["suite"], data["gt"], CROP, data["train"], budget=TINY, tasks=[1, 11],
                       progress=False)
    recs = read_lines(path)
    assert [r["task"] for r in recs] == [1, 11]
    p = recs[0]["provenance"]
    assert p["suite_sha256"] == file_sha256(data["suite"]) and p["crop"] == CROP and p["gt_images"] == 3
    assert p["budget"]["iterations"] == 2 and p["archs"]["acceptance"]["type"] == "srcnn"
    assert p["archs"]["excellence"]["type"] == "resnet" and p["date"] and p["code_version"].startswith("gir ")
    for r in recs:
        for line in ("acceptance", "excellence"):
            assert np.isfinite(r[line]["psnr"]) and 0 < r[line]["ssim"] <= 1
            assert (out / r[line]["checkpoint"]).is_file()
        assert r["input"]["n"] == 3

    class Trained(Exception):
        pass

    def no_training(*a, **k):
        raise Trained

    monkeypatch.setattr(lines_mod, "train_line", no_training)
    before = path.read_text()
    build_lines(out, data["suite"], data["gt"], CROP, data["train"], budget=TINY, tasks=[1, 11], progress=False)
    assert path.read_text() == before  # nothing trained, nothing added
    with pytest.raises(Trained):  # another crop is another provenance: it would train
        build_lines(out, data["suite"], data["gt"], 24, data["train"], budget=TINY, tasks=[1], progress=False)

    # the trained lines feed a run: AR/ER over the two tasks
    res = run_bench("classical", data["suite"], data["gt"], CROP, lines=out, tasks=[1, 11],
                    out_dir=tmp_path / "run", progress=False)[0]
    assert 0.0 <= res.summary["ar"] <= 1.0
    assert res.rows[0]["acceptance_psnr"] == pytest.approx(recs[0]["acceptance"]["psnr"])

    # export for shipping: same scores, only the single-op excellence network travels with the file
    shipped = export_lines(out, tmp_path / "ship" / "my_lines.jsonl")
    exp = read_lines(shipped)
    assert [(r["task"], r["excellence"]["psnr"]) for r in exp] == [(r["task"], r["excellence"]["psnr"]) for r in recs]
    assert exp[0]["excellence"]["checkpoint"] == "my_lines/task-001-excellence.safetensors"
    assert exp[0]["acceptance"]["checkpoint"] is None and exp[1]["excellence"]["checkpoint"] is None
    net = tmp_path / "ship" / "my_lines" / "task-001-excellence.safetensors"
    assert single_task_nets(shipped) == {recs[0]["recipe"][0]["op"]: net}


# -- step-by-step ------------------------------------------------------------------------------------

def _constant_net(path, value: float):
    """An SRCNN checkpoint computing x + value (zero weights, constant bias in the last conv)."""
    import torch

    from gir.models import build_model
    from gir.models.checkpoint import save_checkpoint

    cfg = {"type": "srcnn", "preset": "small"}
    net = build_model(dict(cfg))
    with torch.no_grad():
        net.net[-1].bias.fill_(value)
    save_checkpoint(path, net.state_dict(), None, cfg, {})


def test_step_by_step_undoes_the_last_op_first(tmp_path):
    from gir.bench.suite import SINGLE_ORDER, parse_suite

    singles = [(i + 1, "single", op) for i, op in enumerate(SINGLE_ORDER)]
    tasks = parse_suite(_suite(singles + [(11, "representative", "blur > jpeg")]))
    recs = []
    for t in tasks[:10]:
        op = t.recipe.steps[0].op
        value = {"jpeg": 0.5, "blur": -0.5}.get(op, 0.0)
        _constant_net(tmp_path / f"{op}.safetensors", value)
        recs.append(_record(t, 20.0, 25.0, {"suite_sha256": "x"}, ckpt=f"{op}.safetensors"))
    (tmp_path / "lines.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs[:9]))
    with pytest.raises(GirError, match=SINGLE_ORDER[9]):
        resolve_method("step-by-step", lines_dir=tmp_path, device="cpu")
    (tmp_path / "lines.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    method = resolve_method("step-by-step", lines_dir=tmp_path, device="cpu")
    lq = natural_image(24, 24, seed=3)
    out = method(lq, tasks[10])  # jpeg's net (+0.5, clipped) first, then blur's (-0.5)
    np.testing.assert_allclose(out, np.minimum(lq, 0.5), atol=1e-5)
    with pytest.raises(GirError, match="--lines"):
        resolve_method("step-by-step")


# -- real photos -------------------------------------------------------------------------------------

def test_real_reports_an_unreadable_file_and_fails(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    write_image(photos / "a.png", natural_image(200, 240, seed=1))
    write_image(photos / "b.png", natural_image(300, 200, seed=2))
    (photos / "broken.png").write_bytes(b"not an image at all")
    res = bench_real("identity", [photos], tmp_path / "out", max_side=240, device="cpu", progress=False)
    assert res.report.exit_code == 1 and len(res.report.failures) == 1 and "broken.png" in res.report.failures[0]
    assert [(s.name, s.width, s.height) for s in res.scores] == [("a.png", 240, 200), ("b.png", 160, 240)]
    a = res.scores[0]
    assert np.isfinite(a.niqe_before) and a.niqe_after == a.niqe_before  # identity changes nothing
    assert np.isnan(res.scores[1].niqe_before)  # 160 px wide: too small for NIQE, reported n/a
    from gir.metrics.brisque import available

    if available():  # identity: the same BRISQUE before and after, for both sizes
        assert all(np.isfinite(s.brisque_before) and s.brisque_after == s.brisque_before for s in res.scores)
    else:
        assert all(np.isnan(s.brisque_before) for s in res.scores)
    with open(tmp_path / "out" / "photos" / "scores.csv") as f:
        assert next(csv.reader(f)) == ["name", "width", "height", "niqe_before", "niqe_after", "change",
                                       "brisque_before", "brisque_after", "brisque_change"]
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "| **all** | 2 |" in md and "broken.png" in md
    assert (tmp_path / "out" / "photos" / "sheet.jpg").stat().st_size > 0
    with pytest.raises(GirError, match="recipe"):
        bench_real("classical", [photos], tmp_path / "o2", progress=False)


# -- CLI ---------------------------------------------------------------------------------------------

def _parser():
    ap = argparse.ArgumentParser(prog="gir")
    add_bench_parser(ap.add_subparsers(dest="command", required=True))
    return ap


@pytest.mark.parametrize("argv, func", [
    ("bench suite build --seed 7 --out S --gt a b", "cmd_suite_build"),
    ("bench lines build --out L --suite s.json --gt a --crop 64 --train t --tasks 1-10", "cmd_lines_build"),
    ("bench run --model classical --suite s.json --gt a b --crop 0 --lines L --out O", "cmd_run"),
    ("bench run --model step-by-step --lines L/lines.jsonl", "cmd_run"),
    ("bench run --model gir-wunet-cpu classical identity --out O", "cmd_run"),
    ("bench lines export L out/lines.jsonl", "cmd_lines_export"),
    ("bench compare r1 r2 --out C", "cmd_compare"),
    ("bench real --model identity --dir x y --max-side 256", "cmd_real"),
    ("bench niqe-fit d1 d2 -o m.npz", "cmd_niqe_fit"),
])
def test_cli_parser_accepts_the_documented_commands(argv, func):
    args = _parser().parse_args(argv.split())
    assert args.func.__name__ == func


def test_shipped_lines_cover_the_default_suite_and_carry_step_by_step():
    from gir.bench.lines import select_lines
    from gir.bench.run import DEFAULT_CROP, DEFAULT_LINES_FILE, DEFAULT_SUITE_FILE

    recs = read_lines(DEFAULT_LINES_FILE)
    suite_ids = [t.id for t in load_tasks(DEFAULT_SUITE_FILE)]
    assert sorted(r["task"] for r in recs) == suite_ids == list(range(1, 101))
    assert len({r["key"] for r in recs}) == 1 and {r["provenance"]["crop"] for r in recs} == {DEFAULT_CROP}
    assert all(r["provenance"]["gt_images"] == 92 for r in recs)  # kodak24 + cbsd68
    lines = select_lines(DEFAULT_LINES_FILE, file_sha256(DEFAULT_SUITE_FILE), recs[0]["provenance"]["gt_sha256"],
                         DEFAULT_CROP)
    assert len(lines.acceptance) == len(lines.excellence) == 100 and not lines.notes
    nets = single_task_nets(DEFAULT_LINES_FILE)
    ten = {t.recipe.steps[0].op for t in load_tasks(DEFAULT_SUITE_FILE, list(range(1, 11)))}
    assert set(nets) == ten and all(p.stat().st_size < 400_000 for p in nets.values())
    resolve_method("step-by-step", lines_dir=DEFAULT_LINES_FILE, device="cpu")  # loads all ten


def test_cli_defaults_and_errors():
    from gir.bench.run import DEFAULT_CROP, DEFAULT_SUITE_SEED

    assert _parser().parse_args("bench suite build --out S".split()).seed == DEFAULT_SUITE_SEED == 2024
    assert _parser().parse_args("bench run --model identity".split()).crop == DEFAULT_CROP
    with pytest.raises(SystemExit):
        _parser().parse_args("bench run".split())  # --model is required
    assert parse_task_ids("1-3,7, 5") == [1, 2, 3, 5, 7] and parse_task_ids(None) is None
    with pytest.raises(GirError):
        parse_task_ids("3-1")


def test_cli_run_and_niqe_fit_end_to_end(data, tmp_path, capsys):
    args = _parser().parse_args(["bench", "run", "--model", "identity", "--suite", str(data["suite"]), "--gt",
                                 *map(str, data["gt"]), "--crop", "32", "--tasks", "1", "--out", str(tmp_path / "r"),
                                 "-q"])
    assert args.func(args) == 0
    assert "| all | 1 |" in capsys.readouterr().out
    clean = tmp_path / "clean"
    clean.mkdir()
    for i in range(2):
        write_image(clean / f"c{i}.png", natural_image(200, 200, seed=i))
    args = _parser().parse_args(["bench", "niqe-fit", str(clean), "-o", str(tmp_path / "m.npz")])
    assert args.func(args) == 0 and (tmp_path / "m.npz").is_file()


def test_steps_report_counts_what_the_pipeline_ran_kept_and_undid(tmp_path):
    from gir.bench.report import write_steps
    from gir.bench.suite import Task

    tasks = [Task(tid, group, 1, Recipe.parse(text), 0) for tid, group, text in TASKS]
    steps = [(1, [("denoise", ("noise",), True, "noise 99% -> 2%")]),
             (1, [("denoise", ("noise",), False, "shifted tones by 4.1/255")]),
             (11, [("deblur", ("blur",), False, "did not help: blur 70% -> 66%"),
                   ("jpeg", ("jpeg",), True, "jpeg 90% -> 10%")]),
             (51, [])]
    text = write_steps(tmp_path, tasks, steps).read_text()
    assert "| denoise | 2 | 1 | 1 | shifted tones by 4.1/255 (1) |" in text
    assert "| deblur | 1 | 0 | 1 | did not help (1) |" in text
    assert "| 1 | noise(sigma=25.0) | denoise 1/2 (of 2) |" in text
    assert "| 11 | " in text and "deblur 0/1, jpeg 1/1 (of 1) |" in text
    assert "| 51 | " in text and "| nothing planned (of 1) |" in text
