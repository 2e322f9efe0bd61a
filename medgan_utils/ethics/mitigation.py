"""Closing a subgroup gap with synthetic data: an experiment, with its uncertainty.

The built-in labelled set has two simulated sites of unequal size (A 70 %, B 30 % of
subjects) and prevalence, and site B's scans are noisier. :func:`mitigation_experiment`
measures a classifier's per-site performance when trained on the real training pool only,
then again with synthetic images added that *look like site B*, and reports whether the gap
between the sites closed:

- synthetic images come from any labelled synthetic source (one generator per class, a
  conditional generator, a synthetic folder); our generators do not take a site, so
  :func:`select_like_group` keeps those that the domain encoder (trained on real built-in
  scans, site AUROC 1.0 on held-out subjects) scores as site B: classifier-guided selection;
- both classifiers start from the same weights and are tested on the same subject-level
  test split, audited per site like any classifier
  (:func:`~medgan_utils.ethics.subgroups.score_groups`: metrics and gaps with intervals),
  and the change of each gap (after - before) gets a paired cluster-bootstrap interval (the
  same subject resamples applied to both models' predictions).

Example:
    >>> from medgan_utils.downstream.synthetic_sources import BUILTIN_SYNTHETIC  # doctest: +SKIP
    >>> real = load_dataset("builtin-labelled", 64, n_subjects=96)              # doctest: +SKIP
    >>> print(mitigation_experiment(real, BUILTIN_SYNTHETIC).to_text())         # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.downstream.config import FinetuneConfig
from medgan_utils.downstream.finetune import train_strategy
from medgan_utils.downstream.labelled import (
    LabelledImages,
    as_labelled,
    balanced_sample,
    split_real,
)
from medgan_utils.downstream.synthetic_sources import synthetic_images
from medgan_utils.errors import DataError
from medgan_utils.ethics.subgroups import (
    SUBGROUP_METRICS,
    SubgroupReport,
    score_groups,
    subgroup_resamples,
)
from medgan_utils.stats import Estimate, bootstrap_resamples, percentile_interval

__all__ = ["MitigationResult", "select_like_group", "mitigation_experiment"]


@torch.no_grad()
def select_like_group(images: torch.Tensor, target: str = "B", min_prob: float = 0.5) -> np.ndarray:
    """Which images the domain encoder puts at site ``target`` (``"A"`` or ``"B"``).

    Args:
        images: ``(N, 1, 64, 64)`` in ``[-1, 1]``.
        min_prob: the least probability of that site to keep an image.

    Returns:
        ``(N,)`` bool mask.
    """
    from medgan_utils.evaluation.features import load_domain_encoder

    if target not in ("A", "B"):
        raise ValueError(f"the domain encoder knows sites 'A' and 'B', got {target!r}")
    encoder = load_domain_encoder()
    logits = torch.cat([encoder(images[i : i + 512])["site"] for i in range(0, len(images), 512)])
    p_b = torch.sigmoid(logits.float()).numpy()
    return (p_b if target == "B" else 1 - p_b) >= min_prob


@dataclass(frozen=True)
class MitigationResult:
    """Per-group performance before and after adding synthetic images.

    Attributes:
        group, target: the grouping (``"site"``) and the group the images were chosen for.
        n_real: real training images; n_added: synthetic images added (half lesion);
        n_candidates: synthetic images screened to find them; share_like_target: the share
            of them that looks like the target group (compare it with the real share: a
            generator may drop a minority group, amplifying the imbalance).
        before, after: :class:`~medgan_utils.ethics.subgroups.SubgroupReport` on the same
            test split.
        gap_change: ``{metric: Estimate}`` of ``gap_after - gap_before`` (negative: the gap
            narrowed), paired over the same subject resamples.
    """

    group: str
    target: str
    n_real: int
    n_added: int
    n_candidates: int
    share_like_target: float
    before: SubgroupReport
    after: SubgroupReport
    gap_change: dict[str, Estimate]

    def to_text(self) -> str:
        lines = [
            f"real only ({self.n_real} images):",
            self.before.to_text(),
            "",
            f"+ {self.n_added} synthetic images that look like {self.group} {self.target} "
            f"({self.share_like_target:.1%} of {self.n_candidates} candidates do):",
            self.after.to_text(),
            "",
            "change of the gap (after - before; negative = narrower), paired 95% interval:",
        ]
        for m, e in self.gap_change.items():
            verdict = "narrower" if e.high < 0 else "wider" if e.low > 0 else "no clear change"
            lines.append(f"  {m:<12} {e.to_text(signed=True)}  {verdict}")
        return "\n".join(lines)


def _groups_of(real: MedicalImageDataset, key: str) -> dict[str, str]:
    """Subject -> group value (a site is a property of the subject)."""
    out: dict[str, str] = {}
    for m in real.meta:
        if key not in m.groups:
            raise DataError(m.source, f"has no {key!r} group (groups: {sorted(m.groups)})")
        out[m.subject] = str(m.groups[key])
    return out


def _gaps(y: np.ndarray, p: np.ndarray, g: np.ndarray, resamples: list[np.ndarray]) -> np.ndarray:
    """``(R, M)`` gap (max - min over groups) of each metric in each resample (NaN where a
    group lacks a class)."""
    values = subgroup_resamples(y, p, g, resamples)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: skipped resamples
        return np.nanmax(values, axis=1) - np.nanmin(values, axis=1)


def mitigation_experiment(
    real: MedicalImageDataset,
    synthetic: Any,
    group: str = "site",
    target: str = "B",
    config: FinetuneConfig | None = None,
    n_added: int | None = None,
) -> MitigationResult:
    """Train real-only, then real + synthetic images that look like ``target``; compare.

    Args:
        real: a labelled dataset whose slices carry ``groups[group]``.
        synthetic: any source that
            :func:`~medgan_utils.downstream.synthetic_sources.synthetic_images` accepts;
            ``config.n_synthetic`` candidates are screened with :func:`select_like_group`.
        n_added: synthetic images to add, half of each class (default: as many as it takes
            to give the target group as many training images as the others, at most what
            the screening kept).
        config: training, split, bootstrap and seed (as in the fine-tuning experiments).

    Raises:
        DataError: slices without the group, a test split where a group lacks a class, or
            no synthetic image of both classes passing the screening.
    """
    config = config or FinetuneConfig()
    site = _groups_of(real, group)
    data = as_labelled(real, config.positive_class, "real set")
    pool, val, test = split_real(data, config.fractions, config.seed)
    pool_groups = np.array([site[s] for s in pool.subjects])
    test_groups = np.array([site[s] for s in test.subjects])

    candidates = synthetic_images(synthetic, config)
    keep = select_like_group(candidates.images, target)
    chosen = candidates.take(np.flatnonzero(keep))
    if len(chosen) == 0 or len(torch.unique(chosen.targets)) < 2:
        raise DataError("synthetic set", f"no images of both classes look like {group} {target}")
    if n_added is None:
        n_added = int((pool_groups != target).sum() - (pool_groups == target).sum())
    n_added = max(2, min(n_added, len(chosen)))
    extra = balanced_sample(chosen, n_added, config.seed)

    y, scores, reports = test.targets.numpy(), {}, {}
    for name, train in (("before", pool), ("after", LabelledImages.concat(pool, extra))):
        model, _, _ = train_strategy("real", train, val, None, config)
        scored = score_groups(model, test, metadata=real, name="test split")
        scores[name] = scored.scores
        reports[name] = scored.report(group, n_boot=config.n_bootstrap, seed=config.seed)
    resamples = bootstrap_resamples(test.subjects, config.n_bootstrap, config.seed)
    change = _gaps(y, scores["after"], test_groups, resamples) - _gaps(
        y, scores["before"], test_groups, resamples
    )
    point = {
        m: reports["after"].gaps[m].value - reports["before"].gaps[m].value
        for m in SUBGROUP_METRICS
    }
    lo, hi = percentile_interval(change)
    return MitigationResult(
        group=group,
        target=target,
        n_real=len(pool),
        n_added=len(extra),
        n_candidates=len(candidates),
        share_like_target=float(keep.mean()),
        before=reports["before"],
        after=reports["after"],
        gap_change={
            m: Estimate(point[m], float(lo[j]), float(hi[j]))
            for j, m in enumerate(SUBGROUP_METRICS)
            if m in ("auroc", "sensitivity", "specificity")
        },
    )
