"""The Streamlit app, driven headless with streamlit.testing.v1.AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_app_shows_the_builtin_dataset():
    at = AppTest.from_file(str(APP), default_timeout=300).run()
    assert not at.exception
    assert not at.error
    assert _metrics(at)["Classes"] == "unlabelled"
    [image] = at.get("image")
    assert image.captions == ["32 random slices (seed 0)"]

    at.sidebar.selectbox[0].select("builtin-labelled")
    at.sidebar.selectbox[1].select(32)
    at.sidebar.slider[0].set_value(8)
    at.run()
    assert not at.exception
    metrics = _metrics(at)
    assert metrics["Classes"] == "lesion, no_lesion"
    assert metrics["Size"] == "32x32"
    assert at.get("image")[0].captions == ["8 random slices (seed 0)"]
