"""Tests for medgan_utils.data.dataset: resizing, the Dataset, the subject split, describe."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from medgan_utils.data.dataset import MedicalImageDataset, describe, resize_square, subject_split
from medgan_utils.data.slices import RawSlice, ReadResult, SliceMeta
from medgan_utils.errors import DataError


def _slices(n_subjects: int = 10, per_subject: int = 4, size: int = 20) -> list[RawSlice]:
    out = []
    for s in range(n_subjects):
        for k in range(per_subject):
            img = np.full((size, size), -1.0, np.float32)
            img[5:15, 5:15] = (k / per_subject) * 2 - 1
            meta = SliceMeta(f"s{s}.nii", f"sub-{s:02d}", k, {"site": "A" if s % 3 else "B"})
            out.append(RawSlice(img, meta, "lesion" if k % 2 else "no_lesion"))
    return out


def test_resize_square_pads_without_stretching():
    img = np.full((10, 40), 1.0, np.float32)  # a wide bright bar
    out = resize_square(img, 32)
    assert out.shape == (1, 32, 32) and out.dtype == torch.float32
    # the bar keeps its 1:4 aspect: rows near the top and bottom are padding (-1)
    assert out[0, :8].max() < -0.999 and out[0, -8:].max() < -0.999
    assert torch.allclose(out[0, 14:18], torch.ones(4, 32))


def test_resize_square_is_antialiased():
    checker = (np.indices((128, 128)).sum(0) % 2 * 2 - 1).astype(np.float32)
    out = resize_square(checker, 32)
    # a 1-pixel checkerboard averages to mid-grey instead of aliasing to black/white
    assert out.abs().max() < 0.05


def test_from_slices_labels_meta_and_getitem():
    ds = MedicalImageDataset.from_slices(ReadResult(_slices(), [("bad.png", "unreadable")]), 32)
    assert len(ds) == 40 and ds.images.shape == (40, 1, 32, 32)
    assert ds.classes == ["lesion", "no_lesion"]
    assert ds.labels.tolist()[:4] == [1, 0, 1, 0]
    item = ds[5]
    assert item["subject"] == "sub-01" and item["slice_index"] == 1 and item["label"] == 0
    assert item["groups"] == {"site": "A"}
    batch = next(iter(DataLoader(ds, batch_size=8)))
    assert batch["image"].shape == (8, 1, 32, 32)
    assert batch["groups"]["site"][0] == "B"
    info = describe(ds)
    assert info.classes == {"lesion": 20, "no_lesion": 20}
    assert info.groups == {"site": {"A": 24, "B": 16}}
    assert info.n_subjects == 10 and info.skipped == {"unreadable": 1}
    assert "lesion: 20" in info.to_text() and "1 x unreadable" in info.to_text()


def test_of_class_keeps_one_class_with_its_subjects():
    ds = MedicalImageDataset.from_slices(ReadResult(_slices(), []), 32)
    lesion = ds.of_class("lesion")
    assert len(lesion) == 20 and lesion.classes == ds.classes
    assert set(lesion.labels.tolist()) == {0}
    keep = (ds.labels == 0).nonzero()[:, 0]
    assert torch.equal(lesion.images, ds.images[keep])
    assert lesion.subjects == [ds.subjects[i] for i in keep.tolist()]
    assert torch.equal(ds.of_class(1).images, ds.of_class("no_lesion").images)
    with pytest.raises(ValueError, match="no class 'tumour'"):
        ds.of_class("tumour")
    with pytest.raises(ValueError, match="no class 2"):
        ds.of_class(2)
    unlabelled = MedicalImageDataset(ds.images, torch.full((40,), -1), ds.meta)
    with pytest.raises(ValueError, match="needs a labelled dataset"):
        unlabelled.of_class(0)


def test_from_slices_rejects_bad_size_and_mixed_labels():
    with pytest.raises(ValueError, match="image_size"):
        MedicalImageDataset.from_slices(_slices(), 48)
    mixed = _slices(2, 2)
    mixed[0].label = None
    with pytest.raises(DataError, match="some images have a class label"):
        MedicalImageDataset.from_slices(mixed, 32)
    with pytest.raises(DataError, match="no images"):
        MedicalImageDataset.from_slices([], 32)


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_subject_split_is_disjoint_and_complete(seed):
    ds = MedicalImageDataset.from_slices(_slices(20, 3), 32)
    train, val, test = subject_split(ds, (0.6, 0.2, 0.2), seed=seed)
    subjects = [{ds.meta[i].subject for i in part.indices} for part in (train, val, test)]
    assert not (subjects[0] & subjects[1] or subjects[0] & subjects[2] or subjects[1] & subjects[2])
    assert [len(s) for s in subjects] == [12, 4, 4]
    assert sorted(train.indices + val.indices + test.indices) == list(range(len(ds)))
    again = subject_split(ds, (0.6, 0.2, 0.2), seed=seed)
    assert again[2].indices == test.indices


def test_subject_split_on_ids_and_bad_fractions():
    ids = ["a", "a", "b", "c", "c", "d"]
    train, val, test = subject_split(ids, (0.5, 0.25, 0.25), seed=0)
    assert len(train) + len(val) + len(test) == 6
    with pytest.raises(ValueError, match="sum to 1"):
        subject_split(ids, (0.5, 0.5, 0.5))
    with pytest.raises(ValueError, match="cannot fill"):
        subject_split(["a", "a"], (0.5, 0.25, 0.25))


def test_stored_codes_in_blocks_decode_like_one_array() -> None:
    """Compact storage (uint8 codes in blocks of consecutive images) behaves as the tensor."""
    from medgan_utils.data.dataset import decode_images, encode_images

    x = torch.linspace(-1, 1, 5 * 8 * 8).reshape(5, 8, 8)
    codes = encode_images(x, eight_bit=True)
    assert codes.dtype == np.uint8 and float((decode_images(codes) - x).abs().max()) <= 1 / 255
    meta = [SliceMeta(f"{i}.png", f"s{i}") for i in range(5)]
    blocks = MedicalImageDataset([codes[:2], codes[2:]], torch.full((5,), -1), meta)
    whole = MedicalImageDataset(decode_images(codes)[:, None], torch.full((5,), -1), meta)
    assert len(blocks) == 5 and blocks.image_size == 8 and len(blocks.code_blocks) == 2
    for i in (0, 1, 2, 4, -1):
        assert torch.equal(blocks[i]["image"], whole[i]["image"]) and blocks[i]["source"]
    with pytest.raises(IndexError):
        blocks[5]
    assert describe(blocks).intensity == pytest.approx(describe(whole).intensity, abs=1e-6)
    assert torch.equal(blocks.images, whole.images) and blocks.code_blocks == []
    half = encode_images(x, eight_bit=False)
    assert half.dtype == np.float16 and float((decode_images(half) - x).abs().max()) <= 2**-11
    with pytest.raises(ValueError, match="uint8 or float16 alike"):
        MedicalImageDataset([codes[:2], half[2:]], torch.full((5,), -1), meta)
    with pytest.raises(ValueError, match=r"\(N, S, S\)"):
        MedicalImageDataset(codes[:, :4], torch.full((5,), -1), meta)
    with pytest.raises(ValueError, match="5 images, 4 labels"):
        MedicalImageDataset(codes, torch.full((4,), -1), meta)
