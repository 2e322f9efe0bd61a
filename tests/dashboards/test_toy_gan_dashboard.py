"""The toy GAN dashboard, tested as a reader uses it: set controls, click, check the display."""

from __future__ import annotations

import numpy as np
import pytest

ipywidgets = pytest.importorskip("ipywidgets")

from medgan_utils.dashboards import (  # noqa: E402
    toy_gan_dashboard,
)
from medgan_utils.dashboards.toy_gan import ToyGANDashboard  # noqa: E402
from medgan_utils.gan.toygan import ToyGANConfig  # noqa: E402

SMALL = ToyGANConfig(dims=1, modes=3, n_eval=300)


@pytest.fixture()
def dash() -> ToyGANDashboard:
    widget = toy_gan_dashboard(SMALL, steps_per_click=50, redraw_every=50)
    assert isinstance(widget, ipywidgets.Widget)
    return widget.dashboard


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
