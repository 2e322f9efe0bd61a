"""Running models through medigan's real code path: our packages, seeds, the sandbox,
download failures, checksums, synthetic datasets, and export-and-reload. No network: every
test sets MEDGAN_OFFLINE, and "remote" downloads are replaced by local functions."""

from __future__ import annotations

import csv
import json
import sys
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from medgan_utils import registry
from medgan_utils.cli import main
from medgan_utils.data.synthetic import load_synthetic_dataset, synthetic_dataloader
from medgan_utils.errors import ModelNotAvailableError, PackageChangedError, PackageIntegrityError
from medgan_utils.gan.zoo import (
    DEFAULT_MODEL,
    generate,
    list_models,
    load_generator,
)
from medgan_utils.hub import catalog as hub
from medgan_utils.hub import downloads, sandbox
from medgan_utils.hub import generate as synthetic
from medgan_utils.hub import packages as package_store
from medgan_utils.hub.export import WEIGHTS, export_medigan, package_code, read_package_metadata

REMOTE = "https://zenodo.org/record/1/files/{}.zip?download=1"


@pytest.fixture(autouse=True)
def _offline(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDGAN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MEDGAN_OFFLINE", "1")
    monkeypatch.delenv("MEDGAN_CATALOG", raising=False)
    monkeypatch.setattr(downloads.time, "sleep", lambda s: None)  # retries, fast


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny) -> Path:
    folder = tmp_path_factory.mktemp("export")
    return export_medigan(tiny, folder / "tiny.zip", model_id="00000_DCGAN_TINY").zip


def _as_uint8(images: torch.Tensor) -> np.ndarray:
    return (
        np.round((images.clamp(-1, 1).numpy() + 1) * 127.5).astype(np.uint8).transpose(0, 2, 3, 1)
    )


def _remote(exported: Path, model_id: str = "00000_DCGAN_TINY") -> hub.Catalog:
    """A catalog entry for ``exported`` as if it were an official model hosted on Zenodo."""
    (entry,) = read_package_metadata(exported).values()
    entry["execution"]["package_link"] = REMOTE.format(model_id)
    return hub.Catalog({model_id: entry}, origin="test", official=frozenset({model_id}))


def test_our_model_through_medigan_matches_zoo_and_repeats(tiny, tmp_path, monkeypatch):
    catalog = hub.load_catalog(local_models={"tiny-dcgan": tiny})
    # a user folder with its own `models` module: medigan must neither collide nor write here
    user = tmp_path / "user"
    user.mkdir()
    (user / "models.py").write_text("WHO = 'the user'\n")
    monkeypatch.chdir(user)
    monkeypatch.syspath_prepend(str(user))
    monkeypatch.delitem(sys.modules, "models", raising=False)
    import models

    monkeypatch.setitem(sys.modules, "models", models)  # removed again after the test
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    images = synthetic.generate("tiny-dcgan", 5, seed=7, catalog=catalog)
    assert torch.rand(1) == before  # the caller's random state is restored

    assert len(images) == 5 and images[0].shape == (32, 32, 1) and images[0].dtype == np.uint8
    G, _ = load_generator(tiny)
    np.testing.assert_array_equal(np.stack(images), _as_uint8(generate(G, 5, seed=7)))
    again = synthetic.generate("tiny-dcgan", 5, seed=7, catalog=catalog)
    other = synthetic.generate("tiny-dcgan", 5, seed=8, catalog=catalog)
    assert all(np.array_equal(a, b) for a, b in zip(images, again, strict=True))
    assert not np.array_equal(np.stack(images), np.stack(other))

    assert sorted(p.name for p in user.iterdir()) == ["models.py"]
    assert sys.modules["models"] is models and models.WHO == "the user"
    assert Path.cwd() == user


@pytest.mark.parametrize("n", [32, 33])  # medigan's batches of 32: an empty last batch, or 1
def test_files_are_marked_synthetic_and_repeat(tiny, tmp_path, n):
    catalog = hub.load_catalog(local_models={"tiny-dcgan": tiny})
    first = synthetic.generate("tiny-dcgan", n, seed=3, out=tmp_path / "a", catalog=catalog)
    second = synthetic.generate("tiny-dcgan", n, seed=3, out=tmp_path / "b", catalog=catalog)
    assert [p.name for p in first] == [f"synthetic_tiny-dcgan_seed3_{i:04d}.png" for i in range(n)]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    with Image.open(first[0]) as im:
        assert im.text["synthetic"] == "true" and im.text["seed"] == "3"
        assert im.text["model"] == "tiny-dcgan" and im.size == (32, 32)
    with pytest.raises(hub.DataError, match="is not empty"):
        synthetic.generate("tiny-dcgan", 2, out=tmp_path / "a", catalog=catalog)


def test_shipped_model_through_medigan():
    assert DEFAULT_MODEL in list_models(), "the shipped model's weights are missing"
    catalog = hub.load_catalog()
    card = catalog.card(DEFAULT_MODEL)
    assert card.source == "medgan-utils" and card.on_disk and card.image_size == (64, 64)
    images = synthetic.generate(DEFAULT_MODEL, 4, seed=0, catalog=catalog)
    G, _ = load_generator(DEFAULT_MODEL)
    np.testing.assert_array_equal(np.stack(images), _as_uint8(generate(G, 4, seed=0)))
    pinned = registry.ARTEFACTS[DEFAULT_MODEL].sha256["generator.safetensors"]
    folder = list_models()[DEFAULT_MODEL]
    assert pinned == registry.sha256_file(folder / "generator.safetensors")


def test_offline_error_names_model_size_and_how(exported, monkeypatch):
    catalog = _remote(exported)
    with pytest.raises(ModelNotAvailableError) as err:
        synthetic.generate("00000_DCGAN_TINY", 2, catalog=catalog)
    message = str(err.value)
    assert message.startswith("00000_DCGAN_TINY: not on disk")
    assert "download size unknown" in message and REMOTE.format("00000_DCGAN_TINY") in message
    assert "medgan models fetch 00000_DCGAN_TINY" in message
    assert "downloads/00000_DCGAN_TINY.zip" in message

    # downloads allowed, but the network is unreachable; the size is known from earlier
    monkeypatch.delenv("MEDGAN_OFFLINE")
    calls = []

    def unreachable(url, part, timeout):
        calls.append(timeout)
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(downloads, "download", unreachable)
    package_store._record("00000_DCGAN_TINY", size=1_234_567)
    with pytest.raises(ModelNotAvailableError, match=r"cannot be reached .* size 1\.2 MB"):
        synthetic.fetch_model("00000_DCGAN_TINY", catalog, timeout=5)
    assert calls == [5, 5, 5]  # a timeout on every attempt, three attempts
    ws = package_store.workspace()
    assert not (ws / "models" / "00000_DCGAN_TINY").exists()
    assert not list((ws / "downloads").iterdir())


def test_interrupted_or_corrupt_downloads_leave_nothing_and_retry(exported, tmp_path, monkeypatch):
    monkeypatch.delenv("MEDGAN_OFFLINE")
    catalog = _remote(exported)
    data = exported.read_bytes()
    attempts = []

    def flaky(url, part, timeout):  # first a cut connection, then a truncated body, then OK
        attempts.append(url)
        if len(attempts) == 1:
            part.write_bytes(data[:1000])
            raise TimeoutError("timed out")
        part.write_bytes(data if len(attempts) == 3 else data[: len(data) // 2])

    monkeypatch.setattr(downloads, "download", flaky)
    folder = synthetic.fetch_model("00000_DCGAN_TINY", catalog)
    assert len(attempts) == 3 and (folder / "00000_DCGAN_TINY" / "__init__.py").exists()
    ws = package_store.workspace()
    assert [p.name for p in (ws / "downloads").iterdir()] == ["00000_DCGAN_TINY.zip"]
    assert [p.name for p in (ws / "models").iterdir() if p.name != "__init__.py"] == [
        "00000_DCGAN_TINY"
    ]
    assert len(synthetic.generate("00000_DCGAN_TINY", 2, catalog=catalog)) == 2

    # always broken: refused after three tries, and nothing half-unpacked stays behind
    catalog = _remote(exported, "00000_DCGAN_TINY_2")
    monkeypatch.setattr(downloads, "download", lambda u, p, t: p.write_bytes(data[:-200]))
    with pytest.raises(PackageIntegrityError, match="was broken 3 times"):
        synthetic.fetch_model("00000_DCGAN_TINY_2", catalog)
    assert not (ws / "models" / "00000_DCGAN_TINY_2").exists()
    assert not list((ws / "downloads").glob("*.part"))


def test_bad_archives_are_rejected(exported, tmp_path):
    (entry,) = read_package_metadata(exported).values()
    cases = {
        "truncated.zip": exported.read_bytes()[:-500],
        "not-a-zip.zip": b"<html>rate limited</html>",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    with zipfile.ZipFile(exported) as src:
        members = {n: src.read(n) for n in src.namelist()}
    for name, keep in (("no-weights.zip", "generator.safetensors"), ("escape.zip", None)):
        with zipfile.ZipFile(tmp_path / name, "w") as zf:
            for member, data in members.items():
                if keep is None or not member.endswith(keep):
                    zf.writestr(member, data)
            if keep is None:
                zf.writestr("../../evil.py", "print('pwned')")
    reasons = {
        "truncated.zip": "not a complete zip",
        "not-a-zip.zip": "not a complete zip",
        "no-weights.zip": "no __init__.py with generator.safetensors",
        "escape.zip": "leave the package",
    }
    for name, reason in reasons.items():
        with pytest.raises(PackageIntegrityError, match=reason):
            package_store.verify_archive(tmp_path / name, entry)
        entry["execution"]["package_link"] = str(tmp_path / name)
        with pytest.raises(PackageIntegrityError, match=reason):
            synthetic.fetch_model("00000_DCGAN_TINY", hub.Catalog({"00000_DCGAN_TINY": entry}))
    models = package_store.workspace() / "models"
    assert [p.name for p in models.iterdir()] == ["__init__.py"]


def test_changed_packages_are_refused(exported, tiny, tmp_path, monkeypatch, make_tiny):
    catalog = hub.load_catalog(local_models={"tiny-dcgan": tiny})
    ours = synthetic.fetch_model("tiny-dcgan", catalog)
    init = ours / "tiny_dcgan" / "__init__.py"
    init.write_text(init.read_text() + "\nimport os  # tampered\n")
    with pytest.raises(PackageChangedError, match="changed since it was built: refusing"):
        synthetic.generate("tiny-dcgan", 1, catalog=catalog)
    # a shipped model whose weights differ from the registry's SHA-256 is refused
    pinned = registry.Artefact("tiny-dcgan", "generator", tiny.name, {WEIGHTS: "0" * 64})
    with monkeypatch.context() as m:
        m.setattr(registry, "ROOT", tiny.parent)
        m.setitem(registry.ARTEFACTS, "tiny-dcgan", pinned)
        with pytest.raises(PackageChangedError, match="not the model the project ships"):
            synthetic.generate("tiny-dcgan", 1, catalog=catalog)

    # an official package: its archive's hash is recorded on first download ...
    model_id = "00000_DCGAN_TINY"
    catalog = hub.load_catalog(exported.with_suffix(".json"), include_project=False)
    folder = synthetic.fetch_model(model_id, catalog)
    record = package_store.load_registry()[model_id]
    assert record["zip_sha256"] == registry.sha256_file(exported)
    assert hub.load_catalog(exported.with_suffix(".json")).card(model_id).on_disk
    (folder / model_id / "dcgan.py").write_text("raise SystemExit")  # ... files changed
    with pytest.raises(PackageChangedError, match="changed since it was installed"):
        synthetic.generate(model_id, 1, catalog=catalog)
    # ... and a new archive that differs from the recorded one is refused, too
    other = export_medigan(
        make_tiny(tmp_path / "other", seed=1), tmp_path / "other.zip", model_id=model_id
    )
    package_store.shutil.rmtree(folder)
    (package_store.workspace() / "downloads" / f"{model_id}.zip").unlink()
    catalog.entries[model_id]["execution"]["package_link"] = str(other.zip)
    with pytest.raises(PackageChangedError, match="differs from the package of 00000_DCGAN_TINY"):
        synthetic.fetch_model(model_id, catalog)
    # a package folder nobody recorded is not run either
    (package_store.workspace() / "models" / "00000_UNKNOWN_PKG").mkdir()
    catalog.entries["00000_UNKNOWN_PKG"] = catalog.entries[model_id]
    with pytest.raises(PackageChangedError, match="no checksum on record"):
        synthetic.fetch_model("00000_UNKNOWN_PKG", catalog)


def test_missing_dependencies_are_listed_and_install_is_opt_in(exported, monkeypatch):
    calls = []
    import medigan.execute_model.model_executor as executor

    monkeypatch.setattr(executor, "install_model", lambda **kw: calls.append(kw))
    catalog = _remote(exported)
    catalog.entries["00000_DCGAN_TINY"]["execution"]["dependencies"] += [
        "surely-not-installed-medgan-pkg>=2"
    ]
    with pytest.raises(synthetic.MissingDependenciesError) as err:
        synthetic.generate("00000_DCGAN_TINY", 1, catalog=catalog)
    assert "surely-not-installed-medgan-pkg>=2" in str(err.value)
    assert "--install-dependencies" in str(err.value) and calls == []
    with pytest.raises(ModelNotAvailableError):  # opted in: next stop is the download
        synthetic.generate("00000_DCGAN_TINY", 1, catalog=catalog, install_dependencies=True)


def test_synthetic_dataset_round_trip(tiny, tiny_cond, tmp_path):
    catalog = hub.load_catalog(local_models={"tiny-dcgan": tiny, "tiny-cond": tiny_cond})
    assert catalog.card("tiny-cond").classes == ["lesion", "no_lesion"]
    out = tmp_path / "synth"
    manifest = synthetic.build_synthetic_dataset(["tiny-cond"], 3, out, seed=5, catalog=catalog)
    rows = list(csv.DictReader(manifest.open()))
    assert [(r["model_id"], r["seed"], r["index"], r["label"]) for r in rows] == [
        ("tiny-cond", "5", str(i), label) for label in ("lesion", "no_lesion") for i in range(3)
    ]
    assert rows[0]["file"] == "tiny-cond/lesion/synthetic_tiny-cond_seed5_0000.png"
    ds = load_synthetic_dataset(out)
    assert len(ds) == 6 and ds.classes == ["lesion", "no_lesion"] and ds.image_size == 32
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert ds[0]["groups"] == {"model": "tiny-cond", "synthetic": "true"}
    G, _ = load_generator(tiny_cond)
    expected = generate(G, 3, seed=5, labels=1)  # the no_lesion images
    assert (ds.images[3:] - expected).abs().max() <= 1 / 127.5 + 1e-6  # 8-bit PNG rounding

    batch = next(iter(synthetic_dataloader(out, batch_size=4, seed=0)))
    assert batch["image"].shape == (4, 1, 32, 32) and batch["label"].shape == (4,)

    both = tmp_path / "both"
    synthetic.build_synthetic_dataset(["tiny-dcgan", "tiny-cond"], 2, both, catalog=catalog)
    with pytest.raises(hub.DataError, match="some images have a class label"):
        load_synthetic_dataset(both)
    by_model = load_synthetic_dataset(both, label_by="model")
    assert by_model.classes == ["tiny-cond", "tiny-dcgan"] and len(by_model) == 6


def test_medigans_own_dataloader(tiny_cond):
    catalog = hub.load_catalog(local_models={"tiny-cond": tiny_cond})
    loader = synthetic.medigan_dataloader("tiny-cond", 6, seed=2, catalog=catalog, batch_size=3)
    batches = list(loader)
    assert len(batches) == 2 and batches[0]["sample"].shape == (3, 32, 32, 1)
    assert list(batches[0]["label"]) == ["lesion", "no_lesion", "lesion"]  # balanced
    (again,) = synthetic.medigan_dataloader("tiny-cond", 6, seed=2, catalog=catalog)
    assert torch.equal(torch.cat([b["sample"] for b in batches]), again["sample"])


def test_export_and_reload_through_medigan(tiny, exported, tmp_path):
    from medigan.config_manager import ConfigManager
    from medigan.contribute_model.model_contributor import ModelContributor

    metadata = read_package_metadata(exported)
    ((model_id, entry),) = metadata.items()
    assert model_id == "00000_DCGAN_TINY" and entry["execution"]["package_name"] == model_id
    assert ModelContributor.validate_model_id(None, model_id)
    assert ConfigManager(config_dict={}).is_model_metadata_valid(model_id, metadata, True)
    names = zipfile.ZipFile(exported).namelist()
    code = package_code()  # __init__.py, dcgan.py and the gan modules dcgan.py imports
    assert {"__init__.py", "dcgan.py"} <= set(code)
    assert {n.split("/", 1)[1] for n in names} == {
        *code,
        "generator.safetensors",
        "generator.json",
        "metadata.json",
        "README.md",
    }
    digest = exported.with_name("tiny.zip.sha256").read_text().split()[0]
    assert digest == registry.sha256_file(exported)
    assert json.loads(exported.with_suffix(".json").read_text()) == metadata

    catalog = hub.load_catalog(exported.with_suffix(".json"), include_project=False)
    images = synthetic.generate(model_id, 4, seed=1, catalog=catalog)
    G, _ = load_generator(tiny)
    np.testing.assert_array_equal(np.stack(images), _as_uint8(generate(G, 4, seed=1)))

    default = export_medigan(tiny, tmp_path / "default.zip")
    assert default.model_id == f"00000_DCGAN_{tiny.name.upper()}"[:30]
    with pytest.raises(hub.DataError, match="exists already"):
        export_medigan(tiny, exported)
    with pytest.raises(hub.DataError, match="not a medigan model id"):
        export_medigan(tiny, tmp_path / "x.zip", model_id="my-model")


def test_cli_export_and_generate_by_catalog_id(tiny, tmp_path, capsys):
    zip_path = tmp_path / "brain.zip"
    argv = [
        "export-medigan",
        str(tiny),
        "--out",
        str(zip_path),
        "--model-id",
        "00000_DCGAN_BRAIN_TEST",
        "--author",
        "A. Student",
        "--modality",
        "MRI",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "exported 00000_DCGAN_BRAIN_TEST" in out and zip_path.exists()
    entry = read_package_metadata(zip_path)["00000_DCGAN_BRAIN_TEST"]
    assert (
        entry["selection"]["modality"] == ["MRI"]
        and "A. Student" in (entry["description"]["comment"])
    )

    meta = str(zip_path.with_suffix(".json"))
    argv = [
        "generate",
        "--model",
        "00000_DCGAN_BRAIN_TEST",
        "--catalog",
        meta,
        "-n",
        "3",
        "--seed",
        "4",
        "--out",
        str(tmp_path / "g"),
    ]
    assert main(argv) == 0
    assert "wrote 3 synthetic files from 00000_DCGAN_BRAIN_TEST" in capsys.readouterr().out
    files = sorted((tmp_path / "g").iterdir())
    assert [f.name for f in files][0] == "synthetic_00000_DCGAN_BRAIN_TEST_seed4_0000.png"
    assert main(["models", "fetch", "00000_DCGAN_BRAIN_TEST", "--catalog", meta]) == 0
    assert "checked and ready" in capsys.readouterr().out

    # an official-looking id offline: the error says the catalog could not be fetched
    assert main(["generate", "--model", "00001", "--out", str(tmp_path / "h")]) == 2
    assert "could not be fetched" in capsys.readouterr().err
    # anything else is still "not a model", without a look at the network
    assert main(["generate", "--model", "nope", "--out", str(tmp_path / "h")]) == 2
    assert "nope: not a model" in capsys.readouterr().err
    assert not (tmp_path / "h").exists()


def test_path_arguments_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scans").mkdir()
    (tmp_path / "lesion").mkdir()  # a folder named like a class must not turn into a path
    given = {"input_path": "scans", "condition": "lesion", "gpu_id": "0"}
    assert sandbox.absolute_paths(given) == {**given, "input_path": str(tmp_path / "scans")}
