"""The model catalog: parsing medigan's catalog with its quirks, cards, filters, the offline
note, and the `medgan models` commands. No test touches the network (MEDGAN_OFFLINE)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from medgan_utils.cli import main
from medgan_utils.gan.zoo import list_models, load_generator
from medgan_utils.hub import catalog as hub
from medgan_utils.hub.entries import ALL_MODALITIES, class_options, modality_of
from medgan_utils.hub.usage import (
    BRIEF_COLUMNS,
    CATALOG_COLUMNS,
    catalog_table,
    modality_choices,
)

REAL_CATALOG = Path(__file__).resolve().parents[3] / "shared" / "medigan" / "global.json"


def _entry(model_id: str, **over) -> dict:
    """An entry in the shape of medigan's config/global.json; ``over`` replaces sections."""
    entry = {
        "execution": {
            "package_name": model_id,
            "package_link": f"https://zenodo.org/record/1/files/{model_id}.zip?download=1",
            "model_name": "weights",
            "extension": ".pt",
            "image_size": [128, 128],
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
            "performance": {"FID": 80.5, "SSIM": None, "CLF": {"trained_on_fake": {}}},
            "organ": ["breast"],
            "modality": ["MMG", "Mammography"],
            "function": ["noise to image", "unconditional generation"],
            "condition": [],
            "dataset": ["INbreast"],
            "height": 128,
            "width": 128,
            "type": "DCGAN",
            "license": "MIT",
            "tags": ["Mammogram", "128x128"],
            "year": "2021",
        },
        "description": {"title": f"title of {model_id}", "comment": "a test entry", "doi": []},
    }
    for section, values in over.items():
        entry[section] = {**entry[section], **values}
    return entry


# The real catalog's quirks, each in one entry.
QUIRKY = {
    "00001_DCGAN_MMG_TEST": _entry("00001_DCGAN_MMG_TEST"),
    "00002_CYCLEGAN_BRAIN_T1_T2": _entry(  # sizes as strings, height as float, no function
        "00002_CYCLEGAN_BRAIN_T1_T2",
        execution={
            "image_size": ["224", "192"],
            "dependencies": ["torch", "surely-not-installed-medgan-pkg", "numpy<1"],
            "generate_method": {
                "name": "generate",
                "args": {
                    "base": ["model_file", "num_samples", "output_path", "save_images"],
                    "custom": {"input_path": "models/x/inputs/T1", "gpu_id": "0"},
                },
            },
        },
        selection={
            "type": "CycleGAN",
            "modality": ["T1", "T2"],
            "organ": ["Brain"],
            "function": [],
            "height": 224.0,
            "width": 192.0,
            "license": None,
            "tags": ["Brain MRI", "Domain Adaptation"],
            "performance": {},  # no metrics at all
        },
    ),
    "00003_WGANGP_XRAY_TEST": _entry(  # channel in the size; metrics nested and as strings
        "00003_WGANGP_XRAY_TEST",
        execution={"image_size": [128, 128, 1]},
        selection={
            "type": "WGANGP",
            "modality": ["x-ray", "CXR"],
            "organ": ["lung", "chest"],
            "tags": ["Chest X-ray", "128x128"],
            "performance": {
                "FID": 211.47,
                "turing_test": "",
                "downstream_task": {"SEG": {"trained_on_real": {"dice": "0.790"}}},
                "AUC": [0.56, 0.45],
            },
        },
    ),
    "00004_C-DCGAN_MMG_COND": _entry(  # per-model extra generate arguments: a condition
        "00004_C-DCGAN_MMG_COND",
        execution={
            "generate_method": {
                "name": "generate",
                "args": {
                    "base": ["model_file", "num_samples", "output_path", "save_images"],
                    "custom": {"condition": None, "z": None},
                },
            }
        },
        selection={"type": "Conditional DCGAN"},
    ),
    "00005_BROKEN": {"selection": {}},  # no execution section: left out, with the reason
}


@pytest.fixture(autouse=True)
def _offline(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDGAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MEDGAN_OFFLINE", "1")
    monkeypatch.delenv("MEDGAN_CATALOG", raising=False)


@pytest.fixture
def quirky(tmp_path) -> Path:
    path = tmp_path / "global.json"
    path.write_text(json.dumps(QUIRKY))
    return path


def test_import_medigan_works_here_and_says_how_to_fix_a_setuptools_without_pkg_resources(
    monkeypatch,
):
    # The install pins setuptools<81, so medigan 1.0.0's `import pkg_resources` works ...
    assert hub.import_medigan().__name__ == "medigan"
    # ... and where a newer setuptools removed it, the error names the fix.
    for name in [m for m in sys.modules if m == "medigan" or m.startswith("medigan.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pkg_resources", None)  # import pkg_resources fails
    with pytest.raises(ImportError, match=r"setuptools<81"):
        hub.import_medigan()


def test_medigan_generators_from_local_config_dict():
    import medigan

    assert hub.CATALOG_URL == medigan.constants.CONFIG_FILE_URL

    generators = hub.medigan_generators({"00001_DCGAN_MMG_TEST": QUIRKY["00001_DCGAN_MMG_TEST"]})
    assert isinstance(generators, medigan.Generators)
    assert generators.config_manager.model_ids == ["00001_DCGAN_MMG_TEST"]
    found = generators.find_matching_models_by_values(values=["breast", "MMG"])
    assert [m.model_id for m in found] == ["00001_DCGAN_MMG_TEST"]


def test_catalog_quirks_become_cards(quirky, tiny):
    catalog = hub.load_catalog(quirky, local_models={"tiny-dcgan": tiny}, include_project=False)
    assert list(catalog) == ["tiny-dcgan", *list(QUIRKY)[:4]]
    assert catalog.problems == ["00005_BROKEN: no 'execution' section"]
    assert catalog.origin == f"medigan catalog from {quirky}" and catalog.note is None

    cyc = catalog.card("00002_CYCLEGAN_BRAIN_T1_T2")
    assert cyc.image_size == (224, 192) and cyc.channels is None
    assert cyc.needs_input and cyc.input_args == ["input_path"]
    assert (
        cyc.metrics == {}
        and cyc.licence is None
        and "licence       not recorded" in (cyc.to_text())
    )
    assert cyc.generate_args == {"input_path": "models/x/inputs/T1", "gpu_id": "0"}
    assert hub.missing_dependencies(cyc.entry) == [
        "surely-not-installed-medgan-pkg",
        f"numpy<1 (installed: {__import__('numpy').__version__})",
    ]
    assert not cyc.on_disk and cyc.package_size is None and "unknown; not on disk" in cyc.to_text()

    xray = catalog.card("00003_WGANGP_XRAY_TEST")
    assert xray.image_size == (128, 128) and xray.channels == 1
    assert xray.metrics == {
        "FID": 211.47,
        "downstream_task.SEG.trained_on_real.dice": 0.79,
        "AUC": [0.56, 0.45],
    }
    cond = catalog.card("00004_C-DCGAN_MMG_COND")
    assert cond.conditional and not cond.needs_input and cond.classes == []
    dcgan = catalog.card("1")  # medigan's short ids
    assert dcgan.model_id == "00001_DCGAN_MMG_TEST" and dcgan.metrics == {"FID": 80.5}

    ours = catalog.card("tiny-dcgan")
    assert ours.source == "medgan-utils" and ours.on_disk and ours.package_size > 0
    assert ours.image_size == (32, 32) and ours.channels == 1 and not ours.needs_input
    assert "not real patients" in ours.training_data[0] and ours.licence == "MIT"
    assert ours.to_dict()["missing_dependencies"] == []

    with pytest.raises(hub.DataError, match="00009_NOPE: not in the model catalog"):
        catalog.card("00009_NOPE")


def test_search_filters(quirky, tiny):
    catalog = hub.load_catalog(quirky, local_models={"tiny-dcgan": tiny}, include_project=False)

    def ids(**filters):
        return [c.model_id[:5] for c in catalog.search(**filters)]

    assert ids(modality="mri") == ["tiny-", "00002"]  # T1/T2 count as MRI
    assert ids(modality="MRI", needs_input=False) == ["tiny-"]
    assert ids(modality="mammography") == ["00001", "00004"]
    assert ids(modality="xray") == ids(modality="X-Ray") == ["00003"]
    assert ids(anatomy="brain") == ["tiny-", "00002"]
    assert ids(anatomy="thorax") == ["00003"]
    assert ids(generator_type="wgan-gp") == ["00003"]
    assert ids(generator_type="dcgan") == ["tiny-", "00001", "00004"]
    assert ids(generator_type="cyclegan") == ids(needs_input=True) == ["00002"]
    assert ids(image_size=(224, 192)) == ["00002"] and ids(image_size=32) == ["tiny-"]
    assert ids(tags=["mammogram", "128x128"]) == ["00001", "00004"]
    assert ids(source="medgan-utils") == ["tiny-"] and ids(text="test entry")[0] == "00001"
    assert ids(modality="MRI", anatomy="breast") == []


def test_offline_catalog_is_the_projects_only_with_a_note(quirky, tiny, monkeypatch):
    catalog = hub.load_catalog(local_models={"tiny-dcgan": tiny})
    assert list(catalog) == [*list_models(), "tiny-dcgan"]  # the shipped models; nothing faked
    assert catalog.origin == "the project's models only"
    assert "could not be fetched" in catalog.note
    assert "--catalog FILE" in catalog.note and "MEDGAN_CATALOG" in catalog.note

    monkeypatch.setenv("MEDGAN_CATALOG", str(quirky))
    assert len(hub.load_catalog(include_project=False)) == 4
    monkeypatch.delenv("MEDGAN_CATALOG")
    cached = hub.cached_catalog_path()  # a copy downloaded earlier is used offline
    cached.parent.mkdir(parents=True)
    cached.write_text(quirky.read_text())
    catalog = hub.load_catalog(include_project=False)
    assert len(catalog) == 4 and "downloaded" in catalog.origin and catalog.note is None
    # a failed refresh keeps the cached copy and says so
    catalog = hub.load_catalog(refresh=True, include_project=False)
    assert len(catalog) == 4 and "refresh failed" in catalog.note


def test_bad_catalog_file_is_named(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(hub.DataError, match="bad.json: not valid JSON"):
        hub.load_catalog(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(hub.DataError, match="not a medigan catalog"):
        hub.load_catalog(bad)


def test_metrics_table(quirky):
    catalog = hub.load_catalog(quirky, include_project=False)
    rows = hub.metrics_table(catalog.cards(), ["FID", "SSIM"])
    assert rows[0] == {
        "model_id": "00001_DCGAN_MMG_TEST",
        "type": "DCGAN",
        "size": "128x128",
        "FID": 80.5,
        "SSIM": None,
    }
    text = hub.format_table(rows)
    assert text.splitlines()[0].split() == ["MODEL_ID", "TYPE", "SIZE", "FID", "SSIM"]
    assert "00002_CYCLEGAN_BRAIN_T1_T2  CycleGAN" in text and text.count(" -") >= 5


def test_one_catalog_table_for_every_view(quirky, tiny):
    from medgan_utils.appkit import core as appkit

    catalog = hub.load_catalog(quirky, local_models={"tiny-dcgan": tiny}, include_project=False)
    rows = {r["model"]: r for r in catalog_table(catalog.cards())}
    assert list(rows) == list(catalog) and list(rows["tiny-dcgan"]) == list(CATALOG_COLUMNS)
    assert rows["tiny-dcgan"]["source"] == "medgan-utils"
    assert rows["tiny-dcgan"]["package"].endswith("MB, on disk")
    assert rows["tiny-dcgan"]["missing packages"] == "-"  # ours need nothing more
    cyc = rows["00002_CYCLEGAN_BRAIN_T1_T2"]
    assert (cyc["modality"], cyc["anatomy"], cyc["image size"]) == ("MRI", "Brain", "224x192")
    assert cyc["generates from"] == "input images"
    assert cyc["package"] == "size unknown, downloads on first use"
    assert cyc["missing packages"] == "surely-not-installed-medgan-pkg, numpy<1"
    xray = rows["00003_WGANGP_XRAY_TEST"]
    assert (xray["type"], xray["modality"], xray["generates from"]) == ("WGANGP", "X-ray", "noise")
    # a view picks columns; the cells are the same
    brief = catalog_table(catalog.cards(), BRIEF_COLUMNS)
    assert brief == [{k: r[k] for k in BRIEF_COLUMNS} for r in rows.values()]
    with pytest.raises(ValueError, match="unknown columns"):
        catalog_table(catalog.cards(), ["model", "colour"])
    # the app's table is this table
    choices = appkit.model_choices(catalog)
    assert appkit.catalog_table(choices) == catalog_table([c.card for c in choices])
    # the modality groups and classes every view offers
    assert modality_choices(catalog) == [ALL_MODALITIES, "MRI", "Mammography", "X-ray"]
    assert modality_of(catalog.card("00001_DCGAN_MMG_TEST")) == "Mammography"
    assert class_options(catalog.card("00004_C-DCGAN_MMG_COND")) == []  # no classes recorded
    assert class_options(catalog.card("tiny-dcgan")) == []  # unconditional


@pytest.mark.skipif(not REAL_CATALOG.exists(), reason="medigan's catalog is not beside this repo")
def test_the_real_catalog():
    catalog = hub.load_catalog(REAL_CATALOG, include_project=False)
    assert len(catalog) == 23 and catalog.problems == []
    cards = catalog.cards()
    assert all(min(c.image_size) > 0 for c in cards)
    assert catalog.card("00021").image_size == (224, 192)  # sizes given as strings
    assert catalog.card("00022_WGAN_CARDIAC_AGING").metrics == {}  # no metrics recorded
    assert catalog.card("00023").metrics["downstream_task.SEG.trained_on_real.dice"] == 0.79
    assert catalog.card("00009").channels == 4
    noise = {c.model_id[:5] for c in catalog.search(needs_input=False)}
    assert {"00001", "00008", "00009", "00019"} <= noise
    assert not noise & {"00003", "00004", "00007", "00021", "00022", "00023"}
    assert len(catalog.search(generator_type="CycleGAN")) == 6
    assert [c.model_id[:5] for c in catalog.search(modality="MRI", anatomy="brain")] == [
        "00007",
        "00021",
    ]
    assert "Path" in hub.missing_dependencies(catalog.entry("00001"))  # a real quirk
    assert generators_see_all(catalog)


def generators_see_all(catalog: hub.Catalog) -> bool:
    generators = hub.medigan_generators(catalog.medigan_config())
    return len(generators.config_manager.model_ids) == 23


def test_models_list_and_show(quirky, tiny, capsys):
    assert main(["models", "list", "--catalog", str(quirky), "--modality", "MRI"]) == 0
    out = capsys.readouterr().out
    lines = [re.split(r"\s{2,}", line) for line in out.splitlines()]
    # the catalog table (hub.usage.catalog_table), brief columns
    assert lines[0] == [c.upper() for c in BRIEF_COLUMNS]
    assert BRIEF_COLUMNS == (
        "model",
        "type",
        "image size",
        "modality",
        "anatomy",
        "generates from",
        "package",
    )
    rows = {cells[0]: cells for cells in lines[1:] if len(cells) > 1}
    assert rows["00002_CYCLEGAN_BRAIN_T1_T2"][1:3] == ["CycleGAN", "224x192"]
    assert rows["00002_CYCLEGAN_BRAIN_T1_T2"][-2:] == [
        "input images",
        "size unknown, downloads on first use",
    ]
    shipped = list(list_models())
    assert f"{1 + len(shipped)} of {4 + len(shipped)} models" in out
    for name in shipped:  # the shipped MRI models: from noise (and a label), on disk
        kind = "Conditional DCGAN" if load_generator(name)[0].config.conditional else "DCGAN"
        assert rows[name][1:-1] == [kind, "64x64", "MRI", "brain", "noise"]
        assert rows[name][-1].endswith("MB, on disk")

    assert main(["models", "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["origin"] == "the project's models only" and "MEDGAN_CATALOG" in listing["note"]

    argv = ["models", "list", "--catalog", str(quirky), "--noise-only", "--json"]
    assert main(argv) == 0
    models = json.loads(capsys.readouterr().out)["models"]
    assert [m["model_id"] for m in models if m["source"] == "medigan"] == [
        "00001_DCGAN_MMG_TEST",
        "00003_WGANGP_XRAY_TEST",
        "00004_C-DCGAN_MMG_COND",
    ]

    assert main(["models", "show", "00002", "--catalog", str(quirky)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("00002_CYCLEGAN_BRAIN_T1_T2: title of")
    assert "missing     surely-not-installed-medgan-pkg" in out
    assert main(["models", "show", "nope", "--catalog", str(quirky)]) == 2
    assert "nope: not in the model catalog" in capsys.readouterr().err
