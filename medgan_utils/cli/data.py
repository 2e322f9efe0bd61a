"""``medgan data info`` (what a dataset holds, skipped files named), ``medgan data list`` (the
public datasets known by name), ``medgan data fetch NAME`` (download one) and ``medgan data
clear-cache`` (forget the cached reads of files and folders)."""

from __future__ import annotations

import argparse
import json
import warnings
from dataclasses import asdict
from pathlib import Path

from medgan_utils.data.cache import cache_dir, clear_cache
from medgan_utils.data.dataset import describe
from medgan_utils.data.load import BUILTIN_NAMES, load_dataset
from medgan_utils.data.public import catalog_rows, fetch_public, get_public
from medgan_utils.settings import SUPPORTED_SIZES

__all__ = ["add_commands"]


def _data_info(args: argparse.Namespace) -> int:
    options: dict[str, object] = {}
    if args.axis:
        options["axis"] = args.axis
    for name in ("max_pixels", "max_total_pixels"):
        if getattr(args, name) is not None and args.source not in BUILTIN_NAMES:
            options[name] = getattr(args, name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_dataset(
            args.source,
            args.image_size,
            on_error=args.on_error,
            split=args.split,
            cache=not args.no_cache,  # files and folders; the built-in sets have their own
            **options,
        )
    info = describe(ds, source=args.source)
    if args.json:
        print(json.dumps({**asdict(info), "warnings": [str(w.message) for w in caught]}, indent=2))
    else:
        print(info.to_text())
        for w in caught:
            print(f"warning     {w.message}")
    return 0


def _data_clear_cache(args: argparse.Namespace) -> int:
    removed, size = clear_cache()
    print(f"removed {removed} file(s), {_human(size) if size else '0 B'}, from {cache_dir()}")
    return 0


def _human(n: int) -> str:
    """Bytes as ``"12.3 MB"`` (decimal units), ``"-"`` for nothing."""
    if not n:
        return "-"
    size = float(n)
    for unit in ("B", "kB", "MB"):
        if size < 1000:
            return f"{size:.0f} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def _data_list(args: argparse.Namespace) -> int:
    rows = catalog_rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = [("name", "modality", "sizes", "images", "licence", "fetch", "cached", "on disk")]
    for r in rows:
        splits = r["splits"]
        counts = (
            " / ".join(f"{n:,}" for n in splits.values())
            if list(splits) in (["train", "val", "test"], ["all"])
            else ", ".join(f"{n:,} {k}" for k, n in splits.items())
        )
        table.append(
            (
                r["name"],
                r["modality"],
                ",".join(map(str, r["sizes"])) or "as is",
                counts if r["unit"] == "images" else f"{counts} {r['unit']}",
                r["licence"].split(";")[0].split(" (")[0].split(" as stated")[0],
                r["fetch"],
                r["cached"],
                _human(r["bytes_on_disk"]),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    home = Path(rows[0]["folder"]).parent
    print(f"\nimages: train / val / test; files in {home}/<name>; details: --json")
    return 0


def _data_fetch(args: argparse.Namespace) -> int:
    name = get_public(args.name).name
    for path in fetch_public(name, args.size, progress=not args.quiet):
        print(f"{name}: {path}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """``medgan data info``, ``medgan data list``, ``medgan data fetch``."""
    data = commands.add_parser("data", help="inspect medical image datasets")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    info = data_commands.add_parser(
        "info", help="print counts, sizes, classes, subjects, groups and skipped files (named)"
    )
    info.add_argument(
        "source",
        help="a file or folder, 'builtin' / 'builtin-labelled', or a public dataset's name "
        "(see `medgan data list`)",
    )
    info.add_argument("--image-size", type=int, default=64, choices=SUPPORTED_SIZES)
    info.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default="skip",
        help="skip unreadable files and report them (default), or stop at the first",
    )
    info.add_argument("--axis", choices=("axial", "coronal", "sagittal"), help="NIfTI slicing axis")
    info.add_argument(
        "--max-pixels",
        type=int,
        metavar="N",
        help="refuse a file whose header claims more pixel values than N, before decoding "
        "(default: $MEDGAN_MAX_PIXELS, else 2**28)",
    )
    info.add_argument(
        "--max-total-pixels",
        type=int,
        metavar="N",
        help="stop when the files read claim more than N pixels in all "
        "(default: $MEDGAN_MAX_TOTAL_PIXELS, else 2**31)",
    )
    info.add_argument(
        "--split", help="a public dataset's split (train, val, test, all) or an .npz file's"
    )
    info.add_argument(
        "--no-cache",
        action="store_true",
        help="read every file again and write no cache (a file or folder is otherwise cached "
        "in $MEDGAN_HOME/reads, and read from there while its files are unchanged)",
    )
    info.add_argument("--json", action="store_true", help="print JSON for machines")
    info.set_defaults(func=_data_info)

    clear = data_commands.add_parser(
        "clear-cache", help="remove the cached reads of files and folders ($MEDGAN_HOME/reads)"
    )
    clear.set_defaults(func=_data_clear_cache)

    listing = data_commands.add_parser(
        "list", help="public datasets by name: modality, sizes, licence, cached or not"
    )
    listing.add_argument("--json", action="store_true", help="print JSON for machines")
    listing.set_defaults(func=_data_list)

    fetch = data_commands.add_parser(
        "fetch",
        help="download a public dataset into $MEDGAN_HOME/datasets/NAME (MD5 checked), or "
        "say how to get one that needs an account",
    )
    fetch.add_argument("name", help="a name from `medgan data list`")
    fetch.add_argument(
        "--size", type=int, help="MedMNIST: the published image side (28, 64, 128, 224; default 64)"
    )
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    fetch.set_defaults(func=_data_fetch)
