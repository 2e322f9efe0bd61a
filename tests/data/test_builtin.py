"""Tests for medgan_utils.data.builtin: the offline brain-MRI set, its cache and its labels."""

from __future__ import annotations

import dataclasses
from collections import defaultdict

import nibabel as nib
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from medgan_utils.data import builtin
from medgan_utils.data.builtin import (
    BuiltinConfig,
    build_builtin,
    cache_file,
    load_builtin,
    template_path,
)
from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.errors import DataError

SMALL = BuiltinConfig(n_subjects=4, slices_per_subject=8, image_size=32)
LABELLED = BuiltinConfig(labelled=True, n_subjects=20, slices_per_subject=16, image_size=32)


@pytest.fixture(scope="module")
def small() -> MedicalImageDataset:
    return build_builtin(SMALL)


@pytest.fixture(scope="module")
def labelled() -> MedicalImageDataset:
    return build_builtin(LABELLED)


def _same(a: MedicalImageDataset, b: MedicalImageDataset) -> bool:
    return (
        torch.equal(a.images, b.images)
        and torch.equal(a.labels, b.labels)
        and a.meta == b.meta
        and a.classes == b.classes
    )


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def _brain_box(image: np.ndarray, threshold: float, size: int = 32) -> np.ndarray:
    """Crop an image to its bright part's bounding box and resize to ``size``."""
    rows, cols = np.nonzero(image > threshold)
    crop = np.ascontiguousarray(image[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1])
    x = torch.from_numpy(crop.astype(np.float32))[None, None]
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True)[0, 0].numpy()


def _by_subject(ds: MedicalImageDataset) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for i, m in enumerate(ds.meta):
        out[m.subject].append(i)
    return out


@pytest.mark.parametrize("size", [32, 64, 128])
def test_shapes_and_range(size):
    ds = build_builtin(
        dataclasses.replace(SMALL, n_subjects=1, slices_per_subject=4, image_size=size)
    )
    assert ds.images.shape == (4, 1, size, size) and ds.images.dtype == torch.float32
    assert ds.images.min() >= -1 and ds.images.max() <= 1
    # background sits at -1 (plus a little noise), brain reaches well above 0
    assert ds.images[:, 0, :3, :3].mean() < -0.9 and ds.images.amax(dim=(1, 2, 3)).min() > 0.3
    assert ds.labels.tolist() == [-1] * 4 and ds.classes == [] and not ds.is_labelled


def test_metadata(small):
    assert len(small) == 32
    groups = _by_subject(small)
    assert list(groups) == ["vs-0000", "vs-0001", "vs-0002", "vs-0003"]
    for indices in groups.values():
        levels = [small.meta[i].slice_index for i in indices]
        steps = np.diff(levels)
        assert len(indices) == 8 and steps.min() >= 11 and steps.max() <= 12  # evenly spaced
        assert 42 <= min(levels) and max(levels) <= 127  # documented range
        assert len({small.meta[i].groups["site"] for i in indices}) == 1
    assert {m.source for m in small.meta} == {"builtin:mni152"}
    assert all(m.groups["site"] in {"A", "B"} for m in small.meta)
    starts = {small.meta[idx[0]].slice_index for idx in groups.values()}
    assert len(starts) > 1  # per-subject jitter of the levels
    item = small[3]
    assert item["subject"] == "vs-0000" and item["groups"] in ({"site": "A"}, {"site": "B"})


def test_deterministic_and_seeded(small):
    assert _same(build_builtin(SMALL), small)
    other = build_builtin(dataclasses.replace(SMALL, seed=1))
    assert (other.images - small.images).abs().mean() > 0.05


def test_subjects_differ(small):
    groups = _by_subject(small)
    first = small.images[groups["vs-0000"]]
    second = small.images[groups["vs-0001"]]
    assert (first - second).abs().mean() > 0.05


def test_images_look_like_brains(small):
    x = small.images[:, 0].numpy()
    centre, corners = x[:, 12:20, 12:20].mean(), x[:, :4, :4].mean()
    assert centre > corners + 0.8
    # the template is symmetric: left-right mirroring changes an image less than up-down
    lr = np.mean([_corr(i, i[:, ::-1]) for i in x])
    ud = np.mean([_corr(i, i[::-1]) for i in x])
    assert lr > 0.85 and lr > ud


def test_orientation_matches_rot90_of_template(small):
    volume = np.asarray(nib.load(template_path()).dataobj, dtype=np.float32) / 255.0
    right, flipped = [], []
    for image, meta in zip(small.images[:, 0].numpy(), small.meta, strict=True):
        expected = _brain_box(np.rot90(volume[:, :, meta.slice_index]), 0.05)
        got = _brain_box(image, -0.6)
        right.append(_corr(got, expected))
        flipped.append(_corr(got, expected[::-1]))  # posterior at the top
    assert np.mean(right) > 0.8
    assert np.mean(right) > np.mean(flipped) + 0.1


def test_cache_roundtrip(tmp_path, monkeypatch):
    first = load_builtin(SMALL, cache_dir=tmp_path)
    path = cache_file(SMALL, tmp_path)
    assert path.is_file() and [p.name for p in tmp_path.iterdir()] == [path.name]
    assert _same(first, build_builtin(SMALL))

    def fail(config):
        raise AssertionError("should have read the cache")

    monkeypatch.setattr(builtin, "_build_arrays", fail)
    assert _same(load_builtin(SMALL, cache_dir=tmp_path), first)
    with pytest.raises(AssertionError, match="read the cache"):
        load_builtin(SMALL, cache_dir=tmp_path, rebuild=True)


def test_cache_key_depends_on_config(tmp_path):
    names = {
        cache_file(c, tmp_path).name
        for c in (
            SMALL,
            dataclasses.replace(SMALL, seed=1),
            dataclasses.replace(SMALL, labelled=True),
        )
    }
    assert len(names) == 3


@pytest.mark.parametrize("garbage", [b"", b"not a zip file", b"PK\x03\x04truncated"])
def test_corrupt_cache_is_rebuilt(tmp_path, small, garbage):
    path = cache_file(SMALL, tmp_path)
    path.write_bytes(garbage)
    with pytest.warns(UserWarning, match="rebuilding"):
        ds = load_builtin(SMALL, cache_dir=tmp_path)
    assert _same(ds, small)
    assert path.stat().st_size > 32 * 32 * 32  # replaced by a valid file
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def broken_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(builtin.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        load_builtin(SMALL, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_template_checksum(monkeypatch):
    assert template_path().name == "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
    relative, _ = builtin.TEMPLATES["mni152_t1"]
    monkeypatch.setitem(builtin.TEMPLATES, "mni152_t1", (relative, "0" * 64))
    with pytest.raises(DataError, match="differs from the recorded"):
        template_path()
    monkeypatch.setitem(builtin.TEMPLATES, "mni152_t1", ("datasets/data/nope.nii.gz", "0" * 64))
    with pytest.raises(DataError, match="missing"):
        template_path()


def test_config_validation():
    with pytest.raises(ValueError, match="image_size"):
        BuiltinConfig(image_size=48)
    with pytest.raises(ValueError, match="lesion_prevalence"):
        BuiltinConfig(lesion_prevalence=(0.2, 1.5))
    with pytest.raises(ValueError, match="levels for"):
        build_builtin(BuiltinConfig(n_subjects=1, slices_per_subject=500))


def test_labelled_classes_and_sites(labelled):
    assert labelled.classes == ["lesion", "no_lesion"]
    labels = labelled.labels.numpy()
    assert set(labels.tolist()) == {0, 1} and (labels == 1).sum() > (labels == 0).sum()
    groups = _by_subject(labelled)
    sites = {s: labelled.meta[idx[0]].groups["site"] for s, idx in groups.items()}
    n_b = sum(v == "B" for v in sites.values())
    assert n_b == round(0.3 * 20)
    # subjects with a lesion visible in at least one slice, per site (35 % of A, 65 % of B)
    for site, prevalence in zip("AB", LABELLED.lesion_prevalence, strict=True):
        members = [s for s, v in sites.items() if v == site]
        with_lesion = [s for s in members if (labels[groups[s]] == 0).any()]
        assert abs(len(with_lesion) / len(members) - prevalence) < 0.15


def test_lesions_are_bright_and_only_in_lesion_slices(labelled):
    healthy = build_builtin(dataclasses.replace(LABELLED, lesion_prevalence=(0.0, 0.0)))
    assert healthy.labels.eq(1).all()
    assert [m.slice_index for m in healthy.meta] == [m.slice_index for m in labelled.meta]
    diff = (labelled.images - healthy.images)[:, 0].numpy()
    lesion = labelled.labels.numpy() == 0
    brightening = diff.reshape(len(diff), -1).max(axis=1)
    # the same virtual subject with its lesion: a local brightening in every lesion slice
    assert np.median(brightening[lesion]) > 0.4 and brightening[lesion].min() > 0.08
    # no change at all in subjects without a lesion, little in their no_lesion slices
    subjects = np.array(labelled.subjects)
    lesion_subjects = np.unique(subjects[lesion])
    clean = ~np.isin(subjects, lesion_subjects)
    assert np.abs(diff[clean]).max() == 0
    positive = np.clip(diff, 0, None).reshape(len(diff), -1).sum(axis=1)
    assert positive[lesion].mean() > 10 * positive[~lesion].mean()


def test_site_b_is_noisier_and_differs_in_contrast(labelled):
    x = labelled.images[:, 0].numpy()
    corners = np.concatenate([x[:, :5, :5], x[:, :5, -5:], x[:, -5:, :5], x[:, -5:, -5:]], axis=1)
    noise = corners.reshape(len(x), -1).std(axis=1)
    site = np.array([m.groups["site"] for m in labelled.meta])
    assert noise[site == "B"].mean() > 1.8 * noise[site == "A"].mean()
    # gamma 1.4 at site B darkens grey matter relative to the brightest tissue
    brain = x > -0.5
    median = np.array([np.median(img[m]) for img, m in zip(x, brain, strict=True)])
    assert np.median(median[site == "B"]) < np.median(median[site == "A"]) - 0.05
