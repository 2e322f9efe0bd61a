"""The models the app serves: the picker over the unified catalog, and their cards.

- :func:`load_app_catalog`: the unified catalog (:func:`medgan_utils.hub.catalog.load_catalog`)
  plus the run folders of ``$MEDGAN_APP_MODELS``, and the problems worth a warning.
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

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

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
from medgan_utils.hub.usage import modality_choices

__all__ = [
    "ALL_MODALITIES",
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
READY, DOWNLOADS, NEEDS_INPUT = "ready", "downloads on first use", "needs input images"


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
    """What selects the app's catalog: ``$MEDGAN_CATALOG`` and ``$MEDGAN_APP_MODELS``."""
    return os.environ.get("MEDGAN_CATALOG") or None, os.environ.get(MODELS_ENV) or None


def load_app_catalog(
    catalog: str | None = None, models: str | None = None, timeout: float = 5.0
) -> tuple[Catalog, list[str]]:
    """The unified catalog the app serves, and problems worth a warning.

    Args:
        catalog: a medigan ``global.json`` (default: cached or downloaded, see
            :func:`~medgan_utils.hub.catalog.load_catalog`).
        models: more of our run folders to serve, ``"id=folder,id2=folder2"``; folders that
            hold no generator are left out and reported.
        timeout: seconds the catalog download may take (once per server start).
    """
    from medgan_utils.gan.zoo import model_path

    local, problems = {}, []
    for item in filter(None, (s.strip() for s in (models or "").split(","))):
        model_id, _, folder = item.partition("=")
        try:
            local[model_id.strip()] = model_path(folder.strip())
        except DataError as err:
            problems.append(f"{MODELS_ENV}: '{item}' left out ({err.reason})")
    try:
        cat = load_catalog(catalog, local_models=local, timeout=timeout)
    except DataError as err:  # an unreadable catalog file: serve our models only
        problems.append(f"the catalog {catalog} could not be read ({err.reason})")
        cat = load_catalog(catalog=None, local_models=local, download=False)
    if cat.note:
        problems.append(
            "medigan's official models are not listed: its catalog could not be downloaded "
            "(the network is unreachable or downloads are off). The shipped models work offline."
        )
    return cat, problems


def _status(card: ModelCard) -> str:
    if card.needs_input:
        return NEEDS_INPUT
    return READY if card.source == "medgan-utils" or card.on_disk else DOWNLOADS


def model_choices(catalog: Catalog, modality: str = ALL_MODALITIES) -> list[ModelChoice]:
    """The picker's entries: our models first, then medigan's, filtered by modality group."""
    query = MODALITIES.get(modality)
    cards = catalog.search(modality=query) if query else catalog.cards()
    cards.sort(key=lambda c: (c.source != "medgan-utils", c.model_id))
    out = []
    for card in cards:
        status = _status(card)
        h, w = card.image_size
        size = f"{h}x{w}" if h else "size not recorded"
        if status == DOWNLOADS and card.package_size:
            status_text = f"{status} ({card.package_size / 1e6:.0f} MB)"
        else:
            status_text = status
        label = f"{card.model_id} · {modality_of(card)} · {size} · {status_text}"
        out.append(ModelChoice(card.model_id, label, status, card))
    return out


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
    audit), medigan's from what the catalog records.

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
        text = (
            f"# Model card: {card.model_id}\n\n{card.title}\n\n"
            "**Every image this model produces is synthetic.** This card is what medigan's "
            "catalog records about the model (Osuala et al., 2023); read the publication "
            "before using its images.\n\n```text\n" + card.to_text() + "\n```\n"
        )
    if demote:
        text = re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + demote) + " ", text, flags=re.M)
    return text
