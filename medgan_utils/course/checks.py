"""The checks of chapters 1 to 4's exercises (GAN theory, data, training, evaluation), in
chapter order (see :mod:`.exercises`; chapters 5 to 8 are in :mod:`.checks_applied`).

Each check draws its own test data with a fixed seed (or uses what the chapter passes in),
compares the answer with the package's implementation or a well-kept library's, and asserts
with a message a learner can act on. Heavy imports stay inside the checks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .exercises import assert_close as _close
from .exercises import exercise

__all__: list[str] = []  # the checks are reached through exercises.check


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


@exercise("1.3", "medium", "the non-saturating generator loss")
def _non_saturating(non_saturating_loss: Any) -> str:
    from ..gan.train import generator_loss

    g = torch.Generator().manual_seed(0)
    for n in (1, 16, 256):
        logits = 4 * torch.randn(n, generator=g)
        want = generator_loss(logits, "bce").item()
        got = non_saturating_loss(logits)
        assert isinstance(got, torch.Tensor), "return a tensor, so that autograd can use it"
        if abs(float(got) - float(-F.softplus(logits).mean())) < 1e-3:  # log(1 - sigmoid(a))
            raise AssertionError(
                "that is the saturating loss log(1 - D(G(z))); G minimises -log D(G(z)) instead"
            )
        _close(got, want, 1e-5, f"-log D(G(z)) averaged over {n} random logits")
    far = torch.tensor([-200.0, -30.0, 30.0, 200.0])
    _close(
        non_saturating_loss(far),
        generator_loss(far, "bce").item(),
        1e-4,
        "logits -200, -30, 30, 200 (sigmoid(-200) is 0 in float32: use F.softplus or "
        "F.logsigmoid, not log(sigmoid(a)))",
    )
    rejected = torch.full((4,), -8.0, requires_grad=True)  # D(G(z)) = 0.0003
    (got_grad,) = torch.autograd.grad(non_saturating_loss(rejected), rejected)
    (want_grad,) = torch.autograd.grad(generator_loss(rejected, "bce"), rejected)
    assert torch.allclose(got_grad, want_grad, atol=1e-6), (
        f"gradient at D(G(z)) = 0.0003: got {got_grad.tolist()}, expected {want_grad.tolist()}"
    )
    return "The same loss and gradients as generator_loss(logits, 'bce'), stable at any logit."


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


@exercise("2.2", "easy", "a display window")
def _window(window: Any) -> str:
    from ..data.dicom import _apply_window  # the DICOM reader's windowing

    hu = np.linspace(-1100.0, 2500.0, 721).reshape(7, 103)
    windows = {
        "brain": (40, 80),
        "soft tissue": (50, 400),
        "lung": (-600, 1500),
        "bone": (400, 1800),
    }
    for name, (c, w) in windows.items():
        want = _apply_window(hu, (c, w, "LINEAR_EXACT"), (0.0, 0.0))
        got = np.asarray(window(hu, c, w), dtype=float)
        what = f"{name} window (centre {c}, width {w})"
        assert got.shape == hu.shape, f"{what}: expected shape {hu.shape}, got {got.shape}"
        assert np.isfinite(got).all(), f"{what}: the result holds NaN or inf"
        if np.allclose(got, (want + 1) / 2, atol=1e-4):
            raise AssertionError(
                f"{what}: map onto [-1, 1] (the generator's tanh range), not [0, 1]"
            )
        assert got.min() >= -1 - 1e-6 and got.max() <= 1 + 1e-6, (
            f"{what}: values from {got.min():.3g} to {got.max():.3g}; clip: HU below the "
            "window are -1, above it +1"
        )
        bad = np.abs(got - want) > 1e-4
        if bad.any():
            i = np.argwhere(bad)[0]
            raise AssertionError(
                f"{what}: at {hu[tuple(i)]:.1f} HU expected {want[tuple(i)]:.4f}, got "
                f"{got[tuple(i)]:.4f} (centre - width/2 -> -1, centre + width/2 -> +1)"
            )
    return "The same values as the DICOM reader's window (LINEAR_EXACT), clipped to [-1, 1]."


@exercise("2.3", "medium", "a subject-level split")
def _split_by_subject(split_by_subject: Any) -> str:
    from ..data.dataset import subject_split

    rng = np.random.default_rng(0)
    sizes = rng.integers(2, 15, 40)  # slices per subject
    ordered = [f"sub-{k:02d}" for k, n in enumerate(sizes) for _ in range(n)]
    subjects = [ordered[i] for i in rng.permutation(len(ordered))]  # slices interleaved
    ids = np.asarray(subjects)
    for fractions in ((0.7, 0.15, 0.15), (0.5, 0.0, 0.5), (0.6, 0.2, 0.2)):
        parts = split_by_subject(subjects, fractions, 0)
        assert len(parts) == 3, f"return three index lists (train, val, test), got {len(parts)}"
        parts = [np.asarray(part, dtype=int).ravel() for part in parts]
        used = np.sort(np.concatenate(parts))
        assert np.array_equal(used, np.arange(len(subjects))), (
            f"{fractions}: every index 0..{len(subjects) - 1} must be in exactly one split"
        )
        sets = [set(ids[part]) for part in parts]
        for a, b, what in (
            (0, 1, "train and val"),
            (0, 2, "train and test"),
            (1, 2, "val and test"),
        ):
            shared = sets[a] & sets[b]
            assert not shared, (
                f"{fractions}: {len(shared)} subject(s) in both {what}, e.g. {sorted(shared)[0]}: "
                "assign whole subjects, not slices"
            )
        want = [len(set(ids[p])) for p in subject_split(subjects, fractions, 0)]
        got = [len(s) for s in sets]
        assert all(abs(x - y) <= 1 for x, y in zip(got, want, strict=True)), (
            f"{fractions}: {got} subjects per split; expected about {want} of 40 (the fractions "
            "are shares of the subjects, not of the slices)"
        )
    splits = [
        [
            np.sort(np.asarray(p, dtype=int))
            for p in split_by_subject(subjects, (0.7, 0.15, 0.15), s)
        ]
        for s in (0, 0, 1, 2, 3)
    ]
    assert all(np.array_equal(a, b) for a, b in zip(splits[0], splits[1], strict=True)), (
        "the same seed must give the same split"
    )
    assert any(not np.array_equal(splits[0][2], other[2]) for other in splits[2:]), (
        "seeds 0 to 3 gave the same test split: shuffle the subjects with the seed"
    )
    return "No subject in two splits, every slice used once, subject counts as subject_split's."


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


@exercise("3.3", "hard", "an upsample + convolution block")
def _resize_conv(resize_conv_block: Any) -> str:
    from torch import nn

    from ..gan.blocks import up_block
    from .same_code import assert_same_network

    for c_in, c_out, side in ((16, 8, 4), (8, 1, 16)):
        block = resize_conv_block(c_in, c_out)
        assert isinstance(block, nn.Module), "return an nn.Module (e.g. an nn.Sequential)"
        x = torch.randn(4, c_in, side, side, generator=torch.Generator().manual_seed(c_in))
        shape = tuple(block(x).shape)
        assert shape == (4, c_out, 2 * side, 2 * side), (
            f"({c_in} channels, {side}x{side}) should become ({c_out}, {2 * side}x{2 * side}); "
            f"got {shape}"
        )
        want = nn.Sequential(*up_block(c_in, c_out, "nearest"), nn.BatchNorm2d(c_out), nn.ReLU())
        assert_same_network(block, want, x, atol=1e-5)
    return "Doubles the side, and is the package's nearest-upsample + 3x3 conv + BatchNorm + ReLU."


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


@exercise("4.3", "hard", "k-NN precision and recall")
def _knn_precision_recall(knn_precision_recall: Any) -> str:
    from ..evaluation.metrics import precision_recall

    g = torch.Generator().manual_seed(0)
    real = torch.randn(150, 10, generator=g, dtype=torch.float64)
    fake = 1.3 * torch.randn(120, 10, generator=g, dtype=torch.float64) + 0.6
    for k in (3, 5):
        want = precision_recall(real, fake, k=k)
        got = knn_precision_recall(real, fake, k=k)
        assert len(got) == 2, "return (precision, recall)"
        ball = "a ball's radius: the distance to the k-th nearest other point, not counting itself"
        _close(got[0], want[0], 1e-9, f"precision with k={k} (fake inside real balls; {ball})")
        _close(got[1], want[1], 1e-9, f"recall with k={k} (real inside fake balls; {ball})")
    same = knn_precision_recall(real, real.clone(), k=3)
    _close(same[0], 1.0, 1e-12, "precision of a set against itself")
    _close(same[1], 1.0, 1e-12, "recall of a set against itself")
    far = knn_precision_recall(real, fake + 100, k=3)
    _close(far[0], 0.0, 1e-12, "precision of a set far from the real one")
    p, r = precision_recall(real, fake, k=3)
    return f"precision {p:.3f}, recall {r:.3f} (k=3), as the package's precision_recall."
