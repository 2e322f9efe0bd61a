"""The ``medgan`` command line.

    medgan data info PATH|builtin|builtin-labelled|NAME [--image-size 64] [--on-error skip] [--json]
    medgan data list [--json]
    medgan data fetch NAME [--size 64]
    medgan train --data builtin|PATH --image-size 64 --epochs N --out runs/NAME [--resume]
    torchrun --nproc_per_node=4 -m medgan_utils.cli train ... (one process per GPU)
    medgan generate --model NAME|PATH|CATALOG_ID -n 16 --seed 0 --out DIR [--format dicom]
    medgan card NAME|RUN_DIR [--out FILE]
    medgan models list [--modality MRI] [--anatomy brain] [--type DCGAN] [--json]
    medgan models show|fetch ID
    medgan export-medigan RUN_DIR --out FILE.zip [--model-id 00000_DCGAN_BRAIN_MRI_64]
    medgan metrics --real builtin --fake NAME|RUN_DIR|IMAGES [--json]
    medgan finetune --real builtin-labelled --synthetic MODEL|FOLDER --strategy mix [--json]
    medgan audit --model CLASSIFIER --data builtin-labelled --group site [--json]
    medgan app [--port 8501] [--address localhost]

Every command prints a one-line error naming the bad file or value (exit status 2)
instead of a traceback when its input is wrong: a :class:`~medgan_utils.errors.DataError`
of any kind, a bad value (``ValueError``, ``--device bogus``), a file-system error (an
``--out`` that is a file or unwritable, a full disk), an output folder another process is
writing into, a run that diverged (with the command that continues it), or a GPU out of
memory. Ctrl-C exits with status 130; ``medgan train`` then prints the ``--resume``
command that continues the run. Any other exception is a bug and shows its traceback.

One module per group of subcommands, each with its handlers (argparse in, calls into the
package, text or JSON out) and an ``add_commands`` that adds its parsers: :mod:`.data`
(``data info``, ``data list``, ``data fetch``), :mod:`.train` (``train``, ``generate``),
:mod:`.models` (``models``, ``export-medigan``, ``card``), :mod:`.evaluate` (``metrics``),
:mod:`.downstream` (``finetune``, ``audit``), :mod:`.app` (``app``). ``python -m
medgan_utils.cli`` runs :func:`main` too.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from medgan_utils.cli import app, data, downstream, evaluate, models, train
from medgan_utils.errors import DataError, TrainingDivergedError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The ``medgan`` parser: each module of this package adds its subcommands."""
    parser = argparse.ArgumentParser(
        prog="medgan", description="Synthetic medical images with GANs: data, models, metrics."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (data, train, models, evaluate, downstream, app):
        module.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 an expected failure, 130 Ctrl-C)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # recorded in run.json
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(f"medgan: interrupted{_after_interrupt(args)}", file=sys.stderr)
        return 130
    except TrainingDivergedError as err:
        print(f"medgan: error: {_one_line(err)}; e.g. {_retry_gently(args, err)}", file=sys.stderr)
        return 2
    except torch.cuda.OutOfMemoryError as err:
        print(
            f"medgan: error: out of GPU memory ({_one_line(err)[:120]}): lower --batch-size "
            "or -n, or use --device cpu",
            file=sys.stderr,
        )
        return 2
    except (DataError, ValueError, OSError) as err:  # DataError and ValueError: bad values
        print(f"medgan: error: {_one_line(err)}", file=sys.stderr)
        return 2


def _one_line(err: BaseException) -> str:
    """The error's message on one line (an OSError as ``file: reason``)."""
    if isinstance(err, OSError) and err.strerror:
        names = [str(n) for n in (err.filename, err.filename2) if n is not None]
        text = f"{' -> '.join(names)}: {err.strerror}" if names else err.strerror
    else:
        text = str(err) or type(err).__name__
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def _command(args: argparse.Namespace, *, resume: bool, **options: str) -> str:
    """The ``medgan`` command line that was run, with ``--resume`` added or removed and the
    given options (``lr_d="1e-05"`` -> ``--lr-d 1e-05``) set, quoted for a POSIX shell."""
    words = [w for w in args.argv if w != "--resume"]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        while flag in words[:-1]:
            i = words.index(flag)
            del words[i : i + 2]
        words = [w for w in words if not w.startswith(flag + "=")] + [flag, value]
    return shlex.join(["medgan", *words, *(["--resume"] if resume else [])])


def _after_interrupt(args: argparse.Namespace) -> str:
    """What to type after Ctrl-C: for ``medgan train``, the command that continues the run."""
    if args.command != "train":
        return ""
    out = Path(args.out)
    if (out / "checkpoint.safetensors").exists():
        return "; the run keeps its last finished epoch. Continue it with:\n  " + _command(
            args, resume=True
        )
    return "; no epoch had finished, nothing was kept. Start again with:\n  " + _command(
        args, resume=False
    )


def _retry_gently(args: argparse.Namespace, err: TrainingDivergedError) -> str:
    """The command that continues (or restarts) a diverged run more gently: a learning rate
    that is not finite (or above 1) back to the DCGAN default 2e-4, else both 10x lower."""
    rates = {name: float(getattr(args, name)) for name in ("lr_g", "lr_d")}
    wild = {k for k, v in rates.items() if not 0 < v <= 1}
    new = {k: "0.0002" for k in wild} or {k: f"{v / 10:g}" for k, v in rates.items()}
    return _command(args, resume=err.last_good > 0, **new)
