"""Tests for medgan_utils.data.cache: the compact read and its on-disk cache (through
load_dataset): used on the second read, rebuilt whenever files, options or versions differ
or the cache is damaged, equal to the uncached read, and writing only in its folder."""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from medical_files import bright_volume, medmnist, nifti, user_warnings
from PIL import Image

import medgan_utils.data.cache as cache_module
import medgan_utils.data.readers as readers_module
from medgan_utils.data.cache import clear_cache, read_dataset
from medgan_utils.data.dataset import MedicalImageDataset, describe, resize_square
from medgan_utils.data.load import load_dataset
from medgan_utils.data.readers import read_path

SETTLED = time.time() - 60  # files older than SETTLE_SECONDS: cacheable


def settle(folder: Path, when: float = SETTLED) -> None:
    """Date every file below ``folder`` back, as a dataset downloaded a while ago."""
    for p in [folder, *folder.rglob("*")]:
        os.utime(p, (when, when))


def brain_folder(root: Path, n: int = 3, side: int = 24, wide: int = 0) -> Path:
    """Class subfolders of 8-bit grayscale PNGs and JPEGs of random pixels; the first of each
    class ``wide`` pixels wider."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(("glioma", "notumor")):
        for i in range(n):
            pixels = rng.integers(0, 256, (side, side + wide * (i == 0)), dtype=np.uint8)
            suffix = ".jpg" if i == 1 else ".png"
            (root / name).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(root / name / f"{name[0]}{c}{i}{suffix}")
    settle(root)
    return root


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MEDGAN_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every image file the readers decode, in order."""
    seen: list[Path] = []
    real = readers_module.read_image_and_mode

    def counting(path, *args, **kwargs):
        seen.append(Path(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(readers_module, "read_image_and_mode", counting)
    return seen


def assert_same(a: MedicalImageDataset, b: MedicalImageDataset) -> None:
    assert torch.equal(a.images, b.images)
    assert torch.equal(a.labels, b.labels)
    assert a.meta == b.meta and a.classes == b.classes and a.skipped == b.skipped


def cache_files(home: Path) -> list[str]:
    folder = home / "reads"
    return sorted(p.suffix for p in folder.iterdir()) if folder.is_dir() else []


def test_second_read_uses_the_cache(tmp_path, home, decodes):
    folder = brain_folder(tmp_path / "mri")
    first = load_dataset(folder, 32)
    assert len(decodes) == 6 and first.cache_note.startswith("written to")
    assert cache_files(home) == [".json", ".npy"]
    decodes.clear()
    second = load_dataset(folder, 32)
    assert decodes == []  # not one image file opened
    assert second.cache_note.startswith("read from") and "memory-mapped" in second.cache_note
    [block] = second.code_blocks  # one memory-mapped block, read from the cache
    assert isinstance(block, np.memmap) and block.dtype == np.uint8
    assert_same(first, second)
    assert second.classes == ["glioma", "notumor"] and second.labels.tolist() == [0, 0, 0, 1, 1, 1]


def test_the_cache_serves_the_folder_however_it_is_named(tmp_path, home, decodes, monkeypatch):
    folder = brain_folder(tmp_path / "mri")
    absolute = load_dataset(folder, 32)
    monkeypatch.chdir(tmp_path)
    decodes.clear()
    relative = load_dataset("mri", 32)
    assert decodes == [] and relative.meta[0].source == str(Path("mri/glioma/g00.png"))
    uncached = load_dataset("mri", 32, cache=False)
    assert_same(relative, uncached)
    assert torch.equal(absolute.images, relative.images)


@pytest.mark.parametrize("change", ["touch", "rewrite", "add", "remove", "add_hidden_folder"])
def test_a_changed_folder_is_read_again(tmp_path, home, decodes, change):
    folder = brain_folder(tmp_path / "mri")
    before = load_dataset(folder, 32)
    target = folder / "glioma" / "g00.png"
    if change == "touch":  # same bytes, another time
        os.utime(target, (SETTLED - 5, SETTLED - 5))
    elif change == "rewrite":  # other pixels, a millisecond later
        Image.fromarray(np.zeros((24, 24), np.uint8)).save(target)
        os.utime(target, (SETTLED, SETTLED + 1e-3))
    elif change == "add":
        Image.fromarray(np.zeros((24, 24), np.uint8)).save(folder / "notumor" / "n9.png")
        settle(folder)
    elif change == "remove":
        target.unlink()
    else:  # hidden entries are never read: the same files, the cache holds
        (folder / ".thumbs").mkdir()
        settle(folder)
    decodes.clear()
    after = load_dataset(folder, 32)
    if change == "add_hidden_folder":
        assert decodes == [] and after.cache_note.startswith("read from")
        return
    assert len(decodes) == {"add": 7, "remove": 5}.get(change, 6)
    assert after.cache_note.startswith("written to")
    assert len(after) == {"add": 7, "remove": 5}.get(change, 6)
    if change == "rewrite":
        assert float(after.images[0].max()) == -1.0 and float(before.images[0].max()) > -1.0
    assert_same(after, load_dataset(folder, 32, cache=False))
    decodes.clear()
    load_dataset(folder, 32)
    assert decodes == []  # the rebuilt cache serves the next read


def test_other_options_or_sizes_get_their_own_cache(tmp_path, home, decodes):
    folder = brain_folder(tmp_path / "mri")
    load_dataset(folder, 32)
    decodes.clear()
    assert load_dataset(folder, 64).image_size == 64 and len(decodes) == 6
    decodes.clear()
    flat = load_dataset(folder, 32, class_folders=False)
    assert len(decodes) == 6 and flat.classes == []
    decodes.clear()
    load_dataset(folder, 32, workers=1, progress=False)  # changes nothing read: cached
    assert decodes == []


@pytest.mark.parametrize("what", ["format", "package"])
def test_a_cache_of_another_version_is_rebuilt(tmp_path, home, decodes, monkeypatch, what):
    folder = brain_folder(tmp_path / "mri")
    first = load_dataset(folder, 32)
    if what == "format":
        monkeypatch.setattr(cache_module, "CACHE_VERSION", cache_module.CACHE_VERSION + 1)
    else:
        monkeypatch.setattr(cache_module, "_package_version", lambda: "0.0.0-other")
    decodes.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # another version is no damage: no warning
        again = load_dataset(folder, 32)
    assert len(decodes) == 6 and again.cache_note.startswith("written to")
    assert_same(first, again)
    record = json.loads(next((home / "reads").glob("*.json")).read_text())
    assert record["format"] == cache_module.CACHE_VERSION


def _truncate(npy: Path) -> None:
    data = npy.read_bytes()
    npy.write_bytes(data[: len(data) // 2])


def _same_size_other_bytes(npy: Path) -> None:
    npy.write_bytes(b"\x93NUMPY" + b"\0" * (npy.stat().st_size - 6))


def _bad_json(npy: Path) -> None:
    npy.with_suffix(".json").write_text("{not json")


def _short_record(npy: Path) -> None:
    record_path = npy.with_suffix(".json")
    record = json.loads(record_path.read_text())
    record["subjects"] = record["subjects"][:-1]
    record_path.write_text(json.dumps(record))


def _npy_gone(npy: Path) -> None:
    npy.unlink()


@pytest.mark.parametrize(
    "damage", [_truncate, _same_size_other_bytes, _bad_json, _short_record, _npy_gone]
)
def test_a_damaged_cache_is_rebuilt_with_a_warning(tmp_path, home, decodes, damage):
    folder = brain_folder(tmp_path / "mri")
    first = load_dataset(folder, 32)
    damage(next((home / "reads").glob("*.npy"), home / "reads" / "x.npy"))
    decodes.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = load_dataset(folder, 32)
    assert any("unreadable cache" in w for w in user_warnings(caught))
    assert len(decodes) == 6
    assert_same(first, again)
    decodes.clear()
    assert_same(first, load_dataset(folder, 32))
    assert decodes == []  # repaired


def test_an_unwritable_cache_folder_warns_and_reads(tmp_path, home, decodes):
    folder = brain_folder(tmp_path / "mri")
    home.mkdir()
    (home / "reads").write_text("a file where the cache folder goes")
    with pytest.warns(UserWarning, match="could not write the cache"):
        ds = load_dataset(folder, 32)
    assert len(ds) == 6 and ds.cache_note.startswith("not written")


def test_an_unusable_medgan_home_warns_and_reads(tmp_path, monkeypatch):
    folder = brain_folder(tmp_path / "mri")
    (tmp_path / "home").write_text("a file where MEDGAN_HOME's folder goes")
    monkeypatch.setenv("MEDGAN_HOME", str(tmp_path / "home" / "medgan"))
    with pytest.warns(UserWarning, match="no cache"):
        ds = load_dataset(folder, 32)
    assert len(ds) == 6 and ds.cache_note.startswith("not used")


def test_files_changed_a_moment_ago_are_not_cached(tmp_path, home):
    folder = brain_folder(tmp_path / "mri")
    os.utime(folder / "glioma" / "g00.png")  # now: its next change may keep this stamp
    ds = load_dataset(folder, 32)
    assert ds.cache_note.startswith("not written") and cache_files(home) == []


def _files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


def test_cache_false_writes_nothing_anywhere(tmp_path, home):
    folder = brain_folder(tmp_path / "mri")
    before = _files(tmp_path)
    ds = load_dataset(folder, 32, cache=False)
    assert len(ds) == 6 and ds.cache_note == "not used (cache=False)"
    assert _files(tmp_path) == before and not home.exists()


def test_the_cache_writes_only_its_two_files_in_its_folder(tmp_path, home):
    folder = brain_folder(tmp_path / "mri")
    before = _files(tmp_path)
    load_dataset(folder, 32)
    load_dataset(folder, 32)
    new = sorted(set(_files(tmp_path)) - set(before))
    reads = home.relative_to(tmp_path) / "reads"
    assert [Path(p) for p in new if (tmp_path / p).is_file()] == [
        reads / f"mri-32px-{p.stem.split('-')[-1]}{suffix}"
        for p in sorted((home / "reads").iterdir())
        for suffix in [p.suffix]
    ]
    assert sorted(p.suffix for p in (home / "reads").iterdir()) == [".json", ".npy"]
    assert {k: v for k, v in _files(tmp_path).items() if k in before} == before
    assert clear_cache()[0] == 2 and cache_files(home) == []


@pytest.mark.filterwarnings("ignore:.*images come in")  # 2 or 3 sizes, 1 or 2 modes
def test_cached_equals_uncached_and_the_float_path_within_quantisation(tmp_path, home):
    folder = brain_folder(tmp_path / "mri", n=4, side=40, wide=8)
    tiff = folder / "glioma" / "g16.tif"  # 16-bit: the whole read is stored as float16
    Image.fromarray(np.random.default_rng(1).integers(0, 4096, (30, 30), np.uint16)).save(tiff)
    tiff_bytes = tiff.read_bytes()
    for sources in ("8-bit", "mixed"):
        if sources == "8-bit":
            tiff.unlink()
        else:
            tiff.write_bytes(tiff_bytes)
        settle(folder)
        written = load_dataset(folder, 32)
        cached = load_dataset(folder, 32)
        uncached = load_dataset(folder, 32, cache=False)
        assert written.cache_note.startswith("written") and cached.cache_note.startswith("read")
        assert_same(written, cached)
        assert_same(cached, uncached)
        # The float32 path: every slice resized alone, no quantisation.
        reference = MedicalImageDataset.from_slices(read_path(folder), 32).images
        error = float((cached.images - reference).abs().max())
        if sources == "8-bit":
            assert cached.code_blocks == [] and uncached.code_blocks == []  # decoded above
            assert 0 < error <= 1 / 255 + 1e-6
        else:  # 16-bit: float16; 8-bit: uint8 codes, stored as float16 beside it
            tiff_index = [m.source for m in cached.meta].index(str(tiff))
            assert float((cached.images - reference)[tiff_index].abs().max()) <= 2**-11 + 1e-6
            assert 0 < error <= 1 / 255 + 2**-11 + 1e-6
    assert load_dataset(folder, 32).code_blocks[0].dtype == np.float16
    tiff.unlink()
    settle(folder)
    assert load_dataset(folder, 32).code_blocks[0].dtype == np.uint8


def test_items_are_decoded_one_at_a_time(tmp_path, home):
    folder = brain_folder(tmp_path / "mri")
    load_dataset(folder, 32)
    ds = load_dataset(folder, 32)
    item = ds[4]
    assert item["image"].shape == (1, 32, 32) and item["image"].dtype == torch.float32
    assert item["label"] == 1 and item["source"].endswith("n11.jpg")
    info = describe(ds)
    assert ds.code_blocks  # neither an item nor describe decodes the whole set
    assert info.cache.startswith("read from")
    full = ds.images
    assert ds.code_blocks == [] and torch.equal(full[4], item["image"])
    assert info.intensity == pytest.approx(describe(ds).intensity, abs=1e-6)


def test_nifti_and_npz_are_cached_too(tmp_path, home, monkeypatch):
    volume = nifti(tmp_path / "sub-01_T1w.nii.gz", bright_volume())
    npz = medmnist(tmp_path / "organmnist.npz")
    settle(tmp_path)
    calls: list[str] = []
    real_nifti = readers_module.read_nifti
    monkeypatch.setattr(
        readers_module, "read_nifti", lambda *a: calls.append("nifti") or real_nifti(*a)
    )
    for path, dtype in ((volume, np.float16), (npz, np.uint8)):
        first = load_dataset(path, 32)
        second = load_dataset(path, 32)
        assert second.cache_note.startswith("read from") and second.code_blocks[0].dtype == dtype
        assert_same(first, second)
        assert second.meta[0].source == str(path)
    assert calls == ["nifti"]
    test_split = load_dataset(npz, 32, split="test")  # another split: another cache
    assert len(test_split) == 3 and test_split.cache_note.startswith("written to")


def test_skipped_files_and_warnings_come_back_from_the_cache(tmp_path, home):
    folder = brain_folder(tmp_path / "mri")
    (folder / "notumor" / "notes.txt").write_text("not an image")
    Image.fromarray(np.zeros((10, 10), np.uint8)).convert("RGB").save(folder / "glioma" / "c.png")
    settle(folder)
    for expected in ("written to", "read from"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = load_dataset(folder, 32, on_error="skip")
        assert ds.cache_note.startswith(expected)
        messages = user_warnings(caught)
        assert any("skipped 1 file(s)" in m and "notes.txt" in m for m in messages)
        assert any("images come in" in m and "modes" in m for m in messages)
        assert ds.skipped == [
            (str(folder / "notumor" / "notes.txt"), "not a supported image format")
        ]
    with pytest.raises(Exception, match="notes.txt"):  # "raise" has its own cache: it raises
        load_dataset(folder, 32)


def test_read_dataset_checks_its_arguments(tmp_path, home):
    folder = brain_folder(tmp_path / "mri")
    with pytest.raises(ValueError, match="image_size"):
        read_dataset(folder, 48)
    with pytest.raises(ValueError, match="on_error"):
        read_dataset(folder, 32, on_error="ignore")
    with pytest.raises(TypeError, match="colour"):
        read_dataset(folder, 32, colour=True)
    with pytest.raises(ValueError, match="workers"):
        read_dataset(folder, 32, workers=0, cache=False)


def test_resize_square_still_pads_and_resizes():
    x = np.full((4, 8), 1.0, np.float32)
    out = resize_square(x, 8)[0]
    assert out.shape == (8, 8) and float(out[0, 0]) == -1.0 and float(out[4, 4]) == 1.0
