"""Acceptance and excellence ratios (paper 000, Section 4.2, eqs. 5-6) and per-suite summaries.

For each task t, the acceptance line is the score of a 3-layer CNN (SRCNN) trained on t alone and the
excellence line that of a deep residual network trained on t alone. A model reaches a line on t when its
score is at least the line (ties count as reached). AR / ER are the fractions of tasks, in [0, 1], on which
the model reaches the acceptance / excellence line.

Scores and lines are dicts keyed by task id (ints, or their decimal strings as JSON object keys give), whose
values are either numbers or dicts of metrics such as ``{"psnr": 27.3, "ssim": 0.81}`` (``key`` picks one).
Importing this module needs only the standard library.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Iterable, Sequence

from gir.errors import GirError


class ScoreError(GirError, ValueError):
    """Scores and lines do not fit together (missing tasks, a missing metric, a bad task id)."""


def _task_id(k: Any) -> int:
    if isinstance(k, bool):
        raise ScoreError(f"bad task id {k!r}")
    try:
        tid = int(k)
    except (TypeError, ValueError):
        raise ScoreError(f"bad task id {k!r}: expected an integer") from None
    if str(tid) != str(k).strip() and tid != k:
        raise ScoreError(f"bad task id {k!r}: expected an integer")
    return tid


def by_task(scores: Mapping, what: str = "scores") -> dict[int, Any]:
    """``scores`` with int task-id keys; ScoreError on a non-integer key or an id given twice."""
    out: dict[int, Any] = {}
    for k, v in scores.items():
        tid = _task_id(k)
        if tid in out:
            raise ScoreError(f"{what}: task {tid} given twice")
        out[tid] = v
    return out


def _value(v: Any, key: str, tid: int, what: str) -> float:
    if isinstance(v, Mapping):
        if key not in v:
            raise ScoreError(f"{what} for task {tid} has no {key!r} (has {', '.join(map(str, v)) or 'nothing'})")
        v = v[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ScoreError(f"{what} for task {tid}: {key} must be a number, got {v!r}")
    return float(v)


def _ids(ids: Iterable[int]) -> str:
    return ", ".join(map(str, sorted(ids)))


def reached(model_scores: Mapping, lines: Mapping, key: str = "psnr", higher_is_better: bool = True,
            what: str = "line") -> dict[int, bool]:
    """Per task of ``model_scores``: does the model's ``key`` score reach the line (ties count)?

    A NaN model score never reaches; every scored task needs a (finite) line, else ScoreError naming the
    tasks. ``higher_is_better=False`` is for metrics such as LPIPS or NIQE (reached when score <= line).
    """
    scores, lines = by_task(model_scores, "model scores"), by_task(lines, what + "s")
    if not scores:
        raise ScoreError("no model scores: the ratio over zero tasks is undefined")
    missing = set(scores) - set(lines)
    if missing:
        raise ScoreError(f"no {what} for task(s) {_ids(missing)}")
    out = {}
    for tid in sorted(scores):
        s = _value(scores[tid], key, tid, "model score")
        ref = _value(lines[tid], key, tid, what)
        if not math.isfinite(ref):
            raise ScoreError(f"{what} for task {tid}: {key}={ref} is not finite")
        out[tid] = _reaches(s, ref, higher_is_better)
    return out


def _ratio(flags: dict[int, bool]) -> float:
    return sum(flags.values()) / len(flags)


def acceptance_rate(model_scores: Mapping, lines: Mapping, key: str = "psnr",
                    higher_is_better: bool = True) -> float:
    """AR (eq. 5): fraction of the scored tasks where the model reaches the acceptance line."""
    return _ratio(reached(model_scores, lines, key, higher_is_better, "acceptance line"))


def excellence_rate(model_scores: Mapping, lines: Mapping, key: str = "psnr",
                    higher_is_better: bool = True) -> float:
    """ER (eq. 6): fraction of the scored tasks where the model reaches the excellence line."""
    return _ratio(reached(model_scores, lines, key, higher_is_better, "excellence line"))


# -- per-task rows and summaries ---------------------------------------------------------------------

def task_rows(tasks: Sequence, model_scores: Mapping, acceptance: Mapping | None = None,
              excellence: Mapping | None = None, key: str = "psnr") -> list[dict]:
    """Join suite tasks (objects with ``id``, ``group``, ``order``) with scores into :func:`summarize` rows.

    ``model_scores[id]`` is a dict of metrics; the lines give the ``key`` metric as ``acceptance`` and
    ``excellence`` in each row. Tasks without a model score are left out; a scored task without a line
    (when lines are given) is a ScoreError.
    """
    scores = by_task(model_scores, "model scores")
    acc = by_task(acceptance, "acceptance lines") if acceptance is not None else None
    exc = by_task(excellence, "excellence lines") if excellence is not None else None
    unknown = set(scores) - {t.id for t in tasks}
    if unknown:
        raise ScoreError(f"model scores for task(s) {_ids(unknown)} that the suite does not have")
    rows = []
    for t in sorted(tasks, key=lambda t: t.id):
        if t.id not in scores:
            continue
        s = scores[t.id]
        row: dict[str, Any] = {"id": t.id, "group": t.group, "order": t.order}
        row.update(s if isinstance(s, Mapping) else {key: s})
        for name, lines in (("acceptance", acc), ("excellence", exc)):
            if lines is not None:
                if t.id not in lines:
                    raise ScoreError(f"no {name} line for task {t.id}")
                row[name] = _value(lines[t.id], key, t.id, f"{name} line")
        rows.append(row)
    return rows


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _reaches(score: float, line: float, higher_is_better: bool) -> bool:
    return score >= line if higher_is_better else score <= line  # NaN score: False


def _summary(rows: list[dict], metrics: Sequence[str], key: str, higher_is_better: bool) -> dict:
    out: dict[str, Any] = {"n": len(rows)}
    for m in metrics:
        out[m] = _mean([float(r[m]) for r in rows])
    for line, name in (("acceptance", "ar"), ("excellence", "er")):
        if line in rows[0]:
            out[name] = _mean([float(_reaches(float(r[key]), float(r[line]), higher_is_better)) for r in rows])
    return out


def _check_rows(rows: list[dict], metrics: Sequence[str], key: str) -> list[str]:
    """Normalise ids in place, check consistency; return the metrics present."""
    for r in rows:
        r["id"] = _task_id(r.get("id"))
        for field in ("group", "order"):
            if field not in r:
                raise ScoreError(f"row for task {r['id']} has no {field!r}")
    ids = [r["id"] for r in rows]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ScoreError(f"task(s) {_ids(dup)} appear in more than one row")
    present = [m for m in metrics if any(m in r for r in rows)]
    lines = [x for x in ("acceptance", "excellence") if any(x in r for r in rows)]
    needed = list(dict.fromkeys([*present, *lines, *([key] if lines else [])]))
    for name in needed:
        lacking = [r["id"] for r in rows if name not in r]
        if lacking:
            raise ScoreError(f"{name} missing for task(s) {_ids(lacking)}")
        for r in rows:
            _value(r[name], name, r["id"], "row")
    return present


def summarize(per_task_rows: Sequence[Mapping], key: str = "psnr", metrics: Sequence[str] = ("psnr", "ssim"),
              higher_is_better: bool = True) -> dict:
    """Averages and AR/ER over all rows, per order and per group.

    A row: ``{"id": int, "group": str, "order": int, "psnr": float, "ssim": float, "acceptance": float,
    "excellence": float}``, the lines being in the ``key`` metric (see :func:`task_rows`). A metric in
    ``metrics`` is averaged when rows have it (then every row must); ``ar`` / ``er`` appear when rows carry
    ``acceptance`` / ``excellence`` (then every row must). Returns ``{"n", <metric means>, "ar", "er",
    "by_order": {k: {...}}, "by_group": {g: {...}}}`` with orders ascending and groups in first-seen order.
    """
    rows = [dict(r) for r in per_task_rows]
    if not rows:
        raise ScoreError("no rows to summarize")
    present = _check_rows(rows, metrics, key)
    out = _summary(rows, present, key, higher_is_better)
    out["by_order"] = {k: _summary([r for r in rows if r["order"] == k], present, key, higher_is_better)
                       for k in sorted({r["order"] for r in rows})}
    out["by_group"] = {g: _summary([r for r in rows if r["group"] == g], present, key, higher_is_better)
                       for g in dict.fromkeys(r["group"] for r in rows)}
    return out
