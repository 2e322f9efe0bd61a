"""Every error a user of the package may want to catch, in one place.

All are :class:`DataError`, a :class:`ValueError` whose message names the file or value
at fault and the reason, so ``except DataError`` catches every expected failure and
``on_error="skip"`` in the readers can leave out any bad file.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "DataError",
    "MissingDependenciesError",
    "ModelNotAvailableError",
    "PackageChangedError",
    "PackageIntegrityError",
]


class DataError(ValueError):
    """A file (or value) that cannot be turned into images; the message names it and why."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class ModelNotAvailableError(DataError):
    """A model that is not on disk and cannot be downloaded now."""


class PackageIntegrityError(DataError):
    """A package archive or folder that is broken, incomplete or changed since install."""


class PackageChangedError(PackageIntegrityError):
    """A package (or its archive) that differs from the one whose SHA-256 was recorded."""


class MissingDependenciesError(DataError):
    """A model whose pip dependencies are not installed."""
