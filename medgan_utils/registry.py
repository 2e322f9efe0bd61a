"""Every artefact the project ships, with the SHA-256 of each of its files; loaders verify them.

Like d2l's ``DATA_HUB``: one list, in this file, of what lies under ``medgan_utils/pretrained``
(the generators, the domain and anatomy encoders, the lesion classifier), each with its kind,
its folder and the SHA-256 of its weights and of its JSON config. Every loader of a shipped artefact
(:func:`medgan_utils.gan.zoo.load_generator`, :func:`~medgan_utils.gan.zoo.model_path`,
:func:`medgan_utils.evaluation.features.load_encoder`,
:func:`medgan_utils.downstream.classifier.load_classifier`, the medigan packaging) calls
:func:`verify_file` on what it reads, which refuses a changed or damaged copy with a
:class:`~medgan_utils.errors.DataError` naming the file. Each file is hashed once per process
(again only if its size or modification time changes); files outside the shipped folders pass.

The reports beside the weights (:data:`DOCUMENTS`: the model card, ``evaluation.json``,
``audit.json``) are rewritten by the evaluation scripts and are not pinned.

Command line (in a clone; :func:`main`)::

    python scripts/update_checksums.py            # check every shipped file
    python scripts/update_checksums.py --update   # after a deliberate retrain: record them

To add a shipped artefact: put its folder under ``medgan_utils/pretrained/``, add an
:class:`Artefact` to :data:`ARTEFACTS` with its files (digest ``""`` for now), run
``--update``, and commit the folder with this file.

Example:
    >>> ARTEFACTS["brain-mri-dcgan-64"].weights
    'generator.safetensors'
"""

from __future__ import annotations

import argparse
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from medgan_utils.errors import DataError
from medgan_utils.settings import PRETRAINED

__all__ = [
    "ARTEFACTS",
    "DOCUMENTS",
    "KINDS",
    "ROOT",
    "Artefact",
    "artefact",
    "artefacts",
    "expected_sha256",
    "sha256_file",
    "update",
    "verify",
    "verify_file",
]

KINDS = ("generator", "encoder", "classifier")
#: Reports beside the weights, rewritten by the evaluation scripts; not pinned.
DOCUMENTS = ("MODEL_CARD.md", "evaluation.json", "audit.json")
#: Where the shipped folders are. Read at call time, so a test may point it at a copy.
ROOT: Path = PRETRAINED


@dataclass(frozen=True)
class Artefact:
    """One shipped artefact: a folder under :data:`ROOT` and the SHA-256 of its files.

    Args:
        name: what users pass to the loaders (``"brain-mri-dcgan-64"``).
        kind: one of :data:`KINDS`.
        folder: its folder's name under :data:`ROOT`.
        sha256: file name -> SHA-256 (hex) of its weights and, where there is one, its JSON
            config. The classifier keeps its config inside the safetensors metadata.
    """

    name: str
    kind: str
    folder: str
    sha256: dict[str, str]

    @property
    def path(self) -> Path:
        """The artefact's folder (under :data:`ROOT` as it is now)."""
        return ROOT / self.folder

    @property
    def weights(self) -> str:
        """The name of its safetensors file."""
        return next(f for f in self.sha256 if f.endswith(".safetensors"))

    @property
    def config(self) -> str | None:
        """The name of its JSON config, or ``None`` (config inside the weights' metadata)."""
        return next((f for f in self.sha256 if f.endswith(".json")), None)


# `update()` rewrites the digests below in place; keep one `"file": "digest"` per line.
ARTEFACTS: dict[str, Artefact] = {
    a.name: a
    for a in (
        Artefact(
            name="brain-mri-dcgan-64",
            kind="generator",
            folder="brain_mri_dcgan_64",
            sha256={
                "generator.safetensors": "618ca8ec7913b27b7fb222b9ed5d281b652c4ea7754c996c4a8071aa09ef0a58",  # noqa: E501
                "generator.json": "48c255c9e2b690a1250d78e28df93a9418940157cc675b1e9134fa5dfe13c509",  # noqa: E501
            },
        ),
        Artefact(
            name="brain-mri-lesion-dcgan-64",
            kind="generator",
            folder="brain_mri_lesion_dcgan_64",
            sha256={
                "generator.safetensors": "1152736c6fcb9ff4b85d569dce2d5e38adbb3c6462eb8368ecfd9c669ed03853",  # noqa: E501
                "generator.json": "e15b6019d8663b4cd10b5aa0ca371eab54ee49578cc41d69d5d65aba83106694",  # noqa: E501
            },
        ),
        Artefact(
            name="brain-mri-conditional-64",
            kind="generator",
            folder="brain_mri_conditional_64",
            sha256={
                "generator.safetensors": "88a60320c008b764054f987aaa62473c19c997d57c86f8aa38ed5a103b8f0ed4",  # noqa: E501
                "generator.json": "de8a19190265940d88c7c57ffa1605a1798026dbadf8625e36c6f9c9e7d64837",  # noqa: E501
            },
        ),
        Artefact(
            name="domain-encoder",
            kind="encoder",
            folder="domain_encoder",
            sha256={
                "encoder.safetensors": "48d624a3b50d9a8255fe8b733a1af92de3493b04e9800f970c0683a7b178dc8a",  # noqa: E501
                "encoder.json": "07073b03271d8869436c127c6ad0f20ff2944fd0b8a8f1c1073c9cd7cd20ba15",  # noqa: E501
            },
        ),
        Artefact(
            name="anatomy-encoder",
            kind="encoder",
            folder="anatomy_encoder",
            sha256={
                "encoder.safetensors": "581d3c5f78137160b7c02becc4607775d4fc87003a67fc6973ac502f8fac4cf1",  # noqa: E501
                "encoder.json": "eb375caa8c00a7e2454bd279cc8f8ee5abbca9f51a3064a0e0ab172c27068848",  # noqa: E501
            },
        ),
        Artefact(
            name="lesion-classifier-synthetic",
            kind="classifier",
            folder="lesion_classifier_synthetic",
            sha256={
                "classifier.safetensors": "839cb805699bd64e5daf2aad8af96e19ff41a78222a7c7e10cb288afdd83610b",  # noqa: E501
            },
        ),
    )
}

_verified: dict[tuple[str, int, int], str] = {}  # (path, mtime_ns, size) -> SHA-256


def artefacts(kind: str | None = None) -> list[Artefact]:
    """The shipped artefacts, in registry order; only those of ``kind`` if given."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    return [a for a in ARTEFACTS.values() if kind is None or a.kind == kind]


def artefact(name: str) -> Artefact:
    """The shipped artefact called ``name``.

    Raises:
        DataError: no artefact has that name (the message lists them).
    """
    if name not in ARTEFACTS:
        raise DataError(name, f"not a shipped artefact; known: {', '.join(ARTEFACTS)}")
    return ARTEFACTS[name]


def sha256_file(path: str | Path) -> str:
    """The SHA-256 (hex) of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def expected_sha256(path: str | Path) -> str | None:
    """The SHA-256 the registry records for ``path``; ``None`` if it is not a shipped file."""
    path = Path(path).resolve()
    try:
        rel = path.relative_to(ROOT.resolve())
    except ValueError:
        return None
    if len(rel.parts) != 2:
        return None
    for a in ARTEFACTS.values():
        if a.folder == rel.parts[0]:
            return a.sha256.get(rel.parts[1])
    return None


def verify_file(path: str | Path) -> Path:
    """Refuse a shipped file whose bytes differ from the ones the project ships.

    Files that are not shipped (a run folder, a checkpoint of yours) and missing files pass:
    the loader reports those. A checked file is not hashed again in this process unless its
    size or modification time changes.

    Returns:
        ``path``.

    Raises:
        DataError: a shipped file whose SHA-256 differs from the recorded one; the message
            names the file and says how to restore it.
    """
    path = Path(path)
    expected = expected_sha256(path)
    if expected is None:
        return path
    try:
        stat = path.stat()
    except OSError:
        return path
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if _verified.get(key) == expected:
        return path
    digest = sha256_file(path)
    if digest != expected:
        raise DataError(
            path,
            f"SHA-256 {digest[:12]}... differs from the {expected[:12]}... recorded for this "
            "shipped file in medgan_utils/registry.py: it was changed or damaged, so it is "
            "refused. Restore it (`git checkout -- medgan_utils/pretrained` in a clone, or "
            "`pip install --force-reinstall medgan-utils`); after a deliberate retrain, "
            "record it with `python scripts/update_checksums.py --update`",
        )
    _verified[key] = digest
    return path


def verify(name: str) -> Path:
    """Check every pinned file of the artefact ``name``; return its folder.

    Raises:
        DataError: unknown name, a missing file, or a file that differs from the recorded.
    """
    a = artefact(name)
    for file in a.sha256:
        if not (a.path / file).is_file():
            raise DataError(a.path / file, f"missing: the shipped {a.kind} {name} needs it")
        verify_file(a.path / file)
    return a.path


def update(names: Sequence[str] | None = None, source: Path | None = None) -> list[str]:
    """Record the current SHA-256 of the shipped files in this module's source.

    Run it after a deliberate retrain (the training scripts say so), then commit the weights
    and ``registry.py`` together.

    Args:
        names: the artefacts to update (default: all).
        source: the file that holds :data:`ARTEFACTS` (default: this module).

    Returns:
        ``"<folder>/<file>"`` of each digest that changed.
    """
    source = source or Path(__file__)
    text = source.read_text()
    changed = []
    for name in names or list(ARTEFACTS):
        a = artefact(name)
        start = text.index(f'name="{a.name}"')
        for file, old in a.sha256.items():
            new = sha256_file(a.path / file)
            pattern = re.compile(rf'"{re.escape(file)}": "[0-9a-f]*"')
            m = pattern.search(text, start)
            if m is None:
                raise RuntimeError(f'{source}: no line \'"{file}": "..."\' after {a.name}')
            text = text[: m.start()] + f'"{file}": "{new}"' + text[m.end() :]
            if new != old:
                changed.append(f"{a.folder}/{file}")
                a.sha256[file] = new
    source.write_text(text)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """``python scripts/update_checksums.py [--update]``: check (or record) the shipped files."""
    parser = argparse.ArgumentParser(
        prog="python scripts/update_checksums.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--update", action="store_true", help="record the current SHA-256 of every shipped file"
    )
    args = parser.parse_args(argv)
    if args.update:
        changed = update()
        print("updated: " + (", ".join(changed) or "nothing (every digest was current)"))
        return 0
    failed = 0
    for a in artefacts():
        try:
            verify(a.name)
            print(f"ok      {a.name} ({a.kind}, {a.folder}/)")
        except DataError as err:
            failed += 1
            print(f"FAILED  {a.name}: {err}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
