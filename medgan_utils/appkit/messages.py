"""What the page says in words: the ethics notice and one short sentence for any error.

The details of an error belong in the server log; the user gets :func:`user_message`, which
names no file and shows no traceback.
"""

from __future__ import annotations

from medgan_utils.appkit.request import InvalidRequest

__all__ = ["ETHICS", "user_message"]

ETHICS = (
    "Every image this app generates is **synthetic**: made by a GAN, not taken from a patient. "
    "The files you download say so in their names and PNG metadata. For teaching and method "
    "development only, never for diagnosis; check the model card and the memorization view "
    "before you use the images anywhere."
)


def user_message(err: BaseException, model_id: str = "the model") -> str:
    """One short sentence for the user; the details belong in the server log."""
    from medgan_utils.errors import (
        MissingDependenciesError,
        ModelNotAvailableError,
        PackageIntegrityError,
    )

    if isinstance(err, InvalidRequest):
        return f"Not generated: {err}."
    if isinstance(err, ModelNotAvailableError):
        return (
            f"{model_id} is not on this server yet and cannot be downloaded now: the network is "
            "unreachable (or downloads are off). medigan's models download on first use; try "
            "again when the server is online, or pick one of the shipped models."
        )
    if isinstance(err, MissingDependenciesError):
        return f"{model_id} needs Python packages this server does not have ({err.reason})."
    if isinstance(err, PackageIntegrityError):
        return f"{model_id} failed its integrity check, so it was not run."
    return f"Could not generate with {model_id}. The server log has the details."
