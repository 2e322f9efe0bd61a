"""Reading synthetic datasets back: the manifest, a Dataset and a seeded DataLoader.

A synthetic dataset is a folder of PNG files (named ``synthetic_...``, PNG chunk
``synthetic=true``: the rule is in :mod:`medgan_utils.exports`) with a ``manifest.csv``
listing ``file, model_id, seed, index, label`` for each image.
:func:`medgan_utils.hub.generate.build_synthetic_dataset` writes one through medigan; this
module reads one without needing medigan.
"""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.data.images import read_image_file
from medgan_utils.data.slices import RawSlice, SliceMeta
from medgan_utils.errors import DataError

__all__ = [
    "MANIFEST",
    "FIELDS",
    "read_manifest",
    "load_synthetic_dataset",
    "synthetic_dataloader",
]

MANIFEST = "manifest.csv"
FIELDS = ("file", "model_id", "seed", "index", "label")


def read_manifest(folder: str | Path) -> list[dict[str, str]]:
    """The rows of ``folder/manifest.csv``, one dict per image keyed by :data:`FIELDS`.

    Raises:
        DataError: no manifest, or one without the expected columns.
    """
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise DataError(path, "no manifest: not a folder written by build_synthetic_dataset")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or set(FIELDS) - set(rows[0]):
        raise DataError(path, f"expected the columns {', '.join(FIELDS)}")
    return rows


def load_synthetic_dataset(
    folder: str | Path, image_size: int | None = None, label_by: str = "label"
) -> MedicalImageDataset:
    """Read a synthetic dataset back as a :class:`~medgan_utils.data.dataset.MedicalImageDataset`.

    Args:
        folder: what :func:`~medgan_utils.hub.generate.build_synthetic_dataset` wrote.
        image_size: 32, 64 or 128; default the size of the first image.
        label_by: ``"label"`` (the class; all rows need one or none do) or ``"model"``.

    Returns:
        A dataset whose items carry ``groups = {"model": id, "synthetic": "true"}`` and a
        subject per image (synthetic images have no patient).

    Raises:
        DataError: no manifest, a row naming a file outside ``folder`` (``../x.png``, an
            absolute path, a link leading out), or an image that cannot be read.
    """
    folder, slices = Path(folder), []
    for line, row in enumerate(read_manifest(folder), start=2):
        if not (folder / row["file"]).resolve().is_relative_to(folder.resolve()):
            raise DataError(
                folder / MANIFEST, f"line {line}: file {row['file']!r} lies outside {folder}"
            )
        (raw,) = read_image_file(folder / row["file"])
        label = row["model_id"] if label_by == "model" else (row["label"] or None)
        meta = SliceMeta(
            source=str(folder / row["file"]),
            subject=f"synthetic:{row['model_id']}:{row['label']}:{row['seed']}:{row['index']}",
            groups={"model": row["model_id"], "synthetic": "true"},
        )
        slices.append(RawSlice(raw.image, meta, label))
    size = image_size or max(slices[0].image.shape)
    return MedicalImageDataset.from_slices(slices, size)


def synthetic_dataloader(
    folder: str | Path,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int = 0,
    image_size: int | None = None,
    label_by: str = "label",
) -> torch.utils.data.DataLoader:
    """A DataLoader over :func:`load_synthetic_dataset`; shuffling is seeded."""
    dataset = load_synthetic_dataset(folder, image_size, label_by)
    generator = torch.Generator().manual_seed(seed)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, generator=generator
    )
