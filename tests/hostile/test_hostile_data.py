"""Hostile and careless inputs to the data readers (issue 17, items 3, 10 and 11).

Each input is built in ``tmp_path``: decompression bombs (PNG, deflated DICOM, ``.nii.gz``,
``.npz``) refused from their headers; DICOM and npz files whose defects used to escape as
tracebacks; FIFOs, symlinked folders and link loops. Every failure must be a ``DataError``
naming the file, and ``on_error="skip"`` must leave the bad files out, name them, and still
read the good ones.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import threading
import warnings
import zipfile
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.uid import DeflatedExplicitVRLittleEndian, generate_uid

from medgan_utils.cli import main
from medgan_utils.data import dicom as dicom_module
from medgan_utils.data.dicom import read_dicom_file
from medgan_utils.data.images import read_image_file
from medgan_utils.data.limits import DEFAULT_MAX_PIXELS, PixelBudget
from medgan_utils.data.load import load_dataset
from medgan_utils.data.nifti import read_nifti
from medgan_utils.data.npz import read_npz
from medgan_utils.data.readers import read_path
from medgan_utils.data.synthetic import FIELDS, load_synthetic_dataset
from medgan_utils.errors import DataError, PixelBudgetError, TotalPixelBudgetError

MR_SMALL = get_testdata_file("MR_small.dcm")  # 64 x 64, 16-bit, explicit VR little endian


# --- hostile files ------------------------------------------------------------------------


def png_bomb(path: Path, side: int = 30000, rows: int = 2000) -> Path:
    """The issue's PNG: a 1-bit header claiming ``side x side`` pixels in about 8 KB (the
    IDAT holds the first ``rows`` rows of zeros; Pillow would allocate the whole image)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(tag + data))
        return struct.pack(">I", len(data)) + tag + data + crc

    row = bytes(1 + (side + 7) // 8)  # filter byte + packed bits
    deflate = zlib.compressobj(9)
    idat = b"".join(deflate.compress(row) for _ in range(rows)) + deflate.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1 bit, grayscale
    signature = b"\x89PNG\r\n\x1a\n"
    path.write_bytes(
        signature + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


def dicom_copy(path: Path, **elements: object) -> Path:
    ds = pydicom.dcmread(MR_SMALL)
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    ds.save_as(path)
    return path


def dicom_bomb(path: Path, side: int = 32768, pixel_bytes: int = 2**16) -> Path:
    """The issue's DICOM: deflated, small, its header claiming ``side x side`` 16-bit
    pixels (2 GiB at 32768)."""
    ds = pydicom.dcmread(MR_SMALL)
    ds.Rows = ds.Columns = side
    ds.PixelData = bytes(pixel_bytes)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(path)
    return path


def nifti_bomb(path: Path, shape: tuple[int, ...] = (20000, 20000, 2000)) -> Path:
    """The issue's ``.nii.gz``: a header claiming ``shape`` uint8 voxels (800 GB at the
    default), followed by 64 KB of zeros, gzipped."""
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.uint8)
    header["vox_offset"] = 352
    with gzip.open(path, "wb") as f:
        f.write(header.binaryblock + bytes(4) + bytes(2**16))
    return path


def npz_member(array_header: dict[str, object], data: bytes = b"") -> bytes:
    """A ``.npy`` member: magic, the given header dict, then ``data`` (however short)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, array_header)
    return buf.getvalue() + data


def npz_bomb(path: Path, shape: tuple[int, ...] = (100_000, 4096, 4096)) -> Path:
    """An ``.npz`` whose ``train_images`` header claims ``shape`` uint8 (1.7 TB)."""
    member = npz_member({"descr": "|u1", "fortran_order": False, "shape": shape}, bytes(2**16))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("train_images.npy", member)
    return path


def png(path: Path, size: tuple[int, int] = (8, 8), value: int = 128) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", size[::-1], value).save(path)
    return path


def skip_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if "skipped" in str(w.message)]


def read_skipping(path: Path, **options: object):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        result = read_path(path, on_error="skip", **options)
    (message,) = skip_warnings(record)
    return result, message


# --- 1. decompression bombs ------------------------------------------------------------------


def test_png_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    bomb = png_bomb(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 16_000  # the "8 KB"
    with pytest.raises(PixelBudgetError) as caught:
        read_image_file(bomb)
    message = str(caught.value)
    assert message.startswith(f"{bomb}: over the pixel budget")
    assert f"{30000 * 30000:,} pixels" in message  # the size its header claims
    assert f"{DEFAULT_MAX_PIXELS:,} per file" in message  # the budget
    assert "MEDGAN_MAX_PIXELS" in message  # how to raise it


def test_dicom_bomb_is_refused_before_pixel_data(tmp_path: Path) -> None:
    bomb = dicom_bomb(tmp_path / "bomb.dcm")
    assert bomb.stat().st_size < 16_000
    with pytest.raises(PixelBudgetError) as caught:
        read_dicom_file(bomb)
    message = str(caught.value)
    assert message.startswith(f"{bomb}: over the pixel budget: header claims 1 x 32768 x 32768")
    assert f"{32768**2:,} pixel values" in message and f"{DEFAULT_MAX_PIXELS:,}" in message


def test_deflated_dicom_inflating_past_its_header_is_refused(tmp_path, monkeypatch) -> None:
    # A header claiming 64 x 64 pixels, then a pixel element that inflates to 4 MB: only
    # what the header needs (plus slack) is ever inflated.
    monkeypatch.setattr(dicom_module, "_DEFLATE_HEAD_BYTES", 8192)
    monkeypatch.setattr(dicom_module, "_DEFLATE_SLACK_BYTES", 1024)
    bomb = dicom_bomb(tmp_path / "stuffed.dcm", side=64, pixel_bytes=4 * 2**20)
    with pytest.raises(DataError, match=r"stuffed\.dcm: deflated data inflates to more than"):
        read_dicom_file(bomb)
    # The same path reads an honest deflated file, pixel for pixel as pydicom does.
    honest = dicom_bomb(tmp_path / "honest.dcm", side=64, pixel_bytes=64 * 64 * 2)
    (slice_,) = read_dicom_file(honest)
    assert slice_.image.shape == (64, 64)


def test_nifti_bomb_is_refused_before_the_voxels(tmp_path: Path) -> None:
    bomb = nifti_bomb(tmp_path / "bomb.nii.gz")
    assert bomb.stat().st_size < 16_000
    with pytest.raises(PixelBudgetError) as caught:
        read_nifti(bomb)
    message = str(caught.value)
    assert message.startswith(f"{bomb}: over the pixel budget: header claims 20000 x 20000 x 2000")
    assert f"{20000 * 20000 * 2000:,} pixel values" in message


def test_npz_bomb_is_refused_from_the_npy_header(tmp_path: Path) -> None:
    bomb = npz_bomb(tmp_path / "bomb.npz")
    with pytest.raises(PixelBudgetError, match=r"bomb\.npz: over the pixel budget: header claims"):
        read_npz(bomb)


def test_bombs_in_a_folder_are_skipped_by_name_and_good_files_load(tmp_path: Path) -> None:
    for i in range(3):
        png(tmp_path / f"good{i}.png")
    bombs = [
        png_bomb(tmp_path / "a_bomb.png"),
        dicom_bomb(tmp_path / "b_bomb.dcm"),
        nifti_bomb(tmp_path / "c_bomb.nii.gz"),
        npz_bomb(tmp_path / "d_bomb.npz"),
    ]
    with pytest.raises(PixelBudgetError, match=r"a_bomb\.png: over the pixel budget"):
        read_path(tmp_path)
    result, message = read_skipping(tmp_path)
    assert sorted(Path(s.meta.source).name for s in result.slices) == [
        "good0.png",
        "good1.png",
        "good2.png",
    ]
    assert sorted(result.skipped) == [(str(b), "over the pixel budget") for b in bombs]
    assert "4 x over the pixel budget" in message
    assert all(str(b) in message for b in bombs)  # the warning names each one
    with pytest.warns(UserWarning, match="skipped 4 file"):
        ds = load_dataset(tmp_path, 32, on_error="skip")
    assert len(ds) == 3 and len(ds.skipped) == 4


def test_the_budget_is_ours_to_set_by_argument_or_environment(tmp_path, monkeypatch) -> None:
    image = png(tmp_path / "scan.png", (64, 64))
    with pytest.raises(PixelBudgetError, match=r"scan\.png: .* 64 x 64 = 4,096 pixel values"):
        read_path(image, max_pixels=4095)
    monkeypatch.setenv("MEDGAN_MAX_PIXELS", "4095")
    with pytest.raises(PixelBudgetError, match="more than 4,095 per file"):
        read_image_file(image)
    assert len(read_path(image, max_pixels=4096).slices) == 1  # the argument wins
    monkeypatch.setenv("MEDGAN_MAX_PIXELS", "lots")
    with pytest.raises(DataError, match="MEDGAN_MAX_PIXELS: must be a positive whole number"):
        read_path(image)
    with pytest.raises(DataError, match="max_total_pixels: must be a positive"):
        PixelBudget(max_pixels=1, max_total_pixels=0)


def test_pillow_own_limit_gives_the_same_error_and_its_warning_is_silenced(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # warns above 1000, refuses above 2000
    below = png(tmp_path / "warned.png", (40, 40))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_image_file(below)) == 1  # our budget decides: no DecompressionBombWarning
    above = png(tmp_path / "refused.png", (50, 50))
    with pytest.raises(PixelBudgetError) as caught:
        read_image_file(above)
    assert str(caught.value).startswith(f"{above}: over the pixel budget: header claims 2,500")
    assert "PIL.Image.MAX_IMAGE_PIXELS" in str(caught.value)


def test_a_folder_over_the_total_budget_stops_even_when_skipping(tmp_path: Path) -> None:
    for i in range(3):
        png(tmp_path / f"s{i}.png", (8, 8))
    assert len(read_path(tmp_path, max_total_pixels=3 * 64).slices) == 3
    with pytest.raises(TotalPixelBudgetError) as caught:
        read_path(tmp_path, on_error="skip", max_total_pixels=3 * 64 - 1)
    assert caught.value.path == str(tmp_path)
    assert f"{tmp_path / 's2.png'}" in str(caught.value) and "191 per read" in str(caught.value)


def test_multipage_tiff_pages_add_up_against_the_budget(tmp_path: Path) -> None:
    path = tmp_path / "stack.tif"
    pages = [Image.new("L", (10, 10), v) for v in (0, 100, 200)]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    assert len(read_image_file(path, budget=PixelBudget(max_pixels=300))) == 3
    with pytest.raises(PixelBudgetError, match="with earlier parts = 300 pixel values"):
        read_image_file(path, budget=PixelBudget(max_pixels=299))


# --- 2. every per-file failure names the file ------------------------------------------------


def bad_dicoms(folder: Path) -> dict[str, str]:
    """Three DICOM files with defects that used to escape as ValueErrors, and their errors."""
    folder.mkdir(parents=True, exist_ok=True)
    dicom_copy(folder / "iop3.dcm", ImageOrientationPatient=[1.0, 0.0, 0.0])
    ds = pydicom.dcmread(MR_SMALL)
    del ds.WindowCenter
    ds.add_new(0x00281050, "LO", "abc")  # WindowCenter, written with a text VR
    ds.WindowWidth = 400
    ds.save_as(folder / "window.dcm")
    dicom_copy(folder / "palette.dcm", PhotometricInterpretation="PALETTE COLOR")
    return {
        "iop3.dcm": "ImageOrientationPatient has 3 values, DICOM requires 6",
        "window.dcm": "WindowCenter is not a number: 'abc'",
        "palette.dcm": "PALETTE COLOR without a usable palette",
    }


def test_bad_dicom_headers_are_data_errors_naming_the_file(tmp_path: Path) -> None:
    for name, reason in bad_dicoms(tmp_path).items():
        with pytest.raises(DataError) as caught:
            read_dicom_file(tmp_path / name)
        assert str(caught.value).startswith(f"{tmp_path / name}: {reason}")


def test_bad_dicoms_in_a_series_are_skipped_and_the_rest_ordered(tmp_path: Path) -> None:
    bad = bad_dicoms(tmp_path)
    series = generate_uid()
    for name, z in (("good0.dcm", 2.0), ("good1.dcm", 0.0)):
        dicom_copy(tmp_path / name, SeriesInstanceUID=series, ImagePositionPatient=[0, 0, z])
    for name in bad:  # same series: the orientation used to break the whole series' order
        ds = pydicom.dcmread(tmp_path / name)
        ds.SeriesInstanceUID = series
        ds.save_as(tmp_path / name)
    with pytest.raises(DataError, match=r"iop3\.dcm: ImageOrientationPatient has 3 values"):
        read_path(tmp_path)
    result, message = read_skipping(tmp_path)
    assert [Path(s.meta.source).name for s in result.slices] == ["good1.dcm", "good0.dcm"]
    assert {Path(p).name for p, _ in result.skipped} == set(bad)
    assert all(name in message for name in bad)


def npz_file(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def bad_npzs(folder: Path) -> dict[str, str]:
    """npz files with wrong shapes, types and label counts, and their errors."""
    images = np.zeros((3, 8, 8), np.uint8)
    npz_file(folder / "flat.npz", train_images=np.zeros((3, 64), np.uint8))
    npz_file(folder / "five.npz", train_images=np.zeros((3, 8, 8, 5), np.uint8))
    npz_file(folder / "short.npz", train_images=images, train_labels=np.array([0, 1]))
    npz_file(folder / "long.npz", train_images=images, train_labels=np.zeros((4, 1)))
    npz_file(folder / "text.npz", train_images=np.full((3, 8, 8), "x"))
    npz_file(folder / "names.npz", train_images=images, train_labels=np.array(["a", "b", "c"]))
    npz_file(folder / "half.npz", train_images=images, train_labels=np.array([0.0, 0.5, 1.0]))
    with zipfile.ZipFile(folder / "pickled.npz", "w") as archive:
        header = {"descr": "|O", "fortran_order": False, "shape": (3, 8, 8)}
        archive.writestr("train_images.npy", npz_member(header, bytes(64)))
    return {
        "flat.npz": "train_images has shape (3, 64): expected (N, H, W)",
        "five.npz": "train_images has shape (3, 8, 8, 5)",
        "short.npz": "train_labels has shape (2,): expected one label per image, 3 images but 2",
        "long.npz": "train_labels has shape (4, 1): expected one label per image, 3 images but 4",
        "text.npz": "train_images holds <U1 values, not numbers",
        "names.npz": "train_labels holds <U1 values, not class numbers",
        "half.npz": "train_labels holds values that are not class numbers: 0.5",
        "pickled.npz": "train_images holds object values, not numbers",
    }


def test_bad_npz_files_are_data_errors_naming_the_file(tmp_path: Path) -> None:
    for name, reason in bad_npzs(tmp_path).items():
        with pytest.raises(DataError) as caught:
            read_npz(tmp_path / name)
        assert str(caught.value).startswith(f"{tmp_path / name}: {reason}")


def test_bad_npz_files_in_a_folder_are_skipped_and_good_ones_load(tmp_path: Path) -> None:
    bad = bad_npzs(tmp_path)
    rgb = np.zeros((2, 8, 8, 3), np.uint8)
    npz_file(tmp_path / "good.npz", train_images=rgb, train_labels=np.array([[1], [0]]))
    result, message = read_skipping(tmp_path)
    assert [s.label for s in result.slices] == ["1", "0"]
    assert {Path(p).name for p, _ in result.skipped} == set(bad)
    assert all(name in message for name in bad)


# --- 3. symlinks, FIFOs, and naming what was skipped -------------------------------------------


def read_in_thread(path: Path) -> BaseException | object:
    """Run ``read_path(path)`` where a hang cannot block the test run; its outcome."""
    outcome: list[BaseException | object] = []

    def run() -> None:
        try:
            outcome.append(read_path(path))
        except BaseException as e:  # the outcome is what the test inspects
            outcome.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    assert outcome, f"read_path({path}) did not return: it opened the FIFO"
    return outcome[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_given_as_a_file_is_refused_without_opening_it(tmp_path: Path, capsys) -> None:
    fifo = tmp_path / "scan.png"
    os.mkfifo(fifo)
    outcome = read_in_thread(fifo)
    assert isinstance(outcome, DataError)
    assert str(outcome) == f"{fifo}: not a regular file: a FIFO (named pipe); not opened"
    for reader in (read_image_file, read_dicom_file, read_nifti, read_npz):
        with pytest.raises(DataError, match="not a regular file"):
            reader(fifo)
    assert main(["data", "info", str(fifo)]) == 2
    assert "not a regular file" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_inside_a_folder_is_skipped_with_a_warning(tmp_path: Path) -> None:
    png(tmp_path / "a.png")
    os.mkfifo(tmp_path / "pipe.png")
    for on_error in ("raise", "skip"):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            result = read_path(tmp_path, on_error=on_error)  # type: ignore[arg-type]
        assert len(result.slices) == 1
        assert result.skipped == [(str(tmp_path / "pipe.png"), "not a regular file")]
        (message,) = skip_warnings(record)
        assert f"1 x not a regular file ({tmp_path / 'pipe.png'})" in message


def test_symlinked_folders_inside_are_followed_once_outside_named_and_left(tmp_path) -> None:
    root, outside = tmp_path / "data", tmp_path / "elsewhere"
    png(root / "real" / "a.png")
    png(root / "store" / "b.png")
    png(outside / "secret.png")
    (root / "linked").symlink_to(root / "store")  # inside: read once, under one path
    (root / "out").symlink_to(outside)  # outside the folder read: left out, named
    (root / "real" / "loop").symlink_to(root)  # a loop back to the top
    result, message = read_skipping(root)
    assert sorted(Path(s.meta.source).name for s in result.slices) == ["a.png", "b.png"]
    reasons = dict(result.skipped)
    assert reasons[str(root / "out")] == "symlinked folder leads outside the folder read"
    assert reasons[str(root / "real" / "loop")] == "folder already read through another path"
    assert reasons[str(root / "store")] == "folder already read through another path"
    assert str(root / "out") in message
    # Under on_error="raise" too: a policy, not a bad file.
    with pytest.warns(UserWarning, match="skipped 3 file"):
        assert len(read_path(root).slices) == 2


def test_class_folders_with_a_link_outside_keep_their_labels(tmp_path: Path) -> None:
    root, outside = tmp_path / "data", tmp_path / "elsewhere"
    png(root / "glioma" / "g.png")
    png(root / "normal" / "n.png")
    png(outside / "x.png")
    (root / "extra").symlink_to(outside)
    result, message = read_skipping(root)
    assert [(Path(s.meta.source).name, s.label) for s in result.slices] == [
        ("g.png", "glioma"),
        ("n.png", "normal"),
    ]
    assert str(root / "extra") in message


def test_data_info_names_the_skipped_files(tmp_path: Path, capsys) -> None:
    png(tmp_path / "good.png")
    notes = [tmp_path / f"note{i}.txt" for i in range(7)]
    for note in notes:
        note.write_text("x")
    png_bomb(tmp_path / "bomb.png")
    assert main(["data", "info", str(tmp_path), "--image-size", "32"]) == 0
    out = capsys.readouterr().out
    assert "skipped     8 file(s)" in out
    assert "   7 x not a supported image format" in out and "   1 x over the pixel budget" in out
    assert "         bomb.png" in out
    shown = [n.name for n in notes if f"         {n.name}\n" in out]
    assert shown == [n.name for n in notes[:5]] and "         ... and 2 more" in out
    assert main(["data", "info", str(tmp_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["skipped_files"]["not a supported image format"] == [str(n) for n in notes]
    assert info["skipped_files"]["over the pixel budget"] == [str(tmp_path / "bomb.png")]


def test_data_info_takes_the_budget(tmp_path: Path, capsys) -> None:
    png(tmp_path / "a.png", (16, 16))
    png(tmp_path / "b.png", (8, 8))
    assert main(["data", "info", str(tmp_path), "--max-pixels", "100", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_images"] == 1 and info["skipped_files"] == {
        "over the pixel budget": [str(tmp_path / "a.png")]
    }
    assert main(["data", "info", str(tmp_path), "--max-total-pixels", "300"]) == 2
    assert "over the total pixel budget" in capsys.readouterr().err


def test_a_synthetic_manifest_cannot_point_outside_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "synthetic"
    png(folder / "synthetic_0.png")
    png(tmp_path / "patient.png")
    for name in ("../patient.png", str(tmp_path / "patient.png")):
        row = dict(zip(FIELDS, (name, "m", "0", "0", ""), strict=True))
        lines = [",".join(FIELDS), ",".join(row[f] for f in FIELDS)]
        (folder / "manifest.csv").write_text("\n".join(lines) + "\n")
        with pytest.raises(DataError, match=r"manifest\.csv: line 2: file .* lies outside"):
            load_synthetic_dataset(folder, 32)
    (folder / "manifest.csv").write_text(",".join(FIELDS) + "\nsynthetic_0.png,m,0,0,\n")
    assert len(load_synthetic_dataset(folder, 32)) == 1
