"""What runs inside a worker process: its start-up and the two kinds of job, each through the public API.

Each function here runs in a worker process of :mod:`gir.serve.jobs` (a fresh Python process per worker, so
a job cannot block the server, and a cancelled one is stopped by ending its process). A job works inside its
own folder, made and named by the server, with the input saved as ``input.<suffix>``; the client's file name
is passed only as text for the reports.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

RESULT_DIR = "out"  # inside a job's folder: where `gir restore` writes the result and its JSON report


class JobError(Exception):
    """A job that could not be done; the message is one line for the client."""


def init_worker(threads: int, warm: bool = True) -> None:
    """Start-up of a worker process: ``threads`` torch threads (the cores shared out among the workers), and
    with ``warm`` one restore of a small grey image through ``gir.restore()``, which loads the analyzer (the
    models every job needs), so the first job does not pay for it."""
    import numpy as np
    import torch

    torch.set_num_threads(max(1, int(threads)))
    if warm:
        import gir

        gir.restore(np.full((32, 32, 3), 0.5, np.float32))


def restore_job(folder: str, input_name: str, name: str, options: dict) -> dict:
    """Restore ``folder/input_name`` exactly as ``gir restore INPUT -o out/`` does (the same function, with the
    command's defaults), writing the result (the input's name; its format, or PNG for BMP and GIF) and its
    ``--json`` report into ``folder/out``.

    ``options``: keyword arguments of :func:`gir.restore.restore_files` (only, skip). ``name``: the client's
    file name, which replaces the job's own file names in the report and the explanation.
    Returns ``{"result": path of the result relative to folder, "report": the --json report, "explanation":
    the --explain text}``; raises :class:`JobError` with the restore's one-line reason when it fails.
    """
    from gir.restore import restore_files

    os.chdir(folder)
    Path(RESULT_DIR).mkdir(exist_ok=True)  # an existing folder: the output is named as `gir restore` names it
    lines: list[str] = []
    outcome = restore_files([input_name], RESULT_DIR, **options, explain=True, write_json=True, progress=False,
                            log=lines.append)
    if outcome.failures:
        raise JobError(_rename(outcome.failures[0], input_name, name))
    result = _result_file(Path(RESULT_DIR))
    report = json.loads(Path(f"{result}.json").read_text())
    report["file"] = name
    if isinstance(report.get("diagnosis"), dict):
        report["diagnosis"]["file"] = name
    report.pop("output", None)  # the job's own path; the server puts the result's address there
    report.pop("trust_map", None)  # --mode perceptual's map: a file of the job's, not served
    return {"result": str(result), "report": report, "explanation": _explanation(lines, input_name, name)}


def analyze_job(folder: str, input_name: str, name: str) -> list:
    """``gir analyze --json`` of ``folder/input_name`` (the same analyzer and defaults, the same JSON), with the
    client's file name as ``file``."""
    from gir.analysis.analyze import diagnose_file, diagnosis_json, get_analyzer

    os.chdir(folder)
    diagnosis = diagnose_file(get_analyzer(), input_name, file=name)
    return json.loads(diagnosis_json([diagnosis]))


def _result_file(out: Path) -> Path:
    images = sorted(p for p in out.iterdir()
                    if p.suffix != ".json" and not p.name.endswith(".trust.png") and not p.name.startswith("."))
    if len(images) != 1:
        raise JobError(f"the restore wrote {len(images)} images, expected one")
    return images[0]


def _rename(text: str, input_name: str, name: str) -> str:
    """``text`` with the job's input file name at its start replaced by the client's ``name``."""
    return name + text[len(input_name):] if text.startswith(input_name) else text


def _explanation(lines: list[str], input_name: str, name: str) -> str:
    """The ``--explain`` text restore_files logged last, under the client's file name and without its
    ``-> output`` line (the server's own path)."""
    if not lines:
        return ""
    kept = [line for line in lines[-1].splitlines() if not line.strip().startswith("-> ")]
    return _rename("\n".join(kept), input_name, name)
