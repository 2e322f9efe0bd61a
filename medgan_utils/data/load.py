"""Loading a dataset by name or path: the one entry point over the readers and built-in sets.

:func:`load_dataset` reads a folder of PNG/JPEG/TIFF/BMP images (flat or one subfolder per
class), DICOM files and series, NIfTI volumes, MedMNIST-style ``.npz`` files
(:func:`~medgan_utils.data.readers.read_path`), the built-in brain-MRI set
(:mod:`medgan_utils.data.builtin`), or a public dataset by name (``"pneumoniamnist"``,
``"brain-tumor-mri"``, ...: :mod:`medgan_utils.data.public`, downloaded on first use), and
returns a :class:`~medgan_utils.data.dataset.MedicalImageDataset`.

Example:
    >>> ds = load_dataset("builtin", image_size=64)          # doctest: +SKIP
    >>> xray = load_dataset("pneumoniamnist", image_size=64, split="train")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from medgan_utils.data.builtin import BuiltinConfig, load_builtin
from medgan_utils.data.catalog_public import PUBLIC_DATASETS
from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.data.public import is_public, load_public
from medgan_utils.data.readers import read_path
from medgan_utils.errors import DataError

__all__ = ["BUILTIN_NAMES", "load_dataset"]

BUILTIN_NAMES = ("builtin", "builtin-labelled")


def load_dataset(
    source: str | Path,
    image_size: int = 64,
    *,
    on_error: Literal["raise", "skip"] = "raise",
    split: str | None = None,
    **reader_options: Any,
) -> MedicalImageDataset:
    """Load ``builtin``, ``builtin-labelled``, a public dataset by name, or any path the
    readers understand.

    Names come first: a folder called like a dataset is read as ``./name``.

    Args:
        source: ``"builtin"``, ``"builtin-labelled"``, a public dataset's name (any key of
            :data:`~medgan_utils.data.catalog_public.PUBLIC_DATASETS`, e.g.
            ``"pneumoniamnist"``), a file or a folder.
        image_size: side of the square output images (32, 64 or 128).
        on_error: ``"raise"`` stops at the first bad file with a :class:`DataError`
            naming it; ``"skip"`` leaves bad files out and warns once, naming them.
        split: a public dataset's split (MedMNIST ``"train"``, the default, ``"val"``,
            ``"test"`` or ``"all"``; see :func:`~medgan_utils.data.public.load_public`); for
            an ``.npz`` file the same as ``npz_split``.
        **reader_options: passed to :func:`medgan_utils.data.readers.read_path` (e.g.
            ``axis="coronal"``, ``min_foreground=0.1``, ``npz_split="test"``, the pixel
            budget ``max_pixels=2**30``, ``max_total_pixels=2**32``) or, for the
            built-in sets, to :class:`medgan_utils.data.builtin.BuiltinConfig` (e.g.
            ``n_subjects``), or to :func:`~medgan_utils.data.public.load_public` (e.g.
            ``size=128``, ``sequence="T2"``).

    Returns:
        A :class:`~medgan_utils.data.dataset.MedicalImageDataset` of
        ``(1, image_size, image_size)`` images.
    """
    if str(source) in BUILTIN_NAMES:
        if split is not None:
            raise ValueError("split is for public datasets and .npz files; use subject_split")
        labelled = str(source) == "builtin-labelled"
        config = BuiltinConfig(labelled=labelled, image_size=image_size, **reader_options)
        return load_builtin(config)
    if is_public(source):
        return load_public(
            str(source), image_size, split=split, on_error=on_error, **reader_options
        )
    path = Path(source)
    if not path.exists():
        names = ", ".join([*BUILTIN_NAMES, *PUBLIC_DATASETS])
        raise DataError(path, f"no such file or folder, and not a dataset name (known: {names})")
    if split is not None:
        reader_options["npz_split"] = split
    return MedicalImageDataset.from_slices(
        read_path(path, on_error=on_error, **reader_options), image_size
    )
