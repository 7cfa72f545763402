"""gir.interpret.lam: paper 000's local attribution map (LAM) and diffusion index (DI), its figure and CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from conftest import natural_image
from gir.cli import main
from gir.errors import GirError
from gir.interpret import LamResult, diffusion_index, gini, lam_figure, load_network, local_attribution_map
from gir.interpret.lam import blur_path, check_box, gradient_detector, lam, parse_box
from gir.io import write_image

SIZE = 48
STEPS = 12
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return natural_image(SIZE, SIZE, seed=5)


class PixelCopy(nn.Module):
    """Output = a checkerboard times the input at pixel (py, px), plus a small leak of the input itself: the
    output's gradients (what LAM's detector measures) come almost entirely from that one pixel."""

    def __init__(self, py: int, px: int, leak: float = 0.02):
        super().__init__()
        self.py, self.px, self.leak = py, px, leak
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        h, w = x.shape[-2:]
        yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        checker = ((yy + xx) % 2).to(x.dtype)
        return self.leak * x + self.scale * checker * x[..., self.py:self.py + 1, self.px:self.px + 1]


# ------------------------------------------------------------------------------------------ attribution
def test_pixel_copy_net_attributes_everything_to_that_pixel(image):
    py, px = 16, 12  # the corner of natural_image's bright rectangle: the blur path changes it strongly
    res = lam(PixelCopy(py, px), image, (28, 26, 10, 8), steps=STEPS, sigma_max=3.0)
    amap = res.attribution
    assert amap.shape == (SIZE, SIZE) and amap.dtype == np.float32
    assert amap.min() >= 0 and abs(float(amap.sum()) - 1.0) < 1e-5
    assert np.unravel_index(int(np.argmax(amap)), amap.shape) == (py, px)
    assert amap[py, px] >= 0.9
    assert res.summary()["peak"] == [px, py]  # x, y
    assert res.diffusion_index < 1.0


def test_completeness_sum_matches_objective_change(image):
    """Integrated gradients: the signed attribution sums to D(F(I)) - D(F(I')) up to the Riemann error."""
    res = lam(PixelCopy(20, 20, leak=0.3), image, (4, 4, 12, 12), steps=40, sigma_max=3.0)
    assert res.objective > res.baseline_objective
    assert res.completeness_gap < 0.05


def test_identity_network_keeps_the_attribution_near_the_box(image):
    res = lam(nn.Identity(), image, (16, 16, 12, 12), steps=STEPS)
    amap = res.attribution
    inside = amap[12:32, 12:32].sum()  # the box plus the 4-px reach of the forward differences and path
    assert inside > 0.95
    assert 0 < res.diffusion_index < 100 * (1 - 0.9)


def test_gradient_detector_sums_l1_forward_differences_in_the_box():
    out = torch.zeros(1, 3, 6, 6)
    out[0, :, 2, 3] = 1.0  # one bright pixel: |dx| at (2,2),(2,3), |dy| at (1,3),(2,3) per channel
    assert float(gradient_detector(out, (0, 0, 6, 6))) == pytest.approx(12.0)
    assert float(gradient_detector(out, (3, 2, 1, 1))) == pytest.approx(6.0)  # dx + dy at (2, 3)
    assert float(gradient_detector(out, (5, 5, 1, 1))) == 0.0


def test_blur_path_runs_from_the_blurred_baseline_to_the_image(image):
    path = blur_path(image, steps=4, sigma_max=2.0)
    assert path.shape == (5, SIZE, SIZE, 3) and path.dtype == np.float32
    assert path[-1].tobytes() == image.tobytes()
    tv = [np.abs(np.diff(p, axis=1)).sum() for p in path]
    assert all(a < b for a, b in zip(tv, tv[1:]))  # less blur, more detail along the path


# --------------------------------------------------------------------------------------------- Gini / DI
def test_gini_of_uniform_and_one_hot_maps():
    n = 32 * 32
    assert gini(np.full((32, 32), 0.25)) == pytest.approx(0.0, abs=1e-12)
    assert diffusion_index(np.ones((32, 32))) == pytest.approx(100.0)
    one_hot = np.zeros((32, 32))
    one_hot[3, 7] = 5.0
    assert gini(one_hot) == pytest.approx((n - 1) / n) and gini(one_hot) > 0.999
    assert diffusion_index(one_hot) == pytest.approx(100.0 / n) and diffusion_index(one_hot) < 0.1
    half = np.zeros(10)
    half[5:] = 1.0
    assert gini(half) == pytest.approx(0.5)  # sum |g_i - g_j| / (2 n^2 mean) = 50 / (2 * 100 * 0.5)
    assert gini(np.zeros(5)) == 0.0
    with pytest.raises(GirError, match="non-negative"):
        gini([1.0, -0.5])


# -------------------------------------------------------------------------------------- determinism, API
def test_two_runs_give_identical_bytes(image):
    model = load_network("random:srcnn", seed=3)[0]
    with torch.no_grad():  # un-zero the last conv so that the random network is not the identity
        model.net[-1].weight.normal_(0, 0.05, generator=torch.Generator().manual_seed(0))
    a = lam(model, image, (20, 20, 8, 8), steps=6, sigma_max=2.0)
    b = lam(model, image, (20, 20, 8, 8), steps=6, sigma_max=2.0)
    assert a.attribution.tobytes() == b.attribution.tobytes()
    assert a.diffusion_index == b.diffusion_index and a.gini == b.gini
    assert all(p.grad is None for p in model.parameters()) and not model.training


@pytest.mark.parametrize("spec", ["random:srcnn", "random:wavelet_unet"])
def test_registered_architectures_run_end_to_end(image, spec, tmp_path):
    model = load_network(spec)[0]
    res = local_attribution_map(model, image, (18, 20, 10, 10), steps=4, sigma_max=2.0, batch=5)
    assert isinstance(res, LamResult) and res.box == (18, 20, 10, 10)
    assert res.attribution.shape == (SIZE, SIZE) and np.isfinite(res.attribution).all()
    assert 0 < res.diffusion_index < 100 and res.diffusion_index == pytest.approx((1 - res.gini) * 100)
    assert json.loads(json.dumps(res.summary()))["steps"] == 4
    fig = lam_figure(image, res, tmp_path / "sub" / "lam.png", title=spec)
    assert fig.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.parametrize("box, match", [((40, 40, 10, 10), "outside"), ((0, 0, 0, 4), "positive"),
                                        ((-1, 0, 4, 4), ">= 0"), ((0, 0, 49, 1), "outside")])
def test_bad_boxes_raise_one_line(image, box, match):
    with pytest.raises(GirError, match=match) as err:
        lam(nn.Identity(), image, box, steps=2)
    assert "\n" not in str(err.value)


def test_parse_and_check_box():
    assert parse_box(" 1, 2,3 ,4") == (1, 2, 3, 4)
    for text in ("1,2,3", "a,b,c,d", "1,2,3,4,5", "1.5,2,3,4", ""):
        with pytest.raises(GirError, match="x,y,w,h"):
            parse_box(text)
    assert check_box((0, 0, 48, 48), 48, 48) == (0, 0, 48, 48)


def test_bad_settings_and_flat_patch(image):
    with pytest.raises(GirError, match="steps"):
        lam(nn.Identity(), image, (0, 0, 4, 4), steps=0)
    with pytest.raises(GirError, match="sigma_max"):
        lam(nn.Identity(), image, (0, 0, 4, 4), sigma_max=0)
    with pytest.raises(GirError, match="H x W x 3"):
        lam(nn.Identity(), image[..., 0], (0, 0, 4, 4))
    with pytest.raises(GirError, match="zero everywhere"):
        lam(nn.Identity(), np.full((16, 16, 3), 0.5, np.float32), (2, 2, 4, 4), steps=2)


# ------------------------------------------------------------------------------------------------ CLI
@pytest.fixture(scope="module")
def image_file(tmp_path_factory, image):
    path = tmp_path_factory.mktemp("lam") / "img.png"
    write_image(path, image)
    return path


def test_cli_lam_writes_a_figure_and_prints_the_di(image_file, tmp_path, capsys):
    fig = tmp_path / "fig.png"
    rc = main(["interpret", "lam", "--model", "random:srcnn", str(image_file), "--box", "10,12,8,8",
               "--steps", "3", "--out", str(fig), "-q"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "DI = " in text and "random:srcnn" in text
    assert fig.read_bytes()[:8] == PNG_MAGIC
    rc = main(["interpret", "lam", "--model", "random:srcnn", str(image_file), "--box", "10,12,8,8",
               "--steps", "3", "--out", str(fig), "--json", "-q"])
    record = json.loads(capsys.readouterr().out)
    assert rc == 0 and record["box"] == [10, 12, 8, 8] and record["size"] == [SIZE, SIZE]
    assert 0 < record["diffusion_index"] < 100 and record["figure"] == str(fig)


@pytest.mark.parametrize("box, match", [("40,40,10,10", "outside the 48x48 image"), ("1,2,0,4", "positive"),
                                        ("1,2,3", "x,y,w,h"), ("a,b,c,d", "integers")])
def test_cli_bad_box_exits_2_with_one_line(image_file, tmp_path, capsys, box, match):
    fig = tmp_path / "fig.png"
    rc = main(["interpret", "lam", "--model", "random:srcnn", str(image_file), "--box", box, "--out", str(fig),
               "-q"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("gir: error: ") and match in err and err.count("\n") == 1
    assert not fig.exists()
