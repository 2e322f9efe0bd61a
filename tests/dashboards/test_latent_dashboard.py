"""The latent explorer: seeds, the path slider and the random walk."""

from __future__ import annotations

import pytest
import torch

ipywidgets = pytest.importorskip("ipywidgets")

from medgan_utils.dashboards import (  # noqa: E402
    latent_explorer,
)
from medgan_utils.dashboards.latent import LatentExplorerDashboard  # noqa: E402
from medgan_utils.gan.zoo import (  # noqa: E402
    generate,
    interpolate,
)

# -- latent explorer -----------------------------------------------------------------------


@pytest.fixture()
def latent() -> LatentExplorerDashboard:
    widget = latent_explorer()
    assert isinstance(widget, ipywidgets.Widget)
    return widget.dashboard


def test_latent_explorer_starts_at_seed_a_and_says_synthetic(latent: LatentExplorerDashboard):
    G = latent.G
    assert latent.controls["t"].value == 0.0
    assert torch.allclose(latent.current, generate(G, 1, latent.controls["seed_a"].value))
    assert latent.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert "synthetic" in latent.caption.value.lower()
    assert latent.path.shape == (8, 1, 64, 64)
    assert torch.allclose(latent.path, interpolate(G, 0, 1, 8), atol=1e-6)
    assert latent.widget.dashboard is latent


def test_latent_explorer_slider_moves_between_the_seeds(latent: LatentExplorerDashboard):
    c = latent.controls
    c["seed_a"].value, c["seed_b"].value = 3, 7
    at_a, png_a = latent.current.clone(), latent.image.value
    assert torch.allclose(at_a, generate(latent.G, 1, 3))
    c["t"].value = 0.5
    halfway = latent.current.clone()
    assert not torch.allclose(halfway, at_a) and latent.image.value != png_a
    assert "t = 0.50" in latent.caption.value
    c["t"].value = 1.0
    assert torch.allclose(latent.current, generate(latent.G, 1, 7))
    assert not torch.allclose(latent.current, halfway)
    assert torch.allclose(latent.path[0:1], generate(latent.G, 1, 3), atol=1e-5)


def test_latent_explorer_random_walk_changes_the_image(latent: LatentExplorerDashboard):
    latent.controls["t"].value = 0.25
    before, z_before, png = latent.current.clone(), latent.z.clone(), latent.image.value
    latent.walk_button.click()
    assert latent.walks == 1 and "1 random-walk step" in latent.caption.value
    assert not torch.allclose(latent.current, before) and latent.image.value != png
    assert latent.z.norm() == pytest.approx(float(z_before.norm()), rel=1e-4)  # small step
    assert 0 < (latent.z - z_before).norm() < z_before.norm()
    latent.walk_button.click()
    assert latent.walks == 2 and "synthetic" in latent.caption.value.lower()
    latent.controls["t"].value = 0.0  # back onto the path
    assert latent.walks == 0 and torch.allclose(latent.current, generate(latent.G, 1, 0))
