"""Performance per group: the one pipeline that audits a classifier group by group.

:func:`score_groups` scores labelled images with a classifier once and keeps each image's
subject and groups (:class:`GroupScores`); :meth:`GroupScores.report` turns them into a
:class:`SubgroupReport` with :func:`subgroup_metrics`: AUROC, sensitivity, specificity,
positive rate and calibration per group with fairlearn's ``MetricFrame`` (Weerts et al.
2023), their gaps and the equalized-odds difference (Hardt et al. 2016), with percentile
bootstrap intervals over subjects. :func:`audit_classifier` does both in one call.
``medgan audit``, the bias-audit dashboard and chapter 7 all go through it.

Example:
    >>> real = load_dataset("builtin-labelled", 64, n_subjects=48, seed=2)  # doctest: +SKIP
    >>> print(audit_classifier("lesion-classifier-synthetic", real, "site"))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.downstream.classifier import LesionClassifier, load_classifier, predict
from medgan_utils.downstream.labelled import LabelledImages, as_labelled
from medgan_utils.errors import DataError
from medgan_utils.ethics._result import Result
from medgan_utils.stats import Estimate, bootstrap_resamples, percentile_interval

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "SUBGROUP_METRICS",
    "SubgroupReport",
    "subgroup_resamples",
    "subgroup_metrics",
    "plot_subgroups",
    "GroupScores",
    "score_groups",
    "audit_classifier",
]

SUBGROUP_METRICS = (
    "prevalence", "auroc", "sensitivity", "specificity", "positive_rate", "calibration", "brier",
)  # fmt: skip


def _metric_functions(threshold: float) -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
    """scikit-learn/fairlearn metrics of ``(targets, scores)``, NaN where undefined."""
    from fairlearn.metrics import selection_rate
    from sklearn.metrics import brier_score_loss, recall_score, roc_auc_score

    def recall(label: int) -> Callable[[np.ndarray, np.ndarray], float]:
        return lambda y, p: recall_score(y, p >= threshold, pos_label=label, zero_division=np.nan)

    return {
        "prevalence": lambda y, p: float(np.mean(y)),
        "auroc": lambda y, p: roc_auc_score(y, p) if 0 < np.mean(y) < 1 else math.nan,
        "sensitivity": recall(1),
        "specificity": recall(0),
        "positive_rate": lambda y, p: selection_rate(y, p >= threshold),
        "calibration": lambda y, p: float(np.mean(p) - np.mean(y)),  # mean predicted - observed
        "brier": lambda y, p: brier_score_loss(y, p, pos_label=1),
    }


@dataclass(frozen=True)
class SubgroupReport(Result):
    """Per-group metrics (:data:`SUBGROUP_METRICS`) with 95% bootstrap intervals.

    ``by_group[group][metric]`` and ``gaps[metric]`` (max - min over groups, fairlearn's
    ``MetricFrame.difference()``) are :class:`~medgan_utils.stats.Estimate`;
    ``equalized_odds`` is the larger of the gaps in true- and false-positive rate; ``n_boot``
    counts the resamples used (both classes in every group), drawn over ``unit``. A gap is
    never negative, so its interval sits above a small point estimate: read it as an upper bound.
    """

    attribute: str
    threshold: float
    counts: dict[str, int]
    by_group: dict[str, dict[str, Estimate]]
    gaps: dict[str, Estimate]
    equalized_odds: Estimate
    n_boot: int
    unit: str

    def to_text(self) -> str:
        w = len(self.attribute) + 24
        lines = [f"{'':<14}" + "".join(f"{self.attribute + ' ' + g:<{w}}" for g in self.counts)]
        lines[0] += "gap (max - min)"
        lines.append(f"{'images':<14}" + "".join(f"{n:<{w}}" for n in self.counts.values()))
        for m in SUBGROUP_METRICS:
            cells = "".join(f"{self.by_group[g][m].to_text():<{w}}" for g in self.counts)
            lines.append(f"{m:<14}{cells}{self.gaps[m].to_text()}")
        return "\n".join(
            lines
            + [
                f"equalized-odds difference {self.equalized_odds.to_text()}",
                f"threshold {self.threshold:g}; 95% percentile bootstrap over {self.unit} "
                f"({self.n_boot} resamples with both classes in every group)",
            ]
        )


def subgroup_resamples(
    targets: np.ndarray,
    scores: np.ndarray,
    groups: np.ndarray,
    resamples: Sequence[np.ndarray],
    threshold: float = 0.5,
) -> np.ndarray:
    """Metrics of each group in each resample, from one ``MetricFrame`` with the resample
    index as control feature.

    Args:
        targets, scores, groups: ``(N,)`` arrays as in :func:`subgroup_metrics`.
        resamples: ``R`` index arrays, e.g.
            :func:`~medgan_utils.stats.bootstrap_resamples`.

    Returns:
        ``(R, G, M)``: groups sorted by name, metrics in :data:`SUBGROUP_METRICS` order; all
        NaN for a resample in which a group is missing or lacks a class.
    """
    from fairlearn.metrics import MetricFrame

    y, p, g = np.asarray(targets), np.asarray(scores), np.asarray(groups).astype(str)
    idx = np.concatenate(resamples)
    rid = np.repeat(np.arange(len(resamples)), [len(r) for r in resamples])
    frame = MetricFrame(
        metrics=_metric_functions(threshold), y_true=y[idx], y_pred=p[idx],
        sensitive_features=g[idx], control_features=rid,
    )  # fmt: skip
    names = sorted(set(g.tolist()))
    rows = [(r, n) for r in range(len(resamples)) for n in names]  # absent groups: NaN rows
    values = frame.by_group[list(SUBGROUP_METRICS)].reindex(rows).to_numpy(dtype=float, copy=True)
    values = values.reshape(len(resamples), len(names), len(SUBGROUP_METRICS))
    ok = np.all((values[:, :, 0] > 0) & (values[:, :, 0] < 1), axis=1)  # prevalence in (0, 1)
    values[~ok] = np.nan
    return values


def subgroup_metrics(
    targets: np.ndarray | Sequence[int],
    scores: np.ndarray | Sequence[float],
    groups: np.ndarray | Sequence[str],
    threshold: float = 0.5,
    n_boot: int = 1000,
    seed: int = 0,
    clusters: np.ndarray | Sequence[str] | None = None,
    *,
    attribute: str = "group",
    resamples: Sequence[np.ndarray] | None = None,
) -> SubgroupReport:
    """Performance per group with fairlearn's ``MetricFrame`` and bootstrap intervals.

    Args:
        targets: ``(N,)`` 0/1, 1 = the positive class (lesion).
        scores: ``(N,)`` predicted probabilities of the positive class in ``[0, 1]``.
        groups: ``(N,)`` group of each image (e.g. its site).
        threshold: scores at or above it are positive predictions.
        n_boot: bootstrap resamples
            (:func:`~medgan_utils.stats.bootstrap_resamples`),
            evaluated by :func:`subgroup_resamples`; those where a group lacks a class are
            skipped.
        clusters: ``(N,)`` subject of each image, to resample whole subjects (their slices
            are correlated); ``None`` resamples images.
        attribute: the name of the grouping, for the report (e.g. ``"site"``).
        resamples: index arrays to use instead (share them to compare two models, paired).
    """
    from fairlearn.metrics import MetricFrame, equalized_odds_difference

    y, p = np.asarray(targets).astype(int), np.asarray(scores, dtype=float)
    g = np.asarray(groups).astype(str)
    if not len(y) == len(p) == len(g):
        raise ValueError(f"{len(y)} targets, {len(p)} scores and {len(g)} groups differ")
    metrics = _metric_functions(threshold)
    point = MetricFrame(metrics=metrics, y_true=y, y_pred=p, sensitive_features=g)
    names = [str(k) for k in point.by_group.index]
    eod = equalized_odds_difference(y, p >= threshold, sensitive_features=g)

    unit = "images" if clusters is None else "subjects"
    if resamples is not None:
        unit = "the given resamples"
    else:
        units = np.arange(len(y)) if clusters is None else np.asarray(clusters)
        resamples = bootstrap_resamples(units.astype(str), n_boot, seed)
    values = subgroup_resamples(y, p, g, resamples, threshold)
    ok = ~np.isnan(values[:, :, 0]).any(axis=1)
    if not ok.any():
        raise DataError("test set", "no bootstrap resample has both classes in every group")
    values = values[ok]
    gaps = np.nanmax(values, axis=1) - np.nanmin(values, axis=1)  # per resample, like difference()
    (lo, hi), (glo, ghi) = percentile_interval(values), percentile_interval(gaps)
    diff = point.difference()
    return SubgroupReport(
        attribute=attribute,
        threshold=threshold,
        counts={n: int((g == n).sum()) for n in names},
        by_group={
            n: {
                m: Estimate(float(point.by_group.loc[n, m]), lo[i, j], hi[i, j])
                for j, m in enumerate(SUBGROUP_METRICS)
            }
            for i, n in enumerate(names)
        },
        gaps={m: Estimate(float(diff[m]), glo[j], ghi[j]) for j, m in enumerate(SUBGROUP_METRICS)},
        # sensitivity gap = TPR gap, specificity gap = FPR gap
        equalized_odds=Estimate(float(eod), *percentile_interval(np.nanmax(gaps[:, 2:4], axis=1))),
        n_boot=int(ok.sum()),
        unit=unit,
    )


def plot_subgroups(report: SubgroupReport) -> Figure:
    """One panel per metric: each group's estimate with its bootstrap interval.

    Seaborn's ``whitegrid`` style and ``colorblind`` palette, one colour per group; the
    intervals are drawn with ``errorbar`` because they are the report's subject-level
    bootstrap intervals, which seaborn's estimators (computed from raw observations) cannot
    take as given.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    groups = list(report.counts)
    colors = sns.color_palette("colorblind", len(groups))
    with sns.axes_style("whitegrid"):
        fig, axes = plt.subplots(1, len(SUBGROUP_METRICS), figsize=(15, 2.8), squeeze=False)
        for ax, m in zip(axes[0], SUBGROUP_METRICS, strict=True):
            for k, g in enumerate(groups):
                e = report.by_group[g][m]
                ax.errorbar(
                    k,
                    e.value,
                    [[e.value - e.low], [e.high - e.value]],
                    fmt="o",
                    capsize=4,
                    color=colors[k],
                )
            ax.set_xticks(
                range(len(groups)), [f"{report.attribute} {g}" for g in groups], fontsize=8
            )
            ax.set_xlim(-0.6, len(groups) - 0.4)
            ax.set_title(f"{m}\ngap {report.gaps[m].value:.2f}", fontsize=9)
        fig.suptitle(f"per-{report.attribute} metrics, 95% bootstrap intervals over {report.unit}")
        fig.tight_layout()
    return fig


# -- the pipeline: score once, report per group ----------------------------------------------


@dataclass(frozen=True)
class GroupScores:
    """A classifier's scores of labelled images, with what an audit groups them by.

    Attributes:
        targets: ``(N,)`` 0/1, 1 = the positive class (lesion).
        scores: ``(N,)`` predicted probability of the positive class in ``[0, 1]``.
        subjects: ``(N,)`` subject of each image (the bootstrap's unit).
        groups: attribute name -> ``(N,)`` value of each image (``{"site": ...}``): the
            attributes every image's metadata has.
        source: the images' name, for error messages.
    """

    targets: np.ndarray
    scores: np.ndarray
    subjects: np.ndarray
    groups: dict[str, np.ndarray]
    source: str = field(default="the audited images", kw_only=True)

    def check_group(self, group: str) -> None:
        """Raise :class:`~medgan_utils.errors.DataError` unless the images have ``group``."""
        if group not in self.groups:
            known = ", ".join(self.groups) or "none"
            raise DataError(self.source, f"no group {group!r} in its metadata (groups: {known})")

    def report(
        self, group: str = "site", threshold: float = 0.5, n_boot: int = 1000, seed: int = 0
    ) -> SubgroupReport:
        """:func:`subgroup_metrics` per value of ``group``, bootstrapping whole subjects.

        Raises:
            DataError: the images lack ``group``, or no resample has both classes in
                every group.
        """
        self.check_group(group)
        return subgroup_metrics(
            self.targets,
            self.scores,
            self.groups[group],
            threshold=threshold,
            n_boot=n_boot,
            seed=seed,
            clusters=self.subjects,
            attribute=group,
        )


def _groups_of(
    data: MedicalImageDataset | LabelledImages, metadata: MedicalImageDataset | None, name: str
) -> dict[str, np.ndarray]:
    """Attribute -> ``(N,)`` group of each image, for the attributes every image has."""
    if isinstance(data, MedicalImageDataset):
        per_image = [dict(m.groups) for m in data.meta]
    else:
        if metadata is None:
            raise TypeError("labelled images carry no groups: pass metadata=<their dataset>")
        per_subject: dict[str, dict[str, str]] = {}
        for m in metadata.meta:
            known = per_subject.setdefault(m.subject, dict(m.groups))
            for k in [k for k, v in known.items() if m.groups.get(k) != v]:
                del known[k]  # varies within a subject: not a subject's group
        missing = sorted(set(data.subjects.tolist()) - set(per_subject))
        if missing:
            raise DataError(name, f"subjects {missing[:3]} are not in the metadata's dataset")
        per_image = [per_subject[s] for s in data.subjects]
    if not per_image:
        raise DataError(name, "is empty")
    keys = sorted(set.intersection(*(set(g) for g in per_image)))
    return {k: np.array([str(g[k]) for g in per_image]) for k in keys}


def score_groups(
    model: LesionClassifier | str | Path,
    data: MedicalImageDataset | LabelledImages,
    *,
    metadata: MedicalImageDataset | None = None,
    positive_class: str | None = None,
    name: str = "the audited images",
) -> GroupScores:
    """Score labelled images with a classifier once, keeping each image's subject and groups.

    Args:
        model: a classifier, or a shipped name or
            :func:`~medgan_utils.downstream.classifier.save_classifier` file (its recorded
            positive class is then the default).
        data: a labelled dataset, images ``(N, 1, S, S)`` at the classifier's size, whose
            groups come from each image's metadata; or
            :class:`~medgan_utils.downstream.labelled.LabelledImages` (e.g. a
            :func:`~medgan_utils.downstream.labelled.split_real` part), whose groups come from
            ``metadata``, subject by subject.
        metadata: the dataset that ``LabelledImages`` were taken from.
        positive_class: the class that counts as positive (default: the model's recorded
            one, else ``"lesion"`` if present).
        name: the images' name, for error messages.

    Raises:
        DataError: unlabelled or single-class data, or subjects missing from ``metadata``.
    """
    if not isinstance(model, LesionClassifier):
        model, meta = load_classifier(model)
        positive_class = positive_class or meta.get("positive_class")
    groups = _groups_of(data, metadata, name)
    labelled = as_labelled(data, positive_class, name=name)
    return GroupScores(
        targets=labelled.targets.numpy(),
        scores=predict(model, labelled.images),
        subjects=np.asarray(labelled.subjects),
        groups=groups,
        source=name,
    )


def audit_classifier(
    model: LesionClassifier | str | Path,
    data: MedicalImageDataset | LabelledImages,
    group: str = "site",
    *,
    metadata: MedicalImageDataset | None = None,
    positive_class: str | None = None,
    threshold: float = 0.5,
    n_boot: int = 1000,
    seed: int = 0,
    name: str = "the audited images",
) -> SubgroupReport:
    """Audit a classifier per ``group``: :func:`score_groups`, then :meth:`GroupScores.report`.

    Args:
        model, data, metadata, positive_class, name: as in :func:`score_groups`.
        group: the metadata attribute to group by (``"site"`` for the built-in set).
        threshold, n_boot, seed: as in :func:`subgroup_metrics` (resampling subjects).
    """
    scores = score_groups(model, data, metadata=metadata, positive_class=positive_class, name=name)
    return scores.report(group, threshold, n_boot, seed)
