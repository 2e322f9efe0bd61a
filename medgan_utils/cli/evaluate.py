"""``medgan metrics``: generated images scored against real ones, each beside its floor."""

from __future__ import annotations

import argparse
import json

__all__ = ["add_commands"]


def _metrics(args: argparse.Namespace) -> int:
    from medgan_utils.evaluation.evaluate import evaluate

    report = evaluate(
        args.real, args.fake, n=args.n, extractor=args.extractor, seed=args.seed, train=args.train
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
    metrics.add_argument("-n", type=int, help="images per set (default: half the real set)")
    metrics.add_argument("--train", help="the model's training images, for the near-copy check")
    metrics.add_argument("--extractor", choices=("domain", "inception", "pixels"), default="domain")
    metrics.add_argument("--seed", type=int, default=0)
    metrics.add_argument("--json", action="store_true", help="print JSON for machines")
    metrics.set_defaults(func=_metrics)
