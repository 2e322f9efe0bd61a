"""Numbers in a chapter's prose come from its executed cells: :func:`glue`.

A chapter computes a number in a code cell and calls ``glue("name", value)``; its Markdown
writes ``{glue:text}`name:.2f``` (a number) or ``{glue:md}`name``` (words), which Jupyter
Book (myst-nb) replaces with the value when it builds the book, so prose and output cannot
disagree. ``tests/test_prose_numbers.py``
fails on a result-like number in prose that is neither glued nor a setting of the chapter.
Outside a book build (Colab, Jupyter) myst-nb may be missing: then nothing is glued and the
Markdown shows the role as written.
"""

from __future__ import annotations

from typing import Any

__all__ = ["glue"]


def glue(name: str, value: Any) -> None:
    """Record ``value`` under ``name`` for the prose, without displaying it (and returning
    nothing, so a ``glue`` call ending a cell shows no output)."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # no book build here: nothing to glue into
        return
    if isinstance(value, str):  # words: shown with {glue:md}`name` (text would add quotes)
        from IPython.display import Markdown

        value = Markdown(value)
    elif getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        # NumPy and torch scalars: glue stores repr(), and "np.float64(0.29)" takes no format
        value = value.item()
    myst_glue(name, value, display=False)
