"""``medgan data info``: what a dataset holds, and which files were skipped."""

from __future__ import annotations

import argparse
import json
import warnings
from dataclasses import asdict

from medgan_utils.data.dataset import describe
from medgan_utils.data.load import load_dataset
from medgan_utils.settings import SUPPORTED_SIZES

__all__ = ["add_commands"]


def _data_info(args: argparse.Namespace) -> int:
    options = {}
    if args.axis:
        options["axis"] = args.axis
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_dataset(args.source, args.image_size, on_error=args.on_error, **options)
    info = describe(ds, source=args.source)
    if args.json:
        print(json.dumps({**asdict(info), "warnings": [str(w.message) for w in caught]}, indent=2))
    else:
        print(info.to_text())
        for w in caught:
            print(f"warning     {w.message}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """``medgan data info``."""
    data = commands.add_parser("data", help="inspect medical image datasets")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    info = data_commands.add_parser(
        "info", help="print counts, sizes, classes, subjects, groups and skipped files"
    )
    info.add_argument("source", help="a file or folder, or 'builtin' / 'builtin-labelled'")
    info.add_argument("--image-size", type=int, default=64, choices=SUPPORTED_SIZES)
    info.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default="skip",
        help="skip unreadable files and report them (default), or stop at the first",
    )
    info.add_argument("--axis", choices=("axial", "coronal", "sagittal"), help="NIfTI slicing axis")
    info.add_argument("--json", action="store_true", help="print JSON for machines")
    info.set_defaults(func=_data_info)
