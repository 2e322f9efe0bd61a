"""Fixtures of the evaluation tests."""

from __future__ import annotations

import pytest

from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.data.load import load_dataset


@pytest.fixture(scope="session")
def real() -> MedicalImageDataset:
    """512 built-in slices (16 subjects) at 64 px; not the shipped model's training set."""
    return load_dataset("builtin", 64, n_subjects=16, seed=5)
