"""`gir degrade`: files and folders, recipes beside outputs, exact reproduction, lists, gallery, bad input."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gir.cli import main
from gir.degradations import OPS

from conftest import REPO, natural_image


def _save(path: Path, img: np.ndarray) -> Path:
    Image.fromarray((img * 255 + 0.5).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def photos(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    _save(d / "a.png", natural_image(40, 52, seed=1))
    _save(d / "b.jpg", natural_image(33, 47, seed=2))
    return d


def test_recipe_outputs_and_json_beside(photos, tmp_path):
    out = tmp_path / "out"
    rc = main(["degrade", str(photos), "-o", str(out), "--recipe", "noise(sigma=15) > jpeg(quality=60)",
               "--seed", "3"])
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.json", "a.png", "b.jpg", "b.json"]
    rec = json.loads((out / "a.json").read_text())
    assert rec["seed"] == 3 and [s["op"] for s in rec["steps"]] == ["noise", "jpeg"]
    # inputs untouched
    assert (photos / "a.png").exists() and (photos / "b.jpg").exists()


def test_saved_random_recipe_reproduces_exactly(photos, tmp_path):
    out1, out2 = tmp_path / "o1", tmp_path / "o2"
    assert main(["degrade", str(photos / "a.png"), "-o", str(out1), "--random", "--order", "2-4",
                 "--seed", "7"]) == 0
    rec = json.loads((out1 / "a.json").read_text())
    assert 2 <= len(rec["steps"]) <= 4
    assert main(["degrade", str(photos / "a.png"), "-o", str(out2), "--recipe", str(out1 / "a.json")]) == 0
    assert (out1 / "a.png").read_bytes() == (out2 / "a.png").read_bytes()


def test_random_differs_per_image_but_is_seeded(photos, tmp_path):
    for o in ("o1", "o2"):
        assert main(["degrade", str(photos), "-o", str(tmp_path / o), "--random", "--seed", "1"]) == 0
    r1 = [json.loads((tmp_path / "o1" / f"{s}.json").read_text()) for s in "ab"]
    r2 = [json.loads((tmp_path / "o2" / f"{s}.json").read_text()) for s in "ab"]
    assert r1 == r2 and r1[0] != r1[1]


def test_bad_file_is_reported_and_batch_goes_on(photos, tmp_path, capsys):
    (photos / "broken.png").write_bytes(b"not a png at all")
    out = tmp_path / "out"
    rc = main(["degrade", str(photos), "-o", str(out), "--recipe", "noise"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "broken.png" in err and "2 image(s); 1 failed" in err
    assert (out / "a.png").exists() and (out / "b.jpg").exists()


def test_bad_recipe_is_one_line_error(photos, tmp_path, capsys):
    rc = main(["degrade", str(photos), "-o", str(tmp_path / "o"), "--recipe", "noise(sigma=999)"])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "sigma=999" in err and "out of range" in err


def test_refuses_to_overwrite_inputs(photos, capsys):
    rc = main(["degrade", str(photos / "a.png"), "-o", str(photos), "--recipe", "noise"])
    assert rc == 2 and "overwrite" in capsys.readouterr().err


def test_list_names_every_op(capsys):
    assert main(["degrade", "--list"]) == 0
    text = capsys.readouterr().out
    for name in OPS:
        assert f"\n{name}  [" in "\n" + text
    assert "representative 20.0" in text  # noise sigma


def test_gallery_sheet(tmp_path):
    src = _save(tmp_path / "p.png", natural_image(96, 128, seed=4))
    sheet = tmp_path / "sheet.png"
    assert main(["degrade", "--gallery", str(src), "-o", str(sheet)]) == 0
    im = np.asarray(Image.open(sheet))
    assert im.ndim == 3 and im.shape[1] >= 5 * 128  # five columns of tiles


def test_console_script_entry_point():
    r = subprocess.run([sys.executable, "-m", "gir.cli", "degrade", "--list"], capture_output=True, text=True,
                       cwd=REPO)
    assert r.returncode == 0 and "noise" in r.stdout


def test_import_gir_is_light():
    code = "import sys, gir; bad = [m for m in ('torch', 'cv2', 'scipy', 'gir.degradations') if m in sys.modules]; print(bad)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "[]", r.stdout + r.stderr
