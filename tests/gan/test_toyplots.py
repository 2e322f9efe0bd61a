"""A toy GAN's snapshot and the figure drawn from it."""

from __future__ import annotations

import pytest

from medgan_utils.gan.toygan import ToyGAN, ToyGANConfig
from medgan_utils.gan.toyplots import plot_snapshot


@pytest.mark.parametrize("dims", [1, 2])
def test_snapshot_and_its_figure(dims: int):
    gan = ToyGAN(ToyGANConfig(dims=dims, modes=3, n_eval=200))
    gan.step(3)
    snap = gan.snapshot(grid_size=50)
    shape = (50,) if dims == 1 else (50, 50)
    assert snap.real_density.shape == snap.generated_density.shape == snap.discriminator.shape
    assert snap.real_density.shape == shape and snap.samples.shape == (200, dims)
    assert snap.step == 3 and len(snap.d_real) == 3
    assert ((snap.discriminator >= 0) & (snap.discriminator <= 1)).all()  # bce: probabilities
    from matplotlib.figure import Figure

    fig = plot_snapshot(snap, Figure())
    assert "modes" in fig.axes[0].get_title()
