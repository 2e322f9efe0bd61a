"""Hostile catalogs, archives, links and packages against the medigan hub (issue 17, items 1, 7,
9, 11 and the policy on whose code runs). Each hostile input is built in ``tmp_path``; every test
asserts the clear error, that nothing outside ``$MEDGAN_HOME`` changed, and that the CLI prints
one line and no traceback."""

from __future__ import annotations

import http.server
import json
import py_compile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from medgan_utils import registry
from medgan_utils.cli import main
from medgan_utils.errors import (
    DataError,
    ModelNotAvailableError,
    PackageChangedError,
    PackageIntegrityError,
    UntrustedCodeError,
)
from medgan_utils.gan.zoo import DEFAULT_MODEL, MAX_IMAGES
from medgan_utils.hub import catalog as hub
from medgan_utils.hub import downloads, policy
from medgan_utils.hub import generate as synthetic
from medgan_utils.hub import packages as package_store
from medgan_utils.hub.export import export_medigan, read_package_metadata
from medgan_utils.settings import claim_folder

TRAVERSAL = "../../../../DIR/thesis"  # from $MEDGAN_HOME/medigan/models up to tmp_path
OURS = "00000_DCGAN_TINY"  # an exported package of ours: only our code
FOREIGN = "00000_FOREIGN_PKG"  # a package with code of its own
BASE = ["model_file", "num_samples", "output_path", "save_images"]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    # four levels below tmp_path, so TRAVERSAL from models/ lands on tmp_path/DIR
    monkeypatch.setenv("MEDGAN_HOME", str(tmp_path / "a" / "home"))
    monkeypatch.setenv("MEDGAN_OFFLINE", "1")
    monkeypatch.delenv("MEDGAN_CATALOG", raising=False)
    monkeypatch.delenv(policy.ALLOW_ENV, raising=False)
    monkeypatch.setattr(downloads.time, "sleep", lambda s: None)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny) -> Path:
    folder = tmp_path_factory.mktemp("export")
    return export_medigan(tiny, folder / "tiny.zip", model_id=OURS).zip


def _outside(tmp_path: Path) -> dict[str, bytes]:
    """Every file under ``tmp_path`` outside the workspace, with its bytes."""
    home = tmp_path / "a"
    return {
        p.relative_to(tmp_path).as_posix(): p.read_bytes()
        for p in sorted(tmp_path.rglob("*"))
        if p.is_file() and home not in p.parents
    }


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "DIR" / "thesis.zip"
    victim.parent.mkdir()
    victim.write_bytes(b"four years of work, not a zip")
    return victim


def _cli(argv: list[str], capsys) -> str:
    """Run the CLI, expecting a failure: exit 2 and one line on stderr, no traceback."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("medgan: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def _entry(package: str, link: str | Path, model_file: str = "w.pt", **execution: Any) -> dict:
    """A catalog entry; ``execution`` replaces fields of its ``execution`` section as given."""
    name, ext = model_file.rsplit(".", 1)
    return {
        "execution": {
            "package_name": package,
            "package_link": str(link),
            "model_name": name,
            "extension": f".{ext}",
            "image_size": [8, 8],
            "dependencies": [],
            "generate_method": {"name": "generate", "args": {"base": BASE, "custom": {}}},
            **execution,
        },
        "selection": {"type": "DCGAN"},
        "description": {"title": "a test package"},
    }


def _foreign_zip(path: Path, body: str, package: str = FOREIGN, extra: dict | None = None) -> Path:
    """A medigan package whose ``__init__.py`` has a ``generate`` with ``body``."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{package}/__init__.py", f"def generate({', '.join(BASE)}):\n{body}\n")
        zf.writestr(f"{package}/w.pt", b"weights")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def _catalog_file(path: Path, entries: dict) -> Path:
    path.write_text(json.dumps(entries))
    return path


# ----------------------------------------------------------------- item 1: ids as paths


def test_a_traversal_id_writes_and_deletes_nothing_outside_the_workspace(
    tmp_path, exported, tiny, capsys, monkeypatch
):
    victim = _victim(tmp_path)
    evil = _catalog_file(
        tmp_path / "evil.json",
        {
            TRAVERSAL: _entry("thesis", victim),
            "..": _entry("x", victim),
            "a/b": _entry("x", victim),
            "00001_BAD_PACKAGE": _entry("../../../../DIR/thesis", victim),
            "00002_BAD_MODEL_FILE": _entry("pkg", victim, "../../../../DIR/thesis.zip"),
            "00003_BAD_LINK": _entry("pkg", victim, package_link=1),
            "00004_BAD_METHOD": _entry("pkg", victim, generate_method="rm"),
        },
    )
    before = _outside(tmp_path)

    err = _cli(["models", "fetch", TRAVERSAL, "--catalog", str(evil)], capsys)
    assert f"{TRAVERSAL}: not a valid model id" in err
    err = _cli(
        ["generate", "--model", TRAVERSAL, "--catalog", str(evil), "--out", str(tmp_path / "o")],
        capsys,
    )
    assert "not a valid model id" in err
    # the app reads the same catalog from MEDGAN_CATALOG: the bad entries are left out, named
    monkeypatch.setenv("MEDGAN_CATALOG", str(evil))
    catalog = hub.load_catalog(include_project=False)
    assert list(catalog) == []
    assert [p.split(":")[0] for p in catalog.problems] == list(json.loads(evil.read_text()))
    assert "not a valid package name" in catalog.problems[3]
    assert "not a valid model file" in catalog.problems[4]
    assert "package_link is not a text" in catalog.problems[5]
    assert "generate_method has no function name" in catalog.problems[6]
    with pytest.raises(DataError, match="not a valid model id"):
        hub.load_catalog(local_models={"../run": tiny})
    # below the catalog: a catalog built by hand, and the package store itself
    by_hand = hub.Catalog({TRAVERSAL: _entry("thesis", victim)})
    with pytest.raises(DataError, match="not a valid model id"):
        synthetic.fetch_model(TRAVERSAL, by_hand, allow_unofficial=True)
    for model_id, entry in [
        (TRAVERSAL, _entry("thesis", victim)),
        ("00001_BAD_PACKAGE", _entry("../../../../DIR/thesis", victim)),
        ("00002_BAD_MODEL_FILE", _entry("pkg", victim, "../../x.pt")),
    ]:
        with pytest.raises(DataError, match="not a valid"):
            package_store.ensure_package(model_id, entry, official=True)

    assert _outside(tmp_path) == before  # the thesis is still there, byte for byte
    assert victim.read_bytes() == b"four years of work, not a zip"
    assert not (tmp_path / "o").exists()


def test_containment_is_checked_on_the_resolved_path(tmp_path, exported):
    victim = _victim(tmp_path)
    models = package_store.workspace() / "models"
    (models / "00003_LINKED_AWAY").symlink_to(tmp_path / "DIR", target_is_directory=True)
    (entry,) = read_package_metadata(exported).values()
    catalog = hub.Catalog({"00003_LINKED_AWAY": entry}, official=frozenset({"00003_LINKED_AWAY"}))
    before = _outside(tmp_path)
    with pytest.raises(DataError, match="leads outside .*models"):
        synthetic.fetch_model("00003_LINKED_AWAY", catalog)
    assert _outside(tmp_path) == before and victim.exists()


def test_only_archives_the_project_downloaded_are_deleted(tmp_path, exported, monkeypatch):
    (entry,) = read_package_metadata(exported).values()
    entry["execution"]["package_link"] = "https://zenodo.org/record/1/files/x.zip"
    catalog = hub.Catalog({OURS: entry}, official=frozenset({OURS}))
    folder = package_store.workspace() / "downloads"
    folder.mkdir()
    dropped = folder / f"{OURS}.zip"  # put there by hand, broken
    dropped.write_bytes(b"my own half-copied download")
    with pytest.raises(
        PackageIntegrityError, match="not downloaded by medgan-utils, so it is left"
    ):
        synthetic.fetch_model(OURS, catalog)
    assert dropped.read_bytes() == b"my own half-copied download"

    # one the project downloaded is replaced when it no longer passes the checks
    dropped.unlink()
    monkeypatch.delenv("MEDGAN_OFFLINE")
    monkeypatch.setattr(downloads, "download", lambda u, p, t: p.write_bytes(exported.read_bytes()))
    synthetic.fetch_model(OURS, catalog)
    package_store.shutil.rmtree(package_store.package_dir(OURS))
    monkeypatch.setattr(policy, "MAX_PACKAGE_FILES", 2)  # the rules got stricter since
    with pytest.raises(PackageIntegrityError, match="more than 2 entries"):
        synthetic.fetch_model(OURS, catalog)
    assert not dropped.exists()  # ours: removed, and the new download refused as well


def test_an_official_id_installed_from_elsewhere_is_not_run(tmp_path, exported):
    (entry,) = read_package_metadata(exported).values()
    synthetic.fetch_model(OURS, hub.Catalog({OURS: entry}))  # ours, from a local zip
    official = json.loads(json.dumps(entry))
    official["execution"]["package_link"] = "https://zenodo.org/record/1/files/x.zip"
    with pytest.raises(PackageChangedError, match="was installed from .*tiny.zip, not from"):
        synthetic.fetch_model(OURS, hub.Catalog({OURS: official}, official=frozenset({OURS})))


def test_a_shipped_model_needs_its_pinned_sha256(monkeypatch):
    pinned = registry.ARTEFACTS[DEFAULT_MODEL]
    unpinned = registry.Artefact(
        pinned.name, pinned.kind, pinned.folder, {pinned.weights: pinned.sha256[pinned.weights]}
    )
    monkeypatch.setitem(registry.ARTEFACTS, DEFAULT_MODEL, unpinned)  # generator.json unpinned
    with pytest.raises(PackageChangedError, match="generator.json: .* no SHA-256 in the registry"):
        synthetic.fetch_model(DEFAULT_MODEL, hub.load_catalog(include_project=True))


# ----------------------------------------------------------------- item 7: archives


def _claim_size(path: Path, size: int) -> None:
    """Rewrite the unpacked size every entry declares in the zip's central directory."""
    data = bytearray(path.read_bytes())
    start = 0
    while (start := data.find(b"PK\x01\x02", start)) >= 0:
        data[start + 24 : start + 28] = size.to_bytes(4, "little")
        start += 4
    path.write_bytes(bytes(data))


def test_a_decompression_bomb_is_refused_from_the_zip_directory(tmp_path, exported, capsys):
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(exported.read_bytes())
    _claim_size(bomb, 0xFFFFFFF0)  # every entry says 4 GiB: tens of GiB from a 20 kB file
    claimed = f"{len(zipfile.ZipFile(exported).namelist()) * 0xFFFFFFF0 / 2**30:.1f} GiB"
    (entry,) = read_package_metadata(exported).values()
    with pytest.raises(policy.PackageTooLargeError, match=f"would unpack to {claimed}"):
        package_store.verify_archive(bomb, entry)  # from the directory, nothing decompressed
    entry["execution"]["package_link"] = str(bomb)
    catalog = _catalog_file(tmp_path / "c.json", {OURS: entry})
    before = _outside(tmp_path)
    err = _cli(["models", "fetch", OURS, "--catalog", str(catalog)], capsys)
    assert f"{bomb}: would unpack to {claimed}" in err and "refusing it" in err
    ws = package_store.workspace()
    assert [p.name for p in (ws / "models").iterdir()] == ["__init__.py"]
    assert not list((ws / "downloads").iterdir())
    assert _outside(tmp_path) == before


def test_too_many_entries_or_bytes_are_refused(tmp_path, exported, monkeypatch):
    (entry,) = read_package_metadata(exported).values()
    entries = len(zipfile.ZipFile(exported).namelist())
    monkeypatch.setattr(policy, "MAX_PACKAGE_FILES", entries - 1)
    with pytest.raises(policy.PackageTooLargeError, match=f"more than {entries - 1} entries"):
        package_store.verify_archive(exported, entry)
    monkeypatch.setattr(policy, "MAX_PACKAGE_FILES", 20_000)
    monkeypatch.setattr(policy, "MAX_PACKAGE_BYTES", exported.stat().st_size - 1)
    entry["execution"]["package_link"] = str(exported)
    catalog = hub.Catalog({OURS: entry})
    with pytest.raises(policy.PackageTooLargeError, match="larger than"):  # the download cap
        synthetic.fetch_model(OURS, catalog)
    assert not list((package_store.workspace() / "downloads").iterdir())


# ------------------------------------------------------------------------ item 7: links


class _Server(http.server.ThreadingHTTPServer):
    """Serves ``/tiny.zip`` and redirects ``/away`` to ``http://localhost:<port>/tiny.zip``."""

    def __init__(self, data: bytes) -> None:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append(self.path)
                if self.path == "/away":
                    self.send_response(302)
                    self.send_header("Location", f"http://localhost:{outer.port}/tiny.zip")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]


@pytest.fixture
def server(exported) -> Iterator[_Server]:
    srv = _Server(exported.read_bytes())
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_only_https_links_are_accepted(tmp_path, exported, server, monkeypatch, capsys):
    monkeypatch.delenv("MEDGAN_OFFLINE")
    (entry,) = read_package_metadata(exported).values()
    plain = f"http://127.0.0.1:{server.port}/tiny.zip"
    entries = {}
    for model_id, link in [(OURS, plain), ("00004_FTP", "ftp://example.org/x.zip")]:
        entries[model_id] = json.loads(json.dumps(entry))
        entries[model_id]["execution"]["package_link"] = link
    catalog = _catalog_file(tmp_path / "c.json", entries)
    for model_id, link in [(OURS, plain), ("00004_FTP", "ftp://")]:
        err = _cli(
            ["models", "fetch", model_id, "--catalog", str(catalog), "--allow-unofficial-code"],
            capsys,
        )
        assert f"{link}" in err and "only https links (or local files) are accepted" in err
    assert server.requests == []  # refused before any request

    # tests (only) may let http reach a local server; a redirect elsewhere is still refused
    monkeypatch.setattr(policy, "HTTP_TEST_HOSTS", frozenset({"127.0.0.1"}))
    official = hub.Catalog(entries, official=frozenset(entries))
    folder = synthetic.fetch_model(OURS, official)
    assert (folder / OURS / "__init__.py").exists() and server.requests == ["/tiny.zip"]
    official.entries[OURS]["execution"]["package_link"] = plain.replace("tiny.zip", "away")
    package_store.shutil.rmtree(folder)
    (package_store.workspace() / "downloads" / f"{OURS}.zip").unlink()
    with pytest.raises(policy.InsecureLinkError, match=f"localhost:{server.port}/tiny.zip"):
        synthetic.fetch_model(OURS, official)
    assert server.requests[-1] == "/away"  # followed no further


# --------------------------------------------------------------------- item 7: bytecode


def test_bytecode_in_a_package_is_refused_and_never_written(tmp_path, exported, capsys):
    (entry,) = read_package_metadata(exported).values()
    catalog = _catalog_file(tmp_path / "c.json", {OURS: entry})
    files = synthetic.generate(OURS, 2, out=tmp_path / "first", catalog=str(catalog))
    assert len(files) == 2
    ws = package_store.workspace()
    assert not [p for p in ws.rglob("*") if policy.is_bytecode(p.name) or p.suffix == ".pyc"]

    # bytecode beside the checked source (valid for it, so Python would load it) is refused
    init = ws / "models" / OURS / OURS / "__init__.py"
    py_compile.compile(str(init), cfile=str(init.parent / "__pycache__" / "__init__.pyc"))
    before = _outside(tmp_path)
    err = _cli(
        ["generate", "--model", OURS, "--catalog", str(catalog), "--out", str(tmp_path / "o")],
        capsys,
    )
    assert f"{OURS}/__pycache__: compiled bytecode in a model package" in err
    assert _outside(tmp_path) == before and not (tmp_path / "o").exists()

    # bytecode inside an archive is never unpacked
    pyc = init.parent / "__pycache__" / "__init__.pyc"
    bundled = tmp_path / "bundled.zip"
    with zipfile.ZipFile(exported) as src, zipfile.ZipFile(bundled, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
        dst.writestr(f"{OURS}/__pycache__/__init__.cpython-311.pyc", pyc.read_bytes())
        dst.writestr(f"{OURS}/helper.pyc", pyc.read_bytes())
    entry["execution"]["package_link"] = str(bundled)
    other = hub.Catalog({"00005_BUNDLED_PYC": entry}, official=frozenset({"00005_BUNDLED_PYC"}))
    folder = synthetic.fetch_model("00005_BUNDLED_PYC", other)
    assert not [
        p for p in folder.rglob("*") if policy.is_bytecode(p.relative_to(folder).as_posix())
    ]


def test_every_imported_file_is_checked(tmp_path, exported, capsys):
    (entry,) = read_package_metadata(exported).values()
    catalog = _catalog_file(tmp_path / "c.json", {OURS: entry})
    argv = ["generate", "--model", OURS, "--catalog", str(catalog), "-n", "1"]
    assert main([*argv, "--out", str(tmp_path / "ok")]) == 0
    capsys.readouterr()
    ws = package_store.workspace()
    models_init = ws / "models" / "__init__.py"
    models_init.write_text("import os  # changed after the package was pinned\n")
    before = _outside(tmp_path)
    err = _cli([*argv, "--out", str(tmp_path / "o1")], capsys)
    assert "models/__init__.py: is imported before every model package" in err
    models_init.write_text("")
    # a module in the workspace would shadow a library while packages run
    (ws / "numpy.py").write_text("raise SystemExit('shadowed')\n")
    err = _cli([*argv, "--out", str(tmp_path / "o2")], capsys)
    assert "numpy.py: could be imported in place of a library" in err
    (ws / "numpy.py").unlink()
    (ws / "models" / f"{OURS}.py").write_text("generate = print\n")  # shadows the folder
    err = _cli([*argv, "--out", str(tmp_path / "o3")], capsys)
    assert f"{OURS}.py: could be imported" in err
    (ws / "models" / f"{OURS}.py").unlink()
    # the package's own files: one changed after pinning
    dcgan = ws / "models" / OURS / OURS / "dcgan.py"
    dcgan.write_text(dcgan.read_text() + "\nimport os\n")
    err = _cli([*argv, "--out", str(tmp_path / "o4")], capsys)
    assert f"the package of {OURS} changed since it was installed" in err
    assert _outside(tmp_path) == before


# --------------------------------------------------------------------- whose code runs


def test_foreign_code_runs_only_when_the_operator_allows_it(tmp_path, monkeypatch, capsys):
    marker = tmp_path / "ran.txt"
    body = f"    open({str(marker)!r}, 'w').write('ran')\n    return []"
    package = _foreign_zip(tmp_path / "foreign.zip", body)
    catalog = _catalog_file(tmp_path / "c.json", {FOREIGN: _entry(FOREIGN, package)})
    before = _outside(tmp_path)
    argv = ["generate", "--model", FOREIGN, "--catalog", str(catalog), "-n", "2"]
    err = _cli([*argv, "--out", str(tmp_path / "o")], capsys)
    assert f"{FOREIGN}: its package ({package}) is not from medigan's official catalog" in err
    assert "MEDGAN_ALLOW_UNOFFICIAL_CODE=1" in err and "--allow-unofficial-code" in err
    with pytest.raises(UntrustedCodeError):
        synthetic.generate(FOREIGN, 1, catalog=str(catalog))
    monkeypatch.setenv("MEDGAN_CATALOG", str(catalog))  # the app's way in
    with pytest.raises(UntrustedCodeError):
        synthetic.fetch_model(FOREIGN)
    monkeypatch.delenv("MEDGAN_CATALOG")
    assert not marker.exists() and _outside(tmp_path) == before
    # a remote foreign package is not even downloaded
    remote = _entry(FOREIGN, "https://example.org/foreign.zip")
    monkeypatch.delenv("MEDGAN_OFFLINE")
    monkeypatch.setattr(downloads, "download", lambda *a: pytest.fail("downloaded"))
    with pytest.raises(UntrustedCodeError):
        synthetic.fetch_model(FOREIGN, hub.Catalog({"00006_REMOTE": remote} | {FOREIGN: remote}))
    # pip-installing the dependencies a foreign catalog lists is code from it, too
    needs = _entry(FOREIGN, package)
    needs["execution"]["dependencies"] = ["surely-not-installed-medgan-pkg"]
    with pytest.raises(UntrustedCodeError, match="runs pip on a list"):
        synthetic.generate(
            FOREIGN, 1, catalog=hub.Catalog({FOREIGN: needs}), install_dependencies=True
        )

    # the operator allows it: the flag, or the environment variable
    flag = [*argv, "--allow-unofficial-code", "--out", str(tmp_path / "o")]
    assert "wrote no image files" in _cli(flag, capsys)  # it ran, and gave no images
    assert marker.read_text() == "ran"
    marker.unlink()
    monkeypatch.setenv(policy.ALLOW_ENV, "1")
    with pytest.raises(DataError, match="returned no images"):
        synthetic.generate(FOREIGN, 1, catalog=str(catalog))
    assert marker.exists()


def test_the_official_catalog_is_recognised_by_its_entries(tmp_path, monkeypatch):
    real = hub.CHECKOUT_CATALOG
    if not real.exists():
        pytest.skip("medigan's catalog is not beside the project")
    assert hub.load_catalog(real).official == frozenset(json.loads(real.read_text()))
    copy = json.loads(real.read_text())
    target = "00005_DCGAN_MMG_MASS_ROI"
    copy[target]["execution"]["package_link"] = "https://example.org/evil.zip"
    catalog = hub.load_catalog(_catalog_file(tmp_path / "copy.json", copy))
    assert catalog.official == frozenset(copy) - {target}  # the same entries, but this one
    monkeypatch.delenv("MEDGAN_OFFLINE")
    monkeypatch.setattr(downloads, "download", lambda *a: pytest.fail("downloaded"))
    with pytest.raises(UntrustedCodeError, match="https://example.org/evil.zip"):
        synthetic.fetch_model(target, catalog)
    monkeypatch.setenv("MEDGAN_OFFLINE", "1")  # an official one gets as far as the download
    with pytest.raises(ModelNotAvailableError, match="downloads are off"):
        synthetic.fetch_model("00001_DCGAN_MMG_CALC_ROI", catalog)


# -------------------------------------------------- items 9 and 11: caps, cleaning, no images


def test_a_package_that_gives_no_images_is_an_error(tmp_path, capsys):
    package = _foreign_zip(tmp_path / "empty.zip", "    return []")
    catalog = _catalog_file(tmp_path / "c.json", {FOREIGN: _entry(FOREIGN, package)})
    argv = ["generate", "--model", FOREIGN, "--catalog", str(catalog), "--allow-unofficial-code"]
    err = _cli([*argv, "-n", "3", "--out", str(tmp_path / "o")], capsys)
    assert f"{FOREIGN}: its package wrote no image files" in err
    assert not (tmp_path / "o").exists()
    with pytest.raises(DataError, match="returned no images"):
        synthetic.generate(FOREIGN, 3, catalog=str(catalog), allow_unofficial=True)
    with pytest.raises(DataError, match=f"{FOREIGN}: its package failed"):  # medigan's dataset
        synthetic.medigan_dataloader(FOREIGN, 3, catalog=str(catalog), allow_unofficial=True)
    assert not list((package_store.workspace() / "output").iterdir())


def test_the_workspace_output_is_cleaned_after_every_call(tmp_path):
    body = (
        "    import pathlib\n"
        "    pathlib.Path(output_path, 'partial.png').write_bytes(b'x' * 1000)\n"
        "    raise RuntimeError('the package failed half-way')"
    )
    package = _foreign_zip(tmp_path / "fails.zip", body)
    catalog = hub.Catalog({FOREIGN: _entry(FOREIGN, package)})
    output = package_store.workspace() / "output"
    output.mkdir()
    stale = output / "run-killed"  # left by a process that was killed: no claim is held
    (stale / "batch_0").mkdir(parents=True)
    (stale / "batch_0" / "img.png").write_bytes(b"x")
    mine = output / "mine"  # not the project's: never touched
    mine.mkdir()
    (mine / "keep.txt").write_text("keep")
    with claim_folder(output / "run-live"):  # another process generating right now
        with pytest.raises(DataError, match="package failed: RuntimeError: the package failed"):
            synthetic.generate(
                FOREIGN, 2, out=tmp_path / "o", catalog=catalog, allow_unofficial=True
            )
        assert sorted(p.name for p in output.iterdir()) == ["mine", "run-live"]
    assert (mine / "keep.txt").read_text() == "keep" and not (tmp_path / "o").exists()


def test_counts_over_the_cap_are_refused_before_any_work(tmp_path, exported, capsys):
    (entry,) = read_package_metadata(exported).values()
    catalog = _catalog_file(tmp_path / "c.json", {OURS: entry})
    for n in (MAX_IMAGES + 1, 0, -4):
        err = _cli(
            ["generate", "--model", OURS, "--catalog", str(catalog), "-n", str(n)]
            + ["--out", str(tmp_path / "o")],
            capsys,
        )
        assert f"number of images must be between 1 and {MAX_IMAGES}, got {n}" in err
    loaded = hub.load_catalog(catalog)
    too_many = MAX_IMAGES + 1
    for call in (
        lambda: synthetic.generate(OURS, too_many, catalog=loaded),
        lambda: synthetic.medigan_dataloader(OURS, too_many, catalog=loaded),
        lambda: synthetic.build_synthetic_dataset([OURS], too_many, tmp_path / "d", catalog=loaded),
    ):
        with pytest.raises(ValueError, match=f"between 1 and {MAX_IMAGES}"):
            call()
    ws = package_store.workspace()
    assert not (tmp_path / "o").exists() and not (tmp_path / "d").exists()
    assert not (ws / "models" / OURS).exists() and not (ws / "output").exists()
