"""The Streamlit app, driven headless with streamlit.testing.v1.AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from medgan_utils.zoo import DEFAULT_MODEL, list_models  # noqa: E402

APP = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"


def _app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=300)


def test_app_generates_with_the_shipped_model():
    assert DEFAULT_MODEL in list_models(), "the shipped generator's weights are missing"
    at = _app().run()
    assert not at.exception and not at.error
    assert at.sidebar.selectbox[0].value == DEFAULT_MODEL
    [image] = at.get("image")
    assert image.captions == ["synthetic, seed 0"]
    assert "SYNTHETIC" in at.caption[0].value

    at.sidebar.slider[0].set_value(4)
    at.sidebar.number_input[0].set_value(7)
    at.run()
    assert not at.exception
    assert at.get("image")[0].captions == ["synthetic, seed 7"]
    assert "4 synthetic images, seed 7" in at.subheader[0].value


def test_app_shows_the_builtin_dataset():
    at = _app().run()
    at.sidebar.radio[0].set_value("Training data").run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Classes"] == "unlabelled"
    at.sidebar.selectbox[0].select("builtin-labelled")
    at.sidebar.selectbox[1].select(32)
    at.sidebar.slider[0].set_value(8)
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Classes"] == "lesion, no_lesion" and metrics["Size"] == "32x32"
    assert at.get("image")[0].captions == ["8 random slices (seed 0)"]
