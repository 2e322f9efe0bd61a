"""Tests of medgan_utils.stats: binary metrics, the bootstrap by subject, the Wilson interval."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import accuracy_score, recall_score, roc_auc_score

from medgan_utils.errors import DataError
from medgan_utils.stats import (
    METRICS,
    Estimate,
    accuracy_interval,
    binary_metrics,
    bootstrap_metrics,
    bootstrap_resamples,
)

# -- metrics and the bootstrap ---------------------------------------------------------


def noisy_scores(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = (np.arange(n) % 4 == 0).astype(int)
    return t, 1 / (1 + np.exp(-(2 * t - 1 + rng.normal(0, 1.2, n))))


def test_binary_metrics_match_scikit_learn():
    t, s = noisy_scores(200, 0)
    m, pred = binary_metrics(t, s), (s >= 0.5).astype(int)
    assert m["auroc"] == pytest.approx(roc_auc_score(t, s))
    assert m["accuracy"] == pytest.approx(accuracy_score(t, pred))
    assert m["sensitivity"] == pytest.approx(recall_score(t, pred, pos_label=1))
    assert m["specificity"] == pytest.approx(recall_score(t, pred, pos_label=0))


def test_bootstrap_ci_contains_the_estimate_and_narrows_with_more_data():
    widths = []
    for n in (80, 1600):
        t, s = noisy_scores(n, 1)
        groups = [f"s{i // 4}" for i in range(n)]  # 4 slices per subject
        metrics, diff = bootstrap_metrics(t, s, groups=groups, n_boot=300, seed=0)
        assert diff is None
        for e in metrics.values():
            assert e.low <= e.value <= e.high
        widths.append(metrics["auroc"].high - metrics["auroc"].low)
    assert widths[1] < widths[0] / 2


def test_paired_difference_with_itself_is_zero():
    t, s = noisy_scores(100, 2)
    resamples = bootstrap_resamples([f"s{i // 5}" for i in range(100)], 200, seed=0)
    assert all(len(np.unique(r // 5)) <= 20 for r in resamples)  # whole subjects
    _, diff = bootstrap_metrics(t, s, reference=s, resamples=resamples)
    assert diff is not None
    assert all((e.value, e.low, e.high) == (0, 0, 0) for e in diff.values())


def test_several_training_runs_widen_the_interval_by_what_training_changes():
    t, good = noisy_scores(200, 3)
    rng = np.random.default_rng(0)
    bad = np.where(rng.random(200) < 0.2, good, rng.random(200))  # a much worse run
    groups = [f"s{i // 4}" for i in range(200)]
    resamples = bootstrap_resamples(groups, 150, seed=0)
    one, _ = bootstrap_metrics(t, good, resamples=resamples)
    same, _ = bootstrap_metrics(t, np.stack([good, good]), resamples=resamples, seed=5)
    assert same == one  # identical runs: the one-run bootstrap, whichever run is drawn
    both, _ = bootstrap_metrics(t, np.stack([good, bad]), resamples=resamples)
    auroc = [binary_metrics(t, s)["auroc"] for s in (good, bad)]
    assert both["auroc"].value == pytest.approx(np.mean(auroc))  # the mean over runs
    worse, _ = bootstrap_metrics(t, bad, resamples=resamples)
    assert worse["auroc"].high < one["auroc"].low  # two clearly different runs
    # each resample scores one of the runs: the interval spans both runs' own intervals
    assert both["auroc"].low < one["auroc"].low and both["auroc"].high > worse["auroc"].high
    assert both["auroc"].low <= worse["auroc"].value < one["auroc"].value <= both["auroc"].high
    # paired by run: a strategy equal to its reference run by run differs by exactly 0
    _, diff = bootstrap_metrics(
        t, np.stack([good, bad]), np.stack([good, bad]), resamples=resamples
    )
    assert diff is not None and (diff["auroc"].low, diff["auroc"].high) == (0, 0)
    with pytest.raises(ValueError, match="must both be"):
        bootstrap_metrics(t, np.stack([good, bad]), good, resamples=resamples)
    with pytest.raises(ValueError, match="must both be"):
        bootstrap_metrics(t[:-1], good, resamples=resamples)


def test_bootstrap_resamples_draw_whole_subjects():
    groups = np.array(["a"] * 3 + ["b"] * 2 + ["c"] * 4 + ["d"])  # 4 subjects, 1 to 4 slices
    resamples = bootstrap_resamples(groups, n_boot=200, seed=1)
    assert len(resamples) == 200
    for r in resamples:
        counts = np.bincount(r, minlength=len(groups))  # how often each slice was drawn
        for g in np.unique(groups):  # every slice of a subject as often as the subject
            assert len(set(counts[groups == g])) == 1
        draws = sum(counts[groups == g][0] for g in np.unique(groups))
        assert draws == 4  # as many subjects drawn as there are, with replacement
    assert len({len(r) for r in resamples}) > 1  # lengths vary with the subjects drawn
    again = bootstrap_resamples(groups, n_boot=200, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(resamples, again, strict=True))
    plain = bootstrap_resamples([str(i) for i in range(10)], n_boot=5, seed=0)
    assert all(len(r) == 10 for r in plain)  # one group per image: a plain image bootstrap


def test_bootstrap_metrics_refuses_resamples_of_one_class():
    t, s = np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])
    with pytest.raises(DataError, match="single class"):
        bootstrap_metrics(t, s, resamples=[np.array([0, 1]), np.array([2, 3])])
    metrics, _ = bootstrap_metrics(t, s, resamples=[np.array([0, 1]), np.array([0, 2])])
    assert set(metrics) == set(METRICS)  # the one-class resample is skipped


def test_estimate_text():
    assert Estimate(0.8, 0.7, 0.9).to_text() == "0.800 [0.700, 0.900]"
    assert Estimate(0.05, -0.01, 0.1).to_text(signed=True) == "+0.050 [-0.010, +0.100]"


def test_wilson_interval_known_values():
    # 7 of 10 right: 0.3968 to 0.8922
    assert accuracy_interval(7, 10) == pytest.approx((0.3968, 0.8922), abs=1e-4)
    # by hand: (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)
    p, n, z = 0.7, 10, 1.959963984540054
    centre, half = p + z**2 / (2 * n), z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    expected = ((centre - half) / (1 + z**2 / n), (centre + half) / (1 + z**2 / n))
    assert accuracy_interval(7, 10) == pytest.approx(expected, abs=1e-12)
    assert accuracy_interval(0, 0) == (0.0, 1.0)  # before any answer
    low, high = accuracy_interval(10, 10)
    assert high == 1.0 and 0.69 < low < 0.73  # not the point 1: the Wald interval's failure
    assert accuracy_interval(0, 10)[0] == 0.0
    assert accuracy_interval(5, 10, 0.99)[0] < accuracy_interval(5, 10, 0.9)[0]


def test_wilson_interval_equals_scipy():
    for n in (1, 2, 5, 13, 40, 100):
        for k in range(n + 1):
            for level in (0.8, 0.95, 0.99):
                ci = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
                assert accuracy_interval(k, n, level) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_wilson_interval_rejects_impossible_counts():
    for correct, n in ((-1, 5), (6, 5)):
        with pytest.raises(ValueError, match="0..n"):
            accuracy_interval(correct, n)
    with pytest.raises(ValueError, match="confidence"):
        accuracy_interval(1, 2, confidence=1.0)
