"""Loading a dataset by name or path: the one entry point over the readers and built-in sets.

:func:`load_dataset` reads a folder of PNG/JPEG/TIFF/BMP images (flat or one subfolder per
class), DICOM files and series, NIfTI volumes, MedMNIST-style ``.npz`` files
(:func:`~medgan_utils.data.readers.read_path`), the built-in brain-MRI set
(:mod:`medgan_utils.data.builtin`), or a public dataset by name (``"pneumoniamnist"``,
``"brain-tumor-mri"``, ...: :mod:`medgan_utils.data.public`, downloaded on first use), and
returns a :class:`~medgan_utils.data.dataset.MedicalImageDataset`.

Files and folders are read in parallel, each image resized right after it is decoded and
stored compactly (uint8 for 8-bit sources, else float16), and the result cached in
``$MEDGAN_HOME/reads``: reading the same unchanged files again opens the cache,
memory-mapped (:mod:`medgan_utils.data.cache`).

Example:
    >>> ds = load_dataset("builtin", image_size=64)          # doctest: +SKIP
    >>> xray = load_dataset("pneumoniamnist", image_size=64, split="train")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from medgan_utils.data.builtin import BuiltinConfig, load_builtin
from medgan_utils.data.cache import read_dataset
from medgan_utils.data.catalog_public import PUBLIC_DATASETS
from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.data.public import is_public, load_public
from medgan_utils.errors import DataError

__all__ = ["BUILTIN_NAMES", "load_dataset"]

BUILTIN_NAMES = ("builtin", "builtin-labelled")


def load_dataset(
    source: str | Path,
    image_size: int = 64,
    *,
    on_error: Literal["raise", "skip"] = "raise",
    split: str | None = None,
    cache: bool = True,
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
        cache: for a file or folder, reuse the cached read of the same files and cache a
            new one (:func:`~medgan_utils.data.cache.read_dataset`; in
            ``$MEDGAN_HOME/reads``, cleared by :func:`~medgan_utils.data.cache.clear_cache`
            or ``medgan data clear-cache``); ``False`` reads every file and writes nothing.
            A cache made for other files (one touched, added, removed), by another version,
            or damaged is rebuilt, never used. The built-in sets have their own cache.
        **reader_options: passed to :func:`medgan_utils.data.readers.read_path` (e.g.
            ``axis="coronal"``, ``min_foreground=0.1``, ``npz_split="test"``, the pixel
            budget ``max_pixels=2**30``, ``max_total_pixels=2**32``, and ``workers=4``,
            ``progress=False``, which do not change the result) or, for the built-in
            sets, to :class:`medgan_utils.data.builtin.BuiltinConfig` (e.g.
            ``n_subjects``), or to :func:`~medgan_utils.data.public.load_public` (e.g.
            ``size=128``, ``sequence="T2"``).

    Returns:
        A :class:`~medgan_utils.data.dataset.MedicalImageDataset` of
        ``(1, image_size, image_size)`` float32 images in ``[-1, 1]``. Read from files, it
        stores them as uint8 when every source is 8-bit (within ``1/255`` of resizing the
        float images), else as float16 (within ``2**-11``; 8-bit sources among them within
        ``1/255 + 2**-11``), memory-mapped when cached; items are decoded one at a time,
        ``.images`` decodes all of them on first use. Cached and uncached reads give
        identical values.
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
    return read_dataset(path, image_size, on_error=on_error, cache=cache, **reader_options)
