"""Shared fixtures. Tests that need ../shared/data skip with a reason when it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GIR_SHARED_DATA", REPO.parent / "shared" / "data"))


def natural_image(h: int = 64, w: int = 80, seed: int = 0) -> np.ndarray:
    """A smooth-plus-edges synthetic RGB image (float32 HxWx3 in [0.05, 0.95]) with some texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([0.5 + 0.3 * np.sin(xx / 7.0 + c) * np.cos(yy / 9.0 - c) for c in range(3)], axis=2)
    img[h // 3: 2 * h // 3, w // 4: w // 2] += 0.2  # a bright rectangle with sharp edges
    img += 0.03 * rng.standard_normal(img.shape).astype(np.float32)
    return np.clip(img, 0.05, 0.95).astype(np.float32)


@pytest.fixture
def img() -> np.ndarray:
    return natural_image()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs the shared data sets at {SHARED_DATA} (absent in a plain clone)")
    return SHARED_DATA


@pytest.fixture
def scratched_line(monkeypatch):
    """(clean 64-px photo, the photo with a white 3-px line across it, the line's mask), with the scratch
    detector (``gir.analysis.scratches.detect``) made to return exactly that mask."""
    import gir.analysis.scratches as sc

    img = natural_image(64, 64, seed=6)
    damaged = img.copy()
    damaged[30:33, :] = 1.0
    mask = np.zeros((64, 64), bool)
    mask[30:33, :] = True
    monkeypatch.setattr(sc, "detect", lambda rgb, weights, device: sc.ScratchMap(mask.astype(np.float32), mask))
    return img, damaged, mask


def train_tiny(tmp_path: Path, model: dict, objective: dict, *, patch: int) -> tuple[dict, set]:
    """Train :func:`clean_run_config` under ``tmp_path / "run"``; -> (the last validation record, the names of
    the last training record's loss terms)."""
    from gir.training.engine import run as train
    from gir.training.logs import read_metrics

    run_dir = train(clean_run_config(tmp_path, model, objective, patch=patch), out_dir=tmp_path / "run")
    recs = read_metrics(Path(run_dir) / "metrics.jsonl")
    return [r for r in recs if r.get("type") == "val"][-1], set([r for r in recs if r.get("type") == "train"][-1]["terms"])


def clean_run_config(tmp_path: Path, model: dict, objective: dict, *, patch: int, iterations: int = 2) -> dict:
    """A tiny ``gir train`` config on clean images (``data.train.mode: clean``): three 64-px training images and
    one 48-px validation image written under ``tmp_path``, batch 2, validation and a checkpoint at the end."""
    from gir.io import write_image

    train_dir, val_dir = tmp_path / "train", tmp_path / "val"
    train_dir.mkdir()
    val_dir.mkdir()
    for i in range(3):
        write_image(train_dir / f"{i}.png", natural_image(64, 64, seed=i))
    write_image(val_dir / "v.png", natural_image(48, 48, seed=9))
    return {"name": "tiny", "seed": 1, "model": model, "objective": objective,
            "data": {"train": {"mode": "clean", "roots": [str(train_dir)], "num_workers": 0},
                     "val": {"roots": [str(val_dir)], "tasks": [{"name": "clean", "recipe": "noise(sigma=0)"}]}},
            "train": {"iterations": iterations, "batch_size": 2, "patch_size": patch, "val_interval": iterations,
                      "save_interval": iterations, "log_interval": 1, "progress": False, "threads": 1},
            "optim": {"type": "adam", "lr": 1e-3}, "loss": [{"type": "l1"}]}
