"""The catalog browser: filters, the chosen model's card and its generate lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

ipywidgets = pytest.importorskip("ipywidgets")

from medgan_utils.dashboards import (  # noqa: E402
    catalog_browser,
)
from medgan_utils.dashboards.catalog import CatalogBrowserDashboard  # noqa: E402
from medgan_utils.gan.zoo import (  # noqa: E402
    DEFAULT_MODEL,
    generate,
    list_models,
    load_generator,
)
from medgan_utils.hub import usage as catalog_usage  # noqa: E402
from medgan_utils.hub.catalog import load_catalog  # noqa: E402
from medgan_utils.hub.usage import find_catalog_file, generate_code  # noqa: E402

# -- catalog browser -----------------------------------------------------------------------


def _entry(title: str, kind: str, modality: list, organ: list, **execution) -> dict:
    """A catalog entry in the shape of medigan's config/global.json."""
    custom = execution.pop("custom", {})
    return {
        "execution": {
            "package_name": "pkg",
            "package_link": "https://zenodo.org/record/1/files/pkg.zip?download=1",
            "model_name": "weights",
            "extension": ".pt",
            "image_size": [128, 128],
            "dependencies": ["numpy"],
            "generate_method": {"name": "generate", "args": {"base": [], "custom": custom}},
            **execution,
        },
        "selection": {
            "performance": {"FID": 80.5},
            "organ": organ,
            "modality": modality,
            "type": kind,
            "tags": [],
        },
        "description": {"title": title, "comment": ""},
    }


CATALOG = {
    "00001_DCGAN_MMG_TEST": _entry("Mass patches", "DCGAN", ["MMG"], ["breast"]),
    "00002_CYCLEGAN_BRAIN_T1_T2": _entry(
        "T1 to T2 translation",
        "CycleGAN",
        ["T1", "T2"],
        ["Brain"],
        dependencies=["numpy", "surely-not-installed-medgan-pkg"],
        custom={"input_path": "models/x/inputs"},
    ),
    "00003_PGGAN_CXR_TEST": _entry("Whole chest radiographs", "PGGAN", ["x-ray"], ["lung"]),
}


@pytest.fixture()
def catalog_file(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MEDGAN_HOME", str(tmp_path / "home"))  # no cached catalog
    monkeypatch.delenv("MEDGAN_CATALOG", raising=False)
    path = tmp_path / "global.json"
    path.write_text(json.dumps(CATALOG))
    return path


@pytest.fixture()
def browser(catalog_file: Path) -> CatalogBrowserDashboard:
    widget = catalog_browser(catalog_file)
    assert isinstance(widget, ipywidgets.Widget)
    return widget.dashboard


def _shown(browser: CatalogBrowserDashboard) -> list[str]:
    ids = [r["model"] for r in browser.rows]
    assert list(browser.picker.options) == ids
    return ids


OURS = list(list_models())  # the shipped generators, DEFAULT_MODEL first
N_ALL = len(OURS) + 3


def test_catalog_browser_lists_every_model_and_says_where_from(browser, catalog_file):
    assert f"medigan catalog from {catalog_file}" in browser.source.value
    mine = f"{len(OURS)} of this project's"
    assert f"{N_ALL} models (3 of medigan's, {mine})" in browser.source.value
    assert _shown(browser) == [*OURS, *CATALOG]  # ours first
    assert f"{N_ALL} of {N_ALL} models match" in browser.table.value
    rows = {r["model"]: r for r in browser.rows}
    assert rows[DEFAULT_MODEL]["package"].endswith("MB, on disk")
    assert rows["00002_CYCLEGAN_BRAIN_T1_T2"]["generates from"] == "input images"
    assert rows["00002_CYCLEGAN_BRAIN_T1_T2"]["missing packages"] == (
        "surely-not-installed-medgan-pkg"
    )
    assert rows["00001_DCGAN_MMG_TEST"]["image size"] == "128x128"
    assert browser.picker.value == DEFAULT_MODEL and DEFAULT_MODEL in browser.card.value
    assert f"medgan generate --model {DEFAULT_MODEL} -n 16 --seed 0" in browser.code.value


@pytest.mark.parametrize(
    ("control", "value", "expected"),
    [
        ("modality", "MRI", [*list_models(), "00002_CYCLEGAN_BRAIN_T1_T2"]),
        ("anatomy", "breast", ["00001_DCGAN_MMG_TEST"]),
        ("type", "PGGAN", ["00003_PGGAN_CXR_TEST"]),
        ("inputs", True, ["00002_CYCLEGAN_BRAIN_T1_T2"]),
        ("text", "radiograph", ["00003_PGGAN_CXR_TEST"]),
    ],
)
def test_catalog_browser_filters(browser, control, value, expected):
    browser.controls[control].value = value
    assert _shown(browser) == expected
    assert f"{len(expected)} of {N_ALL} models match" in browser.table.value
    for model_id in [*OURS, *CATALOG]:
        assert (model_id in browser.table.value) == (model_id in expected)
    assert browser.picker.value == expected[0] and expected[0] in browser.card.value


def test_catalog_browser_selection_shows_the_card_and_the_lines(browser, catalog_file):
    browser.controls["modality"].value = "MRI"
    browser.picker.value = "00002_CYCLEGAN_BRAIN_T1_T2"
    card = browser.card.value
    assert "00002_CYCLEGAN_BRAIN_T1_T2: T1 to T2 translation" in card
    assert "FID" in card and "80.5" in card  # the metrics table
    code = browser.code.value
    assert (
        f"medgan generate --model 00002_CYCLEGAN_BRAIN_T1_T2 -n 16 --seed 0 --out samples/ "
        f"--catalog {catalog_file} --model-arg input_path=my_images/"
    ) in code
    assert "pip install surely-not-installed-medgan-pkg" in code
    assert "from medgan_utils.hub.generate import generate" in code
    browser.controls["n"].value, browser.controls["seed"].value = 4, 7
    assert "-n 4 --seed 7" in browser.code.value
    browser.controls["anatomy"].value = "brain"  # still matches: the choice stays
    assert browser.picker.value == "00002_CYCLEGAN_BRAIN_T1_T2"
    browser.controls["text"].value = "no such model"
    assert _shown(browser) == [] and "No model matches" in browser.table.value
    assert browser.picker.value is None and browser.card.value == browser.code.value == ""


def test_generate_code_for_our_model_runs_as_shown():
    card = load_catalog(include_project=True, download=False).card(DEFAULT_MODEL)
    python, cli = generate_code(card, n=3, seed=5)
    assert cli == f"medgan generate --model {DEFAULT_MODEL} -n 3 --seed 5 --out samples/"
    scope: dict = {}
    exec(python, scope)  # the line a reader copies works
    assert torch.equal(scope["images"], generate(load_generator(DEFAULT_MODEL)[0], 3, seed=5))


def test_catalog_browser_finds_a_catalog_offline(catalog_file, monkeypatch):
    monkeypatch.setattr(catalog_usage, "CHECKOUT_CATALOG", catalog_file)
    assert find_catalog_file() == str(catalog_file)  # the copy beside the checkout
    monkeypatch.setenv("MEDGAN_CATALOG", "/elsewhere/global.json")
    assert find_catalog_file() == "/elsewhere/global.json"
    monkeypatch.delenv("MEDGAN_CATALOG")
    assert f"medigan catalog from {catalog_file}" in catalog_browser().dashboard.source.value
    monkeypatch.setattr(catalog_usage, "CHECKOUT_CATALOG", catalog_file.parent / "none.json")
    only_ours = catalog_browser().dashboard  # MEDGAN_OFFLINE: no download
    assert "the project's models only" in only_ours.source.value
    assert "could not be fetched" in only_ours.source.value and _shown(only_ours) == OURS
