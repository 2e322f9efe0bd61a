"""What the Streamlit page itself holds, for the page and for the book.

- :func:`inline_png`: an image as a ``data:`` URL. The grid's images travel inside the page's
  own messages instead of as one HTTP request each: 64 small PNGs reach the browser with the
  grid, not in 64 round trips after it.
- :func:`settle_memory`: once the page has run, what the server has loaded (Streamlit, torch,
  the models) is left out of later garbage collections; Streamlit collects after every rerun,
  which otherwise scans some 350,000 long-lived objects (about 0.1 s a click).
- :data:`APP` and :func:`page_caches`: where the page is, and what it caches (read from its
  source), so the capstone chapter shows the page's caches without parsing it itself.
"""

from __future__ import annotations

import ast
import base64
import gc
import threading
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["APP", "PageCache", "inline_png", "page_caches", "settle_memory"]

APP = Path(__file__).resolve().with_name("streamlit_app.py")  # the page, inside the package


_SETTLED = threading.Event()


def settle_memory() -> bool:
    """Collect garbage, then freeze what remains (:func:`gc.freeze`), once per process.

    Streamlit runs a full collection after every script run (``runner.postScriptGC``); that
    collection then scans only the objects made since, not the modules, models and caches the
    first run loaded, which live as long as the server. Returns whether this call froze.
    """
    if _SETTLED.is_set():
        return False
    _SETTLED.set()
    gc.collect()
    gc.freeze()
    return True


def inline_png(png: bytes) -> str:
    """PNG bytes as a ``data:image/png;base64,...`` URL, which ``st.image`` shows as given."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@dataclass(frozen=True)
class PageCache:
    """One function of the page behind ``st.cache_data`` or ``st.cache_resource``."""

    kind: str  # "cache_data" (results, copied per call) or "cache_resource" (shared objects)
    function: str
    args: tuple[str, ...]  # the cache key: the function's arguments
    limits: dict[str, str] = field(default_factory=dict)  # max_entries, ttl
    spinner: str | None = None  # what the page shows while the function runs

    def __str__(self) -> str:
        call = f"{self.function}({', '.join(self.args)})"
        limits = ", ".join(f"{k}={v}" for k, v in self.limits.items())
        return f"{self.kind:<15} {call:<48} {limits}"


def page_caches(path: str | Path = APP) -> list[PageCache]:
    """The page's cached functions, in the order the page defines them.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    tree = ast.parse(Path(path).read_text())
    out = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            if not (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Attribute)):
                continue
            if not deco.func.attr.startswith("cache_"):
                continue
            options = {k.arg: ast.literal_eval(k.value) for k in deco.keywords if k.arg}
            spinner = options.pop("show_spinner", None)
            out.append(
                PageCache(
                    kind=deco.func.attr,
                    function=node.name,
                    args=tuple(a.arg for a in node.args.args),
                    limits={k: str(v) for k, v in options.items()},
                    spinner=spinner if isinstance(spinner, str) else None,
                )
            )
    return out
