"""Fixtures the ethics tests share."""

from __future__ import annotations

import pytest

from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.data.load import load_dataset


@pytest.fixture(scope="module")
def labelled() -> MedicalImageDataset:
    """12 virtual subjects at 32 px: 8 at site A (3 with lesions), 4 at site B (3)."""
    return load_dataset("builtin-labelled", 32, n_subjects=12, seed=0)
