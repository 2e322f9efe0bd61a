from __future__ import annotations

import numpy as np
import pytest
import torch

from medgan_utils.evaluation.metrics import (
    Score,
    diversity,
    frechet_distance,
    frechet_distance_from_stats,
    kernel_distance,
    precision_recall,
)


def gaussian(n: int, mean: np.ndarray, cov: np.ndarray, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).multivariate_normal(mean, cov, size=n)


# --------------------------------------------------------------------------- FID and KID


def test_fid_of_a_set_with_itself_is_zero():
    x = gaussian(300, np.zeros(8), np.eye(8), seed=0)
    assert abs(frechet_distance(x, x)) < 1e-8
    assert abs(frechet_distance(torch.from_numpy(x), x)) < 1e-8


def test_fid_matches_the_closed_form_for_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, -1.0]), np.array([1.0, 0.0, 0.5])
    a, b = np.array([1.0, 2.0, 0.5]), np.array([3.0, 0.5, 0.5])
    # diagonal covariances: tr(S1 + S2 - 2 (S1 S2)^½) = sum (sqrt a - sqrt b)²
    exact = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = frechet_distance_from_stats(mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(exact, rel=1e-10)
    # full covariances, estimated from samples
    rng = np.random.default_rng(1)
    q1, q2 = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    s1, s2 = q1 @ q1.T + np.eye(3), q2 @ q2.T + np.eye(3)
    r1 = np.linalg.cholesky(s1)
    root = np.linalg.eigvals(s1 @ s2)  # (S1 S2)^½ has eigenvalues sqrt(eig(S1 S2))
    exact = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2) - 2 * np.sqrt(root.real).sum()
    assert frechet_distance_from_stats(mu1, s1, mu2, s2) == pytest.approx(exact, rel=1e-8)
    assert np.allclose(r1 @ r1.T, s1)
    x, y = gaussian(20_000, mu1, s1, 2), gaussian(20_000, mu2, s2, 3)
    assert frechet_distance(x, y) == pytest.approx(exact, rel=0.05)


def test_fid_agrees_with_torchmetrics():
    tm = pytest.importorskip("torchmetrics.image.fid")
    if not hasattr(tm, "_compute_fid"):
        pytest.skip("torchmetrics changed its private FID helper")
    x, y = gaussian(400, np.zeros(16), np.eye(16), 0), gaussian(400, np.ones(16), np.eye(16) * 2, 1)
    stats = [torch.from_numpy(v) for v in (x.mean(0), np.cov(x.T), y.mean(0), np.cov(y.T))]
    assert frechet_distance(x, y) == pytest.approx(float(tm._compute_fid(*stats)), rel=1e-6)


def test_fid_refuses_fewer_images_than_dimensions():
    x = gaussian(50, np.zeros(64), np.eye(64), 0)
    with pytest.raises(ValueError, match="KID"):
        frechet_distance(x, x)


def test_kid_is_about_zero_for_one_distribution_and_grows_with_a_shift():
    x = gaussian(1000, np.zeros(16), np.eye(16), 0)
    same, sd = kernel_distance(x, gaussian(1000, np.zeros(16), np.eye(16), 1), n_subsets=20)
    assert abs(same) < 3 * sd + 1e-3
    small = kernel_distance(x, gaussian(1000, np.full(16, 0.3), np.eye(16), 2), n_subsets=20)[0]
    large = kernel_distance(x, gaussian(1000, np.full(16, 1.0), np.eye(16), 3), n_subsets=20)[0]
    assert abs(same) < small < large


# --------------------------------------------------------------------------- precision, recall


def test_precision_recall_of_identical_and_disjoint_sets():
    x = gaussian(300, np.zeros(4), np.eye(4), 0)
    assert precision_recall(x, x) == (1.0, 1.0)
    far = gaussian(300, np.full(4, 50.0), np.eye(4), 1)
    assert precision_recall(x, far) == (0.0, 0.0)
    # a fake set that covers a quarter of the real one: high precision, low recall
    part = x[np.argsort(x[:, 0])[-75:]]
    p, r = precision_recall(x, part)
    assert p == 1.0 and r < 0.6


# --------------------------------------------------------------------------- diversity


def test_diversity_is_one_for_copies_and_lower_for_different_images(real):
    same = real.images[:1].repeat(8, 1, 1, 1)
    value, name = diversity(same, n_pairs=16)
    assert value == pytest.approx(1.0, abs=1e-4) and name == "MS-SSIM (3 scales)"
    assert diversity(real.images, n_pairs=64)[0] < 0.9
    assert diversity(real.images[:8, :, ::2, ::2], n_pairs=8)[1] == "MS-SSIM (2 scales)"


# --------------------------------------------------------------------------- reports


def test_score_prints_its_floor():
    s = Score("domain FID", 23.14, 4.2, 500, "domain")
    assert str(s) == "domain FID 23.1 (real-vs-real floor 4.2, n=500)"
    kid = Score("KID", 0.0123, 0.0004, 500, "domain", std=0.001, floor_std=0.0002)
    assert str(kid) == "KID 0.0123 ± 0.001 (real-vs-real floor 0.0004 ± 0.0002, n=500)"
    assert "real-vs-real 0.8," in str(Score("precision", 0.7, 0.8, 9, "x", higher_is_better=True))
