"""course.prose.glue records plain Python numbers, whatever scalar type it is given."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medgan_utils.course import prose


@pytest.mark.parametrize("value", [np.float64(0.25), np.float32(0.25), torch.tensor(0.25), 0.25])
def test_glue_stores_a_number_the_book_can_format(value, monkeypatch):
    import myst_nb

    seen = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, v, display: seen.update({name: v}))
    prose.glue("share", value)
    assert type(seen["share"]) is float and f"{seen['share']:.0%}" == "25%"
    # myst-nb formats {glue:text}`share:.0%` from the repr of what it stored
    assert f"{float(repr(seen['share'])):.0%}" == "25%"


def test_glue_stores_words_as_markdown(monkeypatch):
    import myst_nb
    from IPython.display import Markdown

    seen = {}
    monkeypatch.setattr(myst_nb, "glue", lambda name, v, display: seen.update({name: v}))
    prose.glue("where", "mix at N = 50")
    assert isinstance(seen["where"], Markdown) and seen["where"].data == "mix at N = 50"
