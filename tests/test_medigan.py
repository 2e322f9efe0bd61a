"""medigan 1.0.0 must import (it needs setuptools' pkg_resources, removed in setuptools 81)
and build its ``Generators`` front end from a local config dict, with no network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medgan_utils.hub import medigan_generators

# One entry in the shape of medigan's config/global.json, written for this test.
LOCAL_ENTRY = {
    "execution": {
        "package_name": "medgan_test_model",
        "package_link": "file:///nonexistent/medgan_test_model.zip",
        "model_name": "test_generator",
        "extension": ".safetensors",
        "image_size": [64, 64],
        "dependencies": ["numpy", "torch"],
        "generate_method": {
            "name": "generate",
            "args": {
                "base": ["model_file", "num_samples", "output_path", "save_images"],
                "custom": {},
            },
        },
    },
    "selection": {
        "performance": {"FID": None},
        "use_cases": ["classification"],
        "organ": ["brain"],
        "modality": ["MRI", "T1"],
        "tags": ["brain", "MRI"],
        "type": "DCGAN",
        "height": 64,
        "width": 64,
    },
    "description": {"title": "A local test entry", "comment": "written by the test"},
}


def test_pkg_resources_is_available():
    import pkg_resources  # noqa: F401  (what medigan 1.0.0 needs)


def test_medigan_generators_from_local_config_dict():
    import medigan

    generators = medigan_generators({"medgan_test_model": LOCAL_ENTRY})
    assert isinstance(generators, medigan.Generators)
    assert generators.config_manager.model_ids == ["medgan_test_model"]
    assert generators.get_config_by_id("medgan_test_model")["execution"]["model_name"] == (
        "test_generator"
    )
    found = generators.find_matching_models_by_values(values=["brain", "MRI"])
    assert [m.model_id for m in found] == ["medgan_test_model"]


CATALOG = Path(__file__).resolve().parents[2] / "shared" / "medigan" / "global.json"


@pytest.mark.skipif(not CATALOG.exists(), reason="medigan's catalog is not beside this checkout")
def test_medigan_reads_its_real_catalog():
    generators = medigan_generators(json.loads(CATALOG.read_text()))
    assert len(generators.config_manager.model_ids) == 23
    assert "00001_DCGAN_MMG_CALC_ROI" in generators.config_manager.model_ids
