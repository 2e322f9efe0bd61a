"""One torch ``Dataset`` for every source of medical images, its split and its summary.

:class:`MedicalImageDataset` holds the slices the readers return, padded to square and
resized (:func:`resize_square`), with labels and metadata. Its items are::

    {"image": (1, S, S) float32 in [-1, 1], "label": int (-1 when unlabelled),
     "subject": str, "slice_index": int, "source": str, "groups": dict[str, str]}

:func:`subject_split` splits it by subject; :func:`describe` counts what it holds.
:func:`medgan_utils.data.load.load_dataset` is the entry point that builds one from a path
or a built-in set.

Example:
    >>> from medgan_utils.data.load import load_dataset      # doctest: +SKIP
    >>> ds = load_dataset("builtin", image_size=64)          # doctest: +SKIP
    >>> train, val, test = subject_split(ds, seed=0)          # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, Subset

from medgan_utils.data.slices import RawSlice, ReadResult, SliceMeta
from medgan_utils.errors import DataError
from medgan_utils.settings import SUPPORTED_SIZES

__all__ = [
    "MedicalImageDataset",
    "DatasetInfo",
    "resize_square",
    "subject_split",
    "describe",
]


def resize_square(image: np.ndarray, size: int) -> torch.Tensor:
    """Pad a 2-D image to a square with background and resize it.

    Args:
        image: ``(H, W)`` array in ``[-1, 1]`` (``-1`` is background).
        size: output side length.

    Returns:
        ``(1, size, size)`` float32 tensor in ``[-1, 1]``. Padding keeps the aspect ratio
        (anatomy is never stretched); anti-aliased bilinear resampling avoids the moire
        that plain subsampling gives on down-scaling.
    """
    x = torch.as_tensor(np.ascontiguousarray(image), dtype=torch.float32)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {tuple(x.shape)}")
    h, w = x.shape
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    x = F.pad(x, (left, side - w - left, top, side - h - top), value=-1.0)
    if side != size:
        x = F.interpolate(
            x[None, None], size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )[0, 0]
    return x.clamp_(-1.0, 1.0)[None]


class MedicalImageDataset(Dataset):
    """Images in memory as one ``(N, 1, S, S)`` tensor, with labels and metadata.

    Args:
        images: ``(N, 1, S, S)`` float32 tensor in ``[-1, 1]``.
        labels: ``(N,)`` int64 tensor, ``-1`` for unlabelled images.
        meta: one :class:`SliceMeta` per image.
        classes: class names; ``labels`` index into it.
        skipped: ``(path, reason)`` of every input that was skipped.

    Example:
        >>> ds = MedicalImageDataset(torch.zeros(2, 1, 32, 32), torch.tensor([-1, -1]),
        ...                          [SliceMeta("a.png", "a"), SliceMeta("b.png", "b")])
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        meta: Sequence[SliceMeta],
        classes: Sequence[str] = (),
        skipped: Sequence[tuple[str, str]] = (),
    ) -> None:
        if images.ndim != 4 or images.shape[1] != 1 or images.shape[2] != images.shape[3]:
            raise ValueError(f"images must be (N, 1, S, S), got {tuple(images.shape)}")
        if not (len(images) == len(labels) == len(meta)):
            raise ValueError(
                f"{len(images)} images, {len(labels)} labels and {len(meta)} meta records differ"
            )
        self.images = images
        self.labels = labels.long()
        self.meta = list(meta)
        self.classes = list(classes)
        self.skipped = list(skipped)

    @classmethod
    def from_slices(
        cls, result: ReadResult | Sequence[RawSlice], image_size: int = 64
    ) -> MedicalImageDataset:
        """Resize read slices to ``image_size`` and stack them; class names become labels."""
        if image_size not in SUPPORTED_SIZES:
            raise ValueError(f"image_size must be one of {SUPPORTED_SIZES}, got {image_size}")
        slices = result.slices if isinstance(result, ReadResult) else list(result)
        skipped = result.skipped if isinstance(result, ReadResult) else []
        if not slices:
            raise DataError("<dataset>", "no images to build a dataset from")
        names = {s.label for s in slices}
        if None in names and len(names) > 1:
            raise DataError(slices[0].meta.source, "some images have a class label and some not")
        classes = sorted(n for n in names if n is not None)
        index: dict[str | None, int] = {c: i for i, c in enumerate(classes)}
        images = torch.stack([resize_square(s.image, image_size) for s in slices])
        labels = torch.tensor([index.get(s.label, -1) for s in slices], dtype=torch.long)
        return cls(images, labels, [s.meta for s in slices], classes, skipped)

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    @property
    def subjects(self) -> list[str]:
        return [m.subject for m in self.meta]

    @property
    def is_labelled(self) -> bool:
        return bool(self.classes)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict[str, Any]:
        m = self.meta[i]
        return {
            "image": self.images[i],
            "label": int(self.labels[i]),
            "subject": m.subject,
            "slice_index": m.slice_index,
            "source": m.source,
            "groups": dict(m.groups),
        }


@overload
def subject_split(
    dataset: MedicalImageDataset,
    fractions: tuple[float, float, float] = ...,
    seed: int = ...,
) -> tuple[Subset, Subset, Subset]: ...
@overload
def subject_split(
    dataset: Sequence[str],
    fractions: tuple[float, float, float] = ...,
    seed: int = ...,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
def subject_split(
    dataset: MedicalImageDataset | Sequence[str],
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | tuple[Subset, Subset, Subset]:
    """Split into train/val/test so that no subject is in two splits.

    Subjects, not images, are shuffled and assigned (scikit-learn's ``GroupShuffleSplit``
    twice), so the image fractions are close to but not exactly ``fractions``.

    Args:
        dataset: a dataset (returns three :class:`~torch.utils.data.Subset`) or a sequence
            of subject ids, one per image (returns three index arrays).
        fractions: train, val and test shares of the subjects; must sum to 1.
        seed: the same seed gives the same split.
    """
    from sklearn.model_selection import GroupShuffleSplit

    if abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) < 0:
        raise ValueError(f"fractions must be non-negative and sum to 1, got {fractions}")
    subjects = np.asarray(
        dataset.subjects if isinstance(dataset, MedicalImageDataset) else list(dataset)
    )
    n_subjects = len(np.unique(subjects))
    if n_subjects < sum(f > 0 for f in fractions):
        raise ValueError(f"{n_subjects} subject(s) cannot fill {fractions} without sharing one")
    idx = np.arange(len(subjects))
    train_frac, val_frac, test_frac = fractions

    def cut(ids: np.ndarray, share: float, rs: int) -> tuple[np.ndarray, np.ndarray]:
        """Split ``ids`` by subject, about ``share`` of the subjects to the second part."""
        n = len(np.unique(subjects[ids]))
        k = round(share * n)
        if k == 0:
            return ids, ids[:0]
        if k >= n:
            return ids[:0], ids
        gss = GroupShuffleSplit(n_splits=1, test_size=k, random_state=rs)
        keep, take = next(gss.split(ids, groups=subjects[ids]))
        return ids[keep], ids[take]

    rest, test = cut(idx, test_frac, seed)
    train, val = cut(rest, val_frac / (train_frac + val_frac) if val_frac else 0.0, seed + 1)
    parts = (np.sort(train), np.sort(val), np.sort(test))
    if isinstance(dataset, MedicalImageDataset):
        return tuple(Subset(dataset, p.tolist()) for p in parts)  # type: ignore[return-value]
    return parts


@dataclass
class DatasetInfo:
    """A summary of what the loader found, printed by ``medgan data info``.

    ``skipped`` counts the files left out per reason; ``skipped_files`` names them, per
    reason (all of them; :meth:`to_text` shows the first ``names_shown`` of each).
    """

    source: str
    n_images: int
    image_size: int
    n_subjects: int
    classes: dict[str, int] = field(default_factory=dict)
    groups: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    intensity: dict[str, float] = field(default_factory=dict)
    skipped_files: dict[str, list[str]] = field(default_factory=dict)

    def to_text(self, names_shown: int = 5) -> str:
        lines = [
            f"source      {self.source}",
            f"images      {self.n_images} at {self.image_size}x{self.image_size}",
            f"subjects    {self.n_subjects}",
        ]
        if self.classes:
            lines.append("classes     " + ", ".join(f"{k}: {v}" for k, v in self.classes.items()))
        for name, counts in self.groups.items():
            lines.append(f"group {name:<5} " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
        lines.append("intensity   " + ", ".join(f"{k} {v:+.3f}" for k, v in self.intensity.items()))
        if self.skipped:
            lines.append(f"skipped     {sum(self.skipped.values())} file(s)")
            for reason, n in self.skipped.items():
                lines.append(f"  {n:>4} x {reason}")
                names = [_short(f, self.source) for f in self.skipped_files.get(reason, [])]
                lines += [f"         {name}" for name in names[:names_shown]]
                if len(names) > names_shown:
                    lines.append(f"         ... and {len(names) - names_shown} more")
        else:
            lines.append("skipped     none")
        return "\n".join(lines)


def _short(path: str, source: str) -> str:
    """``path`` relative to the folder ``source`` when it lies inside it, else as given."""
    try:
        inside = str(Path(path).relative_to(source)) if source else "."
    except ValueError:
        return path
    return path if inside == "." else inside


def describe(dataset: MedicalImageDataset, source: str = "") -> DatasetInfo:
    """Count images, subjects, classes, groups and skipped files of a dataset."""
    classes: dict[str, int] = {}
    if dataset.is_labelled:
        counts = Counter(dataset.labels.tolist())
        classes = {c: counts.get(i, 0) for i, c in enumerate(dataset.classes)}
    groups: dict[str, Counter[str]] = {}
    for m in dataset.meta:
        for k, v in m.groups.items():
            groups.setdefault(k, Counter())[v] += 1
    x = dataset.images
    skipped_files: dict[str, list[str]] = {}
    for path, reason in dataset.skipped:
        skipped_files.setdefault(reason, []).append(path)
    return DatasetInfo(
        source=source or (dataset.meta[0].source if dataset.meta else ""),
        n_images=len(dataset),
        image_size=dataset.image_size,
        n_subjects=len(set(dataset.subjects)),
        classes=classes,
        groups={k: dict(sorted(v.items())) for k, v in sorted(groups.items())},
        skipped=dict(Counter(reason for _, reason in dataset.skipped).most_common()),
        intensity={"min": float(x.min()), "mean": float(x.mean()), "max": float(x.max())},
        skipped_files=skipped_files,
    )
