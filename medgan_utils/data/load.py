"""Loading a dataset by name or path: the one entry point over the readers and built-in sets.

:func:`load_dataset` reads a folder of PNG/JPEG/TIFF/BMP images (flat or one subfolder per
class), DICOM files and series, NIfTI volumes, MedMNIST-style ``.npz`` files
(:func:`~medgan_utils.data.readers.read_path`), or the built-in brain-MRI set
(:mod:`medgan_utils.data.builtin`), and returns a
:class:`~medgan_utils.data.dataset.MedicalImageDataset`.

Example:
    >>> ds = load_dataset("builtin", image_size=64)          # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from medgan_utils.data.builtin import BuiltinConfig, load_builtin
from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.data.readers import read_path
from medgan_utils.errors import DataError

__all__ = ["BUILTIN_NAMES", "load_dataset"]

BUILTIN_NAMES = ("builtin", "builtin-labelled")


def load_dataset(
    source: str | Path,
    image_size: int = 64,
    *,
    on_error: Literal["raise", "skip"] = "raise",
    **reader_options: Any,
) -> MedicalImageDataset:
    """Load ``builtin``, ``builtin-labelled`` or any path the readers understand.

    Args:
        source: ``"builtin"``, ``"builtin-labelled"``, a file or a folder.
        image_size: side of the square output images (32, 64 or 128).
        on_error: ``"raise"`` stops at the first bad file with a :class:`DataError`
            naming it; ``"skip"`` leaves bad files out and warns once with the counts.
        **reader_options: passed to :func:`medgan_utils.data.readers.read_path` (e.g.
            ``axis="coronal"``, ``min_foreground=0.1``, ``npz_split="test"``) or, for the
            built-in sets, to :class:`medgan_utils.data.builtin.BuiltinConfig` (e.g.
            ``n_subjects``).

    Returns:
        A :class:`~medgan_utils.data.dataset.MedicalImageDataset` of
        ``(1, image_size, image_size)`` images.
    """
    if str(source) in BUILTIN_NAMES:
        labelled = str(source) == "builtin-labelled"
        config = BuiltinConfig(labelled=labelled, image_size=image_size, **reader_options)
        return load_builtin(config)
    path = Path(source)
    if not path.exists():
        raise DataError(
            path, f"no such file or folder (use a path, or one of {', '.join(BUILTIN_NAMES)})"
        )
    return MedicalImageDataset.from_slices(
        read_path(path, on_error=on_error, **reader_options), image_size
    )
