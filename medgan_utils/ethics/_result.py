"""What the ethics result dataclasses share: a JSON-able ``to_dict`` and ``str``."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any


def jsonable(value: Any) -> Any:
    """Nested dicts/lists with tuples as lists and NaN/inf as ``None`` (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


class Result:
    """``to_dict`` (JSON-able) and ``str`` for the result dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))  # type: ignore[call-overload]

    def to_text(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.to_text()
