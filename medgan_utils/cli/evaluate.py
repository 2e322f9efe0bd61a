"""``medgan metrics``: generated images scored against real ones, each beside its floor."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from medgan_utils.cli.options import count, seed
from medgan_utils.evaluation.evaluate import DEFAULT_SPACES
from medgan_utils.evaluation.features import EXTRACTORS

if TYPE_CHECKING:
    from medgan_utils.evaluation.conditional import ConditionalReport
    from medgan_utils.evaluation.evaluate import EvaluationReport
    from medgan_utils.gan.models import Generator

__all__ = ["add_commands", "feature_spaces"]


def feature_spaces(text: str) -> tuple[str, ...]:
    """An argparse ``type``: comma-separated feature spaces, e.g. ``domain,anatomy``, each
    one of :data:`~medgan_utils.evaluation.features.EXTRACTORS` (or ``pixels-N``), once."""
    names = tuple(name.strip() for name in text.split(","))
    for name in names:
        size = name.partition("-")[2] if name.startswith("pixels-") else None
        if name not in EXTRACTORS and not (size and size.isdigit() and int(size) > 0):
            raise argparse.ArgumentTypeError(
                f"unknown feature space {name!r} in {text!r}; use one or more of "
                f"{', '.join(EXTRACTORS)} (or pixels-N), separated by commas"
            )
    if len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(f"name each feature space once, got {text!r}")
    return names


def _conditional(args: argparse.Namespace) -> Generator | None:
    """The generator ``--fake`` names when it is a class-conditional model, else None."""
    from medgan_utils.evaluation.evaluate import _is_model
    from medgan_utils.gan.zoo import load_generator

    if not _is_model(args.fake):
        return None
    G, _ = load_generator(args.fake)
    return G if G.config.conditional else None


def _metrics(args: argparse.Namespace) -> int:
    from medgan_utils.data.load import load_dataset
    from medgan_utils.evaluation.conditional import evaluate_conditional
    from medgan_utils.evaluation.evaluate import evaluate

    G = _conditional(args)
    report: EvaluationReport | ConditionalReport
    if G is None:
        report = evaluate(
            args.real,
            args.fake,
            n=args.n,
            extractor=args.features,
            seed=args.seed,
            train=args.train,
        )
    else:  # per class, and whether it follows its label: real and train need labels
        size = G.config.image_size
        real = load_dataset(args.real, size)
        train = load_dataset(args.train, size) if args.train else None
        for what, data in (("--real", real), ("--train", train)):
            if data is not None and not data.is_labelled:
                raise ValueError(
                    f"{args.fake} is class-conditional: {what} {getattr(args, what[2:])} "
                    "must be labelled (class subfolders, or builtin-labelled)"
                )
        report = evaluate_conditional(
            real, G, n=args.n, seed=args.seed, train=train, extractor=args.features
        )
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.to_text())
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """``medgan metrics``."""
    metrics = commands.add_parser(
        "metrics", help="score generated images against real ones, each beside its floor"
    )
    metrics.add_argument("--real", required=True, help="'builtin', a folder or a file")
    metrics.add_argument("--fake", required=True, help="a model (name or run folder) or images")
    metrics.add_argument("-n", type=count(), help="images per set (default: half the real set)")
    metrics.add_argument("--train", help="the model's training images, for the near-copy check")
    metrics.add_argument(
        "--features",
        "--extractor",
        dest="features",
        type=feature_spaces,
        default=DEFAULT_SPACES,
        metavar="SPACES",
        help="feature spaces, comma-separated: domain (strict on texture), anatomy (never "
        "shown an artefact), inception (papers' FID; downloads its weights), pixels "
        f"(default: {','.join(DEFAULT_SPACES)})",
    )
    metrics.add_argument("--seed", type=seed, default=0)
    metrics.add_argument("--json", action="store_true", help="print JSON for machines")
    metrics.set_defaults(func=_metrics)
