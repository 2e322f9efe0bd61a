"""The bias audit: a lesion classifier's metrics per group, with bootstrap intervals.

A view over the per-group audit of :mod:`medgan_utils.ethics.subgroups`:
:func:`audit_scores` scores the images once with
:func:`~medgan_utils.ethics.subgroups.score_groups` (:mod:`medgan_utils.downstream.classifier`
and :mod:`medgan_utils.downstream.finetune` load or train the classifier), and every control
re-runs :meth:`~medgan_utils.ethics.subgroups.GroupScores.report`.

Example:
    >>> from medgan_utils.dashboards import bias_audit
    >>> bias_audit("lesion-classifier-synthetic")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medgan_utils.dashboards._common import _ipywidgets, _text
from medgan_utils.data.load import load_dataset
from medgan_utils.downstream.classifier import SHIPPED_CLASSIFIERS, load_classifier
from medgan_utils.downstream.fit import FitConfig
from medgan_utils.errors import DataError
from medgan_utils.ethics.subgroups import SUBGROUP_METRICS, GroupScores, score_groups
from medgan_utils.stats import Estimate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from medgan_utils.downstream.config import FinetuneConfig
    from medgan_utils.ethics.subgroups import SubgroupReport

__all__ = ["AuditScores", "audit_scores", "bias_audit", "BiasAuditDashboard"]

AUDIT_SET = "builtin-labelled"
#: How :func:`audit_scores` trains its classifier when none is given: chapter 7's quick
#: real-only classifier (FinetuneConfig's other defaults: ResNet-10 of width 16, 64 px).
TRAINING_FIT = FitConfig(epochs=8, min_epochs=3, patience=3)
METRIC_NOTES = {
    "prevalence": "share of images with a lesion (a property of the data, not the classifier)",
    "auroc": "how well the scores rank lesion above no-lesion images (threshold-free)",
    "sensitivity": "share of lesion images called lesion (true-positive rate)",
    "specificity": "share of no-lesion images called no lesion (1 - false-positive rate)",
    "positive_rate": "share of all images called lesion",
    "calibration": "mean score minus observed prevalence (0: a score means the same risk)",
    "brier": "mean squared error of the scores (lower is better; threshold-free)",
}
THRESHOLD_METRICS = ("sensitivity", "specificity", "positive_rate")  # the rest ignore it


@dataclass(frozen=True)
class AuditScores(GroupScores):
    """:class:`~medgan_utils.ethics.subgroups.GroupScores` (``targets``, ``scores``,
    ``subjects``, ``groups``) with one line each on which ``classifier`` scored which
    images (``data``), for the dashboard to show.
    """

    classifier: str
    data: str


def audit_scores(
    classifier: str | Path | None = None,
    n_subjects: int = 48,
    seed: int = 2,
    *,
    train_subjects: int = 48,
    train_seed: int = 0,
    training: FinetuneConfig | None = None,
) -> AuditScores:
    """Score the built-in labelled set with a classifier, once, for :func:`bias_audit`.

    Args:
        classifier: a :func:`~medgan_utils.downstream.classifier.save_classifier` file or a
            shipped name
            (:data:`~medgan_utils.downstream.classifier.SHIPPED_CLASSIFIERS`); ``None`` trains a
            real-only classifier here (``train_strategy("real", ...)``) on ``train_subjects``
            other virtual subjects (the built-in labelled set drawn with ``train_seed``),
            split by :func:`~medgan_utils.downstream.labelled.split_real` into pool and validation.
        n_subjects, seed: the audited images: ``n_subjects * 32`` slices of the built-in
            labelled set drawn with ``seed``, at the classifier's image size. Audit a classifier
            on subjects nothing it learnt from saw: seed 0 is the chapters' real set (and
            the default ``train_seed``), seed 1 trained the shipped lesion generator whose
            images trained ``"lesion-classifier-synthetic"``; the default, seed 2, is new
            to both.
        training: the on-the-fly classifier's settings; default ``FinetuneConfig(fit=
            TRAINING_FIT)`` (about a minute on a free 2-core CPU).

    Raises:
        ValueError: ``classifier=None`` with ``train_seed == seed`` (it would be audited on
            the subjects it trained on).
        DataError: a bad classifier file, or too few subjects for a split with both classes.
    """
    from medgan_utils.downstream.config import FinetuneConfig
    from medgan_utils.downstream.finetune import train_strategy
    from medgan_utils.downstream.labelled import as_labelled, split_real

    positive = None
    if classifier is None:
        if train_seed == seed:
            raise ValueError(
                f"train_seed and seed are both {seed}: the classifier would be audited on the "
                "virtual subjects it was trained on; pick different seeds"
            )
        config = training or FinetuneConfig(fit=TRAINING_FIT)
        name = f"the built-in labelled set, seed {train_seed}"
        real = load_dataset(
            AUDIT_SET, config.classifier.image_size, n_subjects=train_subjects, seed=train_seed
        )
        pool, val, _ = split_real(as_labelled(real, name=name), config.fractions, config.seed)
        start = time.perf_counter()
        model, history, _ = train_strategy("real", pool, val, None, config)
        best = max((h.get("val_auroc", float("nan")) for h in history), default=float("nan"))
        described = (
            f"a real-only classifier (ResNet-10, width {config.classifier.width}) trained here "
            f"in {time.perf_counter() - start:.0f} s on {len(pool)} images of "
            f"{len(set(pool.subjects))} other virtual subjects ({name}), validated on "
            f"{len(set(val.subjects))} more (best validation AUROC {best:.3f}); its output "
            "bias puts the validation Youden threshold at 0.5"
        )
    else:
        model, meta = load_classifier(classifier)
        positive = meta.get("positive_class")
        kind = "shipped" if str(classifier) in SHIPPED_CLASSIFIERS else "loaded from a file"
        trained_on = meta.get("trained_on", "data its file does not record")
        described = f"{classifier} ({kind}), trained on {trained_on}"
    size = model.config.image_size
    data_set = load_dataset(AUDIT_SET, size, n_subjects=n_subjects, seed=seed)
    scored = score_groups(
        model, data_set, positive_class=positive, name=f"{AUDIT_SET} (seed {seed})"
    )
    where = "; none of whom it trained on" if classifier is None else ""
    return AuditScores(
        **{f.name: getattr(scored, f.name) for f in fields(scored)},
        classifier=described,
        data=(
            f"{len(scored.targets)} slices ({size} px) of {len(set(scored.subjects))} virtual "
            f"subjects of the built-in labelled set (seed {seed}{where})"
        ),
    )


def bias_audit(
    classifier: str | Path | None = None,
    n_subjects: int = 48,
    seed: int = 2,
    *,
    group: str = "site",
    metric: str = "sensitivity",
    threshold: float = 0.5,
    n_boot: int = 200,
    train_subjects: int = 48,
    train_seed: int = 0,
    training: FinetuneConfig | None = None,
) -> Any:
    """Audit a lesion classifier per group: choose the group, metric and threshold.

    The classifier scores the built-in labelled set once (:func:`audit_scores`: a given
    classifier, or one trained here on other virtual subjects); every control then only
    re-runs :meth:`~medgan_utils.ethics.subgroups.GroupScores.report` (fairlearn's ``MetricFrame``,
    bootstrap over subjects). Shown: which classifier scored which images, the chosen
    metric per group with its 95% interval (a plot), its gap (max - min over groups) and
    the equalized-odds difference, and the table of every metric.

    Args:
        classifier, n_subjects, seed, train_subjects, train_seed, training: passed to
            :func:`audit_scores`.
        group, metric, threshold, n_boot: the controls' first values (``group`` must be
            in the images' metadata: ``"site"`` for the built-in set).

    Returns:
        An ``ipywidgets.VBox``; its ``dashboard`` attribute is the :class:`BiasAuditDashboard`.
    """
    scores = audit_scores(
        classifier,
        n_subjects,
        seed,
        train_subjects=train_subjects,
        train_seed=train_seed,
        training=training,
    )
    return BiasAuditDashboard(scores, group, metric, threshold, n_boot).widget


class BiasAuditDashboard:
    """The state and controls behind :func:`bias_audit`.

    Attributes:
        scores: the :class:`AuditScores` (computed once). report: the last
            :class:`~medgan_utils.ethics.subgroups.SubgroupReport` (``None`` after an error).
        controls: ``group``, ``metric``, ``threshold`` and ``n_boot`` widgets by name.
        plotted: the metric the plot shows and its estimate per group.
        source, explain, summary, table: HTML of the provenance lines, the threshold line,
            the chosen metric's numbers and the table of all metrics. image: the plot (PNG).
        widget: the whole dashboard.

    Example:
        >>> BiasAuditDashboard(audit_scores("lesion-classifier-synthetic"))  # doctest: +SKIP
    """

    BOOTSTRAP_SEED = 0

    def __init__(
        self,
        scores: AuditScores,
        group: str = "site",
        metric: str = "sensitivity",
        threshold: float = 0.5,
        n_boot: int = 200,
    ) -> None:
        from matplotlib.figure import Figure

        w = _ipywidgets()
        self.scores = scores
        self._check(group, metric)
        self.report: SubgroupReport | None = None
        self.plotted: tuple[str, dict[str, Estimate]] | None = None
        self._reports: dict[tuple[str, float, int], SubgroupReport] = {}
        style = {"description_width": "130px"}
        self.controls = {
            "group": w.Dropdown(options=list(scores.groups), value=group, description="group"),
            "metric": w.Dropdown(
                options=list(SUBGROUP_METRICS), value=metric, description="metric"
            ),
            "threshold": w.FloatSlider(
                value=threshold,
                min=0.05,
                max=0.95,
                step=0.05,
                readout_format=".2f",
                continuous_update=False,  # one audit when the slider is let go
                description="threshold",
            ),
            "n_boot": w.BoundedIntText(
                value=n_boot, min=20, max=5000, step=50, description="bootstrap resamples"
            ),
        }
        c = self.controls
        for control in c.values():
            control.style = style
        self.source, self.explain, self.summary, self.table = w.HTML(), w.HTML(), w.HTML(), w.HTML()
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self._figure = Figure(figsize=(5.5, 3.2))
        self.widget = w.VBox(
            [
                self.source,
                w.HBox([c["group"], c["metric"]]),
                w.HBox([c["threshold"], c["n_boot"]]),
                self.explain,
                self.summary,
                self.image,
                self.table,
            ]
        )
        self.widget.dashboard = self
        self.source.value = (
            f"<b>Classifier</b>: {_text(scores.classifier)}.<br><b>Audited on</b>: "
            f"{_text(scores.data)}"
            ". The sites are simulated acquisition sites (different noise and contrast) of "
            "virtual subjects made from the MNI152 template: no patient data."
        )
        for name in ("group", "threshold", "n_boot"):
            c[name].observe(lambda _: self.refresh(), names="value")
        c["metric"].observe(lambda _: self.show(), names="value")
        self.refresh()

    def _check(self, group: str, metric: str) -> None:
        self.scores.check_group(group)
        if metric not in SUBGROUP_METRICS:
            raise ValueError(f"metric must be one of {SUBGROUP_METRICS}, got {metric!r}")

    def audit(
        self, group: str | None = None, threshold: float | None = None, n_boot: int | None = None
    ) -> SubgroupReport:
        """:meth:`~medgan_utils.ethics.subgroups.GroupScores.report` of the scores (default:
        the controls' group, threshold and resamples), bootstrapping whole subjects."""
        c = self.controls
        group = c["group"].value if group is None else group
        threshold = c["threshold"].value if threshold is None else threshold
        n_boot = c["n_boot"].value if n_boot is None else n_boot
        self._check(group, c["metric"].value)
        key = (group, float(threshold), int(n_boot))
        if key not in self._reports:  # moving a control back is instant
            self._reports[key] = self.scores.report(group, threshold, n_boot, self.BOOTSTRAP_SEED)
        return self._reports[key]

    def refresh(self) -> None:
        """Re-run the audit for the controls' group, threshold and resamples, and show it."""
        t, p = self.controls["threshold"].value, self.scores.scores
        self.explain.value = (
            f"Scores at or above the threshold count as <b>lesion</b>: at {t:.2f}, "
            f"{int((p >= t).sum())} of {len(p)} images (their scores range from {p.min():.3f} "
            f"to {p.max():.3f}, median {np.median(p):.3f}). Sensitivity, specificity, positive "
            "rate and equalized odds depend on it; AUROC, calibration, Brier score and "
            "prevalence do not."
        )
        self.summary.value = "<i>computing the bootstrap...</i>"
        try:
            self.report = self.audit()
        except DataError as err:  # e.g. no resample with both classes in every group
            self.report, self.plotted = None, None
            self.summary.value = f"<b>Cannot audit</b>: {_text(err)}"
            self.table.value = ""
            self.image.layout.display = "none"
            return
        self.show()

    def show(self) -> None:
        """Show the chosen metric of the last report: the numbers, the plot and the table."""
        report, metric = self.report, self.controls["metric"].value
        if report is None:
            return
        estimates = {g: report.by_group[g][metric] for g in report.counts}
        self.plotted = (metric, estimates)
        att = _text(report.attribute)
        per = "; ".join(f"{att} {_text(g)} {e.to_text()}" for g, e in estimates.items())
        self.summary.value = (
            f"<b>{metric}</b> ({METRIC_NOTES[metric]}): {per}.<br><b>Gap</b> (max - min over "
            f"groups) {report.gaps[metric].to_text()}; <b>equalized-odds difference</b> (the "
            f"larger of the sensitivity and specificity gaps) {report.equalized_odds.to_text()}"
            f". Intervals: 95% percentile bootstrap over {report.unit} ({report.n_boot} "
            "resamples with both classes in every group). A gap is never negative, so read its "
            "interval as an upper bound on the true gap."
        )
        self._draw(report, metric)
        buffer = io.BytesIO()
        self._figure.savefig(buffer, format="png", dpi=96)
        self.image.value = buffer.getvalue()
        self.image.layout.display = ""
        self.table.value = self._table(report, metric)

    def _draw(self, report: SubgroupReport, metric: str) -> Figure:
        """The chosen metric per group with its interval; its gap in the title."""
        fig = self._figure
        fig.clear()
        ax = fig.add_subplot()
        groups = list(report.counts)
        for k, g in enumerate(groups):
            e = report.by_group[g][metric]
            ax.errorbar(k, e.value, [[e.value - e.low], [e.high - e.value]], fmt="o", capsize=6)
        ax.set_xticks(
            range(len(groups)),
            [f"{report.attribute} {g}\n{report.counts[g]} images" for g in groups],
        )
        ax.set_xlim(-0.6, len(groups) - 0.4)
        if metric != "calibration":
            ax.set_ylim(-0.02, 1.02)
        else:
            ax.axhline(0, color="grey", lw=0.8, ls=":")
        ax.set_ylabel(metric)
        at = f" at threshold {report.threshold:.2f}" * (metric in THRESHOLD_METRICS)
        ax.set_title(
            f"{metric} per {report.attribute}{at}\n"
            f"gap {report.gaps[metric].to_text()}, 95% bootstrap intervals",
            fontsize=10,
        )
        fig.tight_layout()
        return fig

    @staticmethod
    def _table(report: SubgroupReport, chosen: str) -> str:
        head = "".join(
            f"<th style='text-align:left'>{_text(report.attribute)} {_text(g)}</th>"
            for g in report.counts
        )
        rows = [
            "<tr><td>images</td>"
            + "".join(f"<td>{n}</td>" for n in report.counts.values())
            + "<td></td></tr>"
        ]
        for m in SUBGROUP_METRICS:
            cells = [report.by_group[g][m].to_text() for g in report.counts]
            cells.append(report.gaps[m].to_text())
            row = "".join(f"<td>{c}</td>" for c in cells)
            style = " style='font-weight:bold; background:#eef'" if m == chosen else ""
            rows.append(f"<tr{style}><td>{m}</td>{row}</tr>")
        rows.append(
            f"<tr><td>equalized odds</td><td colspan='{len(report.counts)}'></td>"
            f"<td>{report.equalized_odds.to_text()}</td></tr>"
        )
        return (
            "<b>Every metric</b> (estimate [95% interval])<table style='line-height:1.35'>"
            f"<tr><th style='text-align:left'>metric</th>{head}"
            f"<th style='text-align:left'>gap (max - min)</th></tr>{''.join(rows)}</table>"
        )
