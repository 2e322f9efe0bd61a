"""The checks of the chapters' exercises, in chapter order (see :mod:`.exercises`).

Each check draws its own test data with a fixed seed (or uses what the chapter passes in),
compares the answer with the package's implementation or a well-kept library's, and asserts
with a message a learner can act on. Heavy imports stay inside the checks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .exercises import exercise

__all__: list[str] = []  # the checks are reached through exercises.check


def _close(got: Any, want: float, tol: float, what: str) -> None:
    assert isinstance(got, (int, float, np.floating)) or (
        isinstance(got, torch.Tensor) and got.numel() == 1
    ), f"{what}: expected one number, got {type(got).__name__}"
    got = float(got)
    assert math.isfinite(got), f"{what}: got {got}"
    assert abs(got - want) <= tol, f"{what}: got {got:.6g}, expected {want:.6g}"


# --------------------------------------------------------------------------- chapter 1


@exercise("1.1", "medium", "the Jensen-Shannon divergence on a grid")
def _jsd(jsd: Any) -> str:
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    from ..gan import mixture

    grid = np.linspace(-5, 5, 2001)
    dx = float(grid[1] - grid[0])
    p, q = stats.norm.pdf(grid, -1, 0.5), stats.norm.pdf(grid, 1, 1.0)
    want = mixture.js_divergence(p, q, dx)
    _close(jsd(p, q, dx), want, 1e-9, "JSD of N(-1, 0.5²) and N(1, 1)")
    _close(jsd(p, q, dx), jensenshannon(p, q) ** 2, 1e-6, "against scipy (which gives its root)")
    _close(jsd(p, p, dx), 0.0, 1e-12, "JSD of a density with itself")
    _close(jsd(3 * p, q, dx), want, 1e-9, "unnormalised p (normalise first)")
    far = stats.norm.pdf(grid, 4, 0.1)
    _close(jsd(stats.norm.pdf(grid, -4, 0.1), far, dx), math.log(2), 1e-6, "disjoint densities")
    return f"JSD = {want:.4f} nats, as the package and scipy; log 2 for disjoint densities."


@exercise("1.2", "easy", "the optimal discriminator")
def _optimal_d(optimal_discriminator: Any) -> str:
    rng = np.random.default_rng(0)
    p_data, p_g = rng.random(50), rng.random(50)
    p_g[:5] = p_data[:5]
    got = np.asarray(optimal_discriminator(p_data, p_g), dtype=float)
    assert got.shape == (50,), f"expected one value per point (50,), got shape {got.shape}"
    want = p_data / (p_data + p_g)
    assert np.allclose(got, want), "D*(x) should be p_data(x) / (p_data(x) + p_g(x))"
    assert np.allclose(got[:5], 0.5), "where the densities are equal, D* is 1/2"
    return "D* = p_data / (p_data + p_g), 1/2 where the generator matches the data."


# --------------------------------------------------------------------------- chapter 2


@exercise("2.1", "easy", "lesion prevalence per site")
def _lesion_share(lesion_share: Any, ds: Any) -> str:
    import warnings

    from ..ethics.dataset_audit import audit_dataset

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the audit's prevalence warning is the lesson here
        audit = audit_dataset(ds, "site")
    shares = []
    for site, classes in audit.class_share.items():
        want = classes.get("lesion", 0.0)
        _close(lesion_share(ds, site), want, 1e-12, f"share of lesion slices at site {site}")
        shares.append(f"site {site} {want:.1%}")
    return "Lesion slices: " + ", ".join(shares) + " (the package's dataset audit agrees)."


# --------------------------------------------------------------------------- chapter 3


@exercise("3.1", "easy", "the hinge loss")
def _hinge(hinge_d_loss: Any) -> str:
    from ..gan.train import discriminator_loss

    g = torch.Generator().manual_seed(0)
    for n in (1, 8, 64):
        r, f = 2 * torch.randn(n, generator=g), 2 * torch.randn(n, generator=g)
        want = discriminator_loss(r, f, "hinge")
        _close(hinge_d_loss(r, f), want.item(), 1e-6, f"hinge loss on {n} scores")
    _close(hinge_d_loss(torch.full((4,), 3.0), torch.full((4,), -3.0)), 0.0, 1e-7, "confident D")
    return "The same loss as discriminator_loss(..., 'hinge'), and 0 for a confident D."


@exercise("3.2", "medium", "a minibatch standard-deviation layer")
def _minibatch_std(minibatch_std: Any) -> str:
    from ..gan.blocks import MinibatchStd

    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 16, 4, 4, generator=g)
    got = minibatch_std(x)
    assert isinstance(got, torch.Tensor), "return a tensor"
    assert got.shape == (8, 17, 4, 4), f"(N, C, H, W) -> (N, C + 1, H, W): got {tuple(got.shape)}"
    assert torch.equal(got[:, :16], x), "the first C channels must be the input, unchanged"
    want = MinibatchStd(group_size=8)(x)
    assert torch.allclose(got, want, atol=1e-5), (
        "the new channel should hold, everywhere, the mean over (C, H, W) of the population "
        "standard deviation across the batch"
    )
    same = x[:1].expand(8, 16, 4, 4)
    assert minibatch_std(same)[:, 16].abs().max() < 1e-3, "a collapsed batch has std near 0"
    return "The same as the package's MinibatchStd over the whole batch."


# --------------------------------------------------------------------------- chapter 4


@exercise("4.1", "medium", "the Frechet distance by hand")
def _frechet(frechet_diagonal: Any) -> str:
    from ..evaluation.metrics import frechet_distance_from_stats

    g = torch.Generator().manual_seed(0)
    mu1, mu2 = torch.randn(6, generator=g), torch.randn(6, generator=g)
    var1, var2 = torch.rand(6, generator=g) + 0.1, torch.rand(6, generator=g) + 0.1
    want = frechet_distance_from_stats(
        mu1.numpy(), np.diag(var1.numpy()), mu2.numpy(), np.diag(var2.numpy())
    )
    _close(frechet_diagonal(mu1, var1, mu2, var2), want, 1e-5, "FD of two diagonal Gaussians")
    _close(frechet_diagonal(mu1, var1, mu1, var1), 0.0, 1e-6, "FD of a Gaussian with itself")
    return f"FD = {want:.4f}, as the package's frechet_distance_from_stats."


@exercise("4.2", "hard", "KID, the unbiased estimate")
def _kid(kid: Any) -> str:
    from torchmetrics.image.kid import poly_mmd

    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 8, generator=g, dtype=torch.float64)
    y = torch.randn(40, 8, generator=g, dtype=torch.float64) + 0.5
    want = float(poly_mmd(x, y))
    _close(kid(x, y), want, 1e-6, "KID of two shifted Gaussian samples (torchmetrics' poly_mmd)")
    same = [float(kid(x[:20], x[20:]))]
    for _ in range(49):
        z = torch.randn(40, 8, generator=g, dtype=torch.float64)
        same.append(float(kid(z[:20], z[20:])))
    assert min(same) < 0 < max(same), (
        "for two samples of one distribution the unbiased estimate is sometimes negative; "
        "leave out the diagonal terms k(x_i, x_i) of the within-set sums"
    )
    assert abs(np.mean(same)) < 0.05, "for one distribution the estimates should average near 0"
    mean = float(np.mean(same))
    return f"KID = {want:.4f}, as torchmetrics; mean {mean:+.4f} over 50 same-distribution pairs."


# --------------------------------------------------------------------------- chapter 5


@exercise("5.1", "easy", "the noise-to-image models")
def _noise_models(noise_models_at_least: Any, catalog: Any) -> str:
    for size in (1, 64, 256, 512):
        want = [
            c.model_id
            for c in catalog.cards()
            if not c.needs_input and c.image_size and min(c.image_size) >= size
        ]
        got = noise_models_at_least(catalog, size)
        assert list(got) == want, f"size {size}: expected {want}, got {list(got)}"
    return "Every size gives the catalog's noise-to-image models, in catalog order."


# --------------------------------------------------------------------------- chapter 6


@exercise("6.1", "medium", "Youden's threshold")
def _youden(youden_threshold: Any) -> str:
    from sklearn.metrics import roc_curve

    rng = np.random.default_rng(0)
    for n in (30, 200):
        targets = rng.integers(0, 2, n)
        targets[:2] = [0, 1]
        scores = rng.random(n) + 0.4 * targets
        t = float(youden_threshold(targets, scores))
        fpr, tpr, _ = roc_curve(targets, scores)
        pred = scores >= t
        j = pred[targets == 1].mean() - pred[targets == 0].mean()
        best = float(np.max(tpr - fpr))
        _close(j, best, 1e-9, f"sensitivity + specificity - 1 at it ({n} cases)")
    return "The threshold reaches the largest sensitivity + specificity - 1 on the ROC curve."


# --------------------------------------------------------------------------- chapter 7


@exercise("7.1", "medium", "equalized-odds difference by hand")
def _eod(equalized_odds_by_hand: Any) -> str:
    from fairlearn.metrics import equalized_odds_difference

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    groups = rng.choice(np.array(["A", "B", "C"]), 300)
    pred = np.where(rng.random(300) < 0.8, y, 1 - y)
    pred[groups == "B"] = np.where(rng.random((groups == "B").sum()) < 0.4, y[groups == "B"], 1)
    want = equalized_odds_difference(y, pred, sensitive_features=groups)
    _close(equalized_odds_by_hand(y, pred, groups), want, 1e-12, "three groups, as fairlearn")
    _close(equalized_odds_by_hand(y, y, groups), 0.0, 1e-12, "a perfect classifier")
    return f"Difference {want:.3f} over three groups, as fairlearn's."


# --------------------------------------------------------------------------- chapter 8


@exercise("8.1", "medium", "check a number of images")
def _check_count(check_count: Any) -> str:
    good = {1: 1, 64: 64, 12.0: 12, "7": 7, " 32 ": 32}
    for value, want in good.items():
        got = check_count(value, most=64)
        assert got == want and type(got) is int, f"{value!r} should give {want}, got {got!r}"
    for bad in (True, False, 3.5, "12abc", "", None, 0, 65, -1, float("nan"), "1e3", [3]):
        try:
            got = check_count(bad, most=64)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} should raise ValueError, got {got!r}")
    assert check_count("100", most=128) == 100, "respect `most`"
    return "Whole numbers in 1..most pass as int; booleans, fractions, junk and out-of-range fail."
