"""Argument types the subcommands share: counts and seeds checked when they are parsed.

A count of 0 or less, or a seed outside ``0..MAX_SEED``, is an argparse error naming the
option (``argument --n-subjects: must be a whole number >= 1, got '0'``) rather than a
silent default: ``--n-subjects 0`` used to mean "all subjects" and ``--seed -1`` the same
images as ``--seed 18446744073709551615``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from medgan_utils.settings import MAX_SEED

__all__ = ["count", "seed"]


def count(low: int = 1) -> Callable[[str], int]:
    """An argparse ``type``: a whole number ``>= low`` (default 1)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {low}, got {text!r}")
        return value

    parse.__name__ = "count"  # argparse names the type in some messages
    return parse


def seed(text: str) -> int:
    """An argparse ``type``: a seed, a whole number from 0 to ``MAX_SEED`` (2**32 - 1)."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 0 to {MAX_SEED}, got {text!r}"
        )
    return value
