"""Estimates with intervals: binary metrics, the bootstrap by subject, the Wilson interval.

Every number the course reports about a classifier or a reader comes with an interval:

- :func:`binary_metrics`: AUROC, accuracy, sensitivity and specificity of positive-class
  scores (:data:`METRICS`);
- :func:`bootstrap_resamples`: a *cluster* bootstrap, whole subjects drawn with replacement
  (slices of one subject are correlated, so resampling slices would give too narrow
  intervals); :func:`bootstrap_metrics`: percentile intervals of the metrics over those
  resamples, and the paired difference to a reference on the same resamples, each an
  :class:`Estimate`;
- :func:`accuracy_interval`: the Wilson score interval of a proportion such as a reader's
  accuracy in the visual Turing test.

Example:
    >>> [round(v, 3) for v in accuracy_interval(7, 10)]
    [0.397, 0.892]
    >>> [r.tolist() for r in bootstrap_resamples(["a", "a", "b"], n_boot=2, seed=0)]
    [[2, 2], [2, 0, 1]]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from medgan_utils.errors import DataError

__all__ = [
    "METRICS",
    "Estimate",
    "accuracy_interval",
    "binary_metrics",
    "bootstrap_metrics",
    "bootstrap_resamples",
    "percentile_interval",
]

METRICS = ("auroc", "accuracy", "sensitivity", "specificity")


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its bootstrap confidence interval ``[low, high]``.

    Example:
        >>> Estimate(0.8, 0.7, 0.9).to_text()
        '0.800 [0.700, 0.900]'
    """

    value: float
    low: float
    high: float

    def to_text(self, signed: bool = False) -> str:
        f = "{:+.3f}" if signed else "{:.3f}"
        return f"{f.format(self.value)} [{f.format(self.low)}, {f.format(self.high)}]"


def binary_metrics(
    targets: np.ndarray, scores: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """AUROC, accuracy, sensitivity and specificity of positive-class scores.

    AUROC is scikit-learn's ``roc_auc_score``; the three threshold metrics are counted
    directly (they equal ``accuracy_score`` and ``recall_score`` with ``pos_label`` 1 and 0,
    which cost a few milliseconds each: too slow for thousands of bootstrap resamples).

    Args:
        targets: ``(N,)`` 0/1 (1 = positive); both classes must be present.
        scores: ``(N,)`` positive-class scores, e.g. probabilities in ``[0, 1]``.
        threshold: scores at or above it count as positive.

    Returns:
        ``{metric: value}`` for the metrics of :data:`METRICS`, each in ``[0, 1]``.
    """
    from sklearn.metrics import roc_auc_score

    targets = np.asarray(targets).astype(bool)
    pred = np.asarray(scores) >= threshold
    pos = max(int(targets.sum()), 1)
    neg = max(int((~targets).sum()), 1)
    return {
        "auroc": float(roc_auc_score(targets, scores)),
        "accuracy": float((pred == targets).mean()),
        "sensitivity": float((pred & targets).sum() / pos),
        "specificity": float((~pred & ~targets).sum() / neg),
    }


def bootstrap_resamples(
    groups: Sequence[str] | np.ndarray, n_boot: int = 1000, seed: int = 0
) -> list[np.ndarray]:
    """Image indices of ``n_boot`` cluster-bootstrap resamples: whole groups (subjects) drawn
    with replacement. Pass one distinct group per image for a plain image bootstrap.

    Args:
        groups: ``(N,)`` the group (subject) of each image.
        n_boot: resamples to draw; seed: seeds them.

    Returns:
        ``n_boot`` int arrays of image indices; each holds every image of each drawn group
        (a group drawn twice appears twice), so their lengths vary with the group sizes.
    """
    groups = np.asarray(groups)
    names, inverse = np.unique(groups, return_inverse=True)
    members = [np.flatnonzero(inverse == k) for k in range(len(names))]
    rng = np.random.default_rng(seed)
    return [
        np.concatenate([members[k] for k in rng.integers(0, len(names), len(names))])
        for _ in range(n_boot)
    ]


def percentile_interval(values: Any, level: float = 0.95) -> tuple[Any, Any]:
    """The percentile bootstrap interval of resampled values, ignoring NaN resamples.

    Args:
        values: ``(R,)`` or ``(R, ...)``: one row per resample (NaN where the statistic is
            undefined in that resample).
        level: coverage of the interval.

    Returns:
        ``(low, high)``: floats for ``(R,)`` values, else arrays of shape ``values.shape[1:]``.
    """
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    low, high = np.nanpercentile(np.asarray(values, dtype=float), q, axis=0)
    return (float(low), float(high)) if np.ndim(low) == 0 else (low, high)


def bootstrap_metrics(
    targets: np.ndarray,
    scores: np.ndarray,
    reference: np.ndarray | None = None,
    resamples: Sequence[np.ndarray] | None = None,
    groups: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[dict[str, Estimate], dict[str, Estimate] | None]:
    """Metrics with percentile bootstrap intervals, and the paired difference to ``reference``.

    With several training runs (``scores`` of shape ``(R, N)``: the same model trained with
    ``R`` seeds) the interval covers the randomness of training as well as that of the test
    set, by a two-level bootstrap: each resample of test subjects is scored with one run
    drawn at random (seeded by ``seed``), and the point estimate is the mean over runs of the
    metric on the whole test set. The interval is then what to expect of *one* new training
    run on a new test set of this size, wider than an interval for the mean over runs.

    Args:
        targets: ``(N,)`` 0/1; scores, reference: ``(N,)`` positive-class probabilities, or
            ``(R, N)`` for ``R`` training runs; ``reference`` must then have the same ``R``:
            runs are paired by position (run ``r`` of both shares its training seed: the
            same real images drawn), and a resample uses the same ``r`` for both.
        resamples: index arrays to use (share them across strategies); default
            :func:`bootstrap_resamples` of ``groups`` (one group per image when ``None``).
        level: coverage of the intervals.

    Returns:
        ``{metric: Estimate}`` for ``scores`` and, with ``reference``, for
        ``metric(scores) - metric(reference)`` on the same resamples. Resamples with a
        single class (AUROC undefined) are skipped.

    Raises:
        DataError: every resample has a single class.
        ValueError: ``scores`` and ``reference`` with different numbers of runs or images.

    Example:
        >>> t = np.array([0, 0, 1, 1]); runs = np.array([[.1, .2, .8, .9], [.2, .5, .1, .8]])
        >>> bootstrap_metrics(t, runs, n_boot=200)[0]["auroc"].value  # mean of 1.0 and 0.5
        0.75
    """
    targets = np.asarray(targets)
    runs = np.atleast_2d(np.asarray(scores))
    refs = None if reference is None else np.atleast_2d(np.asarray(reference))
    if runs.shape[1] != len(targets) or (refs is not None and refs.shape != runs.shape):
        raise ValueError(
            f"scores {runs.shape} and reference "
            f"{None if refs is None else refs.shape} must both be (runs, {len(targets)})"
        )
    if resamples is None:
        ids = np.arange(len(targets)).astype(str) if groups is None else groups
        resamples = bootstrap_resamples(ids, n_boot, seed)
    # One run per resample; drawn only with several runs, so one run is bootstrapped as before.
    picks = (
        np.random.default_rng(seed).integers(0, len(runs), len(resamples))
        if len(runs) > 1
        else np.zeros(len(resamples), dtype=int)
    )

    def mean_point(rows: np.ndarray) -> dict[str, float]:
        each = [binary_metrics(targets, r) for r in rows]
        return {k: float(np.mean([m[k] for m in each])) for k in METRICS}

    point = mean_point(runs)
    ref_point = mean_point(refs) if refs is not None else None
    own, diff = [], []
    for idx, r in zip(resamples, picks, strict=True):
        t = targets[idx]
        if t.min() == t.max():
            continue
        m = binary_metrics(t, runs[r][idx])
        own.append([m[k] for k in METRICS])
        if refs is not None:
            ref = binary_metrics(t, refs[r][idx])
            diff.append([m[k] - ref[k] for k in METRICS])
    if not own:
        raise DataError("test split", "every bootstrap resample has a single class")

    def estimates(values: list[list[float]], centre: dict[str, float]) -> dict[str, Estimate]:
        lo, hi = percentile_interval(values, level)
        return {k: Estimate(centre[k], float(lo[j]), float(hi[j])) for j, k in enumerate(METRICS)}

    metrics = estimates(own, point)
    if ref_point is None:
        return metrics, None
    return metrics, estimates(diff, {k: point[k] - ref_point[k] for k in METRICS})


def accuracy_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of the accuracy ``correct / n``.

    The Wilson interval keeps its coverage for small ``n`` and for scores of 0 or ``n``,
    where the textbook ``p +- 1.96 sqrt(p(1-p)/n)`` collapses to a point. With
    ``z = Phi^-1((1 + confidence) / 2)`` it is (Newcombe 1998, as ``scipy.stats.binomtest``'s
    ``proportion_ci(method="wilson")`` computes it)::

        (2 n p + z^2 -+ z sqrt(4 n p (1 - p) + z^2)) / (2 (n + z^2)),

    with the low end 0 at ``correct = 0`` and the high end 1 at ``correct = n``.

    Args:
        correct: right answers, ``0 <= correct <= n``; n: answers.
        confidence: coverage of the interval, in ``(0, 1)``.

    Returns:
        ``(low, high)`` in ``[0, 1]``; ``(0.0, 1.0)`` before any answer.

    Example:
        >>> [round(v, 3) for v in accuracy_interval(7, 10)]
        [0.397, 0.892]
    """
    if not 0 <= correct <= n:
        raise ValueError(f"correct must be in 0..n, got {correct} of {n}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + 0.5 * confidence)
    p = correct / n
    denom = 2 * (n + z**2)
    centre = (2 * n * p + z**2) / denom
    delta = z / denom * math.sqrt(4 * n * p * (1 - p) + z**2)
    low = 0.0 if correct == 0 else centre - delta
    high = 1.0 if correct == n else centre + delta
    return float(low), float(high)
