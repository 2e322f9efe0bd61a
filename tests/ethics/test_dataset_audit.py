"""Tests of medgan_utils.ethics.dataset_audit: who is in a dataset, per group."""

from __future__ import annotations

import json

import pytest
import torch

from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.data.slices import SliceMeta
from medgan_utils.errors import DataError
from medgan_utils.ethics.dataset_audit import audit_dataset


def test_dataset_audit_warns_on_an_under_represented_group():
    meta = [SliceMeta("toy", f"s{i}", 0, {"site": "A" if i < 18 else "B"}) for i in range(20)]
    ds = MedicalImageDataset(torch.full((20, 1, 32, 32), -1.0), torch.full((20,), -1), meta)
    ds.images[:, :, 8:24, 8:24] = 0.0
    with pytest.warns(UserWarning, match="site B has 10% of the images"):
        audit = audit_dataset(ds, "site", min_share=0.2)
    assert audit.images == {"A": 18, "B": 2} and audit.subjects == {"A": 18, "B": 2}
    assert audit.intensity["A"]["mean"] == 0.0 and audit.class_share == {}
    assert len(audit.warnings) == 1 and "unlabelled" in audit.to_text()


def test_dataset_audit_reports_the_builtin_prevalence_shift(labelled):
    with pytest.warns(UserWarning, match="prevalence shift"):
        audit = audit_dataset(labelled, "site")
    assert audit.subjects == {"A": 8, "B": 4} and audit.images == {"A": 256, "B": 128}
    # by design 35 % of site A's subjects and 65 % of site B's carry lesions (rounded)
    assert (
        audit.subject_share["A"]["lesion"] == 3 / 8 and audit.subject_share["B"]["lesion"] == 3 / 4
    )
    assert any("'lesion' in 38% of site A's subjects but 75%" in w for w in audit.warnings)
    assert audit.intensity["B"]["noise"] > audit.intensity["A"]["noise"]  # site B is noisier
    assert json.loads(json.dumps(audit.to_dict()))["subjects"] == {"A": 8, "B": 4}


def test_dataset_audit_names_a_missing_group(labelled):
    with pytest.raises(DataError, match="no group 'scanner' in its metadata \\(groups: site\\)"):
        audit_dataset(labelled, "scanner")
