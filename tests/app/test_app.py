"""The Streamlit app: the functions behind it (medgan_utils.appkit) and the page itself,
driven headless with streamlit.testing.v1.AppTest. No network (MEDGAN_OFFLINE)."""

from __future__ import annotations

import base64
import csv
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("streamlit")
import streamlit as st  # noqa: E402
from streamlit.runtime.media_file_manager import MediaFileManager  # noqa: E402
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402
from streamlit.testing.v1 import app_test as app_test_module  # noqa: E402

from medgan_utils import appkit  # noqa: E402
from medgan_utils.appkit import views as appviews  # noqa: E402
from medgan_utils.appkit.page import APP
from medgan_utils.data.synthetic import load_synthetic_dataset  # noqa: E402
from medgan_utils.exports import export_pngs
from medgan_utils.gan.models import DCGANConfig, Generator  # noqa: E402
from medgan_utils.gan.zoo import (
    DEFAULT_MODEL,
    generate,
    latent_noise,
    list_models,
    load_generator,
)
from medgan_utils.hub import catalog as hub  # noqa: E402
from medgan_utils.hub.export import export_medigan, read_package_metadata  # noqa: E402

REMOTE_ID, LOCAL_ID, CYCLE_ID = (
    "00000_DCGAN_TINY_REMOTE",
    "00001_DCGAN_TINY_LOCAL",
    "00002_CYCLEGAN_X",
)
MEDIA: dict[str, bytes] = {}
DEFERRED: dict[str, Callable[[], bytes]] = {}


class _RecordingStorage(MemoryMediaFileStorage):
    """AppTest's in-memory media store, remembering every file so tests can read the bytes
    behind image and download URLs."""

    def load_and_get_id(self, path_or_data, mimetype, kind, filename=None):  # noqa: ANN001
        file_id = super().load_and_get_id(path_or_data, mimetype, kind, filename)
        MEDIA[file_id] = self._files_by_id[file_id].content
        return file_id


class _RecordingManager(MediaFileManager):
    """AppTest's media manager, remembering deferred downloads (the ZIP is packed when the
    user presses its button) so tests can press them."""

    def add_deferred(self, data_callable, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        file_id = super().add_deferred(data_callable, *args, **kwargs)
        DEFERRED[file_id] = data_callable
        return file_id


def media(url: str) -> bytes:
    """The bytes behind an image or download URL: a media file, or inline (``data:``)."""
    if url.startswith("data:image/png;base64,"):
        return base64.b64decode(url.partition(",")[2])
    return MEDIA[Path(url).stem]


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", _RecordingStorage)
    monkeypatch.setattr(app_test_module, "MediaFileManager", _RecordingManager)
    monkeypatch.setenv("MEDGAN_OFFLINE", "1")
    monkeypatch.delenv("MEDGAN_CATALOG", raising=False)
    monkeypatch.delenv(appkit.MODELS_ENV, raising=False)
    st.cache_data.clear()


@pytest.fixture(scope="module")
def catalog_file(tmp_path_factory, tiny) -> Path:
    """A medigan catalog: one model hosted "remotely" (unreachable offline), one whose package
    link is a local file (downloads on first use, offline too), one image-to-image model."""
    folder = tmp_path_factory.mktemp("catalog")
    exported = export_medigan(tiny, folder / "tiny.zip", model_id=REMOTE_ID).zip
    (entry,) = read_package_metadata(exported).values()
    remote = json.loads(json.dumps(entry))
    remote["execution"]["package_link"] = f"https://zenodo.org/record/1/files/{REMOTE_ID}.zip"
    cycle = json.loads(json.dumps(entry))
    cycle["selection"]["type"] = "CycleGAN"
    cycle["selection"]["function"] = ["image to image"]
    path = folder / "global.json"
    path.write_text(json.dumps({REMOTE_ID: remote, LOCAL_ID: entry, CYCLE_ID: cycle}))
    return path


def _app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=120)


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _page(at: AppTest) -> AppTest:
    """The whole page again. A click on Generate reruns the grid's fragment alone: the browser
    keeps the rest of the page, but AppTest's tree then holds the fragment only; the next
    full run (what any sidebar change makes) shows the whole page."""
    return at if at.sidebar.selectbox else at.run()


def _generate(at: AppTest, model: str, count: int, seed: int) -> AppTest:
    _page(at).sidebar.selectbox(key="model").select(model).run()
    at.sidebar.slider(key="count").set_value(count)
    at.sidebar.number_input(key="seed").set_value(seed)
    return at.sidebar.button(key="generate").click().run()


def _grid(at: AppTest) -> list[bytes]:
    """The bytes of the images shown in the grid, in order."""
    images = [zip(e.captions, e.value, strict=True) for e in at.get("image")]
    shown = {caption: media(url) for pairs in images for caption, url in pairs}
    n = sum(c.startswith("synthetic #") and "enlarged" not in c for c in shown)
    return [shown[f"synthetic #{i + 1}"] for i in range(n)]


def _zip(at: AppTest) -> zipfile.ZipFile:
    """Press *Download all*: the ZIP is packed then (a deferred download), not with the grid."""
    (button,) = [b for b in at.get("download_button") if b.label.startswith("Download all")]
    assert not button.proto.url and button.proto.deferred_file_id
    return zipfile.ZipFile(io.BytesIO(DEFERRED[button.proto.deferred_file_id]()))


# --------------------------------------------------------------------------- appkit


@pytest.fixture(scope="module")
def local_catalog(tiny, tiny_cond) -> hub.Catalog:
    return hub.load_catalog(local_models={"tiny": tiny, "tiny-cond": tiny_cond})


@pytest.mark.parametrize(
    ("model", "count", "seed", "label", "truncation", "message"),
    [
        ("nope", 4, 0, None, None, "unknown model"),
        (["tiny"], 4, 0, None, None, "unknown model"),
        ("tiny", 0, 0, None, None, "between 1 and 64"),
        ("tiny", 65, 0, None, None, "between 1 and 64"),
        ("tiny", "12abc", 0, None, None, "whole number"),
        ("tiny", True, 0, None, None, "whole number"),
        ("tiny", 3.5, 0, None, None, "whole number"),
        ("tiny", float("nan"), 0, None, None, "whole number"),
        ("tiny", 4, -1, None, None, "between 0 and"),
        ("tiny", 4, 2**32, None, None, "between 0 and"),
        ("tiny", 4, "9" * 40, None, None, "whole number"),
        ("tiny", 4, 0, "lesion", None, "unknown class"),
        ("tiny-cond", 4, 0, "tumour", None, "unknown class"),
        ("tiny", 4, 0, None, 9.0, "between 0.1 and 3"),
        ("tiny", 4, 0, None, "wide", "must be a number"),
    ],
)
def test_requests_are_validated_whatever_the_widgets_allow(
    local_catalog, model, count, seed, label, truncation, message
):
    with pytest.raises(appkit.InvalidRequest, match=message):
        appkit.validate_request(local_catalog, model, count, seed, label, truncation)


def test_valid_requests_and_shared_links(local_catalog):
    req = appkit.validate_request(local_catalog, "tiny-cond", "12", 7.0, "lesion", "1.5")
    assert req == appkit.GenerationRequest("tiny-cond", 12, 7, "lesion", 1.5)
    assert appkit.query_request(local_catalog, appkit.query_params(req)) == req
    assert appkit.query_request(local_catalog, {"seed": "3"}) is None
    with pytest.raises(appkit.InvalidRequest):
        appkit.query_request(local_catalog, {"model": "tiny", "n": "1000", "seed": "1"})


def test_catalog_choices_say_what_each_model_needs(catalog_file, tiny):
    cat, problems = appkit.load_app_catalog(str(catalog_file), f"tiny={tiny},bad=/nowhere")
    assert problems and "bad=/nowhere" in problems[0]
    choices = {c.model_id: c for c in appkit.model_choices(cat)}
    # ours first, in the registry's order (the default model first), then served runs by id
    assert list(choices)[: len(list_models()) + 1] == [*list_models(), "tiny"]
    assert choices[REMOTE_ID].status == appkit.DOWNLOADS
    assert choices[CYCLE_ID].status == appkit.NEEDS_INPUT
    assert choices["tiny"].status == appkit.READY
    assert "MRI · 32x32 · downloads on first use" in choices[REMOTE_ID].label
    assert appkit.modality_choices(cat) == [appkit.ALL_MODALITIES, "MRI"]
    assert len(appkit.model_choices(cat, "MRI")) == len(choices)
    with pytest.raises(appkit.InvalidRequest, match="input images"):
        appkit.validate_request(cat, CYCLE_ID, 1, 0)


def test_real_catalog_choices(root):
    real = root.parent / "shared" / "medigan" / "global.json"
    if not real.exists():
        pytest.skip("medigan's catalog is not beside the project")
    cat, _ = appkit.load_app_catalog(str(real))
    choices = {c.model_id: c for c in appkit.model_choices(cat)}
    assert choices["00003_CYCLEGAN_MMG_DENSITY_FULL"].status == appkit.NEEDS_INPUT
    assert choices["00019_PGGAN_CHEST_XRAY"].label.startswith("00019_PGGAN_CHEST_XRAY · X-ray ·")
    assert appkit.max_count(choices["00019_PGGAN_CHEST_XRAY"].card) == 4  # 1024 x 1024 images
    assert appkit.class_options(choices["00012_C-DCGAN_MMG_MASSES"].card) == ["0", "1"]
    assert {"MRI", "Mammography", "X-ray", "Endoscopy"} <= set(appkit.modality_choices(cat))


def test_a_grid_is_the_files_the_cli_writes(local_catalog, tmp_path):
    model = appkit.load_model(local_catalog, "tiny")
    req = appkit.validate_request(local_catalog, "tiny", 37, 5)
    assert appkit.chunk_bounds(model, 37) == [(0, 37)]  # small images: one generator pass
    pngs = [
        png
        for a, b in appkit.chunk_bounds(model, 37)
        for png in appkit.generate_pngs(model, req, a, b)
    ]
    files = export_pngs(generate(model.generator, 37, 5), tmp_path, "tiny", 5)  # medgan generate
    assert [f.read_bytes() for f in files[:-1]] == pngs  # the same bytes as the CLI writes
    assert [f.name for f in files[:-1]] == [appkit.file_name(req, i) for i in range(37)]
    with Image.open(io.BytesIO(pngs[0])) as im:
        assert im.text == {"synthetic": "true", "model": "tiny", "seed": "5"}
    # a chunk is the rows of the whole request's noise (zoo.generate's start/stop)
    part = appkit.generate_pngs(model, req, 16, 32)
    assert appkit.decode_pngs(part).sub(appkit.decode_pngs(pngs[16:32])).abs().max() <= 1 / 127.5


def test_large_images_come_in_chunks(local_catalog, tiny):
    sizes = {}
    for size in (32, 64, 128):
        cfg = DCGANConfig(image_size=size, width=4, latent_dim=8)
        model = appkit.LoadedModel("m", local_catalog.card("tiny"), local_catalog, Generator(cfg))
        sizes[size] = appkit.chunk_size(model)
    assert sizes == {32: 64, 64: 64, 128: 16}
    assert appkit.chunk_bounds(model, 40) == [(0, 16), (16, 32), (32, 40)]


def test_truncation_and_classes(local_catalog):
    z = latent_noise(64, 100, seed=3, truncation=0.5)
    assert z.abs().max() <= 0.5 and torch.equal(z, latent_noise(64, 100, 3, 0.5))
    assert torch.equal(
        latent_noise(8, 100, 3),
        torch.randn(8, 100, generator=torch.Generator().manual_seed(3)),
    )
    model = appkit.load_model(local_catalog, "tiny-cond")
    balanced = appkit.validate_request(local_catalog, "tiny-cond", 4, 0)
    assert appkit.image_labels(model, balanced) == ["lesion", "no_lesion"] * 2
    pngs = appkit.generate_pngs(
        model, appkit.validate_request(local_catalog, "tiny-cond", 2, 0, "no_lesion", 1.0), 0, 2
    )
    with Image.open(io.BytesIO(pngs[0])) as im:
        assert im.text["label"] == "no_lesion" and im.text["truncation"] == "1.0"


def test_turing_score():
    items = [appviews.TuringItem(b"", s) for s in (True, False, True, False)]
    score = appviews.turing_score(items, [True, True, False, False])
    assert (score.correct, score.synthetic_caught, score.real_kept) == (2, 1, 1)
    assert score.accuracy == 0.5 and "2 of 4 right (50%)" in score.text()
    with pytest.raises(appkit.InvalidRequest):
        appviews.turing_score(items, [True])


def test_user_messages_are_short_and_name_no_files():
    from medgan_utils.errors import ModelNotAvailableError

    err = ModelNotAvailableError("X", "not on disk, and /srv/secret/path cannot be reached")
    assert "/srv" not in appkit.user_message(err, "X") and "network" in appkit.user_message(
        err, "X"
    )
    assert "server log" in appkit.user_message(RuntimeError("boom /etc/passwd"), "X")


# --------------------------------------------------------------------------- the page


def test_app_generates_with_the_shipped_model(tmp_path):
    assert DEFAULT_MODEL in list_models(), "the shipped generator's weights are missing"
    at = _app().run()
    _ok(at)
    assert at.sidebar.selectbox(key="model").value == DEFAULT_MODEL
    assert any("SYNTHETIC" in w.value.upper() for w in at.warning)  # ethics above the images
    _generate(at, DEFAULT_MODEL, 12, 7)
    _ok(at)
    grid = _grid(at)
    assert len(grid) == 12 and "12 synthetic images" in at.subheader[0].value
    G, _ = load_generator(DEFAULT_MODEL)
    shown = np.stack([np.asarray(Image.open(io.BytesIO(b))) for b in grid])
    expected = generate(G, 12, seed=7)  # as `medgan generate` makes them
    assert np.array_equal(shown, ((expected[:, 0].clamp(-1, 1) + 1) * 127.5).round().byte().numpy())
    assert dict(at.query_params) == {"model": DEFAULT_MODEL, "n": "12", "seed": "7"}

    archive = _zip(at)
    names = archive.namelist()
    pngs = [n for n in names if n.startswith("synthetic_")]
    assert len(pngs) == 12 and {"grid.png", "manifest.csv", "MODEL_CARD.md"} <= set(names)
    assert [archive.read(n) for n in pngs] == grid
    rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
    assert [r["file"] for r in rows] == pngs and {r["model_id"] for r in rows} == {DEFAULT_MODEL}
    assert [r["index"] for r in rows] == [str(i) for i in range(12)]
    assert {r["seed"] for r in rows} == {"7"} and {r["synthetic"] for r in rows} == {"true"}
    assert archive.read("MODEL_CARD.md").decode().startswith(f"# Model card: {DEFAULT_MODEL}")
    archive.extractall(tmp_path)  # the unzipped folder is a synthetic dataset of the package
    dataset = load_synthetic_dataset(tmp_path)
    assert len(dataset) == 12 and dataset[0]["groups"]["synthetic"] == "true"

    # the same seed gives the same bytes in a new session, recomputed; another seed does not
    st.cache_data.clear()
    again = _generate(_app().run(), DEFAULT_MODEL, 12, 7)
    assert _grid(again) == grid and _zip(again).read(pngs[3]) == grid[3]
    other = _generate(again, DEFAULT_MODEL, 12, 8)
    assert _grid(other)[0] != grid[0]


def test_generate_reruns_the_grid_alone():
    at = _app().run()
    at.sidebar.slider(key="count").set_value(4).run()
    at.sidebar.button(key="generate").click().run()
    _ok(at)
    assert len(_grid(at)) == 4  # the grid's fragment ran: sidebar, title, tabs were not sent
    assert not at.sidebar.selectbox and not at.title and not at.tabs
    # from another view the whole page reruns, on the Generate view
    _page(at).session_state["view"] = "Model card"
    at.run().sidebar.number_input(key="seed").set_value(5)
    at.sidebar.button(key="generate").click().run()
    _ok(at)
    assert at.session_state["view"] == "Generate" and at.title and len(_grid(at)) == 4
    assert dict(at.query_params) == {"model": DEFAULT_MODEL, "n": "4", "seed": "5"}


def test_the_server_settles_its_memory_once():
    code = (
        "import gc; from medgan_utils.appkit import settle_memory as settle; "
        "assert settle() and not settle() and gc.get_freeze_count() > 1000"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_unavailable_model_shows_a_message_and_the_app_keeps_working(catalog_file, monkeypatch):
    monkeypatch.setenv("MEDGAN_CATALOG", str(catalog_file))
    monkeypatch.setenv("MEDGAN_ALLOW_UNOFFICIAL_CODE", "1")  # not medigan's official catalog
    at = _generate(_app().run(), REMOTE_ID, 4, 0)
    assert not at.exception
    assert len(at.error) == 1 and "cannot be downloaded now" in at.error[0].value
    assert "Traceback" not in at.error[0].value and not _grid(at)

    _page(at).sidebar.selectbox(key="model").select(CYCLE_ID).run()
    assert at.sidebar.button(key="generate").disabled
    assert any("needs input images" in w.value for w in at.sidebar.warning)

    _generate(at, DEFAULT_MODEL, 3, 1)
    _ok(at)
    assert len(_grid(at)) == 3


def test_medigan_model_downloads_on_first_use_and_generates(catalog_file, monkeypatch):
    monkeypatch.setenv("MEDGAN_CATALOG", str(catalog_file))
    at = _generate(_app().run(), LOCAL_ID, 5, 2)
    _ok(at)
    grid = _grid(at)
    assert len(grid) == 5
    with Image.open(io.BytesIO(grid[0])) as im:
        assert im.size == (32, 32) and im.text["synthetic"] == "true"
    card = _zip(at).read("MODEL_CARD.md").decode()
    assert card.startswith(f"# Model card: {LOCAL_ID}") and "synthetic" in card


def test_a_link_reproduces_a_grid_and_bad_links_are_refused():
    at = _app()
    at.query_params.update({"model": DEFAULT_MODEL, "n": "2", "seed": "4"})
    at.run()
    _ok(at)
    assert len(_grid(at)) == 2 and at.sidebar.number_input(key="seed").value == 4
    bad = _app()
    bad.query_params.update({"model": DEFAULT_MODEL, "n": "1000000", "seed": "4"})
    bad.run()
    assert not bad.exception and not _grid(bad)
    assert any("between 1 and 64" in w.value for w in bad.warning)


def test_the_app_shows_the_card_medgan_card_writes(local_catalog, tiny):
    from medgan_utils.ethics.cards import card_for

    assert appkit.card_markdown(local_catalog, "tiny") == card_for(tiny, name="tiny")
    shipped = appkit.card_markdown(hub.load_catalog(), DEFAULT_MODEL)
    assert shipped == card_for(DEFAULT_MODEL)  # with its evaluation, audit and energy
    assert "real-vs-real floor" in shipped and "near-copies" in shipped


def test_tabs_card_interpolation_memorization_and_turing_test(tiny, monkeypatch):
    monkeypatch.setenv(appkit.MODELS_ENV, f"tiny={tiny}")
    at = _generate(_app().run(), "tiny", 6, 3)
    _ok(at)

    at.session_state["view"] = "Model card"
    at.run()
    _ok(at)
    assert at.markdown[0].value.startswith("## Model card: tiny")
    assert at.dataframe[0].value["model"].tolist()[-1] == "tiny"  # the catalog's table
    at.select_slider(key="eval_n").set_value(64)
    at.button(key="evaluate").click().run()
    _ok(at)
    metrics = at.table[0].value
    assert "domain KID" in metrics["metric"].tolist() or "pixel KID" in metrics["metric"].tolist()
    assert "floor (real vs real)" in metrics.columns

    at.session_state["view"] = "Interpolation"
    at.run()
    _ok(at)
    [image] = at.get("image")
    assert image.captions == ["synthetic: seed 0 -> seed 1"]

    at.session_state["view"] = "Memorization"
    at.run()
    _ok(at)
    captions = [e.captions[0] for e in at.get("image")]
    assert len(captions) == 12 and captions[0] == "synthetic #1"
    assert sum(c.startswith("nearest training, ratio ") for c in captions) == 6
    assert any("near-copies" in m.value for m in at.markdown)

    at.session_state["view"] = "Visual Turing test"
    at.run()
    for i in range(10):
        _ok(at)
        assert at.get("image")[0].captions == [f"Image {i + 1} of 10"]
        at.button(key="guess_synthetic").click().run()
    _ok(at)
    assert at.metric[0].label == "Your score" and at.metric[0].value.endswith("/ 10")
    assert sum(c.captions[0].startswith("SYNTHETIC") for c in at.get("image")) == 5


def test_class_and_truncation_of_a_conditional_model(tiny_cond, monkeypatch):
    monkeypatch.setenv(appkit.MODELS_ENV, f"cond={tiny_cond}")
    at = _app().run()
    at.sidebar.selectbox(key="model").select("cond").run()
    assert at.sidebar.selectbox(key="label").options == [
        "balanced (all classes)",
        "lesion",
        "no_lesion",
    ]
    at.sidebar.selectbox(key="label").select("no_lesion")
    at.sidebar.select_slider(key="truncation").set_value(1.0)
    _generate(at, "cond", 3, 9)
    _ok(at)
    assert "class no_lesion, truncation 1.0" in at.subheader[0].value
    with Image.open(io.BytesIO(_grid(at)[0])) as im:
        assert im.text["label"] == "no_lesion" and im.text["truncation"] == "1.0"
    rows = list(csv.DictReader(io.StringIO(_zip(at).read("manifest.csv").decode())))
    assert {r["label"] for r in rows} == {"no_lesion"} and {r["truncation"] for r in rows} == {
        "1.0"
    }
    query = dict(at.query_params)
    assert query == {
        "model": "cond",
        "n": "3",
        "seed": "9",
        "label": "no_lesion",
        "truncation": "1.0",
    }

    linked = _app()  # the link restores the grid and the widgets
    linked.query_params.update(query)
    linked.run()
    _ok(linked)
    assert _grid(linked) == _grid(at)
    assert linked.sidebar.selectbox(key="label").value == "no_lesion"
    assert linked.sidebar.select_slider(key="truncation").value == 1.0


def test_the_repository_entry_point_runs_the_page(root):
    """`streamlit run app/streamlit_app.py` runs the page that is in the package."""
    at = AppTest.from_file(str(root / "app" / "streamlit_app.py"), default_timeout=120).run()
    _ok(at)
    assert at.sidebar.selectbox(key="model").value == DEFAULT_MODEL
    assert at.sidebar.slider(key="count") is not None
