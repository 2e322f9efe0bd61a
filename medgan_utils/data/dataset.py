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

import bisect
import itertools
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
    "decode_images",
    "encode_images",
    "resize_square",
    "subject_split",
    "describe",
    "label_classes",
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
    if h != w:  # a pad by nothing is still a copy, and torch may spread it over threads
        x = F.pad(x, (left, side - w - left, top, side - h - top), value=-1.0)
    if side != size:
        x = F.interpolate(
            x[None, None], size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )[0, 0]
    return x.clamp_(-1.0, 1.0)[None]


def encode_images(x: np.ndarray | torch.Tensor, eight_bit: bool) -> np.ndarray:
    """Store images compactly: uint8 codes for 8-bit sources, else float16.

    Args:
        x: ``(..., S, S)`` float32 in ``[-1, 1]``.
        eight_bit: the source held 8-bit values (:attr:`RawSlice.eight_bit`).

    Returns:
        ``round((x + 1) * 127.5)`` as uint8 (the built-in set's codes: decoded values are
        within ``1/255`` of ``x``), or ``x`` as float16 (within ``2**-11`` of ``x``).
    """
    x = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if not eight_bit:
        return x.astype(np.float16)
    return np.clip(np.rint((x + np.float32(1.0)) * np.float32(127.5)), 0, 255).astype(np.uint8)


def decode_images(codes: np.ndarray, out: np.ndarray | None = None) -> torch.Tensor:
    """Images stored by :func:`encode_images` as float32 in ``[-1, 1]``, same shape.

    Args:
        codes: ``(..., S, S)`` uint8 or float16 (a memory-mapped array is read here).
        out: a float32 array of the same shape to decode into (no temporary copy).
    """
    if codes.dtype not in (np.uint8, np.float16):
        raise ValueError(f"stored images are uint8 or float16, not {codes.dtype}")
    if out is None:
        out = np.empty(codes.shape, np.float32)
    out[...] = codes
    if codes.dtype == np.uint8:  # q / 127.5 - 1, the built-in set's mapping, in place
        np.divide(out, 127.5, out=out)
        np.subtract(out, 1.0, out=out)
    return torch.from_numpy(out)


class MedicalImageDataset(Dataset):
    """Images as one ``(N, 1, S, S)`` tensor, or stored compactly, with labels and metadata.

    A dataset read by :func:`~medgan_utils.data.load.load_dataset` from files keeps its
    images as uint8 or float16 codes (:func:`encode_images`; from the cache, memory-mapped):
    items are decoded one by one, and :attr:`images` decodes them all on first use.

    Args:
        images: ``(N, 1, S, S)`` float32 tensor in ``[-1, 1]``; or ``(N, S, S)`` uint8 or
            float16 codes of :func:`encode_images` (an array or a ``np.memmap``), or a list
            of such arrays holding consecutive images (released one by one as
            :attr:`images` decodes them).
        labels: ``(N,)`` int64 tensor, ``-1`` for unlabelled images.
        meta: one :class:`SliceMeta` per image.
        classes: class names; ``labels`` index into it.
        skipped: ``(path, reason)`` of every input that was skipped.

    Attributes:
        cache_note: how the images were read, for ``medgan data info``: ``""``, or e.g.
            ``"read from /home/me/.cache/medgan/reads/x.npy (uint8, memory-mapped)"``.

    Example:
        >>> ds = MedicalImageDataset(torch.zeros(2, 1, 32, 32), torch.tensor([-1, -1]),
        ...                          [SliceMeta("a.png", "a"), SliceMeta("b.png", "b")])
    """

    def __init__(
        self,
        images: torch.Tensor | np.ndarray | Sequence[np.ndarray],
        labels: torch.Tensor,
        meta: Sequence[SliceMeta],
        classes: Sequence[str] = (),
        skipped: Sequence[tuple[str, str]] = (),
    ) -> None:
        self._images: torch.Tensor | None = None
        self._blocks: list[np.ndarray] = []  # consecutive images' codes, until decoded
        if isinstance(images, torch.Tensor):
            if images.ndim != 4 or images.shape[1] != 1 or images.shape[2] != images.shape[3]:
                raise ValueError(f"images must be (N, 1, S, S), got {tuple(images.shape)}")
            self._images, n = images, len(images)
        else:
            self._blocks = _check_blocks([images] if isinstance(images, np.ndarray) else images)
            n = sum(len(b) for b in self._blocks)
        if not (n == len(labels) == len(meta)):
            raise ValueError(
                f"{n} images, {len(labels)} labels and {len(meta)} meta records differ"
            )
        self._starts = list(itertools.accumulate((len(b) for b in self._blocks), initial=0))
        self.labels = labels.long()
        self.meta = list(meta)
        self.classes = list(classes)
        self.skipped = list(skipped)
        self.cache_note = ""

    @property
    def images(self) -> torch.Tensor:
        """All images, ``(N, 1, S, S)`` float32 in ``[-1, 1]``.

        Stored codes are decoded on first use (``4 x N x S x S`` bytes), block by block,
        each block dropped once decoded; to go through a dataset larger than memory, index
        it (``ds[i]``) or use a ``DataLoader`` instead.
        """
        if self._images is None:
            blocks, self._blocks = self._blocks, []
            s = blocks[0].shape[-1]
            out = torch.empty(len(self.meta), 1, s, s)
            rows = out.numpy()[:, 0]
            start = 0
            while blocks:  # pop each block before decoding the next: its memory goes
                block = blocks.pop(0)
                decode_images(block, out=rows[start : start + len(block)])
                start += len(block)
                del block
            self._images, self._starts = out, [0]
        return self._images

    @images.setter
    def images(self, value: torch.Tensor) -> None:
        self._images, self._blocks, self._starts = value, [], [0]

    @property
    def code_blocks(self) -> list[np.ndarray]:
        """The stored uint8 or float16 codes, ``(n, S, S)`` blocks of consecutive images
        (one memory-mapped block when read from the cache); empty once :attr:`images`
        has decoded them, or when the dataset was made from a tensor."""
        return list(self._blocks)

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
        classes, labels = label_classes([s.label for s in slices], slices[0].meta.source)
        images = torch.empty(len(slices), 1, image_size, image_size)
        for i, s in enumerate(slices):  # into place: no list of tensors to stack
            images[i] = resize_square(s.image, image_size)
        return cls(images, labels, [s.meta for s in slices], classes, skipped)

    @property
    def image_size(self) -> int:
        return int((self._images if self._images is not None else self._blocks[0]).shape[-1])

    @property
    def subjects(self) -> list[str]:
        return [m.subject for m in self.meta]

    @property
    def is_labelled(self) -> bool:
        return bool(self.classes)

    def of_class(self, label: int | str) -> MedicalImageDataset:
        """The images of one class (an index into :attr:`classes`, or its name) as a dataset
        of their own, with their subjects and the same ``classes``.

        Raises:
            ValueError: an unlabelled dataset, or a class it does not have.
        """
        if not self.is_labelled:
            raise ValueError("of_class needs a labelled dataset; this one has no classes")
        if isinstance(label, str):
            if label not in self.classes:
                raise ValueError(f"no class {label!r}: the classes are {self.classes}")
            label = self.classes.index(label)
        if not 0 <= label < len(self.classes):
            raise ValueError(f"no class {label}: use 0..{len(self.classes) - 1}")
        keep = (self.labels == label).nonzero()[:, 0]
        meta = [self.meta[i] for i in keep.tolist()]
        return MedicalImageDataset(self.images[keep], self.labels[keep], meta, self.classes)

    def __len__(self) -> int:
        return len(self.meta)

    def __getitem__(self, i: int) -> dict[str, Any]:
        m = self.meta[i]
        if self._images is None:
            if not -len(self.meta) <= i < len(self.meta):
                raise IndexError(f"index {i} is out of range for {len(self.meta)} images")
            i %= len(self.meta)
            b = bisect.bisect_right(self._starts, i) - 1
            image = decode_images(np.asarray(self._blocks[b][i - self._starts[b]]))[None]
        else:
            image = self._images[i]
        return {
            "image": image,
            "label": int(self.labels[i]),
            "subject": m.subject,
            "slice_index": m.slice_index,
            "source": m.source,
            "groups": dict(m.groups),
        }


def _check_blocks(blocks: Sequence[np.ndarray]) -> list[np.ndarray]:
    """``blocks`` as a list, checked: ``(n, S, S)`` arrays of one dtype (uint8, float16), one S."""
    blocks = list(blocks)
    if not blocks:
        raise ValueError("stored images need at least one block")
    s, dtype = blocks[0].shape[-1], blocks[0].dtype
    for b in blocks:
        if not isinstance(b, np.ndarray) or b.ndim != 3 or b.shape[1:] != (s, s):
            raise ValueError(f"stored images must be (N, S, S) arrays, got {np.shape(b)}")
        if b.dtype != dtype or dtype not in (np.uint8, np.float16):
            raise ValueError(f"stored images are uint8 or float16 alike, not {b.dtype}")
    return blocks


def label_classes(names: Sequence[str | None], source: str) -> tuple[list[str], torch.Tensor]:
    """Class names (sorted) and each image's label index into them (``-1``: unlabelled).

    Raises:
        DataError: some images have a class and some not (``source`` is named).
    """
    distinct = set(names)
    if None in distinct and len(distinct) > 1:
        raise DataError(source, "some images have a class label and some not")
    classes = sorted(n for n in distinct if n is not None)
    index: dict[str | None, int] = {c: i for i, c in enumerate(classes)}
    return classes, torch.tensor([index.get(n, -1) for n in names], dtype=torch.long)


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
    cache: str = ""  # how the images were read (MedicalImageDataset.cache_note)

    def to_text(self, names_shown: int = 5) -> str:
        lines = [
            f"source      {self.source}",
            f"images      {self.n_images} at {self.image_size}x{self.image_size}",
            f"subjects    {self.n_subjects}",
        ]
        if self.cache:
            lines.append(f"cache       {self.cache}")
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
        intensity=_intensity(dataset),
        skipped_files=skipped_files,
        cache=dataset.cache_note,
    )


def _intensity(dataset: MedicalImageDataset, chunk: int = 4096) -> dict[str, float]:
    """Min, mean and max of the images; stored codes are decoded a chunk at a time."""
    blocks = dataset.code_blocks
    if not blocks:
        x = dataset.images
        return {"min": float(x.min()), "mean": float(x.mean()), "max": float(x.max())}
    lo, hi, total, count = np.inf, -np.inf, 0.0, 0
    for block in blocks:
        for start in range(0, len(block), chunk):
            x = decode_images(np.asarray(block[start : start + chunk]))
            lo, hi = min(lo, float(x.min())), max(hi, float(x.max()))
            total += float(x.sum(dtype=torch.float64))
            count += x.numel()
    return {"min": lo, "mean": total / max(count, 1), "max": hi}
