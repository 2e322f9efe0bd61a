"""Helpers the dashboards share: ipywidgets on demand, PNG encoding, HTML text and tables.

Private to :mod:`medgan_utils.dashboards`: ipywidgets is imported only when a dashboard is
built (:func:`_ipywidgets`), so ``import medgan_utils`` works without it.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from types import ModuleType
from typing import Any


def _ipywidgets() -> ModuleType:
    try:
        import ipywidgets
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the dashboards need ipywidgets: pip install 'ipywidgets>=8' "
            "(it comes with the book extra: pip install -e '.[book]')"
        ) from err
    return ipywidgets


def _png(pixels: Any, scale: int = 1) -> bytes:
    """Encode a ``uint8`` ``(H, W)`` array as PNG, enlarged ``scale`` times (nearest)."""
    from PIL import Image

    img = Image.fromarray(pixels)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def _text(value: Any) -> str:
    """``value`` as HTML text (``<``, ``>`` and ``&`` escaped; quotes kept readable)."""
    return html.escape(str(value), quote=False)


def _table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "<p><i>No model matches these filters.</i></p>"
    head = "".join(f"<th style='text-align:left'>{_text(k)}</th>" for k in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{_text(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows
    )
    return f"<table style='line-height:1.35'><tr>{head}</tr>{body}</table>"
