from __future__ import annotations

import importlib.util
import io

import numpy as np
import pydicom
import pytest
import torch
from PIL import Image
from pydicom.uid import UID

from medgan_utils import exports
from medgan_utils.data.dicom import read_dicom_series
from medgan_utils.data.readers import read_path
from medgan_utils.errors import DataError, FolderBusyError
from medgan_utils.exports import (
    GRID_FILE,
    SC_IMAGE_STORAGE,
    export_dicom,
    export_pngs,
    png_bytes,
    read_samples,
    safe_name,
    sample_files,
    synthetic_marks,
    synthetic_name,
    synthetic_stem,
)
from medgan_utils.gan.models import DCGANConfig, Generator
from medgan_utils.gan.zoo import generate
from medgan_utils.settings import CLAIM_FILE, claim_folder

PHI = (
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "PatientAddress",
    "InstitutionName",
    "InstitutionAddress",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "AccessionNumber",
    "OtherPatientIDs",
    "OtherPatientIDsSequence",
    "OtherPatientNames",
)


@pytest.fixture
def images():
    return torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_a_dicom_export_says_synthetic_and_carries_no_patient_identifiers(images, tmp_path):
    files = export_dicom(images, tmp_path / "out", model="my model", seed=7)
    assert [f.name for f in files] == [f"synthetic_my-model_seed7_{i:04d}.dcm" for i in range(3)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f.name for f in files]
    sets = [pydicom.dcmread(f) for f in files]
    for i, ds in enumerate(sets):
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert ds.SOPClassUID == SC_IMAGE_STORAGE == ds.file_meta.MediaStorageSOPClassUID
        assert list(ds.ImageType)[:2] == ["DERIVED", "SECONDARY"] and "SYNTHETIC" in ds.ImageType
        assert "SYNTHETIC" in ds.SeriesDescription and "SYNTHETIC" in ds.ImageComments
        assert "my model" in ds.DerivationDescription and "seed 7" in ds.DerivationDescription
        assert ds.ConversionType == "SYN" and ds.BurnedInAnnotation == "NO"
        assert str(ds.PatientName) == "SYNTHETIC"
        assert ds.PatientID.startswith("synthetic_")
        for tag in PHI:
            assert not ds.get(tag), f"{tag} = {ds.get(tag)!r}"
        assert ds.PhotometricInterpretation == "MONOCHROME2" and ds.BitsStored == 16
        assert ds.InstanceNumber == i + 1
    # new UIDs: one study and series per export, one instance per image, all valid
    uids = [ds.SOPInstanceUID for ds in sets]
    assert len(set(uids)) == 3 and all(UID(u).is_valid for u in uids)
    assert len({ds.StudyInstanceUID for ds in sets}) == 1
    assert len({ds.SeriesInstanceUID for ds in sets}) == 1
    assert sets[0].StudyInstanceUID != sets[0].SeriesInstanceUID
    again = pydicom.dcmread(export_dicom(images, tmp_path / "again", "my model", 7)[0])
    assert again.StudyInstanceUID != sets[0].StudyInstanceUID
    assert again.SOPInstanceUID not in uids


def test_dicom_pixels_round_trip(images, tmp_path):
    files = export_dicom(images, tmp_path / "out", model="m", seed=0)
    stored = np.stack([pydicom.dcmread(f).pixel_array for f in files]).astype(np.float64)
    assert stored.max() <= 65535
    assert np.abs(stored / 65535 * 2 - 1 - images[:, 0].numpy()).max() <= 1 / 65535 + 1e-7
    # the project's reader windows them back onto [-1, 1], in instance order
    back = np.stack([s.image for s in read_dicom_series(reversed(files))])
    assert np.abs(back - images[:, 0].numpy()).max() < 2 / 65535
    found = read_path(tmp_path / "out")
    assert len(found.slices) == 3 and not found.skipped


def test_dicom_rgb_and_bad_input(tmp_path):
    rgb = torch.zeros(1, 3, 8, 8)
    ds = pydicom.dcmread(export_dicom(rgb, tmp_path / "rgb", "m", 0)[0])
    assert ds.PhotometricInterpretation == "RGB" and ds.pixel_array.shape == (8, 8, 3)
    with pytest.raises(ValueError, match="shape"):
        export_dicom(torch.zeros(1, 2, 8, 8), tmp_path / "two", "m", 0)
    with pytest.raises(DataError, match="not empty"):
        export_dicom(rgb, tmp_path / "rgb", "m", 0)


# --------------------------------------------------------------------------- the rule


def test_names_and_marks():
    assert safe_name("my model/v2") == "my-model-v2" and safe_name("a_b-1") == "a_b-1"
    assert synthetic_stem("my model", 7) == "synthetic_my-model_seed7"
    assert synthetic_stem("pkg") == "synthetic_pkg"  # medigan packages get no seed
    assert synthetic_name("my model", 7, 3) == "synthetic_my-model_seed7_0003.png"
    assert synthetic_name("m", None, 12, ".dcm", label="lesion") == "synthetic_m_0012_lesion.dcm"
    marks = synthetic_marks("m", 7, label="lesion", truncation=1.0, seeds="1->2")
    assert list(marks.items()) == [
        ("synthetic", "true"),
        ("model", "m"),
        ("seed", "7"),
        ("label", "lesion"),
        ("truncation", "1.0"),
        ("seeds", "1->2"),
    ]
    assert synthetic_marks("m") == {"synthetic": "true", "model": "m"}


def test_png_bytes_keep_pixels_and_marks():
    rgb = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    gray = rgb[..., 0]
    cases = [(gray, gray), (gray[None], gray), (rgb, rgb), (rgb.transpose(2, 0, 1), rgb)]
    for given, shown in cases:  # (H, W), (1, H, W), (H, W, 3), (3, H, W)
        with Image.open(io.BytesIO(png_bytes(given, synthetic_marks("m", 1)))) as im:
            assert im.text == {"synthetic": "true", "model": "m", "seed": "1"}
            assert np.array_equal(np.asarray(im), shown)
    assert png_bytes(rgb, {"a": "1"}) == png_bytes(rgb, {"a": "1"})  # repeatable


def test_export_pngs_are_marked_and_repeatable(tmp_path):
    torch.manual_seed(0)
    cfg = DCGANConfig(image_size=32, width=8, latent_dim=16)
    images = generate(Generator(cfg), 3, seed=0)
    files = export_pngs(images, tmp_path / "a", model="my model", seed=0)
    assert [f.name for f in files] == [
        "synthetic_my-model_seed0_0000.png",
        "synthetic_my-model_seed0_0001.png",
        "synthetic_my-model_seed0_0002.png",
        "grid.png",
    ]
    png = Image.open(files[0])
    assert png.text == {"synthetic": "true", "model": "my model", "seed": "0"}
    expected = np.round((images[0, 0].numpy() + 1) * 127.5).astype(np.uint8)
    assert np.array_equal(np.array(png), expected)
    again = export_pngs(images, tmp_path / "b", model="my model", seed=0)
    assert [f.read_bytes() for f in files] == [f.read_bytes() for f in again]
    with pytest.raises(DataError, match="not empty"):
        export_pngs(images, tmp_path / "a", model="my model", seed=0)
    # the DICOM export names its files by the same rule
    dicom = export_dicom(images, tmp_path / "dicom", model="my model", seed=0)
    assert [f.stem for f in dicom] == [f.stem for f in files[:-1]]


@pytest.mark.parametrize("export", [export_pngs, export_dicom])
def test_an_interrupted_export_removes_what_it_wrote(images, tmp_path, monkeypatch, export):
    real, calls = exports.atomic_path, []

    def interrupt_at_the_third_file(path):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(path)

    monkeypatch.setattr(exports, "atomic_path", interrupt_at_the_third_file)
    with pytest.raises(KeyboardInterrupt):
        export(images, tmp_path / "new", model="m", seed=0)
    assert len(calls) == 3 and not (tmp_path / "new").exists()  # it created it: gone again
    (tmp_path / "empty").mkdir()
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        export(images, tmp_path / "empty", model="m", seed=0)
    assert list((tmp_path / "empty").iterdir()) == []  # an existing folder stays, empty


def test_exports_refuse_a_folder_another_writer_holds(images, tmp_path):
    with claim_folder(tmp_path / "held"):
        with pytest.raises(FolderBusyError, match="another medgan process is writing here"):
            export_pngs(images, tmp_path / "held", model="m", seed=0)
        assert [p.name for p in (tmp_path / "held").iterdir()] == [CLAIM_FILE]
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DataError, match="afile: is a file, not a folder"):
        export_dicom(images, tmp_path / "afile", model="m", seed=0)


def test_the_grid_is_not_a_sample(images, tmp_path):
    files = export_pngs(images, tmp_path / "out", model="m", seed=0)
    assert files[-1].name == GRID_FILE
    assert sample_files(tmp_path / "out") == files[:-1]
    assert sample_files(tmp_path) is None  # no grid.png: not an export folder
    dicom = export_dicom(images, tmp_path / "dicom", model="m", seed=0)
    assert sample_files(dicom[0].parent) is None and read_samples(dicom[0].parent) is None


def test_the_medigan_package_template_names_and_marks_by_the_same_rule(root, tmp_path):
    """hub/template.py is copied alone into medigan packages, so it cannot import this rule;
    its files must still be named and marked as exports names and marks them."""
    path = root / "medgan_utils" / "hub" / "template.py"
    spec = importlib.util.spec_from_file_location("medigan_package_template", path)
    template = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(template)
    pixels = np.zeros((3, 8, 8, 1), dtype=np.uint8)
    for labels in ([None] * 3, ["lesion", "no_lesion", "lesion"]):
        out = tmp_path / str(labels[0])
        template._save(pixels, labels, out, "00042_DCGAN_BRAIN")
        names = [
            synthetic_name("00042_DCGAN_BRAIN", None, i, label=lab) for i, lab in enumerate(labels)
        ]
        assert sorted(p.name for p in out.iterdir()) == names
        for name, label in zip(names, labels, strict=True):
            with Image.open(out / name) as im:
                assert im.text == synthetic_marks("00042_DCGAN_BRAIN", label=label)
