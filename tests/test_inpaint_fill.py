"""The inpainting expert's fill network: the training pairs, the ``fill_unet`` contract (pixels outside the
hole come back exactly; a new network gives the smooth fill), the ``inpaint`` objective, tiled inference on a
checkpoint the test makes itself, and the expert using it."""
from __future__ import annotations


import numpy as np
import pytest
import torch

from conftest import natural_image
from gir.degradations.scratches import synthesize_fill_pair
from gir.models import build_model
from gir.models.masknet import smooth_fill


def test_same_seed_same_pair_and_the_mask_is_where_damage_shows():
    img = natural_image(96, 80, seed=1)
    a = synthesize_fill_pair(img, np.random.default_rng(5))
    b = synthesize_fill_pair(img, np.random.default_rng(5))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.target, b.target)
    assert a.mask.any() and a.mask.dtype == bool
    diff = np.abs(a.image - a.target).max(axis=2)
    assert np.all(diff[~a.mask] < 0.05) and np.all(diff[a.mask] >= 0.05)


def test_without_ops_after_the_damage_the_target_is_the_clean_photo():
    img = natural_image(64, 64, seed=2)
    s = synthesize_fill_pair(img, np.random.default_rng(0), after=0.0)
    assert np.array_equal(s.target, img)


def test_ops_after_the_damage_reach_both_photos_alike():
    img = natural_image(64, 64, seed=3)
    s = synthesize_fill_pair(img, np.random.default_rng(11), after=1.0)
    assert not np.array_equal(s.target, img)  # the ops changed the target too
    assert np.abs(s.image - s.target)[~s.mask].max() < 0.05  # ... and identically outside the damage


def test_ops_before_the_damage_stay_in_the_target():
    img = natural_image(64, 64, seed=3)
    s = synthesize_fill_pair(img, np.random.default_rng(12), after=0.0, before=1.0)
    assert not np.array_equal(s.target, img)  # softened before the damage; the fill is not asked to undo it
    assert np.abs(s.image - s.target)[~s.mask].max() < 0.05


def test_detected_training_masks_are_the_experts_own():
    """With ``detected=1`` the training mask is what the inpainting expert fills on that patch (the shipped
    detector's mask, grown as the expert grows it), over-marks and misses included."""
    from gir.analysis.scratches import DILATE, detect, fill_mask
    from gir.training.inpaint import fill_pair

    img = natural_image(96, 96, seed=7)
    marked = 0
    for seed in range(3):
        image, _, hole = fill_pair(img, np.random.default_rng(seed), 0.6, 0.5, 1.0)
        assert np.array_equal(hole > 0.5, fill_mask(detect(image).mask, DILATE))
        marked += int(hole.any())
    assert marked >= 2  # the detector does find the drawn damage


def test_inpaint_objective_checks_its_shares():
    from gir.training.inpaint import Inpaint

    with pytest.raises(ValueError, match="detected"):
        Inpaint(detected=1.5)


def test_smooth_fill_keeps_known_pixels_and_fills_a_flat_photo_exactly():
    rgb = torch.full((1, 3, 40, 40), 0.3)
    hole = torch.zeros(1, 1, 40, 40)
    hole[..., 10:30, 18:22] = 1
    damaged = torch.where(hole > 0, torch.ones_like(rgb), rgb)
    out = smooth_fill(damaged, hole)
    assert torch.allclose(out, rgb, atol=1e-6)


def test_a_new_fill_unet_blends_photo_and_smooth_fill_and_never_moves_an_unmarked_pixel():
    from gir.models.masknet import GATE_BIAS

    torch.manual_seed(0)
    net = build_model({"type": "fill_unet", "channels": [8, 8, 8], "blocks": 1}).eval()
    x = torch.rand(2, 3, 37, 45)
    hole = (torch.rand(2, 1, 37, 45) > 0.8).float()
    with torch.no_grad():
        out = net(torch.cat([x, hole], 1))
    assert out.shape == (2, 3, 37, 45) and net.channels_out == 3
    assert torch.equal(out * (1 - hole), x * (1 - hole))
    # the network pads to a multiple of 8 by replication, so compare on a size it needs no padding for
    x, hole = x[..., :32, :40], hole[..., :32, :40]
    keep = torch.sigmoid(torch.tensor(GATE_BIAS))
    expected = x * (1 - hole) + hole * (keep * x + (1 - keep) * smooth_fill(x, hole))
    with torch.no_grad():
        assert torch.allclose(net(torch.cat([x, hole], 1)), expected, atol=1e-6)


def test_training_masks_cover_the_damage_and_often_more():
    from gir.training.inpaint import fill_pair

    img = natural_image(96, 96, seed=4)
    more = 0
    for seed in range(8):
        rng = np.random.default_rng(seed)
        s = synthesize_fill_pair(img, np.random.default_rng(seed))
        _, _, hole = fill_pair(img, rng, 0.6)
        assert np.all(hole[s.mask] == 1)  # every damaged pixel is marked
        more += hole.sum() > s.mask.sum() * 1.3
    assert more >= 3


def test_inpaint_objective_trains_and_validates(tmp_path):
    from conftest import train_tiny

    val, terms = train_tiny(tmp_path, {"type": "fill_unet", "channels": [8, 8, 8], "blocks": 1},
                            {"type": "inpaint"}, patch=32)
    assert np.isfinite(val["hole_psnr"]) and np.isfinite(val["biharmonic_psnr"]) and val["n"] == 1
    assert "hole_l1" in terms


def test_inpaint_objective_refuses_another_network(tmp_path):
    from conftest import clean_run_config
    from gir.training.engine import run as train

    cfg = clean_run_config(tmp_path, {"type": "mask_unet", "channels": [8, 8, 8], "blocks": 1},
                           {"type": "inpaint"}, patch=32)
    with pytest.raises(Exception, match="fill_unet"):
        train(cfg, out_dir=tmp_path / "run")


@pytest.fixture
def fill_checkpoint(tmp_path):
    """A fill network's weights as `gir export` writes them, from a network with a random (non-zero)
    correction, so that the test sees the network's own output and not only the smooth fill."""
    from gir.models.checkpoint import save_checkpoint

    torch.manual_seed(1)
    cfg = {"type": "fill_unet", "channels": [8, 8, 8], "blocks": 1}
    net = build_model(cfg)
    with torch.no_grad():
        net.tail.weight.normal_(0, 0.05)
    path = tmp_path / "fill.safetensors"
    save_checkpoint(path, net.state_dict(), model_cfg=cfg)
    return str(path)


def test_network_fill_moves_only_the_hole_and_tiles_give_one_pass(fill_checkpoint, monkeypatch):
    import gir.restore.inpaint as ip

    img = natural_image(150, 170, seed=7)
    hole = np.zeros((150, 170), bool)
    hole[70:76, :] = True
    hole[:, 100:104] = True
    whole = ip.network_fill(img, hole, fill_checkpoint)
    assert np.array_equal(whole[~hole], img[~hole])
    assert not np.allclose(whole[hole], img[hole])
    monkeypatch.setattr(ip, "TILE", 64)
    tiled = ip.network_fill(img, hole, fill_checkpoint)
    assert np.abs(tiled - whole).max() < 0.02
    assert np.array_equal(ip.network_fill(img, np.zeros_like(hole), fill_checkpoint), img)


def test_inpaint_expert_uses_the_fill_network_when_it_has_one(fill_checkpoint, scratched_line):
    from gir.analysis.scratches import fill_mask
    from gir.restore.experts import InpaintExpert
    from gir.restore.inpaint import network_fill

    _, damaged, mask = scratched_line
    e = InpaintExpert("inpaint", ("damage",), "inpaint", "test", fill=fill_checkpoint)
    out = e(damaged)
    assert np.array_equal(out, network_fill(damaged, fill_mask(mask), fill_checkpoint))
    assert np.array_equal(e.observe(out), damaged)
    assert fill_checkpoint in e.note()
