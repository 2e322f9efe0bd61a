"""``medgan models list|show|fetch``, ``medgan export-medigan`` and ``medgan card``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import cast

__all__ = ["add_commands", "add_unofficial_flag", "CATALOG_HELP"]

CATALOG_HELP = "medigan catalog file (config/global.json); default $MEDGAN_CATALOG or cached"


def add_unofficial_flag(parser: argparse.ArgumentParser) -> None:
    """``--allow-unofficial-code``: run packages from outside medigan's official catalog."""
    parser.add_argument(
        "--allow-unofficial-code",
        action="store_true",
        default=None,
        help="fetch and run model packages (Python code) from a catalog other than medigan's "
        "official one (also MEDGAN_ALLOW_UNOFFICIAL_CODE=1); only for sources you trust",
    )


def _models_list(args: argparse.Namespace) -> int:
    from medgan_utils.hub.catalog import format_table, load_catalog
    from medgan_utils.hub.usage import BRIEF_COLUMNS, catalog_table

    catalog = load_catalog(args.catalog, refresh=args.refresh)
    size = tuple(int(v) for v in args.size.lower().split("x")) if args.size else None
    cards = catalog.search(
        modality=args.modality,
        anatomy=args.anatomy,
        tags=args.tag,
        generator_type=args.type,
        image_size=cast("tuple[int, int]", (size * 2)[:2]) if size else None,  # WxH or S
        needs_input=args.needs_input,
    )
    if args.json:
        models = [c.to_dict() for c in cards]
        print(json.dumps({"origin": catalog.origin, "note": catalog.note, "models": models}))
        return 0
    rows = catalog_table(cards, BRIEF_COLUMNS)
    print(format_table(rows) if rows else "no model matches")
    print(f"{len(cards)} of {len(catalog)} models; catalog: {catalog.origin}")
    if catalog.note:
        print(f"note: {catalog.note}")
    return 0


def _models_show(args: argparse.Namespace) -> int:
    from medgan_utils.hub.catalog import load_catalog

    card = load_catalog(args.catalog).card(args.model_id)
    print(json.dumps(card.to_dict(), indent=2) if args.json else card.to_text())
    return 0


def _models_fetch(args: argparse.Namespace) -> int:
    from medgan_utils.hub.generate import fetch_model

    folder = fetch_model(
        args.model_id,
        args.catalog,
        timeout=args.timeout,
        allow_unofficial=args.allow_unofficial_code,
    )
    print(f"{args.model_id}: checked and ready in {folder}")
    return 0


def _export_medigan(args: argparse.Namespace) -> int:
    from medgan_utils.hub.export import export_medigan

    card = {
        k: v
        for k, v in {
            "title": args.title,
            "modality": args.modality,
            "organ": args.anatomy,
            "licence": args.licence,
            "authors": args.author,
        }.items()
        if v
    }
    result = export_medigan(args.run_dir, args.out, model_id=args.model_id, **card)
    meta = Path(args.out).with_suffix(".json")
    print(f"exported {result.model_id} to {args.out} (SHA-256 {result.sha256})")
    print(f"metadata (medigan's format) in {meta}; try it with:")
    print(f"  medgan generate --model {result.model_id} --catalog {meta} -n 8 --out samples/")
    return 0


def _card(args: argparse.Namespace) -> int:
    from medgan_utils.ethics.cards import card_for, write_model_card

    if args.out:
        print(
            f"wrote the model card of {args.model} to {write_model_card(args.model, out=args.out)}"
        )
    else:
        print(card_for(args.model), end="")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """``medgan models ...``, ``medgan export-medigan`` and ``medgan card``."""
    models = commands.add_parser("models", help="browse the catalog: medigan's models and ours")
    sub = models.add_subparsers(dest="models_command", required=True)
    ls = sub.add_parser("list", help="list (and filter) the catalog's models")
    ls.add_argument("--modality", help="e.g. MRI, x-ray, mammography")
    ls.add_argument("--anatomy", help="e.g. brain, breast, lung")
    ls.add_argument("--type", help="generator type, e.g. DCGAN, CycleGAN")
    ls.add_argument("--tag", action="append", default=[], help="a tag (repeat for several)")
    ls.add_argument("--size", help="image size: S or HxW")
    needs = ls.add_mutually_exclusive_group()
    needs.add_argument("--noise-only", dest="needs_input", action="store_false", default=None)
    needs.add_argument("--needs-input", dest="needs_input", action="store_true")
    ls.add_argument("--catalog", help=CATALOG_HELP)
    ls.add_argument("--refresh", action="store_true", help="download medigan's catalog again")
    ls.add_argument("--json", action="store_true", help="print JSON for machines")
    ls.set_defaults(func=_models_list, needs_input=None)
    show = sub.add_parser("show", help="print a model's card")
    show.add_argument("model_id")
    show.add_argument("--catalog", help=CATALOG_HELP)
    show.add_argument("--json", action="store_true", help="print JSON for machines")
    show.set_defaults(func=_models_show)
    fetch = sub.add_parser("fetch", help="download (or build) and check a model's package")
    fetch.add_argument("model_id")
    fetch.add_argument("--catalog", help=CATALOG_HELP)
    fetch.add_argument("--timeout", type=float, default=60.0, help="seconds per network wait")
    add_unofficial_flag(fetch)
    fetch.set_defaults(func=_models_fetch)

    export = commands.add_parser(
        "export-medigan", help="package a trained model for medigan (zip + metadata)"
    )
    export.add_argument("run_dir", help="run folder of `medgan train` (or a shipped model name)")
    export.add_argument("--out", required=True, help="the .zip to write")
    export.add_argument("--model-id", help="medigan id, e.g. 00000_DCGAN_BRAIN_MRI_64")
    export.add_argument("--title")
    export.add_argument("--modality", action="append", help="e.g. MRI (repeat for several)")
    export.add_argument("--anatomy", action="append", help="e.g. brain (repeat for several)")
    export.add_argument("--licence", help="default MIT")
    export.add_argument("--author", help="who trained it")
    export.set_defaults(func=_export_medigan)
    card = commands.add_parser(
        "card", help="write a model's card from its recorded files (Markdown)"
    )
    card.add_argument("model", help="shipped model name or run folder of `medgan train`")
    card.add_argument("--out", help="the Markdown file to write (default: print it)")
    card.set_defaults(func=_card)
