"""The toy GAN's data: exact densities, sampling, mode coverage, D* and the JS divergence."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.spatial.distance import jensenshannon

from medgan_utils.gan.mixture import Mixture, js_divergence, optimal_discriminator


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
