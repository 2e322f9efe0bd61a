"""Dashboards are tested as a reader uses them: set widget values, click, check the display."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

ipywidgets = pytest.importorskip("ipywidgets")

from medgan_utils.toygan import ToyGANConfig  # noqa: E402
from medgan_utils.viz import to_uint8  # noqa: E402
from medgan_utils.widgets import (  # noqa: E402
    DatasetExplorerDashboard,
    LatentExplorerDashboard,
    ToyGANDashboard,
    dataset_explorer,
    latent_explorer,
    toy_gan_dashboard,
)
from medgan_utils.zoo import generate, interpolate  # noqa: E402

SMALL = ToyGANConfig(dims=1, modes=3, n_eval=300)


@pytest.fixture()
def dash() -> ToyGANDashboard:
    widget = toy_gan_dashboard(SMALL, steps_per_click=50, redraw_every=50)
    assert isinstance(widget, ipywidgets.Widget)
    return widget.dashboard


def test_importing_the_package_does_not_import_ipywidgets():
    code = (
        "import sys, medgan_utils, medgan_utils.toygan, medgan_utils.widgets; "
        "assert 'ipywidgets' not in sys.modules, 'ipywidgets imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_dashboard_builds_without_a_display(dash: ToyGANDashboard):
    assert dash.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert "step 0" in dash.status.value
    assert set(dash.controls) == {"dims", "modes", "lr_g", "lr_d", "loss", "seed", "steps"}
    snap = dash.figure_data()
    assert snap.step == 0 and snap.dims == 1
    assert dash.widget.dashboard is dash


def test_train_click_changes_what_is_shown(dash: ToyGANDashboard):
    before, png_before = dash.figure_data(), dash.image.value
    dash.controls["steps"].value = 100
    dash.train_button.click()
    after = dash.figure_data()
    assert after.step == dash.gan.steps == 100
    assert not np.allclose(before.samples, after.samples)
    assert not np.allclose(before.discriminator, after.discriminator)
    assert np.array_equal(before.real_density, after.real_density)  # the data stay
    assert dash.image.value != png_before and "step 100" in dash.status.value
    assert not dash.train_button.disabled


def test_reset_restores_step_zero(dash: ToyGANDashboard):
    initial = dash.figure_data()
    dash.train_button.click()
    dash.reset_button.click()
    snap = dash.figure_data()
    assert snap.step == 0 and len(snap.d_real) == 0
    assert np.array_equal(snap.samples, initial.samples)  # same seed, same start


def test_data_controls_change_the_real_density(dash: ToyGANDashboard):
    dash.train_button.click()
    three = dash.figure_data().real_density
    dash.controls["modes"].value = 5
    snap = dash.figure_data()
    r = snap.real_density
    peaks = np.sum((r[1:-1] >= r[:-2]) & (r[1:-1] > r[2:]))  # >=: a peak between grid points
    assert peaks == 5 and snap.step == 0 and dash.gan.mixture.modes == 5
    assert snap.real_density.shape == three.shape and not np.allclose(snap.real_density, three)
    dash.controls["dims"].value = 2
    snap = dash.figure_data()
    assert snap.dims == 2 and snap.real_density.ndim == 2 and len(snap.means) == 5
    dash.controls["loss"].value = "hinge"
    assert dash.gan.config.loss == "hinge" and dash.figure_data().loss == "hinge"


def test_learning_rates_apply_without_a_reset(dash: ToyGANDashboard):
    dash.train_button.click()
    dash.controls["lr_g"].value = 1e-2
    dash.controls["lr_d"].value = 1e-4
    assert dash.gan.steps == 50  # same GAN, training goes on
    assert dash.gan.opt_g.param_groups[0]["lr"] == pytest.approx(1e-2)
    assert dash.gan.opt_d.param_groups[0]["lr"] == pytest.approx(1e-4)
    dash.train_button.click()
    assert dash.figure_data().step == 100


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


# -- dataset explorer ----------------------------------------------------------------------


@pytest.fixture()
def explorer() -> DatasetExplorerDashboard:
    widget = dataset_explorer(n_subjects=2)
    assert isinstance(widget, ipywidgets.Widget)
    return widget.dashboard


def test_dataset_explorer_slice_and_axis_change_the_image(explorer: DatasetExplorerDashboard):
    c = explorer.controls
    assert c["source"].value == "MNI152 template volume"
    assert explorer.builtin_box.layout.display == "none"
    X, Y, Z = explorer.volume.shape
    assert explorer.pixels.shape == (Y, X) and c["slice"].max == Z - 1  # axial
    middle = explorer.pixels.copy()
    c["slice"].value = c["slice"].value + 20
    assert explorer.pixels.shape == middle.shape and not np.array_equal(explorer.pixels, middle)
    assert f"axial slice {c['slice'].value}" in explorer.info.value
    c["axis"].value = "sagittal"
    assert explorer.pixels.shape == (Z, Y) and c["slice"].max == X - 1
    assert c["slice"].value == X // 2 and "sagittal" in explorer.info.value
    c["axis"].value = "coronal"
    assert explorer.pixels.shape == (Z, X) and c["slice"].max == Y - 1


def test_dataset_explorer_window_changes_the_pixels(explorer: DatasetExplorerDashboard):
    c = explorer.controls
    wide, window = explorer.pixels.copy(), explorer.window
    c["low"].value, c["high"].value = 50.0, 80.0
    narrow = explorer.pixels
    assert explorer.window[0] > window[0] and explorer.window[1] < window[1]
    assert not np.array_equal(wide, narrow)
    assert (narrow == 255).sum() > (wide == 255).sum()  # more voxels above the window
    v = explorer.volume
    lo, hi = np.percentile(v[v > v.min()], [50, 80])
    assert explorer.window == pytest.approx((lo, hi), rel=0.02)


def test_dataset_explorer_shows_builtin_images_with_their_meta(
    explorer: DatasetExplorerDashboard,
):
    c = explorer.controls
    c["source"].value = "builtin-labelled"
    ds = explorer.dataset
    assert ds is not None and len(ds) == 64 and c["index"].max == 63
    assert (
        explorer.volume_box.layout.display == "none" and explorer.builtin_box.layout.display == ""
    )
    for i in (5, 40):
        c["index"].value = i
        item = ds[i]
        assert np.array_equal(explorer.pixels, to_uint8(ds.images[i, 0]))
        text = explorer.info.value
        assert f"<code>{item['subject']}</code>" in text
        assert f"slice level {item['slice_index']}" in text
        assert f"label <b>{ds.classes[item['label']]}</b>" in text
        assert f"site {item['groups']['site']}" in text
    assert item["subject"] == "vs-0001"  # image 40 is the second subject's
    c["source"].value = "builtin"
    assert "unlabelled" in explorer.info.value
    c["source"].value = "MNI152 template volume"
    assert explorer.pixels.shape == explorer.volume.shape[1::-1]
