"""The ``medgan`` command line.

    medgan data info PATH|builtin|builtin-labelled [--image-size 64] [--on-error skip] [--json]
    medgan train --data builtin|PATH --image-size 64 --epochs N --out runs/NAME [--resume]
    medgan generate --model NAME|PATH|CATALOG_ID -n 16 --seed 0 --out DIR [--format dicom]
    medgan card NAME|RUN_DIR [--out FILE]
    medgan models list [--modality MRI] [--anatomy brain] [--type DCGAN] [--json]
    medgan models show|fetch ID
    medgan export-medigan RUN_DIR --out FILE.zip [--model-id 00000_DCGAN_BRAIN_MRI_64]
    medgan metrics --real builtin --fake NAME|RUN_DIR|IMAGES [--json]
    medgan finetune --real builtin-labelled --synthetic MODEL|FOLDER --strategy mix [--json]
    medgan audit --model CLASSIFIER --data builtin-labelled --group site [--json]

Every command prints a one-line error naming the bad file or value (exit status 2)
instead of a traceback when its input is wrong.

One module per group of subcommands, each with its handlers (argparse in, calls into the
package, text or JSON out) and an ``add_commands`` that adds its parsers: :mod:`.data`
(``data info``), :mod:`.train` (``train``, ``generate``), :mod:`.models` (``models``,
``export-medigan``, ``card``), :mod:`.evaluate` (``metrics``), :mod:`.downstream`
(``finetune``, ``audit``). ``python -m medgan_utils.cli`` runs :func:`main` too.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from medgan_utils.cli import data, downstream, evaluate, models, train
from medgan_utils.errors import DataError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The ``medgan`` parser: each module of this package adds its subcommands."""
    parser = argparse.ArgumentParser(
        prog="medgan", description="Synthetic medical images with GANs: data, models, metrics."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (data, train, models, evaluate, downstream):
        module.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # recorded in run.json
    try:
        return int(args.func(args))
    except (DataError, ValueError, FileNotFoundError) as err:
        print(f"medgan: error: {err}", file=sys.stderr)
        return 2
