"""One catalog of pre-trained medical GANs: medigan's official models plus the project's own.

medigan (Osuala et al., 2023) lists its models in ``config/global.json``, which it
downloads from its repository. :func:`load_catalog` reads that catalog from, in order, a
file you give (``--catalog FILE`` or ``MEDGAN_CATALOG``), a cached copy, or a download
(then cached); offline with nothing cached, the catalog holds the project's models only
and says so in :attr:`Catalog.note`. Every model gets a :class:`ModelCard`, and
:meth:`Catalog.search` filters by modality, anatomy, tags, generator type, image size and
whether a model needs input images.

Generating with a catalog model (through ``medigan.Generators``, seeded, sandboxed) and
building synthetic datasets are in :mod:`medgan_utils.hub.generate` (reading them back in
:mod:`medgan_utils.data.synthetic`); building and exporting packages of
our models in :mod:`medgan_utils.hub.export`; fetching and checking packages in
:mod:`medgan_utils.hub.packages`; the cards in :mod:`medgan_utils.hub.entries`.

medigan is imported lazily (it pulls in requests and PyGithub, and 1.0.0 needs
setuptools' ``pkg_resources``), so ``import medgan_utils`` works without it.

Example:
    >>> catalog = load_catalog()                                  # doctest: +SKIP
    >>> [c.model_id for c in catalog.search(modality="MRI", needs_input=False)]  # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import json
import os
import re
import urllib.request
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medgan_utils.errors import DataError
from medgan_utils.hub import policy
from medgan_utils.hub.entries import (
    DEFAULT_METRICS,
    ModelCard,
    compact_text,
    flatten_metrics,
    format_table,
    matches,
    metrics_table,
    missing_dependencies,
    words,
)
from medgan_utils.hub.export import catalog_entry
from medgan_utils.hub.packages import network_allowed, package_status, workspace
from medgan_utils.settings import atomic_path

if TYPE_CHECKING:
    import medigan

__all__ = [
    "CATALOG_URL",
    "CHECKOUT_CATALOG",
    "Catalog",
    "ModelCard",
    "import_medigan",
    "medigan_generators",
    "load_catalog",
    "fetch_catalog",
    "flatten_metrics",
    "DEFAULT_METRICS",
    "missing_dependencies",
    "metrics_table",
    "format_table",
]

CATALOG_URL = "https://raw.githubusercontent.com/RichardObi/medigan/main/config/global.json"
# Course machines without network keep a copy of medigan's catalog beside the checkout.
CHECKOUT_CATALOG = Path(__file__).resolve().parents[3] / "shared" / "medigan" / "global.json"


def import_medigan() -> Any:
    """Import medigan, or raise an ImportError that says how to fix the install."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "pkg_resources is deprecated")
            import medigan
    except ModuleNotFoundError as err:
        if err.name == "pkg_resources":
            raise ImportError(
                "medigan 1.0.0 imports pkg_resources, which setuptools 81 removed: "
                "run `pip install 'setuptools<81'` (the project's install does this)"
            ) from err
        raise ImportError(
            f"medigan is not installed ({err}): run `pip install medigan==1.0.0`"
        ) from err
    return medigan


def medigan_generators(config: Mapping[str, Any]) -> medigan.Generators:
    """Build ``medigan.Generators`` over a catalog dict, without touching the network.

    Args:
        config: a catalog in the layout of medigan's ``config/global.json``
            (model id -> {"execution", "selection", "description"}).

    Returns:
        A ``medigan.Generators`` whose config, search and generate functions use ``config``.
    """
    medigan = import_medigan()
    from medigan.config_manager import ConfigManager

    manager = ConfigManager(config_dict=dict(config))
    # medigan 1.0.0 fills model_ids only when it downloads the catalog itself; with a
    # config_dict given they stay empty and every search finds nothing. Fill them here.
    manager.model_ids = list(manager.config_dict)
    manager.is_config_loaded = True
    return medigan.Generators(config_manager=manager)


# ---------------------------------------------------------------------------- catalog


@dataclass
class Catalog:
    """Model entries in medigan's format, the project's model folders, and provenance.

    Attributes:
        entries: model id -> entry (``execution``, ``selection``, ``description``).
        local: the project's own models: id -> folder with ``generator.safetensors``.
        origin: where the official part came from.
        note: set when medigan's official catalog is missing, with how to give one.
        problems: entries left out, with the reason.
        official: the ids whose entries are those of medigan's official catalog (the
            downloaded copy, or the copy beside the checkout): only their downloaded code runs
            without the operator's leave (:mod:`medgan_utils.hub.policy`). Empty for a
            catalog built by hand.
    """

    entries: dict[str, dict[str, Any]]
    local: dict[str, Path] = field(default_factory=dict)
    origin: str = ""
    note: str | None = None
    problems: list[str] = field(default_factory=list)
    official: frozenset[str] = frozenset()

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self.entries

    def resolve(self, model_id: str) -> str:
        """The full id for ``model_id``, also medigan's short forms (``"5"``, ``"00005"``).

        Raises:
            DataError: not a valid id (:func:`~medgan_utils.hub.policy.check_model_id`), or not
                in the catalog (names close ids, and the catalog's note).
        """
        policy.check_model_id(model_id)
        if model_id in self.entries:
            return model_id
        if model_id.isdigit() and len(model_id) <= 5:
            found = [m for m in self.entries if m[:5] == model_id.zfill(5)]
            if len(found) == 1:
                return found[0]
        close = difflib.get_close_matches(model_id, list(self.entries), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise DataError(
            model_id,
            f"not in the model catalog ({self.origin}){hint}"
            + (f" Note: {self.note}" if self.note else ""),
        )

    def entry(self, model_id: str) -> dict[str, Any]:
        return self.entries[self.resolve(model_id)]

    def card(self, model_id: str) -> ModelCard:
        model_id = self.resolve(model_id)
        local = self.local.get(model_id)
        on_disk, size = package_status(model_id, local)
        if local is None:
            return ModelCard.from_entry(model_id, self.entries[model_id], "medigan", on_disk, size)
        meta = json.loads((local / "generator.json").read_text())
        authors = meta.get("authors") or "the medgan-utils project (trained with `medgan train`)"
        entry = self.entries[model_id]
        return ModelCard.from_entry(model_id, entry, "medgan-utils", on_disk, size, authors)

    def cards(self) -> list[ModelCard]:
        return [self.card(m) for m in self.entries]

    def search(
        self,
        *,
        modality: str | None = None,
        anatomy: str | None = None,
        tags: Sequence[str] = (),
        generator_type: str | None = None,
        image_size: int | tuple[int, int] | None = None,
        needs_input: bool | None = None,
        source: str | None = None,
        text: str | None = None,
    ) -> list[ModelCard]:
        """Cards of the models that match every filter given (case-insensitive).

        Args:
            modality: e.g. ``"MRI"`` (also finds T1, T2, FLAIR, DCE-MRI entries), ``"x-ray"``,
                ``"mammography"``.
            anatomy: e.g. ``"brain"``, ``"breast"``, ``"lung"`` (the catalog's ``organ``).
            tags: every one must be among the model's tags.
            generator_type: e.g. ``"DCGAN"``, ``"CycleGAN"``, ``"WGAN-GP"`` (punctuation is
                ignored, so ``"wgangp"`` finds both spellings the catalog uses).
            image_size: ``S`` for ``S x S`` images, or ``(height, width)``.
            needs_input: ``False`` for noise-to-image models, ``True`` for those that
                translate, inpaint or otherwise need input images.
            source: ``"medigan"`` or ``"medgan-utils"``.
            text: a word or phrase in the title, description or tags.
        """
        size = (image_size, image_size) if isinstance(image_size, int) else image_size
        found = []
        for card in self.cards():
            kind = compact_text(card.generator_type)
            checks = [
                modality is None or matches(modality, card.modality),
                anatomy is None or matches(anatomy, card.anatomy),
                all(matches(t, card.tags) for t in tags),
                generator_type is None
                or compact_text(generator_type)
                in {kind, *map(compact_text, words([card.generator_type]))},
                size is None or tuple(size) == card.image_size,
                needs_input is None or card.needs_input == needs_input,
                source is None or card.source == source,
                text is None
                or text.lower() in " ".join([card.title, card.description, *card.tags]).lower(),
            ]
            if all(checks):
                found.append(card)
        return found

    def medigan_config(self, model_ids: Sequence[str] | None = None) -> dict[str, Any]:
        """The entries as the ``config_dict`` medigan's ``Generators`` takes."""
        ids = self.entries if model_ids is None else [self.resolve(m) for m in model_ids]
        return {m: self.entries[m] for m in ids}


def _check_entries(raw: Any, origin: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Keep the entries medigan can run; list the others with the reason."""
    if not isinstance(raw, Mapping):
        raise DataError(origin, "not a medigan catalog: expected a JSON object of model entries")
    entries, problems = {}, []
    need = ("package_name", "package_link", "model_name", "extension", "generate_method")
    for model_id, entry in raw.items():
        ex = entry.get("execution") if isinstance(entry, Mapping) else None
        if not isinstance(ex, Mapping):
            problems.append(f"{model_id}: no 'execution' section")
        elif missing := [k for k in need if k not in ex]:
            problems.append(f"{model_id}: 'execution' lacks {', '.join(missing)}")
        else:
            try:  # ids, package names and model files become paths; links are fetched
                policy.check_entry(model_id, entry)
            except DataError as err:
                problems.append(f"{model_id}: left out, {err}")
                continue
            entries[str(model_id)] = dict(entry)
    return entries, problems


def _read_catalog(path: Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    try:
        raw = json.loads(Path(path).read_text())
    except OSError as err:
        raise DataError(path, f"cannot read the catalog ({err.strerror or err})") from err
    except ValueError as err:
        raise DataError(path, f"not valid JSON ({err})") from err
    return _check_entries(raw, str(path))


def cached_catalog_path() -> Path:
    """Where the downloaded catalog is kept (medigan's own ``config/global.json`` layout)."""
    return workspace() / "config" / "global.json"


def fetch_catalog(timeout: float = 10.0) -> Path:
    """Download medigan's catalog into the cache (checked first); return the cached file."""
    if not network_allowed():
        raise OSError("downloads are off (MEDGAN_OFFLINE is set)")
    request = urllib.request.Request(CATALOG_URL, headers={"User-Agent": "medgan-utils"})
    with policy.opener().open(request, timeout=timeout) as response:
        data = response.read(policy.MAX_CATALOG_BYTES + 1)
    if len(data) > policy.MAX_CATALOG_BYTES:
        raise ValueError(f"{CATALOG_URL} is larger than {policy.MAX_CATALOG_BYTES} bytes")
    entries, _ = _check_entries(json.loads(data), CATALOG_URL)
    if not entries:
        raise ValueError(f"{CATALOG_URL} holds no model entries")
    with atomic_path(cached_catalog_path()) as tmp:
        tmp.write_bytes(data)
    return cached_catalog_path()


def project_entries(
    extra: Mapping[str, str | Path] | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, Path]]:
    """Entries for the shipped models on disk and for ``extra`` (id -> run folder)."""
    from medgan_utils.gan.zoo import list_models, model_path

    for model_id in extra or {}:
        policy.check_model_id(model_id)
    folders = {**list_models(), **{k: model_path(v) for k, v in (extra or {}).items()}}
    entries = {
        model_id: catalog_entry(
            folder,
            package_name=re.sub(r"[^A-Za-z0-9_]", "_", model_id),
            package_link=str(folder),
        )
        for model_id, folder in folders.items()
    }
    return entries, dict(folders)


def load_catalog(
    catalog: str | Path | None = None,
    *,
    refresh: bool = False,
    local_models: Mapping[str, str | Path] | None = None,
    include_project: bool = True,
    download: bool = True,
    timeout: float = 10.0,
) -> Catalog:
    """medigan's official catalog plus the project's own models.

    The official part comes from ``catalog`` if given, else ``$MEDGAN_CATALOG``, else the
    cached copy, else a download from medigan's repository (cached for next time; skipped
    when ``MEDGAN_OFFLINE`` is set). Offline with nothing cached it is empty, never faked,
    and :attr:`Catalog.note` says so.

    Args:
        catalog: a ``global.json`` file.
        refresh: download again even if a copy is cached.
        local_models: more models of ours to list, id -> run folder.
        include_project: add the shipped models (those on disk).
        download: allowed to download the catalog when no copy is cached.
        timeout: seconds the download may wait.
    """
    given = catalog or os.environ.get("MEDGAN_CATALOG") or None
    note = None
    if given:
        entries, problems = _read_catalog(Path(given))
        origin = f"medigan catalog from {given}"
        official = _official_ids(Path(given), entries)
    else:
        cached = cached_catalog_path()
        try:
            if refresh or not cached.exists():
                if not download:
                    raise OSError("no copy is cached and downloading was not asked for")
                fetch_catalog(timeout)
            when = datetime.fromtimestamp(cached.stat().st_mtime, UTC)
            entries, problems = _read_catalog(cached)
            origin = f"medigan's catalog, downloaded {when:%Y-%m-%d} ({CATALOG_URL})"
        except (OSError, ValueError) as err:
            if cached.exists():  # a failed refresh keeps the cached copy
                entries, problems = _read_catalog(cached)
                origin, note = f"cached medigan catalog ({cached})", f"refresh failed: {err}"
            else:
                entries, problems, origin = {}, [], "the project's models only"
                note = (
                    f"medigan's official catalog could not be fetched ({err}). Give a copy "
                    "of medigan's config/global.json with --catalog FILE or MEDGAN_CATALOG=FILE."
                )
        official = frozenset(entries)  # the downloaded catalog (or its cached copy)
    local: dict[str, Path] = {}
    if include_project or local_models:
        own, local = project_entries(local_models)
        if not include_project:
            own = {k: v for k, v in own.items() if k in (local_models or {})}
            local = {k: v for k, v in local.items() if k in own}
        clash = sorted(set(own) & set(entries))
        if clash:
            raise DataError(clash[0], "is both an official medigan id and one of ours")
        entries = {**own, **entries}
    return Catalog(entries, local, origin, note, problems, official)


def _official_ids(given: Path, entries: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    """The ids of ``entries`` that are medigan's official ones: all of them when ``given`` is
    the downloaded catalog or the copy beside the checkout; else those whose ``execution``
    (package, link, model file, generate call) equals the entry of an official copy on disk."""
    sources = [CHECKOUT_CATALOG, cached_catalog_path()]
    if any(given.resolve() == s.resolve() for s in sources):
        return frozenset(entries)
    reference: dict[str, dict[str, Any]] = {}
    for source in sources:  # the downloaded copy, being newer, wins
        if source.is_file():
            try:
                reference.update(_read_catalog(source)[0])
            except DataError:
                continue
    return frozenset(
        m for m, e in entries.items() if reference.get(m, {}).get("execution") == e["execution"]
    )
