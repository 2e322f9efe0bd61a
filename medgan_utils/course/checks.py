"""The checks of the chapters' exercises, in chapter order (see :mod:`.exercises`).

Each check draws its own test data with a fixed seed (or uses what the chapter passes in),
compares the answer with the package's implementation or a well-kept library's, and asserts
with a message a learner can act on. Heavy imports stay inside the checks.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

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


@exercise("5.2", "easy", "is this image marked synthetic?")
def _is_synthetic(is_synthetic: Any) -> str:
    import tempfile
    from pathlib import Path

    from ..exports import png_bytes, synthetic_marks

    pixels = np.zeros((8, 8), np.uint8)
    cases = {
        "marked.png": (png_bytes(pixels, synthetic_marks("some-model", 3)), True),
        "unmarked.png": (png_bytes(pixels), False),
        "false.png": (png_bytes(pixels, {"synthetic": "false", "model": "x"}), False),
        "other_text.png": (png_bytes(pixels, {"Comment": "synthetic=true"}), False),
    }
    with tempfile.TemporaryDirectory(prefix="medgan-ex-5.2-") as tmp:
        for name, (data, want) in cases.items():
            path = Path(tmp) / name
            path.write_bytes(data)
            got = is_synthetic(path)
            assert isinstance(got, (bool, np.bool_)), f"{name}: return True or False, got {got!r}"
            assert got == want, f"{name}: expected {want}, got {got}"
    return "Reads the PNG's text chunk synthetic=true, and nothing else, as the mark."


@exercise("5.3", "hard", "seeded generation through medigan")
def _seeded_medigan(seeded_generate: Any, generators: Any, model_id: str, catalog: Any) -> str:
    import random

    from ..hub.generate import as_tensor, generate
    from ..hub.sandbox import medigan_session

    def numpy_key() -> np.ndarray:
        return np.asarray(np.random.get_state(legacy=False)["state"]["key"]).copy()

    state = (random.getstate(), numpy_key(), torch.get_rng_state())
    with medigan_session():
        a = as_tensor(seeded_generate(generators, model_id, 4, 7))
        after = (random.getstate(), numpy_key(), torch.get_rng_state())
        b = as_tensor(seeded_generate(generators, model_id, 4, 7))
        c = as_tensor(seeded_generate(generators, model_id, 4, 8))
    assert torch.equal(a, b), "the same seed must give the same images"
    assert not torch.equal(a, c), "seeds 7 and 8 gave the same images"
    assert after[0] == state[0] and torch.equal(after[2], state[2]), (
        "restore Python's and torch's random state after the call: a seed must not change "
        "the random numbers the rest of the program draws"
    )
    assert np.array_equal(after[1], state[1]), "restore NumPy's random state after the call"
    want = as_tensor(generate(model_id, 4, seed=7, catalog=catalog))
    assert torch.equal(a, want), (
        "not the images synthetic.generate gives for seed 7: seed Python's random, NumPy and "
        "torch, all with the seed itself"
    )
    return (
        "Same seed, same images (synthetic.generate's); other seed, other images; state restored."
    )


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


@exercise("6.2", "easy", "class-balanced sampling weights")
def _balanced_weights(balanced_weights: Any) -> str:
    from sklearn.utils.class_weight import compute_sample_weight
    from torch.utils.data import WeightedRandomSampler

    rng = np.random.default_rng(0)
    binary = (rng.random(200) < 0.15).astype(int)  # 15 % lesions, as the small training sets
    three = rng.choice(3, 300, p=[0.6, 0.3, 0.1])
    for labels, what in ((binary, "binary labels, 15 % positive"), (three, "three classes")):
        got = np.asarray(balanced_weights(labels), dtype=float)
        assert got.shape == labels.shape, (
            f"{what}: one weight per image {labels.shape}, got {got.shape}"
        )
        assert np.isfinite(got).all() and (got > 0).all(), f"{what}: weights must be positive"
        want = compute_sample_weight("balanced", labels)
        totals = {int(c): float(got[labels == c].sum() / got.sum()) for c in np.unique(labels)}
        assert np.allclose(got / got.sum(), want / want.sum(), atol=1e-9), (
            f"{what}: each class should hold an equal share of the total weight, got shares "
            + ", ".join(f"class {c} {s:.3f}" for c, s in totals.items())
        )
    weights = np.asarray(balanced_weights(binary), dtype=float).tolist()
    drawn = list(WeightedRandomSampler(weights, 4000, generator=torch.Generator().manual_seed(0)))
    share = float(binary[drawn].mean())
    assert abs(share - 0.5) < 0.05, f"a WeightedRandomSampler with them drew {share:.0%} positives"
    return (
        f"Equal total weight per class, as scikit-learn's compute_sample_weight('balanced'); "
        f"sampled with them, {share:.0%} of 4,000 draws are positives (15 % in the data)."
    )


@exercise("6.3", "hard", "a subject-level bootstrap interval of AUROC")
def _auroc_interval(auroc_interval: Any) -> str:
    from ..stats import bootstrap_metrics

    rng = np.random.default_rng(0)
    sizes = rng.integers(10, 25, 20)  # 20 subjects with 10 to 24 slices
    member = np.repeat(np.arange(20), sizes)
    targets = (rng.random(len(member)) < rng.uniform(0.1, 0.7, 20)[member]).astype(int)
    subject_effect = rng.normal(0, 2.0, 20)[member]  # slices of one subject are alike
    scores = 1 / (
        1 + np.exp(-(1.5 * targets + subject_effect + 0.3 * rng.normal(size=len(member))))
    )
    order = rng.permutation(len(member))
    targets, scores = targets[order], scores[order]
    subjects = [f"sub-{k:02d}" for k in member[order]]
    got = auroc_interval(targets, scores, subjects, n_boot=1000, seed=0)
    assert len(got) == 2, "return (low, high)"
    want = bootstrap_metrics(targets, scores, groups=subjects, n_boot=1000, seed=0)[0]["auroc"]
    low, high = float(got[0]), float(got[1])
    assert low <= want.value <= high, (
        f"the interval [{low:.3f}, {high:.3f}] should contain the AUROC {want.value:.3f}"
    )
    assert high - low >= 0.75 * (want.high - want.low), (
        f"[{low:.3f}, {high:.3f}] is too narrow (expected about [{want.low:.3f}, "
        f"{want.high:.3f}]): resample whole subjects with replacement, not slices"
    )
    _close(low, want.low, 0.025, "the 2.5th percentile of the resampled AUROCs")
    _close(high, want.high, 0.025, "the 97.5th percentile of the resampled AUROCs")
    again = [auroc_interval(targets, scores, subjects, n_boot=100, seed=1) for _ in range(2)]
    assert np.allclose(again[0], again[1]), "the same seed must give the same interval"
    return (
        f"AUROC {want.value:.3f}, 95 % interval [{low:.3f}, {high:.3f}]; the package's "
        f"bootstrap_metrics gives [{want.low:.3f}, {want.high:.3f}]."
    )


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


@exercise("7.2", "easy", "selection rate per group")
def _selection_rates(selection_rates: Any) -> str:
    from fairlearn.metrics import MetricFrame, selection_rate

    rng = np.random.default_rng(0)
    groups = rng.choice(np.array(["A", "B", "C"]), 300, p=[0.5, 0.3, 0.2])
    rate = np.select([groups == "A", groups == "B"], [0.2, 0.5], 0.7)  # share predicted positive
    y_pred = (rng.random(300) < rate).astype(int)
    want = MetricFrame(
        metrics=selection_rate, y_true=y_pred, y_pred=y_pred, sensitive_features=groups
    ).by_group
    got = dict(selection_rates(y_pred, groups))
    assert set(map(str, got)) == {"A", "B", "C"}, f"one rate per group A, B, C; got {sorted(got)}"
    got = {str(k): v for k, v in got.items()}
    for group, rate in want.items():
        _close(got[str(group)], float(rate), 1e-12, f"share of group {group} predicted positive")
    spread = float(want.max() - want.min())
    return f"Rates {want.round(3).to_dict()}, as fairlearn's MetricFrame (gap {spread:.3f})."


@exercise("7.3", "medium", "nearest-neighbour memorization")
def _nearest_real(nearest_real_distance: Any) -> str:
    from ..evaluation.features import PixelFeatures
    from ..evaluation.memorization import memorization

    g = torch.Generator().manual_seed(0)
    train = torch.rand(200, 1, 8, 8, generator=g) * 2 - 1
    heldout = torch.rand(100, 1, 8, 8, generator=g) * 2 - 1
    synthetic = torch.rand(60, 1, 8, 8, generator=g) * 2 - 1
    noise = 0.01 * torch.randn(4, 1, 8, 8, generator=g)
    synthetic[:4] = (train[[3, 50, 51, 199]] + noise).clamp(-1, 1)  # four near-copies
    pixels = PixelFeatures(size=8)  # 8 x 8 images: the features are the 64 pixels
    result = memorization(synthetic, train, heldout, extractor=pixels)
    features = pixels(synthetic), pixels(train)
    got = nearest_real_distance(*features, result.threshold)
    assert len(got) == 2, "return (distances, share)"
    distance = np.asarray(got[0], dtype=float)
    assert distance.shape == (60,), (
        f"one distance per synthetic image (60,), got {distance.shape}: take the minimum "
        "over the real images"
    )
    assert np.allclose(distance, result.distance, atol=1e-4), (
        "distances should be Euclidean (not squared) from each synthetic vector to its "
        "nearest real one, as the package's memorization check"
    )
    share = result.share_flagged
    _close(got[1], share, 1e-12, "share of synthetic images at or below the threshold")
    return (
        f"{share:.0%} of 60 synthetic vectors within the threshold (4 planted "
        "near-copies), as the package's memorization check."
    )


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


@contextlib.contextmanager
def _restored(main: Any) -> Iterator[None]:
    try:
        yield
    finally:
        sys.modules["__main__"] = main


@exercise("8.2", "medium", "add a truncation control to the app")
def _truncation_control(app_with_truncation: Any) -> str:
    import tempfile
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from ..gan.zoo import generate, load_generator

    source = app_with_truncation()
    assert isinstance(source, str), "return the app's source code as a string"
    main = sys.modules["__main__"]  # AppTest replaces it with the app's script: put it back
    with tempfile.TemporaryDirectory(prefix="medgan-ex-8.2-") as tmp, _restored(main):
        path = Path(tmp) / "app.py"
        path.write_text(source)
        at = AppTest.from_file(str(path), default_timeout=120).run()
        assert not at.exception, f"the app raised: {at.exception[0].message}"
        sliders = [s for s in at.slider if "truncation" in str(s.label).lower()]
        assert sliders, "no slider whose label says 'Truncation'"
        for value in (0.5, 1.0):
            sliders[0].set_value(value)
            at.run()
            assert not at.exception, f"the app raised: {at.exception[0].message}"
            sliders = [s for s in at.slider if "truncation" in str(s.label).lower()]
            got = at.session_state["images"]
            count, seed = at.slider[0].value, int(at.number_input[0].value or 0)
            G, _ = load_generator(str(at.selectbox[0].value))
            want = generate(G, len(got), seed=seed, truncation=value)
            assert len(got) == count, f"{len(got)} images for a count of {count}"
            assert torch.equal(got, want), (
                f"truncation {value}: the grid is not generate(..., truncation={value}): "
                "pass the slider's value to generate"
            )
    return "A Truncation slider whose value reaches generate(): the grid changes as it should."


@exercise("8.3", "easy", "from [-1, 1] to 8-bit pixels")
def _to_uint8(to_uint8: Any) -> str:
    from ..viz import to_uint8 as package_to_uint8

    g = torch.Generator().manual_seed(0)
    edges = torch.tensor([-1.0, 1.0, 0.0, -0.9999]).view(1, 1, 2, 2).repeat(1, 1, 4, 4)
    x = torch.cat([torch.rand(4, 1, 8, 8, generator=g) * 2.4 - 1.2, edges])
    got = np.asarray(to_uint8(x))
    want = package_to_uint8(x)
    assert got.dtype == np.uint8, f"return uint8 pixels, got {got.dtype}"
    assert got.shape == want.shape, f"keep the shape {want.shape}, got {got.shape}"
    wrong = int((got != want).sum())
    assert not wrong, (
        f"{wrong} of {got.size} pixels differ from the package's: -1 is 0, 1 is 255, round to "
        "the nearest integer, and clip values outside [-1, 1]"
    )
    return "-1 -> 0, 1 -> 255, rounded and clipped, as viz.to_uint8."
