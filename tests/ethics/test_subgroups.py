"""Tests of medgan_utils.ethics.subgroups: subgroup metrics and the per-group audit pipeline
(score once, report per group) that `medgan audit`, the dashboard and chapter 7 share."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from fairlearn.metrics import equalized_odds_difference

from medgan_utils.cli import main
from medgan_utils.downstream.classifier import (
    ClassifierConfig,
    LesionClassifier,
    predict,
    save_classifier,
)
from medgan_utils.downstream.fit import FitConfig, fit_classifier
from medgan_utils.downstream.labelled import as_labelled
from medgan_utils.errors import DataError
from medgan_utils.ethics.subgroups import (
    SUBGROUP_METRICS,
    audit_classifier,
    plot_subgroups,
    score_groups,
    subgroup_metrics,
)

# Group a: targets 1 1 0 0 0, scores .9 .4 .6 .2 .1 -> calls 1 0 1 0 0 at threshold 0.5.
# Group b: targets 1 1 1 0 0, scores .8 .7 .3 .6 .55 -> calls 1 1 0 1 1.
HAND_T = [1, 1, 0, 0, 0, 1, 1, 1, 0, 0]
HAND_S = [0.9, 0.4, 0.6, 0.2, 0.1, 0.8, 0.7, 0.3, 0.6, 0.55]
HAND_G = list("aaaaabbbbb")
EXPECTED = {
    "a": {
        "prevalence": 2 / 5,
        "auroc": 5 / 6,  # positive .9 beats 3 negatives, .4 beats .2 and .1: 5 of 6 pairs
        "sensitivity": 1 / 2,
        "specificity": 2 / 3,
        "positive_rate": 2 / 5,
        "calibration": 2.2 / 5 - 2 / 5,  # mean score .44 - prevalence .4
        "brier": (0.01 + 0.36 + 0.36 + 0.04 + 0.01) / 5,
    },
    "b": {
        "prevalence": 3 / 5,
        "auroc": 4 / 6,  # .8 and .7 beat both negatives, .3 beats none
        "sensitivity": 2 / 3,
        "specificity": 0.0,
        "positive_rate": 4 / 5,
        "calibration": 2.95 / 5 - 3 / 5,
        "brier": (0.04 + 0.09 + 0.49 + 0.36 + 0.3025) / 5,
    },
}


def test_subgroup_metrics_match_hand_arithmetic():
    report = subgroup_metrics(HAND_T, HAND_S, HAND_G, n_boot=50, attribute="site")
    assert report.counts == {"a": 5, "b": 5}
    for group, metrics in EXPECTED.items():
        for name, value in metrics.items():
            assert report.by_group[group][name].value == pytest.approx(value), (group, name)
    gaps = {m: abs(EXPECTED["a"][m] - EXPECTED["b"][m]) for m in SUBGROUP_METRICS}
    assert gaps["sensitivity"] == pytest.approx(1 / 6) and gaps["positive_rate"] == 0.4
    for name, value in gaps.items():
        assert report.gaps[name].value == pytest.approx(value), name
    # equalized odds: max(TPR gap 1/6, FPR gap |1/3 - 1|) = 2/3
    assert report.equalized_odds.value == pytest.approx(2 / 3)
    text = report.to_text()
    assert "site a" in text and "equalized-odds difference 0.667" in text
    assert json.loads(json.dumps(report.to_dict()))["gaps"]["specificity"]["value"] == 2 / 3


def test_bootstrap_intervals_contain_the_estimates():
    rng = np.random.default_rng(0)
    n = 240
    t = (rng.random(n) < 0.3).astype(int)
    g = np.where(np.arange(n) % 10 < 7, "A", "B")
    s = 1 / (1 + np.exp(-(2.5 * t - 1.2 + (g == "B") * 0.5 + rng.normal(0, 1, n))))
    subjects = [f"s{i // 8}" for i in range(n)]  # 8 images per subject, one site each
    report = subgroup_metrics(t, s, g, n_boot=100, clusters=subjects)
    assert report.unit == "subjects" and 80 < report.n_boot <= 100
    for group in ("A", "B"):
        for name in SUBGROUP_METRICS:
            e = report.by_group[group][name]
            assert e.low <= e.value <= e.high, (group, name)
    e = report.equalized_odds
    assert e.low <= e.value <= e.high
    assert e.value == pytest.approx(equalized_odds_difference(t, s >= 0.5, sensitive_features=g))
    fig = plot_subgroups(report)
    assert len(fig.axes) == len(SUBGROUP_METRICS)


# -- the pipeline and `medgan audit` ---------------------------------------------------


def test_cli_audit_end_to_end(labelled, tmp_path, capsys, one_thread):
    data = as_labelled(labelled)
    model = LesionClassifier(ClassifierConfig(image_size=32, width=4))
    quick = FitConfig(epochs=1, steps_per_epoch=4, precision="fp32")
    fit_classifier(model, data.pair(), data.pair(), quick)
    path = save_classifier(model, tmp_path / "clf.safetensors")
    args = ["audit", "--model", str(path), "--data", "builtin-labelled", "--n-subjects", "12"]
    assert main([*args, "--group", "site", "--bootstrap", "50", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    report = out["subgroups"]
    assert report["attribute"] == "site" and report["counts"] == {"A": 256, "B": 128}
    assert report["unit"] == "subjects" and 0 < report["n_boot"] <= 50
    assert set(report["by_group"]["A"]) == set(SUBGROUP_METRICS)
    assert out["dataset"]["subjects"] == {"A": 8, "B": 4} and out["dataset"]["warnings"]

    assert main([*args, "--bootstrap", "20"]) == 0
    text = capsys.readouterr().out
    assert "equalized-odds difference" in text and "prevalence shift" in text

    assert main([*args, "--group", "scanner"]) == 2
    err = capsys.readouterr().err
    assert "builtin-labelled: no group 'scanner' in its metadata (groups: site)" in err


@pytest.fixture(scope="module")
def tiny_model() -> LesionClassifier:
    torch.manual_seed(0)
    return LesionClassifier(ClassifierConfig(image_size=32, width=4)).eval()


def test_score_groups_scores_once_and_reports_what_subgroup_metrics_computes(
    labelled, tiny_model, one_thread
):
    scored = score_groups(tiny_model, labelled, name="builtin-labelled")
    data = as_labelled(labelled)
    np.testing.assert_array_equal(scored.scores, predict(tiny_model, data.images))
    np.testing.assert_array_equal(scored.targets, data.targets.numpy())
    sites = np.array([m.groups["site"] for m in labelled.meta])
    assert list(scored.groups) == ["site"]
    np.testing.assert_array_equal(scored.groups["site"], sites)
    direct = subgroup_metrics(
        data.targets.numpy(), scored.scores, sites, 0.4, 20, 1, data.subjects, attribute="site"
    )
    assert scored.report("site", 0.4, 20, 1).to_dict() == direct.to_dict()
    once = audit_classifier(tiny_model, labelled, "site", threshold=0.4, n_boot=20, seed=1)
    assert once.to_dict() == direct.to_dict()
    with pytest.raises(DataError, match=r"builtin-labelled: no group 'scanner' .*\(groups: site\)"):
        scored.report("scanner")


def test_score_groups_takes_split_parts_with_their_dataset_as_metadata(
    labelled, tiny_model, one_thread
):
    whole = score_groups(tiny_model, labelled)
    subjects = np.asarray(labelled.subjects)
    names = sorted(set(subjects))
    idx = np.flatnonzero(np.isin(subjects, [names[0], names[-1]]))  # one from each site
    part = score_groups(tiny_model, as_labelled(labelled).take(idx), metadata=labelled)
    np.testing.assert_array_equal(part.groups["site"], whole.groups["site"][idx])
    np.testing.assert_allclose(part.scores, whole.scores[idx], rtol=1e-6)
    with pytest.raises(TypeError, match="metadata="):
        score_groups(tiny_model, as_labelled(labelled).take(idx))


def test_audit_classifier_loads_a_saved_classifier(labelled, tiny_model, tmp_path, one_thread):
    path = save_classifier(tiny_model, tmp_path / "c.safetensors", {"positive_class": "lesion"})
    report = audit_classifier(path, labelled, n_boot=20)
    assert report.attribute == "site" and report.counts == {"A": 256, "B": 128}
