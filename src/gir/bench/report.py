"""Report files of ``gir bench run``: per-task CSV/JSON, Markdown summary, per-task PSNR plot, HTML page.

Written into one folder::

    tasks.csv, tasks.json   one row per task (:data:`COLUMNS`); the JSON adds the run's meta and summary
    summary.md              mean PSNR/SSIM, AR and ER overall, per order and per group
    psnr_per_task.png       paper 000 Figure 5a style: the model's PSNR per task against both lines
    html/index.html         input / output / ground-truth crops for a sample of tasks (html/img/*.jpg)

Several models in one run: each gets those files in its own subfolder, and the run folder gets
``compare.md`` (one row per model), ``compare.csv`` (per-task PSNR side by side) and ``psnr_per_task.png``.

PSNR in dB, SSIM in [0, 1], means over the ground-truth images; ``reached_*`` compare PSNR (ties count).
Line columns are empty (CSV) / null (JSON) and AR/ER "n/a" when no lines are given.
"""
from __future__ import annotations

import csv
import html
import io
import json
import math
from pathlib import Path
from typing import Sequence

import numpy as np

from gir.bench.scores import reached, summarize, task_rows
from gir.bench.suite import centre_crop
from gir.io import atomic_write, write_figure, write_image
from gir.metrics import psnr


COLUMNS = ("id", "group", "order", "text", "psnr", "ssim", "input_psnr", "input_ssim", "acceptance_psnr",
           "acceptance_ssim", "excellence_psnr", "excellence_ssim", "reached_acceptance", "reached_excellence")
CROP_PX = 192  # side of the crops shown on the HTML page


def build_rows(tasks: Sequence, scores: dict[int, dict], lines=None) -> list[dict]:
    """One row per scored task (:data:`COLUMNS`), ordered by id; ``lines`` a :class:`gir.bench.lines.LineSet`."""
    ids = [t.id for t in tasks if t.id in scores]
    flags = {}
    if lines is not None:
        model = {i: scores[i] for i in ids}
        flags = {"acceptance": reached(model, lines.acceptance, what="acceptance line"),
                 "excellence": reached(model, lines.excellence, what="excellence line")}
    rows = []
    for t in sorted(tasks, key=lambda t: t.id):
        if t.id not in scores:
            continue
        s = scores[t.id]
        row = {"id": t.id, "group": t.group, "order": t.order, "text": t.text, "psnr": s["psnr"], "ssim": s["ssim"],
               "input_psnr": s["input_psnr"], "input_ssim": s["input_ssim"]}
        for line in ("acceptance", "excellence"):
            values = getattr(lines, line) if lines is not None else None
            row[f"{line}_psnr"] = values[t.id]["psnr"] if values is not None else None
            row[f"{line}_ssim"] = values[t.id]["ssim"] if values is not None else None
            row[f"reached_{line}"] = flags[line][t.id] if flags else None
        rows.append(row)
    return rows


def summarize_rows(tasks: Sequence, scores: dict[int, dict], lines=None) -> dict:
    """:func:`gir.bench.scores.summarize` of the run (PSNR, SSIM, input PSNR; AR/ER when lines are given)."""
    metrics = ("psnr", "ssim", "input_psnr")
    model = {i: {m: s[m] for m in metrics} for i, s in scores.items()}
    rows = task_rows(tasks, model, lines.acceptance if lines else None, lines.excellence if lines else None)
    return summarize(rows, metrics=metrics)


# ------------------------------------------------------------------------------------------- tables
def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def rows_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_cell(r[c]) for c in COLUMNS])
    return buf.getvalue()


def _ratio(s: dict, key: str) -> str:
    return f"{100 * s[key]:.0f}%" if key in s else "n/a"


def shown_path(path: str) -> str:
    """``path`` as a report prints it: files shipped inside the ``gir`` package as ``<gir>/...`` and paths
    under the working directory relative to it, so committed reports name no machine's folders."""
    p = Path(path)
    if not p.is_absolute():
        return str(path)
    package = Path(__file__).resolve().parents[1]
    for base, prefix in ((package, "<gir>"), (Path.cwd().resolve(), ".")):
        try:
            return f"{prefix}/{p.resolve().relative_to(base).as_posix()}"
        except ValueError:
            continue
    return str(path)


def provenance_lines(meta: dict) -> list[str]:
    """The suite / ground truth / lines bullet lines heading every summary and comparison page."""
    crop = f"{meta['crop']} px centre crops" if meta.get("crop") else "whole images"
    lines_src = f"`{shown_path(meta['lines'])}`" if meta.get("lines") else "none (AR/ER n/a)"
    return [f"- suite: `{shown_path(meta['suite'])}` (sha256 {meta['suite_sha256'][:12]}), {meta['tasks']} tasks",
            f"- ground truth: {', '.join(f'`{shown_path(g)}`' for g in meta['gt'])}: {meta['images']} images, {crop}",
            f"- lines: {lines_src}"]


def summary_markdown(meta: dict, summary: dict, notes: Sequence[str] = ()) -> str:
    """The Markdown summary page: provenance lines, then one table row for all tasks, each order, each group."""
    out = [f"# GIR benchmark: {meta['label']}", "",
           f"- model: `{shown_path(meta['model'])}`", *provenance_lines(meta), "",
           "PSNR in dB (RGB), SSIM; means over tasks of the per-task means over images. AR / ER: share of tasks "
           "where the model's PSNR reaches the acceptance / excellence line.", "",
           "| tasks | n | PSNR | SSIM | input PSNR | AR | ER |", "|---|---:|---:|---:|---:|---:|---:|"]

    def row(name: str, s: dict) -> str:
        return (f"| {name} | {s['n']} | {s['psnr']:.2f} | {s['ssim']:.4f} | {s['input_psnr']:.2f} | "
                f"{_ratio(s, 'ar')} | {_ratio(s, 'er')} |")

    out.append(row("all", summary))
    out += [row(f"order {k}", s) for k, s in summary["by_order"].items()]
    out += [row(g, s) for g, s in summary["by_group"].items()]
    if notes:
        out += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------- plot
def has_lines(rows: Sequence[dict]) -> bool:
    """Whether report rows carry acceptance / excellence line values (the run had lines)."""
    return bool(rows) and rows[0]["acceptance_psnr"] is not None


def plot_per_task(series: dict[str, list[dict]], path: Path, title: str) -> Path:
    """Per-task PSNR of each model (``{label: rows}``, points and lines) against the input and the acceptance
    and excellence lines, taken from the first model's rows (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = next(iter(series.values()))
    ids = [r["id"] for r in rows]
    fig, ax = plt.subplots(figsize=(12, 4.2 if len(series) == 1 else 5.0))
    ax.plot(ids, [r["input_psnr"] for r in rows], color="0.7", lw=0.8, label="input")
    if has_lines(rows):
        ax.plot(ids, [r["acceptance_psnr"] for r in rows], color="tab:orange", lw=1.2, ls="--",
                label="acceptance line (SRCNN)")
        ax.plot(ids, [r["excellence_psnr"] for r in rows], color="tab:green", lw=1.2, ls="-.",
                label="excellence line (ResNet)")
    colours = ["tab:blue", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "black"]
    for k, (label, model_rows) in enumerate(series.items()):
        ax.plot([r["id"] for r in model_rows], [r["psnr"] for r in model_rows], color=colours[k % len(colours)],
                lw=1.0, marker="o", ms=3 if len(series) == 1 else 2, label=label)
    for boundary in (10.5, 50.5):
        if ids and ids[0] < boundary < ids[-1]:
            ax.axvline(boundary, color="0.5", lw=0.6, ls=":")
    ax.set_xlabel("task id (1-10 single, 11-50 representative, 51-100 random)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"Per-task PSNR: {title}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=4, loc="lower left")
    fig.tight_layout()
    write_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def comparison_markdown(labels: Sequence[str], summaries: Sequence[dict], meta: dict, with_lines: bool) -> str:
    """One row per model: PSNR / SSIM / AR / ER over all tasks, then mean PSNR per group and per order."""
    first = summaries[0]
    groups, orders = list(first["by_group"]), list(first["by_order"])
    head = ["model", "PSNR", "SSIM"] + (["AR", "ER"] if with_lines else []) + \
        [f"{g} PSNR" for g in groups] + [f"order {k} PSNR" for k in orders]
    out = ["# GIR benchmark: comparison", "", *provenance_lines(meta), "",
           "PSNR in dB (RGB), SSIM; means over tasks of per-task means over images; AR / ER: share of tasks where "
           "the model's PSNR reaches the acceptance / excellence line. Input PSNR (all tasks): "
           f"{first['input_psnr']:.2f} dB.", "",
           "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for label, s in zip(labels, summaries):
        cells = [f"`{label}`", f"{s['psnr']:.2f}", f"{s['ssim']:.4f}"]
        if with_lines:
            cells += [_ratio(s, "ar"), _ratio(s, "er")]
        cells += [f"{s['by_group'][g]['psnr']:.2f}" for g in groups]
        cells += [f"{s['by_order'][k]['psnr']:.2f}" for k in orders]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def comparison_csv(labels: Sequence[str], results: Sequence) -> str:
    """Per-task PSNR side by side: id, group, order, recipe, input, both lines, then one column per model."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "group", "order", "text", "input_psnr", "acceptance_psnr", "excellence_psnr", *labels])
    for k, row in enumerate(results[0].rows):
        w.writerow([_cell(row[c]) for c in ("id", "group", "order", "text", "input_psnr", "acceptance_psnr",
                                            "excellence_psnr")] + [_cell(r.rows[k]["psnr"]) for r in results])
    return buf.getvalue()


def write_comparison(out_dir: Path, labels: Sequence[str], results: Sequence, meta: dict) -> Path:
    """``compare.md``, ``compare.csv`` (per-task PSNR of every model) and ``psnr_per_task.png`` of several
    models' :class:`gir.bench.run.BenchResult` (all scored on the same tasks; ``meta``: their suite, ground truth
    and lines, as in a run's meta)."""
    atomic_write(out_dir / "compare.md",
                      comparison_markdown(labels, [r.summary for r in results], meta, has_lines(results[0].rows)))
    atomic_write(out_dir / "compare.csv", comparison_csv(labels, results))
    plot_per_task({label: r.rows for label, r in zip(labels, results)}, out_dir / "psnr_per_task.png",
                  ", ".join(labels))
    return out_dir / "compare.md"


# --------------------------------------------------------------------------------------------- html
def _centre(img: np.ndarray, size: int = CROP_PX) -> np.ndarray:
    return centre_crop(img, size)


def write_html(folder: Path, meta: dict, samples: Sequence, rows: list[dict]) -> Path:
    """``folder/index.html`` + ``folder/img/*.jpg``: input, output and ground truth of each sample."""
    (folder / "img").mkdir(parents=True, exist_ok=True)
    by_id = {r["id"]: r for r in rows}
    body = []
    for s in samples:
        cells = []
        for kind, img in (("input", s.lq), ("output", s.out), ("ground truth", s.gt)):
            name = f"img/task-{s.task:03d}-{kind.replace(' ', '-')}.jpg"
            write_image(folder / name, _centre(img), quality=90)
            cells.append(f'<td><img src="{name}" alt="{kind}"><br>{kind}</td>')
        r = by_id[s.task]
        caption = (f"<b>task {s.task}</b> ({html.escape(r['group'])}, order {r['order']})<br>"
                   f"<code>{html.escape(r['text'])}</code><br>{html.escape(s.image)}: input "
                   f"{psnr(s.lq, s.gt):.2f} dB, output {psnr(s.out, s.gt):.2f} dB<br>task mean "
                   f"{r['psnr']:.2f} dB")
        if r["acceptance_psnr"] is not None:
            caption += f"; lines {r['acceptance_psnr']:.2f} / {r['excellence_psnr']:.2f} dB"
        body.append(f"<tr><td class=cap>{caption}</td>{''.join(cells)}</tr>")
    page = ("<!doctype html><html><head><meta charset=utf-8>"
            f"<title>GIR benchmark: {html.escape(meta['label'])}</title><style>"
            "body{font-family:sans-serif;margin:1em}td{vertical-align:top;padding:4px;text-align:center}"
            "td.cap{text-align:left;max-width:22em;font-size:90%}code{word-break:break-all}</style></head><body>"
            f"<h1>GIR benchmark: {html.escape(meta['label'])}</h1>"
            f"<p>Centre {CROP_PX} px crops of the first ground-truth image, for a sample of tasks. "
            f"Model <code>{html.escape(meta['model'])}</code>; see summary.md for the numbers.</p>"
            f"<table>{''.join(body)}</table></body></html>\n")
    atomic_write(folder / "index.html", page)
    return folder / "index.html"


# ------------------------------------------------------------------------------------------ writer
def _json_safe(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    return v


def write_report(out_dir: Path, meta: dict, tasks: Sequence, scores: dict[int, dict], lines, samples: Sequence,
                 notes: Sequence[str] = ()) -> tuple[list[dict], dict]:
    """Write every report file into ``out_dir`` (created); returns (rows, summary)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = build_rows(tasks, scores, lines)
    summary = summarize_rows(tasks, scores, lines)
    atomic_write(out_dir / "tasks.csv", rows_csv(rows))
    doc = {"meta": meta, "notes": list(notes), "summary": summary, "tasks": rows}
    atomic_write(out_dir / "tasks.json", json.dumps(_json_safe(doc), indent=1) + "\n")
    atomic_write(out_dir / "summary.md", summary_markdown(meta, summary, notes))
    plot_per_task({meta["label"]: rows}, out_dir / "psnr_per_task.png", meta["label"])
    write_html(out_dir / "html", meta, samples, rows)
    return rows, summary


def steps_markdown(tasks: Sequence, steps: Sequence) -> str:
    """``steps.md`` of a pipeline report: what the plan ran on the suite and what verification kept or undid.

    ``steps``: per scored input, (task id, [(expert, families, kept, why)]), as the ``pipeline`` method
    collects them. First per expert: inputs it ran on, kept, undone, and the commonest reasons for undoing;
    then per task: its recipe and, per expert, kept/ran (or "nothing planned")."""
    from collections import Counter, defaultdict

    ran: Counter = Counter()
    kept: Counter = Counter()
    why: dict[str, Counter] = defaultdict(Counter)
    per_task: dict[int, Counter] = defaultdict(Counter)
    per_task_kept: dict[int, Counter] = defaultdict(Counter)
    inputs: Counter = Counter()
    for task_id, records in steps:
        inputs[task_id] += 1
        for expert, _families, ok, reason in records:
            ran[expert] += 1
            per_task[task_id][expert] += 1
            if ok:
                kept[expert] += 1
                per_task_kept[task_id][expert] += 1
            else:
                why[expert][reason.split(":")[0].split(" (")[0]] += 1
    lines = ["# Where the pipeline's steps ran, were kept and were undone", "",
             f"{len(steps)} inputs; a step is counted once per input it ran on.", "",
             "| expert | ran | kept | undone | commonest reasons for undoing |", "|---|---|---|---|---|"]
    for expert in sorted(ran, key=lambda e: -ran[e]):
        reasons = "; ".join(f"{r} ({n})" for r, n in why[expert].most_common(3))
        lines.append(f"| {expert} | {ran[expert]} | {kept[expert]} | {ran[expert] - kept[expert]} | {reasons} |")
    lines += ["", "| task | recipe | steps kept / ran (of inputs) |", "|---|---|---|"]
    for task in tasks:
        if task.id not in inputs:
            continue
        done = ", ".join(f"{e} {per_task_kept[task.id][e]}/{n}" for e, n in per_task[task.id].items())
        lines.append(f"| {task.id} | {task.text} | {done or 'nothing planned'} (of {inputs[task.id]}) |")
    return "\n".join(lines) + "\n"


def write_steps(out_dir: Path, tasks: Sequence, steps: Sequence) -> Path:
    """Write :func:`steps_markdown` to ``out_dir/steps.md``; returns its path."""
    path = Path(out_dir) / "steps.md"
    atomic_write(path, steps_markdown(tasks, steps))
    return path
