from __future__ import annotations

import numpy as np
import pydicom
import pytest
import torch
from pydicom.uid import UID

from medgan_utils.data.readers import read_dicom_series, read_path
from medgan_utils.errors import DataError
from medgan_utils.exports import SC_IMAGE_STORAGE, export_dicom

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
