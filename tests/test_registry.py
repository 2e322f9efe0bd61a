"""The registry of shipped artefacts: every shipped file is listed, every SHA-256 matches, and
a changed copy is refused by the loader that reads it, with a message that says what to do."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from medgan_utils import registry
from medgan_utils.downstream.classifier import SHIPPED_CLASSIFIERS, load_classifier
from medgan_utils.errors import DataError
from medgan_utils.evaluation.features import (
    ANATOMY_ENCODER_DIR,
    DOMAIN_ENCODER_DIR,
    load_domain_encoder,
    load_encoder,
)
from medgan_utils.gan.zoo import SHIPPED_MODELS, list_models, load_generator, model_path
from medgan_utils.settings import PRETRAINED

LOADERS = {
    "generator": lambda name: load_generator(name),
    "encoder": lambda name: load_encoder(name),
    "classifier": lambda name: load_classifier(name),
}


def test_every_shipped_file_is_listed():
    listed = {f"{a.folder}/{f}" for a in registry.artefacts() for f in a.sha256}
    on_disk = {p.relative_to(PRETRAINED).as_posix() for p in PRETRAINED.rglob("*") if p.is_file()}
    weights_and_configs = {p for p in on_disk if Path(p).name not in registry.DOCUMENTS}
    assert weights_and_configs == listed  # no unlisted weights or config, no listed file missing
    assert all(Path(p).suffix in (".safetensors", ".json") for p in listed)
    assert {p for p in on_disk if p.endswith(".safetensors")} <= listed
    for a in registry.artefacts():
        assert a.kind in registry.KINDS and a.weights.endswith(".safetensors")
        assert a.config is None or a.config.endswith(".json")
    kinds = [a.kind for a in registry.artefacts()]
    assert kinds.count("generator") == 3 and "encoder" in kinds and "classifier" in kinds


def test_every_checksum_matches():
    for a in registry.artefacts():
        assert registry.verify(a.name) == PRETRAINED / a.folder
        for file, digest in a.sha256.items():
            assert len(digest) == 64 and registry.sha256_file(a.path / file) == digest
            assert registry.expected_sha256(a.path / file) == digest
    assert registry.expected_sha256(Path("somewhere/generator.safetensors")) is None
    assert registry.main([]) == 0


def test_the_old_lists_read_the_registry():
    generators = registry.artefacts("generator")
    assert SHIPPED_MODELS == {a.name: a.folder for a in generators}
    assert list_models() == {a.name: PRETRAINED / a.folder for a in generators}
    shipped = registry.artefact("lesion-classifier-synthetic")
    assert SHIPPED_CLASSIFIERS == {shipped.name: f"{shipped.folder}/{shipped.weights}"}
    assert DOMAIN_ENCODER_DIR == registry.artefact("domain-encoder").path
    assert ANATOMY_ENCODER_DIR == registry.artefact("anatomy-encoder").path
    encoders = {a.name for a in registry.artefacts("encoder")}
    assert encoders == {"domain-encoder", "anatomy-encoder"}
    with pytest.raises(DataError, match="not a shipped artefact; known: brain-mri-dcgan-64"):
        registry.artefact("nope")
    with pytest.raises(ValueError, match="unknown kind"):
        registry.artefacts("gan")


def _copy(artefact: registry.Artefact, root: Path) -> Path:
    folder = root / artefact.folder
    shutil.copytree(artefact.path, folder)
    return folder


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01  # in the tensor data (or the JSON's last newline): still parses
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", list(registry.ARTEFACTS))
def test_a_tampered_copy_is_refused_at_load(name, tmp_path, monkeypatch):
    artefact = registry.artefact(name)
    folder = _copy(artefact, tmp_path)
    monkeypatch.setattr(registry, "ROOT", tmp_path)  # the loaders now read the copy
    load = LOADERS[artefact.kind]
    load(name)  # an intact copy loads
    for file in artefact.sha256:
        _flip_last_byte(folder / file)
        with pytest.raises(DataError) as err:
            load(name)
        message = str(err.value)
        assert err.value.path == str(folder / file)
        assert message.startswith(f"{folder / file}: SHA-256 ")
        assert "changed or damaged, so it is refused" in message
        assert "python scripts/update_checksums.py --update" in message
        _flip_last_byte(folder / file)  # flipped back: loads again
        load(name)


def test_a_tampered_generator_is_refused_by_every_path_to_it(tmp_path, monkeypatch):
    name = "brain-mri-dcgan-64"
    folder = _copy(registry.artefact(name), tmp_path)
    monkeypatch.setattr(registry, "ROOT", tmp_path)
    _flip_last_byte(folder / "generator.safetensors")
    for model in (name, folder, folder / "generator.safetensors"):  # name, folder or file
        with pytest.raises(DataError, match="changed or damaged"):
            model_path(model)
    assert registry.main([]) == 1


def test_each_file_is_hashed_once_per_process(tmp_path, monkeypatch):
    name = "lesion-classifier-synthetic"
    a = registry.artefact(name)
    folder = _copy(a, tmp_path)
    monkeypatch.setattr(registry, "ROOT", tmp_path)
    calls = []
    real = registry.sha256_file
    monkeypatch.setattr(registry, "sha256_file", lambda p: calls.append(p) or real(p))
    load_classifier(name)
    load_classifier(name)
    assert calls == [folder / a.weights]
    stat = (folder / a.weights).stat()
    os.utime(folder / a.weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))
    load_classifier(name)  # touched: hashed again
    assert len(calls) == 2


def test_update_records_a_retrained_file(tmp_path, monkeypatch):
    name = "domain-encoder"
    a = registry.artefact(name)
    folder = _copy(a, tmp_path)
    source = tmp_path / "registry.py"
    shutil.copyfile(registry.__file__, source)
    monkeypatch.setattr(registry, "ROOT", tmp_path)
    copy = registry.Artefact(**{**vars(a), "sha256": dict(a.sha256)})  # update() edits it
    monkeypatch.setitem(registry.ARTEFACTS, name, copy)
    _flip_last_byte(folder / a.weights)  # "retrained"
    with pytest.raises(DataError):
        load_domain_encoder()
    new = registry.sha256_file(folder / a.weights)
    assert registry.update([name], source=source) == [f"{a.folder}/{a.weights}"]
    text = source.read_text()
    assert f'"{a.weights}": "{new}"' in text and a.sha256[a.weights] not in text
    assert registry.ARTEFACTS[name].sha256[a.weights] == new
    load_domain_encoder()  # recorded: loads
    assert registry.update([name], source=source) == []  # nothing changed since
    assert source.read_text() == text
