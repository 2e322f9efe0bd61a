"""Using a catalog model here: which catalog file to read, the catalog table, the modality
groups, and the Python and command line that generate from it.

:func:`catalog_table` is the one table of catalog models: the app, the catalog browser,
``medgan models list`` and chapter 5 all show what it returns (each picks its columns from
:data:`CATALOG_COLUMNS`; a terminal or a book page shows :data:`BRIEF_COLUMNS`).

The catalog itself is :mod:`medgan_utils.hub.catalog`
(:func:`~medgan_utils.hub.catalog.load_catalog`,
:meth:`~medgan_utils.hub.catalog.Catalog.search`) and its cards :mod:`medgan_utils.hub.entries`;
the catalog browser (:func:`medgan_utils.dashboards.catalog_browser`) shows what these
functions return.

Example:
    >>> catalog = load_catalog(find_catalog_file())                 # doctest: +SKIP
    >>> print(format_table(catalog_table(catalog.cards(), BRIEF_COLUMNS)))  # doctest: +SKIP
    >>> python, cli = generate_code(catalog.card("brain-mri-dcgan-64"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from medgan_utils.hub.catalog import CHECKOUT_CATALOG, Catalog, cached_catalog_path
from medgan_utils.hub.entries import (
    ALL_MODALITIES,
    MODALITIES,
    ModelCard,
    class_options,
    matches,
    missing_dependencies,
    modality_of,
)

__all__ = [
    "BRIEF_COLUMNS",
    "CATALOG_COLUMNS",
    "CHECKOUT_CATALOG",
    "catalog_table",
    "find_catalog_file",
    "generate_code",
    "modality_choices",
    "ours_first",
]


def ours_first(cards: Sequence[ModelCard]) -> list[ModelCard]:
    """The order every picker shows: the project's models first, in the registry's order
    (the default model first), then the others by id."""
    from medgan_utils.gan.zoo import list_models

    shipped = {name: i for i, name in enumerate(list_models())}
    return sorted(
        cards,
        key=lambda card: (
            card.source != "medgan-utils",
            shipped.get(card.model_id, len(shipped)),
            card.model_id,
        ),
    )


def find_catalog_file(catalog: str | Path | None = None) -> str | None:
    """The medigan catalog file to read, or ``None`` to let :func:`load_catalog` choose.

    In order: ``catalog``, ``$MEDGAN_CATALOG``; then ``None`` when a downloaded copy is
    cached (:func:`load_catalog` reads it); then :data:`CHECKOUT_CATALOG` when it exists;
    else ``None`` (:func:`load_catalog` downloads it unless ``MEDGAN_OFFLINE`` is set, or
    lists the project's models only).
    """
    given = catalog or os.environ.get("MEDGAN_CATALOG")
    if given:
        return str(given)
    if not cached_catalog_path().exists() and CHECKOUT_CATALOG.exists():
        return str(CHECKOUT_CATALOG)
    return None


def modality_choices(catalog: Catalog) -> list[str]:
    """:data:`ALL_MODALITIES`, then the modality groups that have at least one model."""
    cards = catalog.cards()
    groups = [m for m, q in MODALITIES.items() if any(matches(q, c.modality) for c in cards)]
    return [ALL_MODALITIES, *groups]


def _package(card: ModelCard) -> str:
    size = f"{card.package_size / 1e6:.1f} MB" if card.package_size else "size unknown"
    return f"{size}, {'on disk' if card.on_disk else 'downloads on first use'}"


def _missing(card: ModelCard) -> str:
    missing = [] if card.source == "medgan-utils" else missing_dependencies(card.entry)
    return ", ".join(m.split(" (")[0] for m in missing) or "-"


def _size(card: ModelCard) -> str:
    h, w = card.image_size
    return f"{h}x{w}" if h else "?"


# column -> how a card fills it: the one place each cell's wording is decided
_CELLS: dict[str, Callable[[ModelCard], str]] = {
    "model": lambda c: c.model_id,
    "title": lambda c: c.title,
    "source": lambda c: c.source,
    "type": lambda c: c.generator_type,
    "modality": modality_of,
    "anatomy": lambda c: c.anatomy[0] if c.anatomy else "-",
    "image size": _size,
    "generates from": lambda c: "input images" if c.needs_input else "noise",
    "package": _package,
    "missing packages": _missing,
}
#: Every column of the catalog table, in order.
CATALOG_COLUMNS = tuple(_CELLS)
#: The columns that fit a terminal or a book page (``medgan models list``, chapter 5).
BRIEF_COLUMNS = ("model", "type", "image size", "modality", "anatomy", "generates from", "package")


def catalog_table(
    cards: Sequence[ModelCard], columns: Sequence[str] = CATALOG_COLUMNS
) -> list[dict[str, str]]:
    """The catalog table: one row per model, one string per column.

    Args:
        cards: the models, in the order to show them (e.g. ``catalog.search(...)``).
        columns: which of :data:`CATALOG_COLUMNS` to show, in this order.

    Returns:
        ``[{column: text}]``: ``"model"`` id, ``"title"``, ``"source"`` (``"medigan"`` or
        ``"medgan-utils"``), generator ``"type"``, ``"modality"`` group
        (:func:`~medgan_utils.hub.entries.modality_of`), first ``"anatomy"``, ``"image
        size"`` (``"64x64"``), ``"generates from"`` (``"noise"`` or ``"input images"``),
        ``"package"`` (size and whether it is on disk) and the ``"missing packages"`` a
        medigan model needs here (``"-"`` for none). Show it with
        :func:`~medgan_utils.hub.entries.format_table` or as a data frame.

    Raises:
        ValueError: a column that is not in :data:`CATALOG_COLUMNS`.
    """
    unknown = [c for c in columns if c not in _CELLS]
    if unknown:
        raise ValueError(f"unknown columns {unknown}; use {', '.join(CATALOG_COLUMNS)}")
    return [{col: _CELLS[col](card) for col in columns} for card in cards]


def generate_code(
    card: ModelCard,
    n: int = 16,
    seed: int = 0,
    catalog_file: str | Path | None = None,
    folder: str | Path | None = None,
) -> tuple[str, str]:
    """The Python and the command line that generate ``n`` images of ``card``'s model.

    Args:
        card: the model's card.
        n, seed: images and seed.
        catalog_file: the catalog file a medigan model is listed in (``--catalog``).
        folder: the run folder of one of our models that is not shipped.

    Returns:
        ``(python, cli)``; input paths and classes are placeholders to replace.
    """
    label = next(iter(class_options(card)), None)
    if card.source == "medgan-utils":
        ref = card.model_id if folder is None else str(folder)
        y = ["labels=0"] if card.conditional else []
        python = "\n".join(
            [
                "from medgan_utils.gan.zoo import generate, load_generator",
                "",
                f"G, meta = load_generator({_quote(ref)})",
                f"images = generate({', '.join(['G', str(n), f'seed={seed}', *y])})"
                "  # (N, C, S, S) in [-1, 1], synthetic",
            ]
        )
        cli = f"medgan generate --model {ref} -n {n} --seed {seed} --out samples/"
        return python, cli + (" --label 0" if card.conditional else "")
    extra: dict[str, Any] = {arg: "my_images/" for arg in card.input_args}
    if label is not None:
        extra["condition"] = int(label) if label.isdigit() else label
    kwargs = [f"seed={seed}", 'out="samples/"']
    kwargs += [f"catalog={_quote(catalog_file)}"] if catalog_file else []
    kwargs += [f"{k}={_quote(v)}" for k, v in extra.items()]
    python = "\n".join(
        [
            "from medgan_utils.hub.generate import generate",
            "",
            f"files = generate({_quote(card.model_id)}, {n}, {', '.join(kwargs)})",
        ]
    )
    cli = f"medgan generate --model {card.model_id} -n {n} --seed {seed} --out samples/"
    cli += f" --catalog {catalog_file}" if catalog_file else ""
    cli += "".join(f" --model-arg {k}={v}" for k, v in extra.items() if k != "condition")
    cli += f" --label {label}" if label is not None else ""
    if missing := missing_dependencies(card.entry):
        names = " ".join(m.split(" (")[0] for m in missing)
        note = f"# needs packages missing here: pip install {names} (or --install-dependencies)"
        python, cli = f"{note}\n{python}", f"{note}\n{cli}"
    return python, cli


def _quote(value: Any) -> str:
    """A Python literal, strings in double quotes (as ruff formats them)."""
    return json.dumps(str(value)) if isinstance(value, str | Path) else repr(value)
