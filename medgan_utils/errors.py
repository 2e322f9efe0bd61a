"""Every error a user of the package may want to catch, in one place.

All are :class:`DataError`, a :class:`ValueError` whose message names the file or value
at fault and the reason, so ``except DataError`` catches every expected failure and
``on_error="skip"`` in the readers can leave out any bad file.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "DataError",
    "DatasetNotAvailableError",
    "FolderBusyError",
    "MissingDependenciesError",
    "ModelNotAvailableError",
    "PackageChangedError",
    "PackageIntegrityError",
    "PixelBudgetError",
    "TotalPixelBudgetError",
    "TrainingDivergedError",
    "UntrustedCodeError",
]


class DataError(ValueError):
    """A file (or value) that cannot be turned into images; the message names it and why."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class ModelNotAvailableError(DataError):
    """A model that is not on disk and cannot be downloaded now."""


class DatasetNotAvailableError(DataError):
    """A public dataset that is not on disk and cannot be downloaded now (offline, out of
    reach, cut off, or not the bytes its MD5 names); the message says what to do."""


class PackageIntegrityError(DataError):
    """A package archive or folder that is broken, incomplete or changed since install."""


class PackageChangedError(PackageIntegrityError):
    """A package (or its archive) that differs from the one whose SHA-256 was recorded."""


class MissingDependenciesError(DataError):
    """A model whose pip dependencies are not installed."""


class FolderBusyError(DataError):
    """An output folder that another process (or thread) is writing into right now."""


class TrainingDivergedError(DataError):
    """A training run whose losses or weights stopped being finite (NaN or inf).

    ``epoch`` is the epoch that diverged (1-based), ``step`` the global step, and
    ``last_good`` the last epoch whose checkpoint was saved (0: none).
    """

    def __init__(
        self, path: str | Path, reason: str, epoch: int = 0, step: int = 0, last_good: int = 0
    ) -> None:
        super().__init__(path, reason)
        self.epoch, self.step, self.last_good = epoch, step, last_good


class UntrustedCodeError(DataError):
    """A model package whose code would run but that the operator has not allowed: not from
    medigan's official catalog (set ``MEDGAN_ALLOW_UNOFFICIAL_CODE=1`` to allow it)."""


class PixelBudgetError(DataError):
    """A file whose header claims more pixels than the pixel budget allows, refused before
    decoding (a decompression bomb?); ``MEDGAN_MAX_PIXELS`` raises the budget."""


class TotalPixelBudgetError(PixelBudgetError):
    """A read (a file or folder) whose files claim more pixels in all than the budget allows;
    ``MEDGAN_MAX_TOTAL_PIXELS`` raises it. Never skipped file by file."""
