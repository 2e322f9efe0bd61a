from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.spatial.distance import jensenshannon

from medgan_utils.gan.toygan import (
    Mixture,
    ToyGAN,
    ToyGANConfig,
    js_divergence,
    optimal_discriminator,
    plot_snapshot,
)


@pytest.mark.parametrize(
    "mixture", [Mixture.line(1), Mixture.line(4), Mixture.ring(3), Mixture.ring(8, std=0.05)]
)
def test_densities_integrate_to_one(mixture: Mixture):
    n = 2000 if mixture.dims == 1 else 300
    axis = mixture.axis(n)
    cell = (axis[1] - axis[0]) ** mixture.dims
    assert mixture.density(mixture.grid(n)).sum() * cell == pytest.approx(1.0, abs=1e-3)


def test_sampling_matches_the_mixture():
    line = Mixture.line(3, spacing=2.0, std=0.25)
    x = line.sample(20_000, torch.Generator().manual_seed(0))
    assert x.shape == (20_000, 1) and x.dtype == torch.float32

    def cdf(t: np.ndarray) -> np.ndarray:
        return np.mean([stats.norm.cdf(t, m, 0.25) for m in line.means[:, 0]], axis=0)

    assert stats.kstest(x[:, 0].numpy(), cdf).pvalue > 0.01
    assert np.allclose(line.mode_shares(x), 1 / 3, atol=0.02)

    ring = Mixture.ring(8, radius=2.0, std=0.1)
    y = ring.sample(20_000, torch.Generator().manual_seed(1))
    assert np.allclose(np.linalg.norm(ring.means, axis=1), 2.0)
    # within 3 std in 2-D: 1 - exp(-9/2) of each mode's points
    assert np.allclose(ring.mode_shares(y), (1 - np.exp(-4.5)) / 8, atol=0.01)
    assert np.abs(y.mean(0).numpy()).max() < 0.05


def test_modes_covered_counts_a_perfect_and_a_collapsed_sampler():
    ring = Mixture.ring(8)
    perfect = ring.sample(4000, torch.Generator().manual_seed(0))
    assert ring.modes_covered(perfect) == 8
    assert ring.high_quality_share(perfect) > 0.98
    collapsed = torch.as_tensor(ring.means[3]) + 0.1 * torch.randn(4000, 2)
    assert ring.modes_covered(collapsed) == 1
    assert (ring.nearest_mode(collapsed) == 3).mean() > 0.99
    assert ring.high_quality_share(torch.zeros(10, 2)) == 0.0  # the ring's empty centre
    line = Mixture.line(4)
    two_of_four = torch.as_tensor(line.means[[0, 2]]).repeat(500, 1)
    assert line.modes_covered(two_of_four) == 2


def test_optimal_discriminator_and_js_divergence():
    x = np.linspace(-6, 6, 4001)
    cell = x[1] - x[0]
    p, q = stats.norm.pdf(x, -1, 0.5), stats.norm.pdf(x, 1, 0.5)
    assert np.allclose(optimal_discriminator(p, p), 0.5)
    d = optimal_discriminator(p, q)
    assert d[x < -1].min() > 0.9 and d[x > 1].max() < 0.1
    assert js_divergence(p, p, cell) == pytest.approx(0.0, abs=1e-12)
    assert js_divergence(p, q, cell) == pytest.approx(jensenshannon(p, q) ** 2, rel=1e-6)
    far = stats.norm.pdf(x, 5, 0.1)
    assert js_divergence(stats.norm.pdf(x, -5, 0.1), far, cell) == pytest.approx(np.log(2))


def test_same_seed_same_run_and_global_rng_untouched():
    config = ToyGANConfig(dims=2, modes=4, batch_size=32, n_eval=100, seed=3)
    before = torch.get_rng_state()
    a, b = ToyGAN(config), ToyGAN(config)
    assert torch.equal(before, torch.get_rng_state())
    a.step(20)
    b.step(20)
    assert np.array_equal(a.samples(), b.samples())
    assert a.history == b.history
    c = ToyGAN(dataclasses.replace(config, seed=4))
    c.step(20)
    assert not np.array_equal(a.samples(), c.samples())


def test_a_1d_run_learns_the_data():
    gan = ToyGAN(ToyGANConfig(dims=1, modes=2, seed=0))
    w_before = gan.w1()
    gan.step(1500)
    w_after = gan.w1()
    assert gan.steps == 1500 and len(gan.history) == 1500
    assert w_after < 0.4 * w_before, (w_before, w_after)
    assert gan.modes_covered() == 2


@pytest.mark.parametrize("loss", ["hinge", "wgan-gp"])
def test_other_losses_train(loss: str):
    gan = ToyGAN(ToyGANConfig(dims=2, modes=3, loss=loss, n_critic=2, batch_size=16, n_eval=50))
    logs = gan.step(4)
    assert np.isfinite(logs["loss_d"]) and len(gan.history) == 4
    assert sum("loss_g" in h for h in gan.history) == 2  # a G step every n_critic steps
    assert gan.discriminator(np.zeros((5, 2))).shape == (5,)


def test_train_discriminator_and_set_learning_rates():
    gan = ToyGAN(ToyGANConfig(dims=1, modes=1, n_eval=100))
    g_before = [p.clone() for p in gan.G.parameters()]
    gan.train_discriminator(5)
    assert gan.steps == 0
    assert all(torch.equal(a, b) for a, b in zip(g_before, gan.G.parameters(), strict=True))
    gan.set_learning_rates(0.01, 0.02)
    assert gan.opt_g.param_groups[0]["lr"] == 0.01 and gan.opt_d.param_groups[0]["lr"] == 0.02
    assert (gan.config.lr_g, gan.config.lr_d) == (0.01, 0.02)


def test_config_validation():
    with pytest.raises(ValueError, match="dims"):
        ToyGANConfig(dims=3)
    with pytest.raises(ValueError, match="loss"):
        ToyGANConfig(loss="minimax")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="modes"):
        ToyGANConfig(modes=0)


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
