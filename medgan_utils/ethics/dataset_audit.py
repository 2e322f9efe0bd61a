"""Who is in a dataset: subjects, images, classes and intensities per group.

:func:`audit_dataset` counts them per group of an attribute (e.g. the acquisition site) and
warns about an under-represented group or a prevalence shift between groups, which makes
the group a shortcut to the label.

Example:
    >>> real = load_dataset("builtin-labelled", 64, n_subjects=48)  # doctest: +SKIP
    >>> print(audit_dataset(real, "site"))  # doctest: +SKIP
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.errors import DataError
from medgan_utils.ethics._result import Result

__all__ = ["DatasetAudit", "audit_dataset"]


def _noise_sigma(images: torch.Tensor) -> torch.Tensor:
    """Immerkaer's (1996) noise estimate ``(N,)`` of images ``(N, 1, S, S)``."""
    kernel = torch.tensor([[1.0, -2, 1], [-2, 4, -2], [1, -2, 1]])[None, None]
    response = torch.nn.functional.conv2d(images.float(), kernel).abs()
    return math.sqrt(math.pi / 2) * response.mean(dim=(1, 2, 3)) / 6


@dataclass(frozen=True)
class DatasetAudit(Result):
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
    names = sorted({str(v) for v in values})
    n_subjects: dict[str, int] = {}
    n_images: dict[str, int] = {}
    shares: dict[str, dict[str, float]] = {}
    subject_shares: dict[str, dict[str, float]] = {}
    intensity: dict[str, dict[str, float]] = {}
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
