"""The experts `gir restore` ships: present, carded, small, loadable, and run tiled like any network."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import natural_image

from gir.models.shipped import WEIGHTS_DIR
from gir.restore.engine import Restorer
from gir.restore.experts import SHIPPED, coverage, shipped_experts

NETWORKS = sorted({what for _, kind, what, _ in SHIPPED if kind in ("network", "denoiser", "pnp", "inpaint")})


@pytest.mark.parametrize("name", NETWORKS)
def test_each_network_expert_ships_with_a_card(name):
    assert (WEIGHTS_DIR / f"{name}.safetensors").is_file()
    assert (WEIGHTS_DIR / f"{name}.md").is_file()


def test_the_experts_together_stay_under_40_mb():
    total = sum((WEIGHTS_DIR / f"{n}.safetensors").stat().st_size for n in NETWORKS)
    assert total < 40 * 2**20


def test_every_shipped_expert_is_installed_and_covers_the_planned_families():
    experts = shipped_experts({"device": "cpu"})
    assert list(experts) == [name for name, *_ in SHIPPED]
    covers = coverage(experts)
    assert covers["noise"] == "denoise" and covers["jpeg"] == "jpeg" and covers["blur"] == "deblur"
    assert covers["resize"] == covers["ringing"] == "band"  # one expert for both: see gir.restore.experts
    # the policy table's expert column is the one place that says it
    from gir.restore.policy import POLICY

    assert covers == {row.family: row.expert for row in POLICY}


@pytest.mark.parametrize("name", ["gir-denoiser", "gir-denoiser-camera", "gir-expert-jpeg", "gir-expert-band"])
def test_specialists_are_local_and_tile_like_the_whole_image(name):
    from conftest import natural_image

    r = Restorer(name, device="cpu", impulse_repair=False, tile=0)
    assert r.model.descriptor.tiling == "local" and r.model.descriptor.context == "none"
    assert r.model.descriptor.conditioning == CONDITIONED.get(name, ())
    from gir.metrics import psnr

    img = natural_image(192, 256, seed=1)
    told = {"jpeg.quality": 30, "noise.sigma": 15}
    whole = r(img, conditions=told)
    tiled = Restorer(name, device="cpu", impulse_repair=False, tile=128, overlap=32)(img, conditions=told)
    assert psnr(tiled, whole) > 45  # 128-px tiles, as `gir restore` uses at least; blended overlaps


CONDITIONED = {"gir-expert-jpeg": ("jpeg.quality",), "gir-denoiser": ("noise.sigma",),
               "gir-denoiser-camera": ("noise.sigma",)}


def test_the_camera_denoiser_removes_correlated_noise_the_white_noise_one_leaves():
    """Camera noise (signal-dependent, correlated over about a pixel) told its level: the camera stage removes
    much more of it than the white-noise denoiser it continues; on white noise the two are close."""
    import numpy as np

    from gir.degradations.base import OPS
    from gir.metrics import psnr

    data = pytest.importorskip("skimage.data")
    img = np.ascontiguousarray(data.astronaut()[100:292, 150:342]).astype(np.float32) / 255.0
    cam = np.clip(OPS.get("camera_noise").apply(img, np.random.default_rng(0), dict(
        sigma=15, shot=0.6, correlation=1.0, chroma=0.5)), 0, 1).astype(np.float32)
    white = np.clip(img + np.random.default_rng(0).normal(0, 15 / 255, img.shape), 0, 1).astype(np.float32)
    nets = {n: Restorer(n, device="cpu", impulse_repair=False, ensemble=1) for n in ("gir-denoiser", "gir-denoiser-camera")}
    on_cam = {n: psnr(r(cam, conditions={"noise.sigma": 15}), img) for n, r in nets.items()}
    on_white = {n: psnr(r(white, conditions={"noise.sigma": 15}), img) for n, r in nets.items()}
    assert on_cam["gir-denoiser-camera"] > max(on_cam["gir-denoiser"], psnr(cam, img)) + 1.0, on_cam
    assert abs(on_white["gir-denoiser-camera"] - on_white["gir-denoiser"]) < 0.5, on_white


def test_the_denoiser_follows_the_noise_level_it_is_told():
    """Told a higher sigma it smooths more; told the true sigma it beats a wrong one; told 0 on a clean photo it
    leaves it nearly as it is (38.5 dB on the bundled original: not an identity, and `gir restore` runs it only
    where the analysis finds noise)."""
    import numpy as np

    from conftest import natural_image
    from gir.metrics import psnr

    img = natural_image(128, 128, seed=3)
    noisy = np.clip(img + np.random.default_rng(0).normal(0, 25 / 255, img.shape), 0, 1).astype(np.float32)
    r = Restorer("gir-denoiser", device="cpu", impulse_repair=False, ensemble=1)
    out = {s: r(noisy, conditions={"noise.sigma": s}) for s in (5, 25, 60)}
    change = [psnr(out[s], noisy) for s in (5, 25, 60)]
    assert change[0] > change[1] > change[2]
    assert psnr(out[25], img) > max(psnr(out[5], img), psnr(out[60], img), psnr(noisy, img) + 5)
    from pathlib import Path

    from gir.io import read_image

    clean = read_image(Path(__file__).resolve().parents[1] / "examples" / "astronaut.png").rgb
    assert psnr(r(clean, conditions={"noise.sigma": 0}), clean) > 37.5


def test_the_jpeg_expert_follows_the_quality_it_is_told():
    """Conditioned on the JPEG quality: told a lower quality, it smooths more (it changes the image more)."""
    import io

    import numpy as np
    from PIL import Image

    from conftest import natural_image
    from gir.metrics import psnr

    img = natural_image(128, 128, seed=2)
    buf = io.BytesIO()
    Image.fromarray((img * 255).round().astype(np.uint8)).save(buf, format="JPEG", quality=30)
    lq = np.asarray(Image.open(buf).convert("RGB"), dtype=np.float32) / 255
    r = Restorer("gir-expert-jpeg", device="cpu", impulse_repair=False)
    change = [psnr(r(lq, conditions={"jpeg.quality": q}), lq) for q in (10, 30, 90)]
    assert change[0] < change[1] < change[2]  # PSNR against the input rises: less change at higher quality


def test_the_readme_example_is_restored_as_the_readme_says():
    """README: `gir restore examples/astronaut_degraded.jpg` runs the JPEG expert told quality ~47, then deblurs
    with the Gaussian kernel it estimates (sigma 1.02 after the JPEG step; the recipe's blur is 1.2): 26.03 ->
    28.24 dB against examples/astronaut.png."""
    from pathlib import Path

    from gir.io import read_image
    from gir.metrics import psnr
    from gir.restore.pipeline import Pipeline

    examples = Path(__file__).resolve().parents[1] / "examples"
    outcome = Pipeline(device="cpu").run(examples / "astronaut_degraded.jpg")
    clean = read_image(examples / "astronaut.png").rgb
    assert [(r.step.expert, r.check.kept) for r in outcome.records] == [("jpeg", True), ("deblur", True)]
    assert 40 <= outcome.records[0].step.strengths["jpeg.quality"] <= 50
    assert "Gaussian blur, sigma 1.0" in outcome.records[1].note and outcome.records[1].check.residual is not None
    assert psnr(outcome.image, clean) > 28.0 > 26.1 > psnr(read_image(examples / "astronaut_degraded.jpg").rgb, clean)


def test_brighten_takes_a_dark_photo_to_the_target_luma_and_never_darkens():
    import cv2

    from gir.restore.classical import BRIGHT_TARGET, brighten

    dark = (natural_image(64, 80, seed=3) * 0.12).astype(np.float32)
    out, g = brighten(dark)
    assert g < 1.0 and float(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY).mean()) == pytest.approx(BRIGHT_TARGET, abs=0.03)
    light = (0.5 + 0.5 * natural_image(64, 80, seed=3)).astype(np.float32)
    same, g = brighten(light)
    assert g == 1.0 and same is light
    dim = (0.25 + 0.1 * natural_image(64, 80, seed=3)).astype(np.float32)  # dark, not a low-light capture
    assert brighten(dim)[0] is dim


def test_noise_std_reads_white_noise_and_little_on_a_smooth_image():
    from gir.restore.classical import noise_std

    rng = np.random.default_rng(0)
    flat = np.full((128, 128, 3), 0.5, np.float32)
    assert noise_std(flat + rng.normal(0, 10 / 255, (128, 128, 1)).astype(np.float32)) == pytest.approx(10, rel=0.1)
    assert noise_std(flat) < 0.5


def test_low_light_is_routed_to_brighten_which_denoises_what_the_curve_reveals():
    from gir.restore.classical import brighten, noise_std
    from gir.restore.experts import shipped_experts
    from gir.restore.policy import policy

    assert policy("low_light").expert == "brighten"
    expert = shipped_experts(use=("brighten",))["brighten"]
    rng = np.random.default_rng(1)
    dark = np.clip(natural_image(96, 96, seed=5) * 0.1 + rng.normal(0, 2 / 255, (96, 96, 3)), 0, 1).astype(np.float32)
    out = expert(dark)
    curve, _ = brighten(dark)
    assert "gamma" in expert.note() and "denoised" in expert.note()
    assert out.shape == dark.shape and noise_std(out) < 0.5 * noise_std(curve)
    bright = (0.5 + 0.5 * natural_image(64, 64)).astype(np.float32)
    assert expert(bright) is bright and "not dark enough" in expert.note()
