"""The models the app serves: the picker over the unified catalog, and their cards.

- :func:`load_app_catalog`: the unified catalog (:func:`medgan_utils.hub.catalog.load_catalog`)
  plus the run folders of ``$MEDGAN_APP_MODELS``, and the problems worth a message. A bad
  source never takes the app down: a missing or malformed ``$MEDGAN_CATALOG`` leaves the
  project's models, a bad run folder (or one named like a shipped model) is left out, an
  entry whose card cannot be read is left out; each is named in a problem.
- :func:`model_choices`: the picker's entries. The shipped models are ready at once;
  medigan's models are listed with modality, image size and "downloads on first use", or
  "needs input images" for image-to-image models.
- :func:`catalog_table` and :func:`card_markdown`: the catalog table and the model card,
  the ones ``medgan models`` and ``medgan card`` print.

The rest of the page's computing is beside this module: :mod:`~medgan_utils.appkit.request`
(validation and shared links), :mod:`~medgan_utils.appkit.generation` (models and images),
:mod:`~medgan_utils.appkit.downloads` (the ZIP), :mod:`~medgan_utils.appkit.messages`,
:mod:`~medgan_utils.appkit.views` (metrics, interpolation, memorization, the Turing test) and
:mod:`~medgan_utils.appkit.page` (inline images, the page's caches). Nothing here imports
Streamlit, so notebooks and tests use the same functions.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from medgan_utils.appkit.messages import escape_markdown
from medgan_utils.errors import DataError
from medgan_utils.hub.catalog import Catalog, load_catalog
from medgan_utils.hub.entries import (
    ALL_MODALITIES,
    MODALITIES,
    ModelCard,
    class_options,
    modality_of,
)
from medgan_utils.hub.usage import catalog_table as _catalog_table
from medgan_utils.hub.usage import modality_choices, ours_first

__all__ = [
    "ALL_MODALITIES",
    "CATALOG_ENV",
    "MODALITIES",
    "MODELS_ENV",
    "READY",
    "DOWNLOADS",
    "NEEDS_INPUT",
    "ModelChoice",
    "catalog_key",
    "load_app_catalog",
    "modality_choices",
    "modality_of",
    "model_choices",
    "class_options",
    "missing_packages",
    "catalog_table",
    "card_markdown",
]

MODELS_ENV = "MEDGAN_APP_MODELS"  # more run folders to serve: "my-run=runs/brain64,other=..."
CATALOG_ENV = "MEDGAN_CATALOG"  # a medigan global.json instead of the official catalog
READY, DOWNLOADS, NEEDS_INPUT = "ready", "downloads on first use", "needs input images"
log = logging.getLogger("medgan.app")


# --------------------------------------------------------------------------- the catalog


@dataclass(frozen=True)
class ModelChoice:
    """One entry of the model picker."""

    model_id: str
    label: str  # what the picker shows: id, modality, image size, status
    status: str  # READY, DOWNLOADS or NEEDS_INPUT
    card: ModelCard = field(compare=False, repr=False)

    @property
    def ours(self) -> bool:
        return self.card.source == "medgan-utils"


def catalog_key() -> tuple[str | None, str | None]:
    """What selects the app's catalog: ``$MEDGAN_CATALOG`` and ``$MEDGAN_APP_MODELS``. The
    page reads them once per script run and passes the values on (the cache key of its
    catalog); when the catalog cannot be read, :func:`load_app_catalog` falls back to the
    project's models without reading the variables again."""
    return os.environ.get(CATALOG_ENV) or None, os.environ.get(MODELS_ENV) or None


def load_app_catalog(
    catalog: str | None = None, models: str | None = None, timeout: float = 5.0
) -> tuple[Catalog, list[str]]:
    """The unified catalog the app serves, and the problems worth a message.

    Nothing here takes the app down: each bad source is left out and named in a problem (the
    details go to the server log).

    Args:
        catalog: a medigan ``global.json`` (default: cached or downloaded, see
            :func:`~medgan_utils.hub.catalog.load_catalog`). If it cannot be read, the app
            serves the project's models (shipped and ``models``) without medigan's.
        models: more of our run folders to serve, ``"id=folder,id2=folder2"``. A folder is
            left out when it holds no generator, its ``generator.json`` is unreadable or
            malformed, or its id is not a valid id or is already taken: a shipped model's id
            (:func:`~medgan_utils.gan.zoo.check_served_id`) or one of the catalog's.
        timeout: seconds the catalog download may take (once per server start).
    """
    problems: list[str] = []
    try:
        base = load_catalog(catalog, timeout=timeout)
    except Exception as err:  # missing, unreadable or malformed: the project's models only
        log.warning("the catalog %s could not be read", catalog, exc_info=err)
        problems.append(
            f"{CATALOG_ENV}: the catalog {catalog} could not be read ({_reason(err)}); "
            "only the project's own models are served."
        )
        base = _project_catalog()
    if base.problems:  # entries the catalog holds but medigan could not run
        shown = "; ".join(base.problems[:3]) + ("; ..." if len(base.problems) > 3 else "")
        source = CATALOG_ENV if catalog else "medigan's catalog"
        problems.append(f"{source}: {len(base.problems)} entries left out ({shown})")
    entries: dict[str, dict] = {}
    folders: dict[str, Path] = {}
    for item in filter(None, (s.strip() for s in (models or "").split(","))):
        model_id, _, folder = (part.strip() for part in item.partition("="))
        try:
            found = _served_run(model_id, folder, base, folders)
        except Exception as err:  # one bad run folder leaves the others served
            log.warning("%s: %r left out", MODELS_ENV, item, exc_info=err)
            problems.append(f"{MODELS_ENV}: '{item}' left out ({_reason(err)})")
            continue
        if found is not None:
            entries[model_id], folders[model_id] = found
    cat = replace(base, entries={**base.entries, **entries}, local={**base.local, **folders})
    cat = _readable(cat, problems)
    if cat.note:
        problems.append(
            "medigan's official models are not listed: its catalog could not be downloaded "
            "(the network is unreachable or downloads are off). The shipped models work offline."
        )
    return cat, problems


def _reason(err: BaseException) -> str:
    """What went wrong, short: a :class:`DataError`'s reason, else the exception's name and
    the start of its message."""
    if isinstance(err, DataError):
        return err.reason
    return f"{type(err).__name__}: {str(err)[:120]}"


def _project_catalog() -> Catalog:
    """The shipped models alone, built without reading ``$MEDGAN_CATALOG`` again."""
    from medgan_utils.hub.catalog import project_entries

    entries, folders = project_entries()
    return Catalog(entries, folders, origin="the project's models only")


def _served_run(
    model_id: str, folder: str, base: Catalog, taken: dict[str, Path]
) -> tuple[dict, Path] | None:
    """The catalog entry and folder of one run of ``$MEDGAN_APP_MODELS`` (``None``: the
    shipped model itself, already served under its id).

    Raises:
        DataError: an invalid or taken id, no generator in ``folder``, or an unreadable or
            malformed ``generator.json``; any other error of a malformed record passes on.
    """
    from medgan_utils.gan.zoo import check_served_id, load_record, model_path
    from medgan_utils.hub.catalog import project_entries
    from medgan_utils.hub.policy import check_model_id

    check_model_id(model_id, f"model id (use id=folder in {MODELS_ENV})")
    check_served_id(model_id, folder)  # a run never replaces a shipped model
    path = model_path(folder)
    if model_id in base.local and base.local[model_id].resolve() == path.resolve():
        return None
    if model_id in base or model_id in taken:
        raise DataError(model_id, "is already the id of another model: serve it under another id")
    load_record(path)  # a readable, well-formed generator.json (the error names the file)
    entries, folders = project_entries({model_id: path})
    return entries[model_id], folders[model_id]


def _readable(cat: Catalog, problems: list[str]) -> Catalog:
    """``cat`` without the entries whose card cannot be read (each named in ``problems``),
    so that one malformed entry never breaks the picker."""
    bad = []
    for model_id in cat:
        try:
            card = cat.card(model_id)  # what the picker and the card view read of it
            _choice(card), class_options(card), card.to_text()
        except Exception as err:
            log.warning("catalog entry %s left out", model_id, exc_info=err)
            problems.append(f"the catalog's entry '{model_id}' left out ({_reason(err)})")
            bad.append(model_id)
    if not bad:
        return cat
    keep = {m: e for m, e in cat.entries.items() if m not in bad}
    local = {m: f for m, f in cat.local.items() if m not in bad}
    return replace(cat, entries=keep, local=local, official=cat.official - set(bad))


def _status(card: ModelCard) -> str:
    if card.needs_input:
        return NEEDS_INPUT
    return READY if card.source == "medgan-utils" or card.on_disk else DOWNLOADS


def model_choices(catalog: Catalog, modality: str = ALL_MODALITIES) -> list[ModelChoice]:
    """The picker's entries: our models first, then medigan's, filtered by modality group."""
    query = MODALITIES.get(modality)
    cards = catalog.search(modality=query) if query else catalog.cards()
    return [_choice(card) for card in ours_first(cards)]


def _choice(card: ModelCard) -> ModelChoice:
    status = _status(card)
    h, w = card.image_size
    size = f"{h}x{w}" if h else "size not recorded"
    if status == DOWNLOADS and card.package_size:
        status_text = f"{status} ({card.package_size / 1e6:.0f} MB)"
    else:
        status_text = status
    label = f"{card.model_id} · {modality_of(card)} · {size} · {status_text}"
    return ModelChoice(card.model_id, label, status, card)


def missing_packages(card: ModelCard) -> list[str]:
    """The pip packages a medigan model needs that this server lacks (none for ours)."""
    from medgan_utils.hub.catalog import missing_dependencies

    return [] if card.source == "medgan-utils" else missing_dependencies(card.entry)


def catalog_table(choices: Sequence[ModelChoice]) -> list[dict[str, str]]:
    """The picker's models as the catalog table (:func:`medgan_utils.hub.usage.catalog_table`)."""
    return _catalog_table([c.card for c in choices])


def card_markdown(catalog: Catalog, model_id: str, demote: int = 0) -> str:
    """The model card as Markdown: ours as ``medgan card`` writes it
    (:func:`~medgan_utils.ethics.cards.card_for`: its recorded training, evaluation and
    audit), medigan's from what the catalog records, its text escaped (a catalog is input:
    its title shows as text, its record inside a code block it cannot leave).

    Args:
        demote: levels to add to every heading (``2`` turns ``#`` into ``###``), to show the
            card inside a page.
    """
    from medgan_utils.ethics.cards import card_for

    card = catalog.card(model_id)
    folder = catalog.local.get(card.model_id)
    if folder is not None:
        text = card_for(folder, name=card.model_id)
    else:
        record = card.to_text()
        fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", record)), default=0))
        text = (
            f"# Model card: {escape_markdown(card.model_id)}\n\n{escape_markdown(card.title)}\n\n"
            "**Every image this model produces is synthetic.** This card is what medigan's "
            "catalog records about the model (Osuala et al., 2023); read the publication "
            f"before using its images.\n\n{fence}text\n{record}\n{fence}\n"
        )
    if demote:
        text = re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + demote) + " ", text, flags=re.M)
    return text
