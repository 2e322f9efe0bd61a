"""Loading the project's own weight files: safetensors tensors plus a JSON config.

safetensors holds tensors only, so loading never runs code from the file (unlike pickle).
Every failure becomes a :class:`~medgan_utils.errors.DataError` naming the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from torch import nn

from medgan_utils.errors import DataError

__all__ = ["read_json", "load_state"]

C = TypeVar("C")
M = TypeVar("M", bound=nn.Module)


def read_json(path: Path, parse: Callable[[dict[str, Any]], C], what: str) -> tuple[C, dict]:
    """Read a JSON file and ``parse`` it (e.g. into a config dataclass).

    Returns:
        ``(parse(data), data)``.

    Raises:
        DataError: missing, not JSON, or rejected by ``parse``.
    """
    try:
        data = json.loads(Path(path).read_text())
        return parse(data), data
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(path, f"unreadable {what} ({err})") from err


def load_state(module: M, path: Path, what: str) -> M:
    """Load the safetensors file ``path`` into ``module`` (strict) and return it.

    Raises:
        DataError: missing or corrupt file, or tensors that do not fit ``module``.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise DataError(path, f"corrupt or unreadable {what} ({err})") from err
    try:
        module.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).splitlines()[1:2] or [str(err)]
        raise DataError(path, f"{what} do not match the config: {first[0].strip()}") from err
    return module
