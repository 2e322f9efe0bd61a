"""Ethics, measured: audit a classifier, a dataset and a generator.

- :func:`subgroup_metrics`: AUROC, sensitivity, specificity, positive rate and calibration per
  group with fairlearn's ``MetricFrame`` (Weerts et al. 2023), their gaps and the
  equalized-odds difference (Hardt et al. 2016), with percentile bootstrap intervals.
- :func:`audit_dataset`: subjects, images, labels and intensities per group; warnings for an
  under-represented group or a prevalence shift.
- :func:`leakage_demo`: one classifier tested after a slice-level split (neighbouring slices
  of a subject in training and test) and after a subject-level split.
- :func:`privacy_gate`: may a generator's samples be published? Only with no near-copies of
  training images (:func:`~medgan_utils.evaluation.memorization.memorization`).
- :func:`energy_estimate`: kWh and CO2e from a measured wall time and *assumed* power.

Example:
    >>> print(subgroup_metrics(targets, scores, sites, clusters=subjects))  # doctest: +SKIP
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from medgan_utils.data.dataset import MedicalImageDataset, subject_split
from medgan_utils.downstream.classifier import (
    ClassifierConfig,
    Estimate,
    FitConfig,
    LesionClassifier,
    bootstrap_resamples,
    fit_classifier,
    predict,
)
from medgan_utils.errors import DataError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from medgan_utils.evaluation.memorization import MemorizationResult

__all__ = [
    "SUBGROUP_METRICS", "SubgroupReport", "subgroup_resamples", "subgroup_metrics",
    "plot_subgroups", "DatasetAudit", "audit_dataset", "LeakageConfig", "LeakageResult",
    "leakage_demo", "PrivacyGate", "privacy_gate", "POWER_W", "EnergyEstimate", "energy_estimate",
]  # fmt: skip

SUBGROUP_METRICS = (
    "prevalence", "auroc", "sensitivity", "specificity", "positive_rate", "calibration", "brier",
)  # fmt: skip


def _jsonable(value: Any) -> Any:
    """Nested dicts/lists with tuples as lists and NaN/inf as ``None`` (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


class _Result:
    """``to_dict`` (JSON-able) and ``str`` for the result dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))  # type: ignore[call-overload]

    def to_text(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.to_text()


def _interval(values: np.ndarray, level: float = 0.95) -> tuple[Any, Any]:
    """Percentile interval ``(low, high)`` along axis 0, ignoring NaN resamples."""
    low, high = np.nanpercentile(values, [50 - 50 * level, 50 + 50 * level], axis=0)
    return (float(low), float(high)) if np.ndim(low) == 0 else (low, high)


# -- subgroup performance ------------------------------------------------------------------


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
class SubgroupReport(_Result):
    """Per-group metrics (:data:`SUBGROUP_METRICS`) with 95% bootstrap intervals.

    ``by_group[group][metric]`` and ``gaps[metric]`` (max - min over groups, fairlearn's
    ``MetricFrame.difference()``) are :class:`~medgan_utils.downstream.classifier.Estimate`;
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
            :func:`~medgan_utils.downstream.classifier.bootstrap_resamples`.

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
            (:func:`~medgan_utils.downstream.classifier.bootstrap_resamples`),
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
    (lo, hi), (glo, ghi) = _interval(values), _interval(gaps)
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
        equalized_odds=Estimate(float(eod), *_interval(np.nanmax(gaps[:, 2:4], axis=1))),
        n_boot=int(ok.sum()),
        unit=unit,
    )


def plot_subgroups(report: SubgroupReport) -> Figure:
    """One panel per metric: each group's estimate with its bootstrap interval."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SUBGROUP_METRICS), figsize=(15, 2.8), squeeze=False)
    groups = list(report.counts)
    for ax, m in zip(axes[0], SUBGROUP_METRICS, strict=True):
        for k, g in enumerate(groups):
            e = report.by_group[g][m]
            ax.errorbar(k, e.value, [[e.value - e.low], [e.high - e.value]], fmt="o", capsize=4)
        ax.set_xticks(range(len(groups)), [f"{report.attribute} {g}" for g in groups], fontsize=8)
        ax.set_xlim(-0.6, len(groups) - 0.4)
        ax.set_title(f"{m}\ngap {report.gaps[m].value:.2f}", fontsize=9)
    fig.suptitle(f"per-{report.attribute} metrics, 95% bootstrap intervals over {report.unit}")
    fig.tight_layout()
    return fig


# -- dataset audit ---------------------------------------------------------------------------


def _noise_sigma(images: torch.Tensor) -> torch.Tensor:
    """Immerkaer's (1996) noise estimate ``(N,)`` of images ``(N, 1, S, S)``."""
    kernel = torch.tensor([[1.0, -2, 1], [-2, 4, -2], [1, -2, 1]])[None, None]
    response = torch.nn.functional.conv2d(images.float(), kernel).abs()
    return math.sqrt(math.pi / 2) * response.mean(dim=(1, 2, 3)) / 6


@dataclass(frozen=True)
class DatasetAudit(_Result):
    """Who is in a dataset, per group of ``attribute``.

    ``class_share[group][class]``: share of the group's images (``subject_share``: of its
    subjects with such an image); ``intensity[group]``: foreground (> -0.95) ``mean`` and
    ``std`` and the median ``noise`` estimate (Immerkaer 1996), in ``[-1, 1]`` units.
    """

    attribute: str
    subjects: dict[str, int]
    images: dict[str, int]
    class_share: dict[str, dict[str, float]]
    subject_share: dict[str, dict[str, float]]
    intensity: dict[str, dict[str, float]]
    warnings: tuple[str, ...] = ()

    def to_text(self) -> str:
        lines = [f"{self.attribute:<8}{'subjects':>9}{'images':>8}  class share of images"]
        for g, i in self.intensity.items():
            classes = ", ".join(f"{c} {s:.1%}" for c, s in self.class_share.get(g, {}).items())
            lines.append(
                f"{g:<8}{self.subjects[g]:>9}{self.images[g]:>8}  {classes or 'unlabelled'}; "
                f"intensity {i['mean']:+.3f} ± {i['std']:.3f}, noise {i['noise']:.4f}"
            )
        return "\n".join(lines + [f"warning: {w}" for w in self.warnings])


def audit_dataset(
    dataset: MedicalImageDataset,
    group: str = "site",
    min_share: float = 0.2,
    max_shift: float = 0.1,
    *,
    source: str = "",
) -> DatasetAudit:
    """Count subjects, images and classes per group and compare intensities.

    Warns (``warnings.warn`` and ``.warnings``) when a group has less than ``min_share`` of
    the images, or when a class's share of the images or subjects differs between groups by
    ``max_shift`` or more: a prevalence shift, which makes the group a shortcut to the label.

    Raises:
        DataError: an image without the ``group`` attribute (the message names ``source``).
    """
    source = source or (dataset.meta[0].source if dataset.meta else "dataset")
    values = [m.groups.get(group) for m in dataset.meta]
    if not values or None in values:
        known = ", ".join(sorted({k for m in dataset.meta for k in m.groups})) or "none"
        raise DataError(source, f"no group {group!r} in its metadata (groups: {known})")
    g, subjects = np.asarray(values, dtype=str), np.asarray(dataset.subjects)
    names = sorted(set(values))
    n_subjects, n_images, shares, subject_shares, intensity = {}, {}, {}, {}, {}
    for n in names:
        sel = g == n
        x, labels, who = dataset.images[torch.from_numpy(sel)], dataset.labels[sel], subjects[sel]
        fg = x[x > -0.95]
        n_subjects[n], n_images[n] = len(set(who)), int(sel.sum())
        noise = float(_noise_sigma(x).median())
        intensity[n] = {"mean": float(fg.mean()), "std": float(fg.std()), "noise": noise}
        if dataset.is_labelled:
            hit = [labels.numpy() == k for k in range(len(dataset.classes))]
            shares[n] = {c: float(h.mean()) for c, h in zip(dataset.classes, hit, strict=True)}
            subject_shares[n] = {
                c: len(set(who[h])) / len(set(who))
                for c, h in zip(dataset.classes, hit, strict=True)
            }
    found = [
        f"{group} {n} has {n_images[n] / len(g):.0%} of the images (< {min_share:.0%}): its "
        "metrics will be uncertain and a model may serve it worse"
        for n in names
        if n_images[n] / len(g) < min_share
    ]
    classes = dataset.classes[:1] if len(dataset.classes) == 2 else dataset.classes
    for c in classes:
        for unit, table in (("images", shares), ("subjects", subject_shares)):
            per = {n: table[n][c] for n in names}
            lo, hi = min(per, key=per.__getitem__), max(per, key=per.__getitem__)
            if per[hi] - per[lo] >= max_shift:
                found.append(
                    f"prevalence shift: {c!r} in {per[lo]:.0%} of {group} {lo}'s {unit} but "
                    f"{per[hi]:.0%} of {group} {hi}'s: the {group} is a shortcut to the label"
                )
    for w in found:
        warnings.warn(f"{source}: {w}", stacklevel=2)
    return DatasetAudit(
        group, n_subjects, n_images, shares, subject_shares, intensity, tuple(found)
    )


# -- data leakage ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LeakageConfig:
    """Settings of :func:`leakage_demo`.

    Args:
        fit: training, the same for both splits; no augmentation by default, so that what
            leakage rewards, memorised subjects, shows.
        classifier: default width 8 at the data's image size.
        fractions: train, validation and test shares of the subjects (the slice-level split
            takes as many images). Few training subjects make memorising pay most.
        n_boot: bootstrap resamples of the test subjects.

    Example:
        >>> LeakageConfig(fit=FitConfig(epochs=2), n_boot=200).fractions
        (0.4, 0.2, 0.4)
    """

    fit: FitConfig = field(
        default_factory=lambda: FitConfig(epochs=10, steps_per_epoch=20, patience=10, augment=False)
    )
    classifier: ClassifierConfig | None = None
    fractions: tuple[float, float, float] = (0.4, 0.2, 0.4)
    n_boot: int = 1000


@dataclass(frozen=True)
class LeakageResult(_Result):
    """Test AUROC after a slice-level (``leaky``) and a subject-level (``honest``) split, with
    95% bootstrap intervals over test subjects; ``inflation`` = leaky - honest (independent
    resamples); ``shared_subjects``: leaky test subjects with slices in its training set."""

    leaky: Estimate
    honest: Estimate
    inflation: Estimate
    train_subjects: dict[str, int]
    shared_subjects: int
    n_images: dict[str, tuple[int, int, int]]

    def to_text(self) -> str:
        return (
            f"slice-level split (leaky):    test AUROC {self.leaky.to_text()}, "
            f"{self.shared_subjects} test subjects also in training\n"
            f"subject-level split (honest): test AUROC {self.honest.to_text()}\n"
            f"inflation by leakage:         {self.inflation.to_text(signed=True)}\n"
            f"train/val/test images {self.n_images['honest']}; training subjects "
            f"{self.train_subjects['leaky']} (leaky), {self.train_subjects['honest']} (honest)"
        )


def _has_both(targets: torch.Tensor, parts: Sequence[np.ndarray]) -> bool:
    return all(len(torch.unique(targets[p])) == 2 for p in parts)


def _auroc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if 0 < y.mean() < 1 else math.nan


def leakage_demo(
    dataset: MedicalImageDataset, config: LeakageConfig | None = None, seed: int = 0
) -> LeakageResult:
    """Train one classifier twice: after a slice-level and after a subject-level split.

    The slice-level split draws train/val/test *images* at random (as many as the subject
    split has), so neighbouring, nearly identical slices of one subject land in training and
    test; the subject-level split (:func:`~medgan_utils.data.dataset.subject_split`) keeps each
    subject in one part. Same architecture, :class:`FitConfig` and seed for both.

    Args:
        dataset: labelled, with subjects; images ``(N, 1, S, S)`` in ``[-1, 1]``.
        seed: seeds both splits, the training and the bootstrap.

    Raises:
        DataError: unlabelled, or no subject split has both classes in every part.
    """
    from medgan_utils.downstream.finetune import as_labelled

    config = config or LeakageConfig()
    data = as_labelled(dataset, name=dataset.meta[0].source if dataset.meta else "dataset")
    y, subjects = data.targets, data.subjects
    for s in range(seed, seed + 100):
        honest = subject_split(list(subjects), config.fractions, s)
        if _has_both(y, honest):
            break
    else:
        raise DataError("dataset", "no subject split has both classes in every part: add subjects")
    rng, cuts = np.random.default_rng(seed), np.cumsum([len(p) for p in honest])[:2]
    leaky = np.split(rng.permutation(len(y)), cuts)
    while not _has_both(y, leaky):  # rare: a random split of this size lacks a class
        leaky = np.split(rng.permutation(len(y)), cuts)
    arch = config.classifier or ClassifierConfig(image_size=dataset.image_size, width=8)
    splits, est, boots = {"leaky": leaky, "honest": honest}, {}, {}
    for name, (train, val, test) in splits.items():
        model = LesionClassifier(arch)
        fit_classifier(
            model, data.take(train).pair(), data.take(val).pair(), replace(config.fit, seed=seed)
        )
        scores, t = predict(model, data.images[test]), y[test].numpy()
        resamples = bootstrap_resamples(subjects[test], config.n_boot, seed)
        boots[name] = np.array([_auroc(t[i], scores[i]) for i in resamples])
        est[name] = Estimate(_auroc(t, scores), *_interval(boots[name]))
    return LeakageResult(
        leaky=est["leaky"],
        honest=est["honest"],
        inflation=Estimate(
            est["leaky"].value - est["honest"].value, *_interval(boots["leaky"] - boots["honest"])
        ),
        train_subjects={k: len(set(subjects[p[0]])) for k, p in splits.items()},
        shared_subjects=len(np.intersect1d(subjects[leaky[0]], subjects[leaky[2]])),
        n_images={k: (len(p[0]), len(p[1]), len(p[2])) for k, p in splits.items()},
    )


# -- privacy gate ----------------------------------------------------------------------------


def _images(source: MedicalImageDataset | torch.Tensor) -> torch.Tensor:
    return source.images if isinstance(source, MedicalImageDataset) else source


def _samples(source: Any, n: int, seed: int) -> tuple[torch.Tensor, str]:
    """``(n, C, S, S)`` images from images, a model name/folder, a Generator or ``f(n)``."""
    from medgan_utils.gan.models import Generator
    from medgan_utils.gan.zoo import generate, load_generator

    if isinstance(source, torch.Tensor | MedicalImageDataset):
        return _images(source)[:n], "images"
    name = source if isinstance(source, str) else getattr(source, "__name__", type(source).__name__)
    if isinstance(source, str):
        source = load_generator(source)[0]
    if isinstance(source, Generator):
        return generate(source, n, seed=seed), name
    if not callable(source):
        raise TypeError(f"cannot draw samples from a {name}")
    with torch.no_grad():
        return torch.as_tensor(source(n))[:n].float(), name


@dataclass(frozen=True)
class PrivacyGate(_Result):
    """Whether generated samples may be published: ``publishable`` when none is a near-copy
    (nearest-training distance at most ``threshold``). ``pairs``: the closest ``(sample,
    training image, distance)``, closest first; ``result``: the memorization check."""

    publishable: bool
    reason: str
    threshold: float
    n_flagged: int
    rule: str
    pairs: tuple[tuple[int, int, float], ...]
    result: MemorizationResult = field(repr=False)
    samples: torch.Tensor = field(repr=False)
    train: torch.Tensor = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        keep = ("publishable", "reason", "threshold", "n_flagged", "rule", "pairs")
        return _jsonable({k: getattr(self, k) for k in keep})

    def to_text(self) -> str:
        pairs = ", ".join(f"sample {i} ~ train {j} ({d:.3g})" for i, j, d in self.pairs[:3])
        return f"{self.reason}\nrule: {self.rule}\nclosest pairs: {pairs}"

    def plot(self, k: int = 8) -> Figure:
        """The ``k`` closest sample/training pairs, near-copies marked in red."""
        from medgan_utils.evaluation.memorization import plot_closest_pairs

        return plot_closest_pairs(self.result, self.samples, self.train, k)


def privacy_gate(
    generator_or_images: Any,
    real_train: MedicalImageDataset | torch.Tensor,
    real_holdout: MedicalImageDataset | torch.Tensor | None,
    threshold: float | None = None,
    n: int = 256,
    *,
    quantile: float = 0.0,
    seed: int = 0,
) -> PrivacyGate:
    """Pass only when no generated sample is a near-copy of a training image.

    A near-copy's distance to its nearest training image (pixels at 32 x 32, see
    :func:`~medgan_utils.evaluation.memorization.memorization`) is at most ``threshold``: by
    default the
    ``quantile`` (0: the smallest) of that distance for held-out real images, i.e. closer to
    a training image than any new subject's image comes. A model that copies nothing fails
    by chance with probability about ``n / (H + 1)`` (``H`` held-out images).

    Args:
        generator_or_images: images ``(G, C, S, S)`` in ``[-1, 1]``, a model name or folder,
            a :class:`~medgan_utils.gan.models.Generator`, or ``f(n) -> (n, C, S, S)``.
        real_train: the generator's training images (a dataset or ``(T, C, S, S)``).
        real_holdout: real images of other subjects ``(H, C, S, S)``; ``None`` calibrates on
            the training images, one subject left out at a time.
        n: samples drawn from a generator.
    """
    from medgan_utils.evaluation.memorization import memorization

    samples, name = _samples(generator_or_images, n, seed)
    train = _images(real_train)
    subjects = real_train.subjects if isinstance(real_train, MedicalImageDataset) else None
    held = None if real_holdout is None else _images(real_holdout)
    result = memorization(samples, train, held, train_subjects=subjects, quantile=quantile)
    which = "smallest" if quantile == 0 else f"{quantile:.1%} quantile of the"
    rule = f"the {which} distance of {len(result.reference)} {result.calibration}"
    if threshold is not None:  # the plot's marks follow the quantile that gives it
        ref = np.sort(result.reference)
        q = float(np.interp(threshold, ref, np.linspace(0, 1, len(ref))))
        result, rule = replace(result, quantile=q), "given"
    t = result.threshold if threshold is None else float(threshold)
    count = int((result.distance <= t).sum())
    reason = (
        f"not publishable: {count} of {len(samples)} samples are near-copies of training "
        f"images at threshold {t:.4g}"
        if count
        else f"publishable: no near-copies at threshold {t:.4g}"
    )
    order = np.argsort(result.distance)[:8]
    return PrivacyGate(
        publishable=count == 0,
        reason=reason,
        threshold=t,
        n_flagged=count,
        rule=f"{name}: nearest-training distance ({result.space}) <= {t:.4g}, {rule}",
        pairs=tuple((int(i), int(result.nearest[i]), float(result.distance[i])) for i in order),
        result=result,
        samples=samples,
        train=train,
    )


# -- energy ----------------------------------------------------------------------------------

# Assumed average power draw (W) and where the figure comes from: nominal, not measured.
POWER_W: dict[str, tuple[float, str]] = {
    "cpu": (20.0, "2 cores of a shared cloud CPU: ~10 W per core, a share of a 200-300 W "
            "server CPU's nominal TDP"),
    "laptop": (30.0, "a laptop under sustained load (nominal)"),
    "t4": (70.0, "NVIDIA T4 board power 70 W (TDP)"),
    "a100": (400.0, "NVIDIA A100 SXM board power 400 W (TDP)"),
    "h100": (700.0, "NVIDIA H100 SXM board power 700 W (TDP, its maximum)"),
    "h200": (700.0, "NVIDIA H200 SXM board power 700 W (TDP, its maximum)"),
}  # fmt: skip
WORLD_CARBON_G_PER_KWH = 480.0  # world-average grid electricity, IEA (recent years)


@dataclass(frozen=True)
class EnergyEstimate(_Result):
    """Energy and emissions of a run: measured wall time times *assumed* power.

    ``kwh = power_w * pue * wall_time_s / 3.6e6``; ``co2e_kg = kwh * carbon_g_per_kwh / 1000``;
    ``assumptions``: each assumed number and its source, in words.
    """

    wall_time_s: float
    power_w: float
    pue: float
    carbon_g_per_kwh: float
    kwh: float
    co2e_kg: float
    assumptions: tuple[str, ...]

    def to_text(self) -> str:
        head = (
            f"estimated energy {self.kwh:.3g} kWh, {self.co2e_kg * 1000:.3g} g CO2e for "
            f"{self.wall_time_s:.0f} s of measured wall time (an estimate, not measured power)"
        )
        return "\n".join([head] + [f"assumption: {a}" for a in self.assumptions])


def energy_estimate(
    wall_time_s: float,
    hardware: str = "cpu",
    power_w: float | None = None,
    carbon_g_per_kwh: float | None = None,
    *,
    pue: float = 1.0,
) -> EnergyEstimate:
    """Estimate kWh and kg CO2e of a run from its measured wall time.

    Args:
        wall_time_s: measured wall-clock seconds.
        hardware: a key of :data:`POWER_W`, whose nominal power is used unless ``power_w``.
        power_w: the device's average power draw in W, if you know it better.
        carbon_g_per_kwh: grid carbon intensity; default the world average, 480 g/kWh.
        pue: data-centre power usage effectiveness (1.0: the device alone).
    """
    if wall_time_s < 0 or pue < 1:
        raise ValueError(f"need wall_time_s >= 0 and pue >= 1, got {wall_time_s} and {pue}")
    source = "given by the caller"
    if power_w is None:
        if hardware.lower() not in POWER_W:
            raise ValueError(f"unknown hardware {hardware!r} ({', '.join(POWER_W)}): pass power_w")
        power_w, source = POWER_W[hardware.lower()]
    carbon = WORLD_CARBON_G_PER_KWH if carbon_g_per_kwh is None else carbon_g_per_kwh
    grid = "given by the caller" if carbon_g_per_kwh is not None else (
        "a world-average grid (IEA, recent years); local grids range from under 50 to over 800"
    )  # fmt: skip
    kwh = power_w * pue * wall_time_s / 3.6e6
    assumptions = (
        f"device power {power_w:g} W on average over the run: {source}",
        f"PUE {pue:g}" + (": the device alone, no cooling or power delivery" if pue == 1 else ""),
        f"grid carbon intensity {carbon:g} g CO2e/kWh: {grid}",
    )
    return EnergyEstimate(wall_time_s, power_w, pue, carbon, kwh, kwh * carbon / 1000, assumptions)
