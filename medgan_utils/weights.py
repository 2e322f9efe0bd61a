"""Loading the project's own weight files: safetensors tensors plus a JSON config.

safetensors holds tensors only, so loading never runs code from the file (unlike pickle).
Every failure becomes a :class:`~medgan_utils.errors.DataError` naming the file: a
missing or corrupt file, tensors that do not fit the network, and weights that are not
finite (NaN or inf: a run that diverged), which would otherwise give black images.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from medgan_utils.errors import DataError

__all__ = ["read_json", "load_state", "build_and_load", "check_shapes", "first_non_finite"]

C = TypeVar("C")
M = TypeVar("M", bound=nn.Module)


def read_json(path: Path, parse: Callable[[dict[str, Any]], C], what: str) -> tuple[C, dict]:
    """Read a JSON file and ``parse`` it (e.g. into a config dataclass).

    Returns:
        ``(parse(data), data)``.

    Raises:
        DataError: missing, not JSON (or nested too deeply for Python's parser), or
            rejected by ``parse``.
    """
    try:
        data = json.loads(Path(path).read_text())
        return parse(data), data
    except RecursionError as err:
        raise DataError(path, f"unreadable {what} (nested too deeply)") from err
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(path, f"unreadable {what} ({err})") from err


def first_non_finite(tensors: Mapping[str, torch.Tensor]) -> str | None:
    """The name of the first floating-point tensor holding a NaN or an infinity, or None."""
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            return name
    return None


def load_state(module: M, path: Path, what: str) -> M:
    """Load the safetensors file ``path`` into ``module`` (strict) and return it.

    Raises:
        DataError: missing or corrupt file, tensors that do not fit ``module``, or a
            tensor holding NaN or inf.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise DataError(path, f"corrupt or unreadable {what} ({err})") from err
    bad = first_non_finite(state)
    if bad is not None:
        raise DataError(
            path,
            f"{what} hold NaN or inf values ({bad}): the run that wrote them diverged; "
            "use an earlier checkpoint or train again with lower learning rates",
        )
    try:
        module.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).splitlines()[1:2] or [str(err)]
        raise DataError(path, f"{what} do not match the config: {first[0].strip()}") from err
    return module


def check_shapes(build: Callable[[], nn.Module], path: Path, what: str) -> None:
    """Check that the tensors ``build()`` holds are those of ``path``, allocating nothing.

    The module is built on PyTorch's ``meta`` device (shapes without memory) and compared
    with the safetensors header, so a config that asks for a huge network (``width`` of a
    million) is refused before any memory is taken.

    Raises:
        DataError: the config cannot be built, or the names or shapes differ; the message
            names ``path`` and the first difference.
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError) as err:
        raise DataError(path, f"corrupt or unreadable {what} ({err})") from err
    try:
        with torch.device("meta"):
            wanted = {k: tuple(v.shape) for k, v in build().state_dict().items()}
    except (RuntimeError, ValueError, OverflowError, MemoryError) as err:
        raise DataError(path, f"{what}: the config describes no buildable network ({err})") from err
    for key in sorted(set(wanted) | set(found)):
        if key not in found:
            raise DataError(path, f"{what} do not match the config: {key} is missing")
        if key not in wanted:
            raise DataError(path, f"{what} do not match the config: unexpected {key}")
        if wanted[key] != found[key]:
            raise DataError(
                path,
                f"{what} do not match the config: {key} has shape {list(found[key])} in the "
                f"file, the config needs {list(wanted[key])}",
            )


def build_and_load(build: Callable[[], M], path: Path, what: str) -> M:
    """``build()`` the module and load ``path`` into it, after :func:`check_shapes`.

    Example:
        >>> G = build_and_load(lambda: Generator(config), folder / "generator.safetensors",
        ...                    "weights")  # doctest: +SKIP

    Raises:
        DataError: as :func:`check_shapes` and :func:`load_state`.
    """
    check_shapes(build, path, what)
    return load_state(build(), path, what)
