"""The checks of chapters 5 to 8's exercises (medigan, fine-tuning, ethics, the app), in
chapter order (see :mod:`.exercises`; chapters 1 to 4 are in :mod:`.checks`)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from .exercises import assert_close as _close
from .exercises import exercise

__all__: list[str] = []  # the checks are reached through exercises.check


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
