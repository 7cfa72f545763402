"""The experts `gir restore` ships: present, carded, small, loadable, and run tiled like any network."""
from __future__ import annotations

import pytest

from gir.restore.engine import WEIGHTS_DIR, Restorer
from gir.restore.experts import SHIPPED, coverage, shipped_experts

NETWORKS = [what for _, _, kind, what, _ in SHIPPED if kind == "network"]


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
    assert covers["noise"] == "noise" and covers["jpeg"] == "jpeg" and covers["blur"] == "sharpen"
    assert "resize" not in covers  # left alone: see gir.restore.experts (the resize expert harms ringing photos)


@pytest.mark.parametrize("name", ["gir-expert-noise", "gir-expert-jpeg", "gir-expert-resize", "gir-expert-sharpen"])
def test_specialists_are_local_and_tile_like_the_whole_image(name):
    from conftest import natural_image

    r = Restorer(name, device="cpu", impulse_repair=False, tile=0)
    assert r.model.descriptor.tiling == "local" and r.model.descriptor.context == "none"
    from gir.metrics import psnr

    img = natural_image(192, 256, seed=1)
    whole = r(img)
    tiled = Restorer(name, device="cpu", impulse_repair=False, tile=128, overlap=32)(img)
    assert psnr(tiled, whole) > 45  # 128-px tiles, as `gir restore` uses at least; blended overlaps
