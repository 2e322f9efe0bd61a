"""Using a catalog model here: which catalog file to read, a table row per model, and the
Python and command line that generate from it.

The catalog itself is :mod:`medgan_utils.hub.catalog`
(:func:`~medgan_utils.hub.catalog.load_catalog`,
:meth:`~medgan_utils.hub.catalog.Catalog.search`) and its cards :mod:`medgan_utils.hub.entries`;
the catalog browser (:func:`medgan_utils.dashboards.dashboards.catalog_browser`) shows what these
functions return.

Example:
    >>> catalog = load_catalog(find_catalog_file())                 # doctest: +SKIP
    >>> python, cli = generate_code(catalog.card("brain-mri-dcgan-64"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medgan_utils.hub.entries import ModelCard, missing_dependencies

__all__ = ["CHECKOUT_CATALOG", "find_catalog_file", "catalog_rows", "generate_code"]

# Course machines without network keep a copy of medigan's catalog beside the checkout.
CHECKOUT_CATALOG = Path(__file__).resolve().parents[3] / "shared" / "medigan" / "global.json"


def find_catalog_file(catalog: str | Path | None = None) -> str | None:
    """The medigan catalog file to read, or ``None`` to let :func:`load_catalog` choose.

    In order: ``catalog``, ``$MEDGAN_CATALOG``; then ``None`` when a downloaded copy is
    cached (:func:`load_catalog` reads it); then :data:`CHECKOUT_CATALOG` when it exists;
    else ``None`` (:func:`load_catalog` downloads it unless ``MEDGAN_OFFLINE`` is set, or
    lists the project's models only).
    """
    from medgan_utils.hub.catalog import cached_catalog_path

    given = catalog or os.environ.get("MEDGAN_CATALOG")
    if given:
        return str(given)
    if not cached_catalog_path().exists() and CHECKOUT_CATALOG.exists():
        return str(CHECKOUT_CATALOG)
    return None


def _package(card: ModelCard) -> str:
    size = f"{card.package_size / 1e6:.1f} MB" if card.package_size else "size unknown"
    return f"{size}, {'on disk' if card.on_disk else 'downloads on first use'}"


def catalog_rows(cards: Sequence[ModelCard]) -> list[dict[str, str]]:
    """One row per model: id, title, image and package size, inputs, missing packages."""
    rows = []
    for c in cards:
        h, w = c.image_size
        missing = [] if c.source == "medgan-utils" else missing_dependencies(c.entry)
        rows.append(
            {
                "model": c.model_id,
                "title": c.title,
                "source": c.source,
                "image size": f"{h}x{w}" if h else "?",
                "package": _package(c),
                "generates from": "input images" if c.needs_input else "noise",
                "missing packages": ", ".join(m.split(" (")[0] for m in missing) or "-",
            }
        )
    return rows


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
    from medgan_utils.appkit.core import class_options

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
