"""The ``medgan`` command line.

    medgan data info PATH|builtin|builtin-labelled [--image-size 64] [--on-error skip] [--json]

Every command prints a one-line error naming the bad file or value (exit status 2)
instead of a traceback when its input is wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from dataclasses import asdict

from .data import SUPPORTED_SIZES, describe, load_dataset
from .readers import DataError

__all__ = ["main", "build_parser"]


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medgan", description="Synthetic medical images with GANs: data, models, metrics."
    )
    commands = parser.add_subparsers(dest="command", required=True)

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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (DataError, ValueError, FileNotFoundError) as err:
        print(f"medgan: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
