"""Tests for medgan_utils.data.readers: read_path's dispatch, folders, classes, skips, warnings."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
from medical_files import (
    SHAPE,
    bright_volume,
    dicom,
    dicom_copy,
    medmnist,
    needs_undecodable_jpeg,
    nifti,
    png,
    user_warnings,
)
from pydicom.uid import generate_uid

from medgan_utils.data.readers import read_path
from medgan_utils.errors import DataError


def test_class_subfolders_give_labels(tmp_path: Path) -> None:
    png(tmp_path / "glioma" / "g2.png")
    png(tmp_path / "glioma" / "g1.jpg")
    png(tmp_path / "notumor" / "n1.png")
    (tmp_path / ".DS_Store").write_bytes(b"\0\1")
    (tmp_path / "notumor" / ".hidden.png").write_text("x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = read_path(tmp_path)
    assert [(Path(s.meta.source).name, s.label) for s in result.slices] == [
        ("g1.jpg", "glioma"),
        ("g2.png", "glioma"),
        ("n1.png", "notumor"),
    ]
    assert result.skipped == []


def test_flat_folder_with_nested_dicom_series_and_preamble(tmp_path: Path) -> None:
    (tmp_path / "patient").mkdir()
    uid = generate_uid()
    # No .dcm extension: found by the DICM preamble. IM0 sits beside a folder: flat layout.
    for name, z in [("IM0", 2.0), ("patient/IM1", 0.0), ("patient/IM2", 1.0)]:
        dicom_copy(tmp_path / name, SeriesInstanceUID=uid, ImagePositionPatient=[0.0, 0.0, z])
    result = read_path(tmp_path)
    assert [Path(s.meta.source).name for s in result.slices] == ["IM1", "IM2", "IM0"]
    assert [s.meta.slice_index for s in result.slices] == [0, 1, 2]
    assert all(s.label is None for s in result.slices)


def test_unknown_file_raises_or_is_skipped_with_one_warning(tmp_path: Path) -> None:
    png(tmp_path / "a.png")
    png(tmp_path / "sub" / "b.png")
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "broken1.png").write_text("not a png")
    (tmp_path / "sub" / "broken2.png").write_text("not a png")
    with pytest.raises(DataError, match=r"broken1\.png: not an image Pillow can read"):
        read_path(tmp_path)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        result = read_path(tmp_path, on_error="skip")
    (message,) = user_warnings(record)
    assert "skipped 3 file(s)" in message
    assert "2 x not an image Pillow can read" in message
    assert "1 x not a supported image format" in message
    assert len(result.slices) == 2
    assert (str(tmp_path / "notes.txt"), "not a supported image format") in result.skipped


@needs_undecodable_jpeg
def test_skip_mode_groups_dicom_errors(tmp_path: Path) -> None:
    for name in ("MR_small.dcm", "MR_truncated.dcm", "JPEG-lossy.dcm", "rtplan.dcm"):
        shutil.copy(dicom(name), tmp_path / name)
    with pytest.warns(UserWarning, match="skipped 3 file") as record:
        result = read_path(tmp_path, on_error="skip")
    assert len(result.slices) == 1
    reasons = sorted(r for _, r in result.skipped)
    assert reasons == [
        "cannot decode JPEG Extended (Process 2 and 4) pixel data",
        "no pixel data",
        "truncated or corrupt DICOM pixel data",
    ]
    assert len(user_warnings(list(record))) == 1


def test_empty_and_unreadable_folders(tmp_path: Path) -> None:
    (tmp_path / ".DS_Store").write_bytes(b"x")
    with pytest.raises(DataError, match="no images found"):
        read_path(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="no images could be read: 1 x not a supported"):
        read_path(tmp_path, on_error="skip")
    with pytest.raises(DataError, match="no such file"):
        read_path(tmp_path / "missing")


def test_mixed_sizes_and_modes_warn_once(tmp_path: Path) -> None:
    png(tmp_path / "a.png", (8, 8))
    png(tmp_path / "b.png", (16, 8), "RGB")
    png(tmp_path / "c.png", (16, 8))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        read_path(tmp_path)
    (message,) = user_warnings(record)
    assert "2 sizes (16x8: 2, 8x8: 1)" in message and "2 modes (L: 2, RGB: 1)" in message


def test_single_files_dispatch(tmp_path: Path) -> None:
    assert len(read_path(png(tmp_path / "x.bmp")).slices) == 1
    assert len(read_path(medmnist(tmp_path / "m.npz"), npz_split="test").slices) == 3
    volume = nifti(tmp_path / "v.nii.gz", bright_volume())
    assert len(read_path(volume, axis="coronal", min_foreground=0).slices) == SHAPE[1]
    assert len(read_path(dicom("rtdose.dcm")).slices) == 15


def test_dicom_patient_folders_are_not_classes(tmp_path: Path) -> None:
    # A DICOM export: root/<patient>/<file>. Every entry is a folder, yet these are patients.
    for patient in ("p01", "p02"):
        (tmp_path / patient).mkdir()
        series = generate_uid()
        dicom_copy(tmp_path / patient / "IM0.dcm", PatientID=patient, SeriesInstanceUID=series)
    result = read_path(tmp_path)
    assert [(s.meta.subject, s.label) for s in result.slices] == [("p01", None), ("p02", None)]
    forced = read_path(tmp_path, class_folders=True)
    assert [s.label for s in forced.slices] == ["p01", "p02"]


def _many_pngs(folder: Path, n: int = 40) -> list[Path]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = folder / ("a" if i % 2 else "b") / f"img{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def test_threads_read_the_same_slices_in_the_same_order(tmp_path: Path) -> None:
    import numpy as np
    import torch

    paths = _many_pngs(tmp_path)
    paths[7].write_bytes(b"not a png")
    (tmp_path / "b" / "notes.txt").write_text("x")
    threads = torch.get_num_threads()
    results = []
    for workers in (1, 4):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results.append(read_path(tmp_path, on_error="skip", workers=workers))
        assert len(user_warnings(caught)) == 1  # the one "skipped 2 file(s)"
    serial, parallel = results
    assert [s.meta for s in serial.slices] == [s.meta for s in parallel.slices]
    assert [s.label for s in serial.slices] == [s.label for s in parallel.slices]
    pairs = zip(serial.slices, parallel.slices, strict=True)
    assert all(np.array_equal(a.image, b.image) for a, b in pairs)
    assert serial.skipped == parallel.skipped and len(serial.skipped) == 2
    assert parallel.sizes == {"12x12": 39} and parallel.modes == {"L": 39}
    assert torch.get_num_threads() == threads  # the workers' one thread each is undone
    # under "raise", the first bad file in order stops the read, whatever the threads
    with pytest.raises(DataError, match="img007.png"):
        read_path(tmp_path, workers=4)


def test_transform_runs_on_every_slice(tmp_path: Path) -> None:
    import numpy as np

    _many_pngs(tmp_path, 20)
    result = read_path(
        tmp_path, workers=2, transform=lambda s: type(s)(s.image[:2, :3], s.meta, s.label)
    )
    assert len(result.slices) == 20 and {s.image.shape for s in result.slices} == {(2, 3)}
    assert result.sizes == {"12x12": 20}  # as read, before the transform
    assert all(isinstance(s.image, np.ndarray) for s in result.slices)


def test_progress_bar_only_when_asked_or_on_a_terminal(tmp_path: Path, capsys, monkeypatch):
    _many_pngs(tmp_path, 20)
    read_path(tmp_path)  # 20 files, and stderr is not a terminal here
    assert capsys.readouterr().err == ""
    read_path(tmp_path, progress=True)
    assert "20/20" in capsys.readouterr().err
    monkeypatch.setenv("MEDGAN_PROGRESS", "1")
    read_path(tmp_path)
    assert "20/20" in capsys.readouterr().err
    monkeypatch.setenv("MEDGAN_PROGRESS", "0")
    read_path(tmp_path, progress=None)
    assert capsys.readouterr().err == ""


def test_a_bomb_among_many_files_is_refused_by_the_threads(tmp_path: Path) -> None:
    import struct
    import zlib

    _many_pngs(tmp_path, 30)
    side = 30000  # a 1-bit PNG claiming 900 M pixels in a few kB
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    idat = zlib.compress(bytes(1 + side // 8) * 50, 9)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    bomb = tmp_path / "a" / "img000_bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat))
    with pytest.warns(UserWarning, match="skipped 1 file"):
        result = read_path(tmp_path, on_error="skip", workers=4)
    assert [Path(p).name for p, _ in result.skipped] == ["img000_bomb.png"]
    assert result.skipped[0][1] == "over the pixel budget"
    with pytest.raises(DataError, match="over the total pixel budget"):  # even when skipping
        read_path(tmp_path, on_error="skip", workers=4, max_total_pixels=12 * 12 * 10)
