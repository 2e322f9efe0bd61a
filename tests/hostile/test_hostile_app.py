"""The app against hostile input: shared links, catalogs and run folders built to break it or
to make it show what it must not. Each builds its input in ``tmp_path`` and drives the page
with AppTest (the malicious link also in headless Chromium). No network (MEDGAN_OFFLINE)."""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("streamlit")
import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from medgan_utils import appkit  # noqa: E402
from medgan_utils.appkit import views as appviews  # noqa: E402
from medgan_utils.appkit.page import APP
from medgan_utils.errors import UntrustedCodeError  # noqa: E402
from medgan_utils.gan.models import DCGANConfig, Generator  # noqa: E402
from medgan_utils.gan.zoo import DEFAULT_MODEL, save_generator  # noqa: E402
from medgan_utils.hub.export import export_medigan, read_package_metadata  # noqa: E402

EVIL = "evil.example"
HOSTILE_ID = "00000_DCGAN_HOSTILE"
LINK = "[Session expired](https://evil.example/login)"
# Values a shared link may carry, each meant to become a link, an image, markup or a fetch.
HOSTILE_VALUES = [
    LINK,
    "![x](https://evil.example/pixel.png)",
    '<img src="https://evil.example/pixel.png">',
    "<https://evil.example/login>",
    "https://evil.example/login",
    "www.evil.example",
    "admin@evil.example",
    ":red[Session expired] :material/lock:",
    "$\\href{https://evil.example}{x}$",
    "line\n# heading\n[a]: https://evil.example",
]


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.setenv("MEDGAN_OFFLINE", "1")
    for name in ("MEDGAN_CATALOG", appkit.MODELS_ENV, appviews.SHOW_TRAINING_ENV):
        monkeypatch.delenv(name, raising=False)
    st.cache_data.clear()


def _app(**query: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params.update(query)
    return at.run()


# What GFM links without any markup (mdast-util-gfm-autolink-literal's two patterns).
AUTOLINK = re.compile(r"(https?://|www(?=\.))[-.\w]+|[-.\w+]+@[-\w]+(\.[-\w]+)+", re.I)


def _shown(markdown: str) -> str:
    """The text a reader sees for ``markdown``: backslash escapes resolved, the invisible
    word joiners left out."""
    return re.sub(r"\\(.)", r"\1", markdown).replace(appkit.WORD_JOINER, "")


def _inert(markdown: str) -> bool:
    """Nothing in ``markdown`` can become a link, an image, HTML, a directive or maths: no
    unescaped ``[``, ``<``, ``$``, ``@`` or ``:name[``/``:name:``/``:name/`` is left, and the
    text, escapes resolved, holds nothing GFM would turn into a link by itself."""
    live = re.sub(r"\\.", "", markdown)
    text = re.sub(r"\\(.)", r"\1", markdown)
    return not re.search(r"[\[\]<>$@]|:\w+[\[:/]", live) and not AUTOLINK.search(text)


def _texts(at: AppTest) -> list[str]:
    """The page's Markdown beyond the model card: alerts, captions, headings, table cells."""
    kinds = ("warning", "info", "error", "caption", "subheader")
    out = [e.value for kind in kinds for e in at.get(kind)]
    for table in at.table:
        out += [str(v) for v in table.value.to_numpy().ravel()] + list(map(str, table.value))
    return out


def _sidebar_messages(at: AppTest) -> str:
    return "\n".join(_shown(e.value) for e in [*at.sidebar.info, *at.sidebar.warning])


def _generate(at: AppTest, model: str, count: int = 3, seed: int = 1) -> AppTest:
    at.sidebar.selectbox(key="model").select(model).run()
    at.sidebar.slider(key="count").set_value(count)
    at.sidebar.number_input(key="seed").set_value(seed)
    return at.sidebar.button(key="generate").click().run()


def _grid_captions(at: AppTest) -> list[str]:
    return [c for e in at.get("image") for c in e.captions if re.fullmatch(r"synthetic #\d+", c)]


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


# --------------------------------------------------------------------------- hostile input


@pytest.fixture(scope="module")
def entry(tmp_path_factory, tiny) -> dict:
    """A medigan catalog entry of the tiny generator, its package hosted "remotely"."""
    folder = tmp_path_factory.mktemp("entry")
    exported = export_medigan(tiny, folder / "tiny.zip", model_id=HOSTILE_ID).zip
    (found,) = read_package_metadata(exported).values()
    found["execution"]["package_link"] = f"https://zenodo.org/record/1/files/{HOSTILE_ID}.zip"
    return found


@pytest.fixture
def hostile_catalog(tmp_path, entry) -> Path:
    """A catalog whose text is written to inject links and images into the page."""
    evil = json.loads(json.dumps(entry))
    evil["description"]["title"] = f"Brain MRI ![p](https://{EVIL}/title.png) {LINK}"
    evil["description"]["comment"] = f"<img src=https://{EVIL}/comment.png> {LINK}"
    evil["selection"]["performance"] = {f"FID {LINK}": f"![m](https://{EVIL}/metric.png)"}
    evil["selection"]["modality"] = [f"![m](https://{EVIL}/modality.png) {LINK}"]  # the picker
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps({HOSTILE_ID: evil}))
    return path


def _folder_run(tmp_path: Path, data: str | Path, name: str = "run") -> Path:
    cfg = DCGANConfig(image_size=32, width=4, latent_dim=8)
    return save_generator(Generator(cfg), cfg, tmp_path / name, {"data": str(data)})


@pytest.fixture
def patient_run(tmp_path) -> Path:
    """A run trained (as its generator.json says) on a folder of 12 "patient" PNGs."""
    folder = tmp_path / "patients"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        pixels = rng.integers(0, 256, (32, 32), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"patient{i:02d}.png")
    return _folder_run(tmp_path, folder)


# --------------------------------------------------------------------------- shared links


@pytest.mark.parametrize("value", HOSTILE_VALUES)
@pytest.mark.parametrize("param", ["model", "n", "label"])
def test_a_malicious_link_is_echoed_as_text(param, value):
    query = {"model": DEFAULT_MODEL, "n": "4", "seed": "0", param: value}
    at = _app(**query)
    assert not at.exception and not _grid_captions(at)
    (warning,) = [w for w in at.warning if w.value.startswith("The link's settings were ignored")]
    assert _inert(warning.value), warning.value
    if (param, value) == ("model", LINK):
        assert LINK in _shown(warning.value)  # the value is there, as text
    assert all(_inert(t) for t in _texts(at) if EVIL in _shown(t))


def test_a_valid_link_still_works_and_its_heading_is_escaped():
    at = _app(model=DEFAULT_MODEL, n="3", seed="2")
    _ok(at)
    assert _grid_captions(at) == ["synthetic #1", "synthetic #2", "synthetic #3"]
    assert _shown(at.subheader[0].value) == f"3 synthetic images: {DEFAULT_MODEL}, seed 2"


def test_user_messages_escape_what_they_echo():
    err = appkit.InvalidRequest(f"unknown model {LINK!r}")
    assert _inert(appkit.user_message(err, LINK))
    assert _inert(appkit.user_message(ValueError(), LINK))
    assert LINK in _shown(appkit.user_message(err, "x"))


# --------------------------------------------------------------------------- catalogs


def test_a_hostile_catalogs_text_is_shown_as_text(hostile_catalog, monkeypatch):
    monkeypatch.setenv("MEDGAN_CATALOG", str(hostile_catalog))
    at = _app()
    at.sidebar.selectbox(key="model").select(HOSTILE_ID).run()
    assert not at.exception
    (caption,) = [c for c in at.sidebar.caption if "Status" in c.value]
    assert _inert(caption.value) and LINK in _shown(caption.value)
    at.session_state["view"] = "Model card"
    at.run()
    assert not at.exception
    card = at.markdown[0].value
    assert LINK in card and f"https://{EVIL}/title.png" in card
    assert _inert(card.split("```")[0])  # the title; the record is inside the code block
    assert card.count("```") == 2  # one code block the record cannot leave
    metrics = at.table[0].value
    assert all(_inert(str(v)) for v in [*metrics["metric"], *metrics["value"]])
    assert LINK in _shown(metrics["metric"][0])
    assert all(_inert(t) for t in _texts(at) if EVIL in _shown(t))


@pytest.mark.parametrize(
    "content",
    [
        None,  # the path does not exist
        "{not json",
        '["a", "list"]',
        "[" * 100_000 + "]" * 100_000,  # nested past Python's recursion limit
        "",
    ],
    ids=["missing", "not-json", "a-list", "deeply-nested", "empty"],
)
def test_a_bad_catalog_leaves_the_app_up_with_a_message(content, tmp_path, monkeypatch):
    path = tmp_path / "global.json"
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv("MEDGAN_CATALOG", str(path))
    at = _app()
    assert not at.exception
    messages = _sidebar_messages(at)
    assert "MEDGAN_CATALOG" in messages and "could not be read" in messages
    assert "the project's own models are served" in messages
    _generate(at, DEFAULT_MODEL)
    _ok(at)
    assert len(_grid_captions(at)) == 3


def test_malformed_entries_are_left_out_and_named(tmp_path, entry, monkeypatch):
    broken = json.loads(json.dumps(entry))
    broken["selection"] = ["not", "a", "mapping"]  # the card cannot be read
    catalog = {
        HOSTILE_ID: entry,
        "00001_BROKEN_CARD": broken,
        "00002_NO_EXECUTION": {"execution": 5},
        "../../outside": entry,  # an id that would become a path
    }
    path = tmp_path / "global.json"
    path.write_text(json.dumps(catalog))
    monkeypatch.setenv("MEDGAN_CATALOG", str(path))
    at = _app()
    assert not at.exception
    options = at.sidebar.selectbox(key="model").options
    assert any(HOSTILE_ID in o for o in options)
    assert not any("BROKEN" in o or "NO_EXECUTION" in o or "outside" in o for o in options)
    messages = _sidebar_messages(at)
    assert "00001_BROKEN_CARD' left out" in messages
    assert "2 entries left out" in messages and "00002_NO_EXECUTION" in messages
    assert "../../outside" in messages


# --------------------------------------------------------------------------- run folders


def test_one_bad_run_folder_leaves_the_others_served(tmp_path, make_tiny, monkeypatch):
    good = make_tiny(tmp_path / "good")
    not_json = make_tiny(tmp_path / "not-json")
    (not_json / "generator.json").write_text("{broken")
    no_config = make_tiny(tmp_path / "no-config")
    (no_config / "generator.json").write_text(json.dumps({"data": "builtin"}))
    nested = make_tiny(tmp_path / "nested")
    (nested / "generator.json").write_text("[" * 100_000 + "]" * 100_000)
    served = {
        "good": good,
        "not-json": not_json,
        "no-config": no_config,
        "nested": nested,
        "gone": tmp_path / "nowhere",
        "../escape": good,
    }
    monkeypatch.setenv(appkit.MODELS_ENV, ",".join(f"{k}={v}" for k, v in served.items()))
    at = _app()
    assert not at.exception
    messages = _sidebar_messages(at)
    for name in ("not-json", "no-config", "nested", "gone", "../escape"):
        assert f"MEDGAN_APP_MODELS: '{name}=" in messages, name
    options = at.sidebar.selectbox(key="model").options
    assert [o.split(" · ")[0] for o in options if o.startswith(("good", "not-json"))] == ["good"]
    _generate(at, "good")
    _ok(at)
    assert len(_grid_captions(at)) == 3


@pytest.mark.parametrize("name", [DEFAULT_MODEL, "Brain_MRI_DCGAN_64", f" {DEFAULT_MODEL}"])
def test_a_served_run_never_replaces_a_shipped_model(name, tiny, monkeypatch):
    monkeypatch.setenv(appkit.MODELS_ENV, f"{name}={tiny},mine={tiny}")
    at = _app()
    assert not at.exception
    messages = _sidebar_messages(at)
    assert f"'{name.strip()}={tiny}' left out" in messages
    assert f"shipped model {DEFAULT_MODEL}" in messages
    cat, problems = appkit.load_app_catalog(None, f"{name}={tiny}")
    assert cat.local[DEFAULT_MODEL] != tiny and cat.card(DEFAULT_MODEL).image_size == (64, 64)
    options = at.sidebar.selectbox(key="model").options
    assert any(o.startswith("mine · ") for o in options)
    assert [o for o in options if o.startswith(DEFAULT_MODEL)][0].split(" · ")[2] == "64x64"


def test_a_served_run_never_takes_a_catalog_id(tiny, tmp_path, entry, monkeypatch):
    path = tmp_path / "global.json"
    path.write_text(json.dumps({HOSTILE_ID: entry}))
    cat, problems = appkit.load_app_catalog(str(path), f"{HOSTILE_ID}={tiny}")
    assert HOSTILE_ID not in cat.local and cat.card(HOSTILE_ID).source == "medigan"
    assert any(f"'{HOSTILE_ID}={tiny}' left out" in p and "already" in p for p in problems)


# --------------------------------------------------------------------------- training images


def test_a_folder_runs_training_images_are_not_shown_without_the_operators_leave(
    patient_run, monkeypatch
):
    monkeypatch.setenv(appkit.MODELS_ENV, f"run={patient_run}")
    at = _generate(_app(), "run", 4, 0)
    _ok(at)
    for view in ("Memorization", "Visual Turing test"):
        at.session_state["view"] = view
        at.run()
        _ok(at)
        assert not at.get("image"), view  # no training image, no test image
        assert any(appviews.SHOW_TRAINING_ENV in i.value for i in at.info), view
        assert any("data folder" in i.value for i in at.info), view

    monkeypatch.setenv(appviews.SHOW_TRAINING_ENV, "1")  # the operator allows it
    at.session_state["view"] = "Memorization"
    at.run()
    _ok(at)
    captions = [c for e in at.get("image") for c in e.captions]
    assert sum(c.startswith("nearest training") for c in captions) == 4
    at.session_state["view"] = "Visual Turing test"
    at.run()
    _ok(at)
    assert at.get("image")[0].captions == ["Image 1 of 10"]
    assert any("a data folder on this server" in c.value for c in at.caption)
    assert not any("not patients" in c.value for c in at.caption)


def test_built_in_sets_are_shown_without_leave(tiny, monkeypatch):
    monkeypatch.setenv(appkit.MODELS_ENV, f"tiny={tiny}")  # trained on the built-in set
    at = _generate(_app(), "tiny", 2, 0)
    at.session_state["view"] = "Visual Turing test"
    at.run()
    _ok(at)
    assert at.get("image")[0].captions == ["Image 1 of 10"]
    assert any("template-derived, not patients" in c.value for c in at.caption)


# --------------------------------------------------------------------------- hub errors


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (UntrustedCodeError(HOSTILE_ID, "not from the official catalog"), "official catalog"),
        (RuntimeError("boom at /srv/secret/path"), "server log has the details"),
    ],
)
def test_hub_refusals_show_as_messages(error, message, tmp_path, entry, monkeypatch):
    from medgan_utils.hub import generate as hub_generate

    def refuse(*args, **kwargs):
        raise error

    monkeypatch.setattr(hub_generate, "fetch_model", refuse)
    path = tmp_path / "global.json"
    path.write_text(json.dumps({HOSTILE_ID: entry}))
    monkeypatch.setenv("MEDGAN_CATALOG", str(path))
    at = _generate(_app(), HOSTILE_ID, 2, 0)
    assert not at.exception
    (shown,) = at.error
    assert message in shown.value and "Traceback" not in shown.value and "/srv" not in shown.value


# --------------------------------------------------------------------------- in a browser


def test_a_malicious_link_fetches_and_links_nothing_in_a_real_browser(
    chromium, hostile_catalog, tmp_path
):
    import driver  # app/driver.py

    def outside(page) -> list[str]:  # noqa: ANN001
        """Links and sources on the page that lead to another host than the app's."""
        links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        sources = page.eval_on_selector_all("[src]", "els => els.map(e => e.src)")
        hosts = {urllib.parse.urlsplit(u).hostname for u in [*links, *sources]}
        return sorted(str(h) for h in hosts - {"127.0.0.1", None})

    env = {"MEDGAN_CATALOG": str(hostile_catalog), "MEDGAN_OFFLINE": "1"}
    query = urllib.parse.urlencode({"model": LINK, "n": "4", "seed": "0"})
    with driver.serve_app(env=env) as server, driver.browser(chromium) as context:
        requests: list[str] = []
        context.on("request", lambda r: requests.append(r.url))
        app = driver.AppPage(context.new_page(), server.url).open(query)
        page = app.page
        warning = page.get_by_text("The link's settings were ignored", exact=False)
        warning.wait_for()
        assert LINK in warning.inner_text().replace(appkit.WORD_JOINER, "")  # as text
        assert not outside(page)  # (the page's own URL holds the link's query: fine)

        app.select("Model", HOSTILE_ID).tab("Model card")  # the catalog's text, everywhere
        page.get_by_text("Every image this model produces is synthetic").wait_for()
        page.wait_for_timeout(500)  # anything the page would fetch has been asked for
        assert not outside(page)
        shown = page.inner_text("body").replace(appkit.WORD_JOINER, "")
        assert shown.count(LINK) >= 2  # the title in the sidebar and on the card, as text
        hosts = {urllib.parse.urlsplit(u).hostname for u in requests if "://" in u}
        assert hosts == {"127.0.0.1"}, requests
        assert not page.get_by_test_id("stException").count()
        assert "Traceback" not in server.output()
