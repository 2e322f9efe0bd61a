"""Files of generated images, named and marked synthetic: the project's one rule.

Every file made from a generator says that it is synthetic in its name and inside it:

- **name** (:func:`synthetic_name`): ``synthetic_<model>_seed<seed>_<i:04d>.<ext>``, where
  any character of the model's name other than letters, digits, ``-`` and ``_`` is written
  ``-``. medigan packages get no seed from medigan, so theirs are ``synthetic_<model>_<i>``.
- **marks** (:func:`synthetic_marks`): PNG text chunks ``synthetic=true``, ``model``,
  ``seed``, and ``label`` and ``truncation`` when the request had them, in that order.
- **PNG** (:func:`png_bytes`, :func:`export_pngs`): the bytes depend only on the pixels and
  the marks, so the same seed gives identical files (``medgan generate``, the app's
  downloads, notebooks). Beside the images, :data:`GRID_FILE` (``grid.png``) shows them
  all: it is a picture of the samples, not a sample, and :func:`sample_files` (what
  ``medgan metrics --fake FOLDER`` reads) leaves it out by this naming rule.
- **folders**: an export writes into a new or empty folder that it holds alone while it
  writes (:func:`medgan_utils.settings.claim_folder`), and removes what it wrote if it
  fails or is interrupted.
- **DICOM** (:func:`export_dicom`): each image becomes one Secondary Capture file (SC Image
  Storage): ``ImageType`` ``DERIVED\\SECONDARY\\SYNTHETIC``, ``ConversionType`` ``SYN``
  (DICOM's term for a synthetic image), a ``SeriesDescription`` starting with ``SYNTHETIC``,
  and the model and seed that made it in ``DerivationDescription`` and ``ImageComments``.
  There is no patient: the patient's name is ``SYNTHETIC``, the patient id is the files'
  stem, and every other identifying attribute (birth date, sex, institution, referring
  physician, accession number, other ids) is empty or absent. All UIDs are new: one study
  and one series per export, one SOP instance per image.

``medgan_utils/hub/template.py`` is copied alone into medigan packages, so it spells the same
rule out itself; a test holds it equal to this module.

    >>> export_pngs(images, "out/png", model="brain-mri-dcgan-64", seed=0)  # doctest: +SKIP
    >>> export_dicom(images, "out/dicom", model="brain-mri-dcgan-64", seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medgan_utils.errors import DataError
from medgan_utils.settings import atomic_path, claim_folder, is_empty_folder

__all__ = [
    "GRID_FILE",
    "SC_IMAGE_STORAGE",
    "safe_name",
    "synthetic_stem",
    "synthetic_name",
    "synthetic_marks",
    "png_bytes",
    "export_pngs",
    "export_dicom",
    "sample_files",
    "read_samples",
]

SC_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture Image Storage
MAX_VALUE = 65535  # 16-bit unsigned: [-1, 1] -> [0, 65535]
GRID_FILE = "grid.png"  # the overview export_pngs writes beside the images
PREFIX = "synthetic_"  # every generated file's name starts so (synthetic_stem)


# --------------------------------------------------------------------------- the rule


def safe_name(model: str) -> str:
    """``model`` for a file name: characters other than letters, digits, ``-`` and ``_``
    become ``-`` (``"my model/v2"`` -> ``"my-model-v2"``)."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in str(model))


def synthetic_stem(model: str, seed: int | None = None) -> str:
    """``synthetic_<model>_seed<seed>``: how the files of ``model`` and ``seed`` begin
    (``synthetic_<model>`` without a seed)."""
    stem = f"synthetic_{safe_name(model)}"
    return stem if seed is None else f"{stem}_seed{seed}"


def synthetic_name(
    model: str, seed: int | None, index: int, suffix: str = ".png", label: str | None = None
) -> str:
    """The file name of image ``index``: ``<stem>_<index:04d>[_<label>]<suffix>``.

    Example:
        >>> synthetic_name("brain-mri-dcgan-64", 3, 7)
        'synthetic_brain-mri-dcgan-64_seed3_0007.png'
    """
    tail = f"_{label}" if label is not None else ""
    return f"{synthetic_stem(model, seed)}_{index:04d}{tail}{suffix}"


def synthetic_marks(
    model: str,
    seed: int | None = None,
    label: str | None = None,
    truncation: float | None = None,
    **more: str,
) -> dict[str, str]:
    """The PNG text chunks of a synthetic image, in order: ``synthetic=true``, ``model``,
    ``seed``, then ``label``, ``truncation`` and ``more`` where given."""
    marks = {"synthetic": "true", "model": str(model)}
    if seed is not None:
        marks["seed"] = str(seed)
    if label is not None:
        marks["label"] = str(label)
    if truncation is not None:
        marks["truncation"] = str(truncation)
    return {**marks, **{k: str(v) for k, v in more.items()}}


def new_folder(out: str | Path) -> Path:
    """``out`` as a path, refused when it holds files: an export never overwrites a file.

    A :func:`~medgan_utils.settings.claim_folder` claim does not count as a file.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(out, "is a file, not a folder; choose another --out")
    if not is_empty_folder(out):
        raise DataError(out, "is not empty; choose a new --out so no file is overwritten")
    return out


def _write_all(
    out: str | Path, files: Sequence[tuple[str, bytes | Callable[[Path], Any]]]
) -> list[Path]:
    """Claim ``out`` (new or empty), write every ``(name, writer)`` atomically, in order.

    A writer is ``bytes`` or a function of the temporary path. If anything fails or the
    process is interrupted, the files already written are removed again, so the folder is
    as it was (or gone, if the export created it).
    """
    with claim_folder(new_folder(out)) as folder:
        new_folder(folder)  # again, now that no one else can write here
        paths: list[Path] = []
        try:
            for name, content in files:
                paths.append(folder / name)
                with atomic_path(paths[-1]) as tmp:
                    if isinstance(content, bytes):
                        tmp.write_bytes(content)
                    else:
                        content(tmp)
        except BaseException:
            for path in paths:
                path.unlink(missing_ok=True)
            raise
    return paths


def sample_files(folder: str | Path) -> list[Path] | None:
    """The image files of a folder :func:`export_pngs` wrote, without :data:`GRID_FILE`.

    A folder is recognised by the naming rule: it holds ``grid.png`` and files named
    ``synthetic_...``. Those files are the samples, in name order; the grid is a picture
    of them and must not count as one more (``medgan metrics --fake FOLDER``).

    Returns:
        The sample files, or ``None`` when ``folder`` is not such a folder.
    """
    folder = Path(folder)
    if not (folder / GRID_FILE).is_file():
        return None
    files = sorted(p for p in folder.iterdir() if p.name.startswith(PREFIX) and p.is_file())
    return files or None


def read_samples(folder: str | Path, image_size: int = 64) -> Any:
    """The samples of an :func:`export_pngs` folder as a dataset, or ``None`` for any other
    folder (read it with :func:`~medgan_utils.data.load.load_dataset`).

    Returns:
        A :class:`~medgan_utils.data.dataset.MedicalImageDataset` of the
        :func:`sample_files` (``grid.png`` left out), resized to ``image_size``.
    """
    from medgan_utils.data.dataset import MedicalImageDataset
    from medgan_utils.data.images import read_image_file

    files = sample_files(folder)
    if files is None:
        return None
    return MedicalImageDataset.from_slices(
        [s for f in files for s in read_image_file(f)], image_size
    )


# --------------------------------------------------------------------------- PNG


def png_bytes(pixels: np.ndarray, text: Mapping[str, str] | None = None) -> bytes:
    """A ``uint8`` image ``(H, W)``, ``(C, H, W)`` or ``(H, W, C)`` as PNG bytes with text
    chunks ``text`` in order (:func:`synthetic_marks` for generated images)."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    a = np.asarray(pixels)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = a.transpose(1, 2, 0)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, str(value))
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def export_pngs(
    images: torch.Tensor, out: str | Path, model: str, seed: int, nrow: int = 8
) -> list[Path]:
    """Write each image and a grid as PNG files marked synthetic, into a new or empty folder.

    Files are :func:`synthetic_name` (``synthetic_<model>_seed<seed>_<i>.png``) and
    ``grid.png``, each with the text chunks :func:`synthetic_marks` (``synthetic=true``,
    ``model``, ``seed``). The bytes depend only on the images, so the same seed gives
    identical files. Each file is written atomically, and the folder is held alone while
    they are written (:func:`~medgan_utils.settings.claim_folder`).

    Args:
        images: ``(N, C, S, S)`` in ``[-1, 1]``.

    Returns:
        The paths written, images first, ``grid.png`` last.

    Raises:
        DataError: ``out`` is a file or not empty. FolderBusyError: another process is
            writing into ``out``.
    """
    from medgan_utils.viz import make_grid, to_uint8

    new_folder(out)  # before the work: fail fast
    marks = synthetic_marks(model, seed)
    files = {
        synthetic_name(model, seed, i): png_bytes(
            img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0), marks
        )
        for i, img in enumerate(to_uint8(images))
    }
    files[GRID_FILE] = png_bytes(make_grid(images, nrow), marks)
    return _write_all(out, list(files.items()))


# --------------------------------------------------------------------------- DICOM


def _lo(text: str) -> str:
    """A value that fits DICOM's LO (long string): at most 64 characters, no backslash."""
    return text.replace("\\", "/")[:64]


def export_dicom(
    images: torch.Tensor | np.ndarray,
    out: str | Path,
    model: str,
    seed: int,
    *,
    modality: str = "OT",
) -> list[Path]:
    """Write each image as a DICOM Secondary Capture file marked synthetic, into a new or
    empty folder.

    Files are :func:`synthetic_name` ``synthetic_<model>_seed<seed>_<i>.dcm`` (explicit VR
    little endian), each written atomically. Pixels are 16-bit unsigned, ``[-1, 1]`` mapped
    linearly onto ``[0, 65535]``; the window (centre 32768, width 65536) maps them back, so
    :func:`medgan_utils.data.dicom.read_dicom_series` returns the images to within
    ``1 / 65535``. Grayscale images are ``MONOCHROME2``, three-channel ones ``RGB``.

    Args:
        images: ``(N, C, S, S)`` in ``[-1, 1]``, ``C`` 1 or 3.
        out: the folder (must be new or empty).
        model: the generator's name, recorded in each file.
        seed: the noise seed, recorded in each file.
        modality: DICOM ``Modality`` (default ``OT``: other; the images come from no scanner).

    Returns:
        The paths written, in image order.

    Raises:
        DataError: ``out`` is a file or not empty. FolderBusyError: another process is
            writing into ``out``. ValueError: images of the wrong shape.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian, generate_uid

    x = images.detach().float().cpu().numpy() if isinstance(images, torch.Tensor) else images
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"images must be (N, 1 or 3, H, W), got shape {tuple(x.shape)}")
    new_folder(out)  # before the work: fail fast
    pixels = np.round((np.clip(x, -1.0, 1.0) + 1.0) * (MAX_VALUE / 2)).astype("<u2")
    study, series = generate_uid(), generate_uid()
    stem = synthetic_stem(model, seed)
    what = f"generated by the GAN {model} from noise seed {seed}"
    files: list[tuple[str, bytes | Callable[[Path], Any]]] = []
    for i, img in enumerate(pixels):
        sop = generate_uid()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = UID(SC_IMAGE_STORAGE)
        meta.MediaStorageSOPInstanceUID = sop
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds = Dataset()
        ds.file_meta = meta
        ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: model names may be any text
        ds.ImageType = ["DERIVED", "SECONDARY", "SYNTHETIC"]
        ds.SOPClassUID, ds.SOPInstanceUID = SC_IMAGE_STORAGE, sop
        # Patient and study: no person behind these images, so nothing identifies one.
        ds.PatientName = "SYNTHETIC"
        ds.PatientID = _lo(stem)  # synthetic_<model>_seed<seed>
        ds.PatientBirthDate = ""  # type 2 attributes: present, empty
        ds.PatientSex = ""
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "", "", ""
        ds.StudyDate, ds.StudyTime = "", ""
        ds.StudyDescription = "SYNTHETIC images, not a patient"
        ds.SeriesDescription = _lo(f"SYNTHETIC {model} seed {seed}")
        ds.Modality, ds.ConversionType = modality, "SYN"  # SYN: synthetic image
        ds.Manufacturer = "medgan-utils"
        ds.SeriesNumber, ds.InstanceNumber = 1, i + 1
        ds.PatientOrientation = ""
        ds.BurnedInAnnotation = "NO"
        ds.DerivationDescription = f"SYNTHETIC image {i} {what}; not a real patient"
        ds.ImageComments = f"SYNTHETIC: {what}, image {i}. Not for clinical use."
        # Image pixels: (C, H, W) -> (H, W) or (H, W, 3), 16-bit unsigned.
        ds.SamplesPerPixel = img.shape[0]
        ds.PhotometricInterpretation = "MONOCHROME2" if img.shape[0] == 1 else "RGB"
        if img.shape[0] == 3:
            ds.PlanarConfiguration = 0
        ds.Rows, ds.Columns = img.shape[1:]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        if img.shape[0] == 1:
            ds.WindowCenter, ds.WindowWidth = 32768, 65536  # stored [0, 65535] -> display range
        ds.PixelData = np.ascontiguousarray(img.transpose(1, 2, 0)).tobytes()
        files.append((synthetic_name(model, seed, i, ".dcm"), partial(_save_dicom, ds)))
    return _write_all(out, files)


def _save_dicom(ds: Any, path: Path) -> None:
    ds.save_as(path, enforce_file_format=True)
