"""Dashboards are tested as a reader uses them: set widget values, click, check the display."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ipywidgets = pytest.importorskip("ipywidgets")

from medgan_utils.dashboards.dashboards import (  # noqa: E402
    CatalogBrowserDashboard,
    TuringTestDashboard,
    catalog_browser,
    turing_test,
)
from medgan_utils.dashboards.widgets import (  # noqa: E402
    DatasetExplorerDashboard,
    LatentExplorerDashboard,
    ToyGANDashboard,
    _png,
    dataset_explorer,
    latent_explorer,
    toy_gan_dashboard,
)
from medgan_utils.data.dataset import load_dataset  # noqa: E402
from medgan_utils.evaluation.turing import (  # noqa: E402
    TuringImage,
    TuringTest,
    accuracy_interval,
    heldout_set,
)
from medgan_utils.gan.toygan import ToyGANConfig  # noqa: E402
from medgan_utils.gan.zoo import (  # noqa: E402
    DEFAULT_MODEL,
    generate,
    interpolate,
    list_models,
    load_generator,
)
from medgan_utils.hub import usage as catalog_usage  # noqa: E402
from medgan_utils.hub.catalog import load_catalog  # noqa: E402
from medgan_utils.hub.usage import find_catalog_file, generate_code  # noqa: E402
from medgan_utils.viz import to_uint8  # noqa: E402

SMALL = ToyGANConfig(dims=1, modes=3, n_eval=300)


@pytest.fixture()
def dash() -> ToyGANDashboard:
    widget = toy_gan_dashboard(SMALL, steps_per_click=50, redraw_every=50)
    assert isinstance(widget, ipywidgets.Widget)
    return widget.dashboard


def test_importing_the_package_does_not_import_ipywidgets():
    code = (
        "import sys, medgan_utils, medgan_utils.gan.toygan, medgan_utils.dashboards.widgets, "
        "medgan_utils.dashboards.dashboards, medgan_utils.evaluation.turing, "
        "medgan_utils.hub.usage; "
        "assert 'ipywidgets' not in sys.modules, 'ipywidgets imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_dashboard_builds_without_a_display(dash: ToyGANDashboard):
    assert dash.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert "step 0" in dash.status.value
    assert set(dash.controls) == {"dims", "modes", "lr_g", "lr_d", "loss", "seed", "steps"}
    snap = dash.figure_data()
    assert snap.step == 0 and snap.dims == 1
    assert dash.widget.dashboard is dash


def test_train_click_changes_what_is_shown(dash: ToyGANDashboard):
    before, png_before = dash.figure_data(), dash.image.value
    dash.controls["steps"].value = 100
    dash.train_button.click()
    after = dash.figure_data()
    assert after.step == dash.gan.steps == 100
    assert not np.allclose(before.samples, after.samples)
    assert not np.allclose(before.discriminator, after.discriminator)
    assert np.array_equal(before.real_density, after.real_density)  # the data stay
    assert dash.image.value != png_before and "step 100" in dash.status.value
    assert not dash.train_button.disabled


def test_reset_restores_step_zero(dash: ToyGANDashboard):
    initial = dash.figure_data()
    dash.train_button.click()
    dash.reset_button.click()
    snap = dash.figure_data()
    assert snap.step == 0 and len(snap.d_real) == 0
    assert np.array_equal(snap.samples, initial.samples)  # same seed, same start


def test_data_controls_change_the_real_density(dash: ToyGANDashboard):
    dash.train_button.click()
    three = dash.figure_data().real_density
    dash.controls["modes"].value = 5
    snap = dash.figure_data()
    r = snap.real_density
    peaks = np.sum((r[1:-1] >= r[:-2]) & (r[1:-1] > r[2:]))  # >=: a peak between grid points
    assert peaks == 5 and snap.step == 0 and dash.gan.mixture.modes == 5
    assert snap.real_density.shape == three.shape and not np.allclose(snap.real_density, three)
    dash.controls["dims"].value = 2
    snap = dash.figure_data()
    assert snap.dims == 2 and snap.real_density.ndim == 2 and len(snap.means) == 5
    dash.controls["loss"].value = "hinge"
    assert dash.gan.config.loss == "hinge" and dash.figure_data().loss == "hinge"


def test_learning_rates_apply_without_a_reset(dash: ToyGANDashboard):
    dash.train_button.click()
    dash.controls["lr_g"].value = 1e-2
    dash.controls["lr_d"].value = 1e-4
    assert dash.gan.steps == 50  # same GAN, training goes on
    assert dash.gan.opt_g.param_groups[0]["lr"] == pytest.approx(1e-2)
    assert dash.gan.opt_d.param_groups[0]["lr"] == pytest.approx(1e-4)
    dash.train_button.click()
    assert dash.figure_data().step == 100


# -- latent explorer -----------------------------------------------------------------------


@pytest.fixture()
def latent() -> LatentExplorerDashboard:
    widget = latent_explorer()
    assert isinstance(widget, ipywidgets.Widget)
    return widget.dashboard


def test_latent_explorer_starts_at_seed_a_and_says_synthetic(latent: LatentExplorerDashboard):
    G = latent.G
    assert latent.controls["t"].value == 0.0
    assert torch.allclose(latent.current, generate(G, 1, latent.controls["seed_a"].value))
    assert latent.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert "synthetic" in latent.caption.value.lower()
    assert latent.path.shape == (8, 1, 64, 64)
    assert torch.allclose(latent.path, interpolate(G, 0, 1, 8), atol=1e-6)
    assert latent.widget.dashboard is latent


def test_latent_explorer_slider_moves_between_the_seeds(latent: LatentExplorerDashboard):
    c = latent.controls
    c["seed_a"].value, c["seed_b"].value = 3, 7
    at_a, png_a = latent.current.clone(), latent.image.value
    assert torch.allclose(at_a, generate(latent.G, 1, 3))
    c["t"].value = 0.5
    halfway = latent.current.clone()
    assert not torch.allclose(halfway, at_a) and latent.image.value != png_a
    assert "t = 0.50" in latent.caption.value
    c["t"].value = 1.0
    assert torch.allclose(latent.current, generate(latent.G, 1, 7))
    assert not torch.allclose(latent.current, halfway)
    assert torch.allclose(latent.path[0:1], generate(latent.G, 1, 3), atol=1e-5)


def test_latent_explorer_random_walk_changes_the_image(latent: LatentExplorerDashboard):
    latent.controls["t"].value = 0.25
    before, z_before, png = latent.current.clone(), latent.z.clone(), latent.image.value
    latent.walk_button.click()
    assert latent.walks == 1 and "1 random-walk step" in latent.caption.value
    assert not torch.allclose(latent.current, before) and latent.image.value != png
    assert latent.z.norm() == pytest.approx(float(z_before.norm()), rel=1e-4)  # small step
    assert 0 < (latent.z - z_before).norm() < z_before.norm()
    latent.walk_button.click()
    assert latent.walks == 2 and "synthetic" in latent.caption.value.lower()
    latent.controls["t"].value = 0.0  # back onto the path
    assert latent.walks == 0 and torch.allclose(latent.current, generate(latent.G, 1, 0))


# -- dataset explorer ----------------------------------------------------------------------


@pytest.fixture()
def explorer() -> DatasetExplorerDashboard:
    widget = dataset_explorer(n_subjects=2)
    assert isinstance(widget, ipywidgets.Widget)
    return widget.dashboard


def test_dataset_explorer_slice_and_axis_change_the_image(explorer: DatasetExplorerDashboard):
    c = explorer.controls
    assert c["source"].value == "MNI152 template volume"
    assert explorer.builtin_box.layout.display == "none"
    X, Y, Z = explorer.volume.shape
    assert explorer.pixels.shape == (Y, X) and c["slice"].max == Z - 1  # axial
    middle = explorer.pixels.copy()
    c["slice"].value = c["slice"].value + 20
    assert explorer.pixels.shape == middle.shape and not np.array_equal(explorer.pixels, middle)
    assert f"axial slice {c['slice'].value}" in explorer.info.value
    c["axis"].value = "sagittal"
    assert explorer.pixels.shape == (Z, Y) and c["slice"].max == X - 1
    assert c["slice"].value == X // 2 and "sagittal" in explorer.info.value
    c["axis"].value = "coronal"
    assert explorer.pixels.shape == (Z, X) and c["slice"].max == Y - 1


def test_dataset_explorer_window_changes_the_pixels(explorer: DatasetExplorerDashboard):
    c = explorer.controls
    wide, window = explorer.pixels.copy(), explorer.window
    c["low"].value, c["high"].value = 50.0, 80.0
    narrow = explorer.pixels
    assert explorer.window[0] > window[0] and explorer.window[1] < window[1]
    assert not np.array_equal(wide, narrow)
    assert (narrow == 255).sum() > (wide == 255).sum()  # more voxels above the window
    v = explorer.volume
    lo, hi = np.percentile(v[v > v.min()], [50, 80])
    assert explorer.window == pytest.approx((lo, hi), rel=0.02)


def test_dataset_explorer_shows_builtin_images_with_their_meta(
    explorer: DatasetExplorerDashboard,
):
    c = explorer.controls
    c["source"].value = "builtin-labelled"
    ds = explorer.dataset
    assert ds is not None and len(ds) == 64 and c["index"].max == 63
    assert (
        explorer.volume_box.layout.display == "none" and explorer.builtin_box.layout.display == ""
    )
    for i in (5, 40):
        c["index"].value = i
        item = ds[i]
        assert np.array_equal(explorer.pixels, to_uint8(ds.images[i, 0]))
        text = explorer.info.value
        assert f"<code>{item['subject']}</code>" in text
        assert f"slice level {item['slice_index']}" in text
        assert f"label <b>{ds.classes[item['label']]}</b>" in text
        assert f"site {item['groups']['site']}" in text
    assert item["subject"] == "vs-0001"  # image 40 is the second subject's
    c["source"].value = "builtin"
    assert "unlabelled" in explorer.info.value
    c["source"].value = "MNI152 template volume"
    assert explorer.pixels.shape == explorer.volume.shape[1::-1]


# -- visual Turing test: the logic ---------------------------------------------------------


@pytest.fixture(scope="module")
def generator_and_heldout():
    G, meta = load_generator(DEFAULT_MODEL)
    return G, heldout_set(meta, n_subjects=2)


def test_heldout_set_is_new_subjects_of_the_training_set_kind(generator_and_heldout):
    _, real = generator_and_heldout
    assert len(real) == 64 and real.images.shape[1:] == (1, 64, 64)
    seen = load_dataset("builtin", 64, n_subjects=2)  # the training set's first subjects
    assert not torch.allclose(real.images, seen.images)
    with pytest.raises(ValueError, match="not on a built-in set"):
        heldout_set({"data": "my_scans/"})


def test_a_round_has_the_count_asked_and_a_reproducible_coin(generator_and_heldout):
    G, real = generator_and_heldout
    test = TuringTest.draw(real, G, n=12, seed=3, model=DEFAULT_MODEL)
    again = TuringTest.draw(real, G, n=12, seed=3, model=DEFAULT_MODEL)
    assert test.n == 12 and not test.answers and not test.done
    truth = [im.synthetic for im in test.images]
    assert truth == [im.synthetic for im in again.images]
    pairs = zip(test.images, again.images, strict=True)
    assert all(np.array_equal(a.pixels, b.pixels) for a, b in pairs)
    assert truth == list(np.random.default_rng(3).random(12) < 0.5)  # the seeded coin
    assert 0 < sum(truth) < 12
    assert [im.synthetic for im in TuringTest.draw(real, G, 12, seed=4).images] != truth
    fakes = to_uint8(generate(G, sum(truth), seed=3)[:, 0])  # synthetic i is generate()'s i
    shown = [im.pixels for im in test.images if im.synthetic]
    assert all(np.array_equal(a, b) for a, b in zip(shown, fakes, strict=True))
    pool = to_uint8(real.images[:, 0])
    for im in test.images:
        assert im.pixels.shape == (64, 64) and im.pixels.dtype == np.uint8
        if not im.synthetic:
            assert any(np.array_equal(im.pixels, p) for p in pool)  # a held-out real image
            assert im.origin.startswith("real: subject vs-")
        else:
            assert im.origin.startswith(f"synthetic: {DEFAULT_MODEL}, seed 3, image ")
    with pytest.raises(ValueError, match="1 to"):
        TuringTest.draw(real, G, n=0)


def _hand_made(truth: list[bool]) -> TuringTest:
    blank = np.zeros((4, 4), np.uint8)
    return TuringTest([TuringImage(blank, t, f"image {i}") for i, t in enumerate(truth)])


def test_scoring_and_the_wilson_interval_on_a_hand_made_round():
    truth = [True, False, True, True, False, False, True, False, True, False]
    answers = [True, False, False, True, True, False, True, False, True, True]  # 7 right
    test = _hand_made(truth)
    assert test.interval() == (0.0, 1.0) and "0 of 10 answered" in test.summary()
    results = [test.answer(a) for a in answers]
    assert results == [t == a for t, a in zip(truth, answers, strict=True)]
    s = test.score()
    counts = (s.correct, s.n, s.synthetic_caught, s.n_synthetic, s.real_kept, s.n_real)
    assert counts == (7, 10, 4, 5, 3, 5)
    # Wilson by hand: (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)
    p, n, z = 0.7, 10, 1.959963984540054
    centre, half = p + z**2 / (2 * n), z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    expected = ((centre - half) / (1 + z**2 / n), (centre + half) / (1 + z**2 / n))
    assert test.interval() == pytest.approx(expected, abs=1e-9)
    assert accuracy_interval(7, 10) == pytest.approx((0.3968, 0.8922), abs=1e-4)
    assert accuracy_interval(10, 10)[1] == 1.0 and accuracy_interval(10, 10)[0] < 0.75
    assert "7 of 10 right (70%" in test.summary() and "includes chance" in test.summary()
    with pytest.raises(RuntimeError, match="round is over"):
        test.answer(True)


def test_the_reveal_lists_the_truth_only_at_the_end():
    truth = [True, False, False]
    test = _hand_made(truth)
    test.answer(False)
    with pytest.raises(RuntimeError, match="still to answer"):
        test.reveal()
    test.answer(False)
    test.answer(True)
    verdicts = test.reveal()
    assert [v.synthetic for v in verdicts] == truth
    assert [v.answer for v in verdicts] == [False, False, True]
    assert [v.correct for v in verdicts] == [False, True, False]
    assert [v.origin for v in verdicts] == ["image 0", "image 1", "image 2"]


# -- visual Turing test: the dashboard -----------------------------------------------------


@pytest.fixture()
def turing() -> TuringTestDashboard:
    widget = turing_test(n=4, seed=0, n_subjects=2)
    assert isinstance(widget, ipywidgets.Widget)
    return widget.dashboard


def test_turing_dashboard_shows_one_image_at_a_time(turing: TuringTestDashboard):
    test = turing.test
    assert test.n == 4 and test.seed == 0 and turing.widget.dashboard is turing
    assert turing.image.value == _png(test.images[0].pixels, scale=4)
    assert "Image 1 of 4" in turing.caption.value and not turing.reveal.children
    assert "synthetic" in turing.widget.children[0].value.lower()  # says what is shown
    turing.real_button.click()
    assert test.answers == [False] and "Image 2 of 4" in turing.caption.value
    assert turing.image.value == _png(test.images[1].pixels, scale=4)
    assert turing.score.value == ""  # no score mid-round: it would give answers away
    turing.synthetic_button.click()
    assert test.answers == [False, True]


def test_turing_dashboard_reveals_and_scores_at_the_end(turing: TuringTestDashboard):
    test = turing.test
    for _ in range(4):
        turing.synthetic_button.click()
    assert test.done and turing.finished == [test]
    assert turing.real_button.disabled and turing.synthetic_button.disabled
    assert turing.image.layout.display == "none"
    right = sum(im.synthetic for im in test.images)
    assert f"{right} of 4 right" in turing.caption.value and "Wilson" in turing.caption.value
    assert f"<b>All rounds so far</b>: {right} of 4 right" in turing.score.value
    assert len(turing.reveal.children) == 4
    for verdict, cell in zip(test.reveal(), turing.reveal.children, strict=True):
        assert ("SYNTHETIC" if verdict.synthetic else "real") in cell.children[1].value
        assert "you said synthetic" in cell.children[1].value
    turing.synthetic_button.click()  # disabled in the browser; ignored here
    assert len(test.answers) == 4
    turing.new_button.click()
    assert turing.test is not test and turing.test.seed == 1 and not turing.test.answers
    assert turing.controls["seed"].value == 1 and not turing.reveal.children
    assert not turing.real_button.disabled and "Image 1 of 4" in turing.caption.value
    for _ in range(4):
        turing.real_button.click()
    assert turing.total() == (right + turing.test.score().correct, 8)  # the running score


# -- catalog browser -----------------------------------------------------------------------


def _entry(title: str, kind: str, modality: list, organ: list, **execution) -> dict:
    """A catalog entry in the shape of medigan's config/global.json."""
    custom = execution.pop("custom", {})
    return {
        "execution": {
            "package_name": "pkg",
            "package_link": "https://zenodo.org/record/1/files/pkg.zip?download=1",
            "model_name": "weights",
            "extension": ".pt",
            "image_size": [128, 128],
            "dependencies": ["numpy"],
            "generate_method": {"name": "generate", "args": {"base": [], "custom": custom}},
            **execution,
        },
        "selection": {
            "performance": {"FID": 80.5},
            "organ": organ,
            "modality": modality,
            "type": kind,
            "tags": [],
        },
        "description": {"title": title, "comment": ""},
    }


CATALOG = {
    "00001_DCGAN_MMG_TEST": _entry("Mass patches", "DCGAN", ["MMG"], ["breast"]),
    "00002_CYCLEGAN_BRAIN_T1_T2": _entry(
        "T1 to T2 translation",
        "CycleGAN",
        ["T1", "T2"],
        ["Brain"],
        dependencies=["numpy", "surely-not-installed-medgan-pkg"],
        custom={"input_path": "models/x/inputs"},
    ),
    "00003_PGGAN_CXR_TEST": _entry("Whole chest radiographs", "PGGAN", ["x-ray"], ["lung"]),
}


@pytest.fixture()
def catalog_file(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MEDGAN_HOME", str(tmp_path / "home"))  # no cached catalog
    monkeypatch.delenv("MEDGAN_CATALOG", raising=False)
    path = tmp_path / "global.json"
    path.write_text(json.dumps(CATALOG))
    return path


@pytest.fixture()
def browser(catalog_file: Path) -> CatalogBrowserDashboard:
    widget = catalog_browser(catalog_file)
    assert isinstance(widget, ipywidgets.Widget)
    return widget.dashboard


def _shown(browser: CatalogBrowserDashboard) -> list[str]:
    ids = [r["model"] for r in browser.rows]
    assert list(browser.picker.options) == ids
    return ids


OURS = list(list_models())  # the shipped generators, DEFAULT_MODEL first
N_ALL = len(OURS) + 3


def test_catalog_browser_lists_every_model_and_says_where_from(browser, catalog_file):
    assert f"medigan catalog from {catalog_file}" in browser.source.value
    mine = f"{len(OURS)} of this project's"
    assert f"{N_ALL} models (3 of medigan's, {mine})" in browser.source.value
    assert _shown(browser) == [*OURS, *CATALOG]  # ours first
    assert f"{N_ALL} of {N_ALL} models match" in browser.table.value
    rows = {r["model"]: r for r in browser.rows}
    assert rows[DEFAULT_MODEL]["package"].endswith("MB, on disk")
    assert rows["00002_CYCLEGAN_BRAIN_T1_T2"]["generates from"] == "input images"
    assert rows["00002_CYCLEGAN_BRAIN_T1_T2"]["missing packages"] == (
        "surely-not-installed-medgan-pkg"
    )
    assert rows["00001_DCGAN_MMG_TEST"]["image size"] == "128x128"
    assert browser.picker.value == DEFAULT_MODEL and DEFAULT_MODEL in browser.card.value
    assert f"medgan generate --model {DEFAULT_MODEL} -n 16 --seed 0" in browser.code.value


@pytest.mark.parametrize(
    ("control", "value", "expected"),
    [
        ("modality", "MRI", [*list_models(), "00002_CYCLEGAN_BRAIN_T1_T2"]),
        ("anatomy", "breast", ["00001_DCGAN_MMG_TEST"]),
        ("type", "PGGAN", ["00003_PGGAN_CXR_TEST"]),
        ("inputs", True, ["00002_CYCLEGAN_BRAIN_T1_T2"]),
        ("text", "radiograph", ["00003_PGGAN_CXR_TEST"]),
    ],
)
def test_catalog_browser_filters(browser, control, value, expected):
    browser.controls[control].value = value
    assert _shown(browser) == expected
    assert f"{len(expected)} of {N_ALL} models match" in browser.table.value
    for model_id in [*OURS, *CATALOG]:
        assert (model_id in browser.table.value) == (model_id in expected)
    assert browser.picker.value == expected[0] and expected[0] in browser.card.value


def test_catalog_browser_selection_shows_the_card_and_the_lines(browser, catalog_file):
    browser.controls["modality"].value = "MRI"
    browser.picker.value = "00002_CYCLEGAN_BRAIN_T1_T2"
    card = browser.card.value
    assert "00002_CYCLEGAN_BRAIN_T1_T2: T1 to T2 translation" in card
    assert "FID" in card and "80.5" in card  # the metrics table
    code = browser.code.value
    assert (
        f"medgan generate --model 00002_CYCLEGAN_BRAIN_T1_T2 -n 16 --seed 0 --out samples/ "
        f"--catalog {catalog_file} --model-arg input_path=my_images/"
    ) in code
    assert "pip install surely-not-installed-medgan-pkg" in code
    assert "from medgan_utils.hub.generate import generate" in code
    browser.controls["n"].value, browser.controls["seed"].value = 4, 7
    assert "-n 4 --seed 7" in browser.code.value
    browser.controls["anatomy"].value = "brain"  # still matches: the choice stays
    assert browser.picker.value == "00002_CYCLEGAN_BRAIN_T1_T2"
    browser.controls["text"].value = "no such model"
    assert _shown(browser) == [] and "No model matches" in browser.table.value
    assert browser.picker.value is None and browser.card.value == browser.code.value == ""


def test_generate_code_for_our_model_runs_as_shown():
    card = load_catalog(include_project=True, download=False).card(DEFAULT_MODEL)
    python, cli = generate_code(card, n=3, seed=5)
    assert cli == f"medgan generate --model {DEFAULT_MODEL} -n 3 --seed 5 --out samples/"
    scope: dict = {}
    exec(python, scope)  # the line a reader copies works
    assert torch.equal(scope["images"], generate(load_generator(DEFAULT_MODEL)[0], 3, seed=5))


def test_catalog_browser_finds_a_catalog_offline(catalog_file, monkeypatch):
    monkeypatch.setattr(catalog_usage, "CHECKOUT_CATALOG", catalog_file)
    assert find_catalog_file() == str(catalog_file)  # the copy beside the checkout
    monkeypatch.setenv("MEDGAN_CATALOG", "/elsewhere/global.json")
    assert find_catalog_file() == "/elsewhere/global.json"
    monkeypatch.delenv("MEDGAN_CATALOG")
    assert f"medigan catalog from {catalog_file}" in catalog_browser().dashboard.source.value
    monkeypatch.setattr(catalog_usage, "CHECKOUT_CATALOG", catalog_file.parent / "none.json")
    only_ours = catalog_browser().dashboard  # MEDGAN_OFFLINE: no download
    assert "the project's models only" in only_ours.source.value
    assert "could not be fetched" in only_ours.source.value and _shown(only_ours) == OURS


# -- bias audit ----------------------------------------------------------------------------

BIAS_DATA = {"n_subjects": 16, "seed": 1}  # both classes at both sites (asserted below)
BIAS_TRAIN = {"n_subjects": 16, "seed": 0}  # other virtual subjects
SPLIT_SEED = 1  # its subject split with both classes in every part


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread while the bias-audit tests train and predict (2 shared cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory, one_thread) -> Path:
    """A width-4 classifier trained for a few steps, saved like any checkpoint."""
    from medgan_utils.downstream.classifier import (
        ClassifierConfig,
        FitConfig,
        LesionClassifier,
        fit_classifier,
        save_classifier,
    )
    from medgan_utils.downstream.finetune import as_labelled, split_real

    real = as_labelled(load_dataset("builtin-labelled", 64, **BIAS_TRAIN))
    pool, val, _ = split_real(real, seed=SPLIT_SEED)
    torch.manual_seed(0)
    model = LesionClassifier(ClassifierConfig(width=4))
    fit = FitConfig(epochs=2, min_epochs=1, patience=1, steps_per_epoch=4)
    fit_classifier(model, pool.pair(), val.pair(), fit)
    with torch.no_grad():  # sharpen: its scores (all near 0.5) spread over [0, 1], same ranking
        model.head[-1].weight *= 150
        model.head[-1].bias *= 150
    info = {"positive_class": "lesion", "trained_on": "16 virtual subjects (a test)"}
    return save_classifier(model, tmp_path_factory.mktemp("bias") / "tiny.safetensors", info)


@pytest.fixture(scope="module")
def bias_scores(tiny_classifier: Path):
    from medgan_utils.dashboards.dashboards import audit_scores

    return audit_scores(tiny_classifier, **BIAS_DATA)


@pytest.fixture()
def bias(bias_scores):
    from medgan_utils.dashboards.dashboards import BiasAuditDashboard

    return BiasAuditDashboard(bias_scores, n_boot=50)


def _direct_report(tiny_classifier: Path, threshold: float, n_boot: int = 50):
    """The audit computed without the dashboard: load, score, subgroup_metrics."""
    from medgan_utils.downstream.classifier import load_classifier, predict
    from medgan_utils.downstream.finetune import as_labelled
    from medgan_utils.ethics.audit import subgroup_metrics

    model, _ = load_classifier(tiny_classifier)
    ds = load_dataset("builtin-labelled", 64, **BIAS_DATA)
    data = as_labelled(ds)
    scores = predict(model, data.images)
    sites = np.array([m.groups["site"] for m in ds.meta])
    for site in ("A", "B"):  # the test data has both classes at both sites
        assert set(data.targets.numpy()[sites == site]) == {0, 1}
    report = subgroup_metrics(
        data.targets.numpy(), scores, sites, threshold, n_boot, 0, data.subjects, attribute="site"
    )
    return scores, report


def test_bias_audit_builds_its_widget_and_says_what_it_audits(tiny_classifier: Path, one_thread):
    from medgan_utils.dashboards.dashboards import bias_audit
    from medgan_utils.ethics.audit import SUBGROUP_METRICS

    widget = bias_audit(tiny_classifier, **BIAS_DATA, n_boot=30)
    dash = widget.dashboard
    assert isinstance(widget, ipywidgets.Widget) and dash.widget is widget
    c = dash.controls
    assert c["group"].options == ("site",) and c["group"].value == "site"
    assert c["metric"].options == SUBGROUP_METRICS
    assert (c["threshold"].min, c["threshold"].max, c["threshold"].value) == (0.05, 0.95, 0.5)
    assert c["n_boot"].value == 30 and dash.report.n_boot <= 30
    assert "tiny.safetensors" in dash.source.value and "16 virtual subjects (a test)" in (
        dash.source.value
    )
    assert "(loaded from a file)" in dash.source.value
    assert "512 slices" in dash.source.value and "(seed 1)" in dash.source.value
    assert "no patient data" in dash.source.value
    assert "at or above the threshold count as <b>lesion</b>" in dash.explain.value
    assert dash.image.value[:8] == b"\x89PNG\r\n\x1a\n"


def test_bias_audit_shows_what_subgroup_metrics_computes(bias, tiny_classifier: Path):
    for threshold in (0.5, 0.3):
        bias.controls["threshold"].value = threshold
        scores, report = _direct_report(tiny_classifier, threshold)
        np.testing.assert_array_equal(bias.scores.scores, scores)
        assert bias.report.to_dict() == report.to_dict()
        for site in ("A", "B"):
            for estimate in report.by_group[site].values():
                assert estimate.to_text() in bias.table.value
            assert f"site {site} {report.by_group[site]['sensitivity'].to_text()}" in (
                bias.summary.value
            )
        assert report.gaps["sensitivity"].to_text() in bias.summary.value
        assert report.equalized_odds.to_text() in bias.summary.value
        assert report.equalized_odds.to_text() in bias.table.value
        called = int((scores >= threshold).sum())
        assert f"at {threshold:.2f}, {called} of {len(scores)} images" in bias.explain.value


def test_bias_audit_higher_threshold_calls_fewer_lesions(bias):
    bias.controls["metric"].value = "positive_rate"
    shown = []
    for threshold in (0.05, 0.35, 0.5, 0.65, 0.95):
        bias.controls["threshold"].value = threshold
        metric, estimates = bias.plotted
        assert metric == "positive_rate" and bias.report.threshold == threshold
        rate = {g: e.value for g, e in estimates.items()}
        sens = {g: bias.report.by_group[g]["sensitivity"].value for g in rate}
        shown.append((rate, sens))
        for g, e in estimates.items():
            assert f"site {g} {e.to_text()}" in bias.summary.value
    for (rate, sens), (rate2, sens2) in itertools.pairwise(shown):
        assert all(rate2[g] <= rate[g] and sens2[g] <= sens[g] for g in rate)
    totals = [sum(rate.values()) for rate, _ in shown]
    assert totals == sorted(totals, reverse=True) and len(set(totals)) == len(totals)  # it moved


def test_bias_audit_metric_dropdown_changes_the_plot_not_the_audit(bias):
    report, png = bias.report, bias.image.value
    assert bias.plotted[0] == "sensitivity"
    bias.controls["metric"].value = "auroc"
    metric, estimates = bias.plotted
    assert metric == "auroc" and bias.report is report  # the scores were not audited again
    assert estimates == {g: report.by_group[g]["auroc"] for g in report.counts}
    assert bias.image.value != png and "<b>auroc</b>" in bias.summary.value
    assert "font-weight:bold; background:#eef'><td>auroc</td>" in bias.table.value
    bias.controls["threshold"].value = 0.3
    bias.controls["threshold"].value = 0.5
    assert bias.report is report  # moving back reuses the audit


def test_bias_audit_rejects_a_group_the_metadata_lacks(bias, bias_scores):
    from medgan_utils.dashboards.dashboards import BiasAuditDashboard
    from medgan_utils.errors import DataError

    with pytest.raises(DataError, match=r"no group 'scanner' in its metadata \(groups: site\)"):
        BiasAuditDashboard(bias_scores, group="scanner")
    with pytest.raises(DataError, match="no group 'scanner'"):
        bias.audit(group="scanner")
    with pytest.raises(ValueError, match="metric must be one of"):
        BiasAuditDashboard(bias_scores, metric="accuracy")


def test_bias_audit_trains_a_real_only_classifier_on_other_subjects(one_thread):
    from medgan_utils.dashboards.dashboards import audit_scores
    from medgan_utils.downstream.classifier import ClassifierConfig, FitConfig
    from medgan_utils.downstream.finetune import FinetuneConfig

    fit = FitConfig(epochs=1, min_epochs=1, patience=1, steps_per_epoch=2)
    training = FinetuneConfig(fit=fit, classifier=ClassifierConfig(width=4), seed=SPLIT_SEED)
    scores = audit_scores(None, **BIAS_DATA, train_subjects=16, train_seed=0, training=training)
    assert scores.scores.shape == scores.targets.shape == (512,)
    assert "real-only classifier" in scores.classifier
    assert "built-in labelled set, seed 0" in scores.classifier
    assert "none of whom it trained on" in scores.data
    with pytest.raises(ValueError, match="audited on the virtual subjects it was trained on"):
        audit_scores(None, seed=0, train_seed=0)


def test_bias_audit_says_why_it_cannot_audit():
    from medgan_utils.dashboards.dashboards import AuditScores, BiasAuditDashboard

    targets = np.array([0, 1, 0, 1, 0, 0, 0, 0])  # site B has no lesion image
    sites = np.array(["A"] * 4 + ["B"] * 4)
    scores = AuditScores(
        targets, np.linspace(0, 1, 8), np.arange(8).astype(str), {"site": sites}, "hand-made", "8"
    )
    dash = BiasAuditDashboard(scores, n_boot=20)
    assert dash.report is None and dash.plotted is None
    assert "Cannot audit" in dash.summary.value and "both classes" in dash.summary.value
