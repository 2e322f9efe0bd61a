"""The bias-audit dashboard: what it audits, and that it shows what subgroup_metrics computes."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

ipywidgets = pytest.importorskip("ipywidgets")

from medgan_utils.dashboards import (  # noqa: E402
    bias_audit,
)
from medgan_utils.data.load import load_dataset  # noqa: E402

# -- bias audit ----------------------------------------------------------------------------

BIAS_DATA = {"n_subjects": 16, "seed": 1}  # both classes at both sites (asserted below)
BIAS_TRAIN = {"n_subjects": 16, "seed": 0}  # other virtual subjects
SPLIT_SEED = 1  # its subject split with both classes in every part


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory, one_thread) -> Path:
    """A width-4 classifier trained for a few steps, saved like any checkpoint."""
    from medgan_utils.downstream.classifier import (
        ClassifierConfig,
        LesionClassifier,
        save_classifier,
    )
    from medgan_utils.downstream.fit import FitConfig, fit_classifier
    from medgan_utils.downstream.labelled import as_labelled, split_real

    real = as_labelled(load_dataset("builtin-labelled", 64, **BIAS_TRAIN))
    pool, val, _ = split_real(real, seed=SPLIT_SEED)
    torch.manual_seed(0)
    model = LesionClassifier(ClassifierConfig(width=4))
    fit = FitConfig(epochs=2, min_epochs=1, patience=1, steps_per_epoch=4)
    fit_classifier(model, pool.pair(), val.pair(), fit)
    with torch.no_grad():  # sharpen: its scores (all near 0.5) spread over [0, 1], same ranking
        model.head[-1].weight *= 150
        model.head[-1].bias *= 150
    info = {"positive_class": "lesion", "trained_on": "16 virtual subjects (a test)"}
    return save_classifier(model, tmp_path_factory.mktemp("bias") / "tiny.safetensors", info)


@pytest.fixture(scope="module")
def bias_scores(tiny_classifier: Path):
    from medgan_utils.dashboards.bias import audit_scores

    return audit_scores(tiny_classifier, **BIAS_DATA)


@pytest.fixture()
def bias(bias_scores):
    from medgan_utils.dashboards.bias import BiasAuditDashboard

    return BiasAuditDashboard(bias_scores, n_boot=50)


def _direct_report(tiny_classifier: Path, threshold: float, n_boot: int = 50):
    """The audit computed without the dashboard: load, score, subgroup_metrics."""
    from medgan_utils.downstream.classifier import load_classifier, predict
    from medgan_utils.downstream.labelled import as_labelled
    from medgan_utils.ethics.subgroups import subgroup_metrics

    model, _ = load_classifier(tiny_classifier)
    ds = load_dataset("builtin-labelled", 64, **BIAS_DATA)
    data = as_labelled(ds)
    scores = predict(model, data.images)
    sites = np.array([m.groups["site"] for m in ds.meta])
    for site in ("A", "B"):  # the test data has both classes at both sites
        assert set(data.targets.numpy()[sites == site]) == {0, 1}
    report = subgroup_metrics(
        data.targets.numpy(), scores, sites, threshold, n_boot, 0, data.subjects, attribute="site"
    )
    return scores, report


def test_bias_audit_builds_its_widget_and_says_what_it_audits(tiny_classifier: Path, one_thread):
    from medgan_utils.ethics.subgroups import SUBGROUP_METRICS

    widget = bias_audit(tiny_classifier, **BIAS_DATA, n_boot=30)
    dash = widget.dashboard
    assert isinstance(widget, ipywidgets.Widget) and dash.widget is widget
    c = dash.controls
    assert c["group"].options == ("site",) and c["group"].value == "site"
    assert c["metric"].options == SUBGROUP_METRICS
    assert (c["threshold"].min, c["threshold"].max, c["threshold"].value) == (0.05, 0.95, 0.5)
    assert c["n_boot"].value == 30 and dash.report.n_boot <= 30
    assert "tiny.safetensors" in dash.source.value and "16 virtual subjects (a test)" in (
        dash.source.value
    )
    assert "(loaded from a file)" in dash.source.value
    assert "512 slices" in dash.source.value and "(seed 1)" in dash.source.value
    assert "no patient data" in dash.source.value
    assert "at or above the threshold count as <b>lesion</b>" in dash.explain.value
    assert dash.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_bias_audit_shows_what_subgroup_metrics_computes(bias, tiny_classifier: Path):
    for threshold in (0.5, 0.3):
        bias.controls["threshold"].value = threshold
        scores, report = _direct_report(tiny_classifier, threshold)
        np.testing.assert_array_equal(bias.scores.scores, scores)
        assert bias.report.to_dict() == report.to_dict()
        for site in ("A", "B"):
            for estimate in report.by_group[site].values():
                assert estimate.to_text() in bias.table.value
            assert f"site {site} {report.by_group[site]['sensitivity'].to_text()}" in (
                bias.summary.value
            )
        assert report.gaps["sensitivity"].to_text() in bias.summary.value
        assert report.equalized_odds.to_text() in bias.summary.value
        assert report.equalized_odds.to_text() in bias.table.value
        called = int((scores >= threshold).sum())
        assert f"at {threshold:.2f}, {called} of {len(scores)} images" in bias.explain.value


def test_bias_audit_higher_threshold_calls_fewer_lesions(bias):
    bias.controls["metric"].value = "positive_rate"
    shown = []
    for threshold in (0.05, 0.35, 0.5, 0.65, 0.95):
        bias.controls["threshold"].value = threshold
        metric, estimates = bias.plotted
        assert metric == "positive_rate" and bias.report.threshold == threshold
        rate = {g: e.value for g, e in estimates.items()}
        sens = {g: bias.report.by_group[g]["sensitivity"].value for g in rate}
        shown.append((rate, sens))
        for g, e in estimates.items():
            assert f"site {g} {e.to_text()}" in bias.summary.value
    for (rate, sens), (rate2, sens2) in itertools.pairwise(shown):
        assert all(rate2[g] <= rate[g] and sens2[g] <= sens[g] for g in rate)
    totals = [sum(rate.values()) for rate, _ in shown]
    assert totals == sorted(totals, reverse=True) and len(set(totals)) == len(totals)  # it moved


def test_bias_audit_metric_dropdown_changes_the_plot_not_the_audit(bias):
    report, png = bias.report, bias.image.value
    assert bias.plotted[0] == "sensitivity"
    bias.controls["metric"].value = "auroc"
    metric, estimates = bias.plotted
    assert metric == "auroc" and bias.report is report  # the scores were not audited again
    assert estimates == {g: report.by_group[g]["auroc"] for g in report.counts}
    assert bias.image.value != png and "<b>auroc</b>" in bias.summary.value
    assert "font-weight:bold; background:#eef'><td>auroc</td>" in bias.table.value
    bias.controls["threshold"].value = 0.3
    bias.controls["threshold"].value = 0.5
    assert bias.report is report  # moving back reuses the audit


def test_bias_audit_rejects_a_group_the_metadata_lacks(bias, bias_scores):
    from medgan_utils.dashboards.bias import BiasAuditDashboard
    from medgan_utils.errors import DataError

    with pytest.raises(DataError, match=r"no group 'scanner' in its metadata \(groups: site\)"):
        BiasAuditDashboard(bias_scores, group="scanner")
    with pytest.raises(DataError, match="no group 'scanner'"):
        bias.audit(group="scanner")
    with pytest.raises(ValueError, match="metric must be one of"):
        BiasAuditDashboard(bias_scores, metric="accuracy")


def test_bias_audit_trains_a_real_only_classifier_on_other_subjects(one_thread):
    from medgan_utils.dashboards.bias import audit_scores
    from medgan_utils.downstream.classifier import ClassifierConfig
    from medgan_utils.downstream.config import FinetuneConfig
    from medgan_utils.downstream.fit import FitConfig

    fit = FitConfig(epochs=1, min_epochs=1, patience=1, steps_per_epoch=2)
    training = FinetuneConfig(fit=fit, classifier=ClassifierConfig(width=4), seed=SPLIT_SEED)
    scores = audit_scores(None, **BIAS_DATA, train_subjects=16, train_seed=0, training=training)
    assert scores.scores.shape == scores.targets.shape == (512,)
    assert "real-only classifier" in scores.classifier
    assert "built-in labelled set, seed 0" in scores.classifier
    assert "none of whom it trained on" in scores.data
    with pytest.raises(ValueError, match="audited on the virtual subjects it was trained on"):
        audit_scores(None, seed=0, train_seed=0)


def test_bias_audit_says_why_it_cannot_audit():
    from medgan_utils.dashboards.bias import AuditScores, BiasAuditDashboard

    targets = np.array([0, 1, 0, 1, 0, 0, 0, 0])  # site B has no lesion image
    sites = np.array(["A"] * 4 + ["B"] * 4)
    scores = AuditScores(
        targets, np.linspace(0, 1, 8), np.arange(8).astype(str), {"site": sites}, "hand-made", "8"
    )
    dash = BiasAuditDashboard(scores, n_boot=20)
    assert dash.report is None and dash.plotted is None
    assert "Cannot audit" in dash.summary.value and "both classes" in dash.summary.value
