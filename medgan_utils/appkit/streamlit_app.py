"""The course's Streamlit app (capstone). Run: ``medgan app``, or from the repository
``streamlit run app/streamlit_app.py`` (which runs this file).

A thin view: widgets and layout only. What it computes comes from ``medgan_utils.appkit``
(the models, requests, generation, downloads and messages) and ``medgan_utils.appkit.views``
(the views beyond generation), over the package functions behind them (``gan.zoo``, ``hub``,
``exports``, ``evaluation``). Models load behind
``st.cache_resource``; images, ZIPs and analyses are cached with ``st.cache_data`` keyed by
(model, count, seed, options), so a request seen before is served at once.

A click on Generate reruns the Generate view alone (a fragment): the browser redraws the grid,
sent as one element of inline images, not the whole page. Every value the page echoes from a
link or a catalog is escaped (``appkit.escape_markdown``); training images are shown only as
``appviews.training_withheld`` allows. Errors become one short message on the page; the
details go to the server log.
"""

from __future__ import annotations

import logging

import streamlit as st

from medgan_utils import appkit
from medgan_utils.appkit import views as appviews
from medgan_utils.appkit.request import GenerationRequest
from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.data.load import BUILTIN_NAMES
from medgan_utils.hub.catalog import Catalog
from medgan_utils.hub.entries import ModelCard

log = logging.getLogger("medgan.app")
VIEWS = ["Generate", "Model card", "Interpolation", "Memorization", "Visual Turing test"]
COLUMNS = 8
THUMBNAIL = 128  # pixels on the page of each of the grid's images
GRID = "grid"  # the fragment of the Generate view: a click on Generate reruns it alone

st.set_page_config(page_title="Synthetic medical images with GANs", page_icon="🧠", layout="wide")


# ------------------------------------------------------------------ cached models and results
Key = tuple[str | None, str | None]  # appkit.catalog_key(): which catalog the app serves


@st.cache_resource(show_spinner="Reading the model catalog...", ttl=3600)
def catalog(key: Key) -> tuple[Catalog, list[str]]:
    return appkit.load_app_catalog(*key)


@st.cache_resource(show_spinner="Loading the model...", max_entries=8)
def model(model_id: str, key: Key) -> appkit.LoadedModel:
    return appkit.load_model(catalog(key)[0], model_id)


@st.cache_data(show_spinner=False, max_entries=512)
def images(request: GenerationRequest, start: int, stop: int, key: Key) -> list[bytes]:
    return appkit.generate_pngs(model(request.model_id, key), request, start, stop)


def all_images(request: GenerationRequest, key: Key) -> list[bytes]:
    bounds = appkit.chunk_bounds(model(request.model_id, key), request.count)
    return [png for start, stop in bounds for png in images(request, start, stop, key)]


@st.cache_data(show_spinner=False, max_entries=32)
def zip_file(request: GenerationRequest, key: Key) -> bytes:
    """Packed when the user presses Download (a deferred download), not on every grid."""
    return appkit.build_zip(model(request.model_id, key), request, all_images(request, key))


@st.cache_resource(show_spinner="Rebuilding the training set (first time only)...", max_entries=4)
def training_set(model_id: str, key: Key) -> MedicalImageDataset | None:
    return appviews.training_set(model(model_id, key))


@st.cache_data(show_spinner="Finding the nearest training images...", max_entries=64)
def nearest(request: GenerationRequest, key: Key) -> appviews.NearestView:
    train = training_set(request.model_id, key)
    return appviews.nearest_training(all_images(request, key), train, seed=request.seed)


@st.cache_data(show_spinner=False, max_entries=128)
def interpolation(model_id: str, a: int, b: int, steps: int, label: str | None, key: Key) -> bytes:
    return appviews.interpolation_png(model(model_id, key), a, b, steps, label)


@st.cache_data(show_spinner="Evaluating (about half a minute)...", max_entries=8)
def evaluation(model_id: str, n: int, key: Key) -> tuple[list[dict], list[str]]:
    return appviews.evaluate_model(model(model_id, key), training_set(model_id, key), n=n)


@st.cache_data(show_spinner="Preparing the test...", max_entries=32)
def turing(model_id: str, seed: int, key: Key) -> list[appviews.TuringItem]:
    return appviews.turing_round(model(model_id, key), training_set(model_id, key), 10, seed)


def show_error(err: BaseException, model_id: str) -> None:
    log.error("request for %s failed", model_id, exc_info=err)  # the details: server log only
    st.error(appkit.user_message(err, model_id))


# ------------------------------------------------------------------ callbacks


def new_seed() -> None:
    st.session_state["seed"] = appkit.random_seed()


def answer(synthetic: bool) -> None:
    st.session_state["turing_answers"].append(synthetic)


def new_turing_test() -> None:
    st.session_state["turing_seed"] = appkit.random_seed()
    st.session_state["turing_answers"] = []


def chosen_options(card: ModelCard) -> tuple[str | None, float | None]:
    """The class and truncation the sidebar holds for ``card`` (``None``: balanced, off)."""
    label, truncation = st.session_state.get("label"), st.session_state.get("truncation")
    label = label if label in appkit.class_options(card) else None
    truncation = truncation if appkit.supports_truncation(card) else None
    return label, truncation if truncation in appkit.TRUNCATIONS else None


def generate(cat: Catalog) -> None:
    """The Generate button: check the sidebar's request, keep it (and its link), show it.

    On the Generate view only the grid's fragment reruns (the sidebar, title and tabs stay as
    they are, so a click costs the browser the grid alone); from another view the whole page
    reruns and opens the Generate view.
    """
    state = st.session_state
    model_id = state.get("model")
    state["request_error"] = None
    try:
        options = chosen_options(cat.card(model_id)) if model_id in cat else (None, None)
        state["request"] = appkit.validate_request(
            cat, model_id, state.get("count"), state.get("seed"), *options
        )
        st.query_params.from_dict(appkit.query_params(state["request"]))
    except appkit.InvalidRequest as err:
        state["request_error"] = appkit.user_message(err, str(model_id))
    if state.get("view", VIEWS[0]) == VIEWS[0]:
        st.rerun(GRID)
    state["view"] = VIEWS[0]


# ------------------------------------------------------------------ views


@st.fragment(key=GRID)
def generate_view(key: Key) -> None:
    if error := st.session_state.get("request_error"):
        st.error(error)
    request = st.session_state.get("request")
    if request is None:
        st.info("Pick a model, the number of images and a seed in the sidebar, then **Generate**.")
        return
    try:
        loaded = model(request.model_id, key)
        bounds = appkit.chunk_bounds(loaded, request.count)
    except Exception as err:  # one failing model never takes the app down
        show_error(err, request.model_id)
        return
    st.subheader(f"{request.count} synthetic images: {appkit.escape_markdown(request.describe())}")
    status = st.empty()
    grid = st.empty()  # one element for all images: the browser lays out one, not 64
    pngs: list[bytes] = []
    try:
        for start, stop in bounds:  # each chunk appears as soon as it is generated
            status.caption(f"Generating images {start + 1} to {stop} of {request.count}...")
            pngs += images(request, start, stop, key)
            grid.image(  # inline: the images come with the grid, not in 64 requests after it
                [appkit.inline_png(png) for png in pngs],
                caption=[f"synthetic #{i + 1}" for i in range(len(pngs))],
                width=THUMBNAIL,
            )
    except Exception as err:
        status.empty()
        show_error(err, request.model_id)
        return
    status.caption(
        "SYNTHETIC images. Look closer at one below; its full-screen button enlarges it."
    )
    left, right, _ = st.columns([2, 2, 1])
    with left:
        st.download_button(
            f"Download all {request.count} (ZIP: PNGs, manifest.csv, model card)",
            data=lambda: zip_file(request, key),  # packed on the click, not with the grid
            file_name=appkit.zip_name(request),
            mime="application/zip",
            key="download_zip",
            on_click="ignore",
            type="primary",
        )
        if not 1 <= st.session_state.get("closer", 1) <= request.count:
            st.session_state["closer"] = 1
        i = int(st.number_input("Look closer at image #", 1, request.count, key="closer")) - 1
        st.download_button(
            f"Download image #{i + 1} (PNG)",
            data=pngs[i],
            file_name=appkit.file_name(request, i),
            mime="image/png",
            key="download_one",
            on_click="ignore",
        )
    enlarged = appkit.inline_png(pngs[i])
    right.image(enlarged, caption=f"synthetic #{i + 1}, enlarged", width="stretch")


def card_view(choice: appkit.ModelChoice, choices: list[appkit.ModelChoice], key: Key) -> None:
    cat = catalog(key)[0]
    st.markdown(appkit.card_markdown(cat, choice.model_id, demote=1))
    if choice.card.metrics:
        st.markdown("#### Metrics the catalog records")
        safe = appkit.escape_markdown  # the catalog's text: table cells are Markdown
        st.table([{"metric": safe(k), "value": safe(v)} for k, v in choice.card.metrics.items()])
        st.caption(
            "FID values of different models are comparable only when computed on the same real "
            "images with the same number of samples."
        )
    if choice.ours:
        metrics_section(choice, key)
    st.markdown("#### The catalog")
    st.caption(
        "Every model the picker offers (filtered by modality). medigan's models download on "
        "first use; image-to-image models need input images, which this app does not take."
    )
    st.dataframe(appkit.catalog_table(choices), hide_index=True, key="catalog_table")


def metrics_section(choice: appkit.ModelChoice, key: Key) -> None:
    st.markdown("#### Metrics with their floors")
    st.caption(
        "Each metric compares generated images with the training set, beside its floor: the "
        "same metric between two disjoint real subsets, what a perfect generator would score."
    )
    n = int(st.select_slider("Images per set", [64, 128, 256, 512], value=256, key="eval_n"))
    if st.button("Evaluate", key="evaluate"):
        st.session_state["evaluated"] = (choice.model_id, n)
    if st.session_state.get("evaluated") != (choice.model_id, n):
        return
    try:
        rows, notes = evaluation(choice.model_id, n, key)
    except Exception as err:
        show_error(err, choice.model_id)
        return
    st.table(rows)
    for note in notes:
        st.caption(note)


def interpolation_view(choice: appkit.ModelChoice, key: Key) -> None:
    if not choice.ours:
        st.info("Latent interpolation needs one of the project's own models (pick one).")
        return
    st.caption(
        "Images along the great circle between the noise of two seeds: a smooth path means the "
        "generator learned a continuous space rather than a list of images. All synthetic."
    )
    a_col, b_col, steps_col, label_col = st.columns(4)
    a = a_col.number_input("Seed A", 0, appkit.MAX_SEED, 0, key="seed_a")
    b = b_col.number_input("Seed B", 0, appkit.MAX_SEED, 1, key="seed_b")
    steps = steps_col.slider("Steps", 3, 16, 8, key="steps")
    classes = appkit.class_options(choice.card)
    label = label_col.selectbox("Class", classes, key="interp_label") if classes else None
    try:
        png = interpolation(choice.model_id, int(a), int(b), int(steps), label, key)
    except Exception as err:
        show_error(err, choice.model_id)
        return
    st.image(png, caption=f"synthetic: seed {a} -> seed {b}", width="stretch", output_format="PNG")


def memorization_view(request: GenerationRequest | None, key: Key) -> None:
    st.caption(
        "Each generated image beside its nearest training image (pixel distance on 32 x 32). "
        "A ratio well below 1 means the sample is closer to a training image than real images "
        "of other subjects come: a possible copy (marked COPY?)."
    )
    if request is None:
        st.info("Generate images first; this view checks them.")
        return
    try:
        withheld = appviews.training_withheld(model(request.model_id, key), show_training)
        if withheld is None and training_set(request.model_id, key) is None:
            withheld = "This model's training images are not on this server."
        if withheld is not None:
            st.info(withheld)
            return
        view = nearest(request, key)
    except Exception as err:
        show_error(err, request.model_id)
        return
    st.markdown(f"**{view.summary}**")
    columns = st.columns(COLUMNS)
    for i, (sample, near, ratio, flag) in enumerate(
        zip(view.samples, view.nearest, view.ratio, view.flagged, strict=True)
    ):
        mark = " COPY?" if flag else ""
        columns[(2 * i) % COLUMNS].image(
            sample, caption=f"synthetic #{i + 1}", width="stretch", output_format="PNG"
        )
        columns[(2 * i + 1) % COLUMNS].image(
            near,
            caption=f"nearest training, ratio {ratio:.2f}{mark}",
            width="stretch",
            output_format="PNG",
        )


def turing_view(choice: appkit.ModelChoice, key: Key) -> None:
    if not choice.ours:
        st.info("The test needs real training images: pick one of the project's own models.")
        return
    state = st.session_state
    if "turing_seed" not in state:
        new_turing_test()
    try:
        loaded = model(choice.model_id, key)
        if withheld := appviews.training_withheld(loaded, show_training):
            st.info(withheld)
            return
        builtin = loaded.meta.get("data") in BUILTIN_NAMES
        st.caption(
            "Ten images, about half real (from the training set: "
            + ("template-derived, not patients" if builtin else "a data folder on this server")
            + ") and half synthetic. Decide for each; the answers and your score come at the end."
        )
        items = turing(choice.model_id, state["turing_seed"], key)
    except Exception as err:
        show_error(err, choice.model_id)
        return
    answers = state["turing_answers"]
    if len(answers) < len(items):
        item = items[len(answers)]
        st.image(
            item.png,
            caption=f"Image {len(answers) + 1} of {len(items)}",
            width=256,
            output_format="PNG",
        )
        real, synthetic, _ = st.columns([1, 1, 4])
        real.button("Real", on_click=answer, args=(False,), key="guess_real")
        synthetic.button("Synthetic", on_click=answer, args=(True,), key="guess_synthetic")
        return
    score = appviews.turing_score(items, answers)
    st.metric("Your score", f"{score.correct} / {score.n}")
    st.write(score.text())
    columns = st.columns(min(len(items), 5))
    for i, (item, guess) in enumerate(zip(items, answers, strict=True)):
        truth = "SYNTHETIC" if item.synthetic else "real"
        verdict = "right" if guess == item.synthetic else "wrong"
        columns[i % len(columns)].image(
            item.png, caption=f"{truth} ({verdict})", width="stretch", output_format="PNG"
        )
    st.button("New test", on_click=new_turing_test, key="turing_new")


# ------------------------------------------------------------------ the page

# The environment, read once per run; everything below takes these values.
key = appkit.catalog_key()  # $MEDGAN_CATALOG, $MEDGAN_APP_MODELS
show_training = appviews.training_images_allowed()  # $MEDGAN_APP_SHOW_TRAINING_IMAGES
try:
    cat, problems = catalog(key)
except Exception as err:  # even the catalog failing leaves a page with a message
    show_error(err, "the model catalog")
    st.stop()
state = st.session_state
if "request" not in state:  # first run of this session: a shared link's request, if any
    try:
        state["request"] = appkit.query_request(cat, st.query_params.to_dict())
    except Exception as err:  # every value a link echoes is escaped: no link, no image
        state["request"] = None
        if not isinstance(err, appkit.InvalidRequest):
            log.error("a shared link failed", exc_info=err)
        st.warning(f"The link's settings were ignored: {appkit.escape_markdown(err)}.")
    if (linked := state["request"]) is not None:  # the widgets show the link's settings
        state["model"], state["count"], state["seed"] = linked.model_id, linked.count, linked.seed
        if linked.label is not None:
            state["label"] = linked.label
        if linked.truncation in appkit.TRUNCATIONS:
            state["truncation"] = linked.truncation

with st.sidebar:
    st.header("Generate")
    for problem in problems:  # a bad catalog or run folder: named here, the rest still served
        st.info(appkit.escape_markdown(problem, 400))
    modality = st.selectbox("Modality", appkit.modality_choices(cat), key="modality")
    choices = {c.model_id: c for c in appkit.model_choices(cat, modality)}
    if state.get("model") not in choices:
        state["model"] = next(iter(choices))
    model_id = st.selectbox(
        "Model", list(choices), format_func=lambda m: choices[m].label, key="model"
    )
    choice = choices[model_id]
    st.caption(f"{appkit.escape_markdown(choice.card.title)}. Status: **{choice.status}**.")
    if choice.ours:  # load it now (cached), so the first Generate is instant
        try:
            model(model_id, key)
        except Exception as err:
            show_error(err, model_id)
    most = appkit.max_count(choice.card)
    state["count"] = min(int(state.get("count", 16)), most)
    st.slider("Number of images", 1, most, key="count")
    state.setdefault("seed", 0)
    st.number_input("Seed", 0, appkit.MAX_SEED, step=1, key="seed")
    st.button("Random seed", icon=":material/casino:", on_click=new_seed, key="random_seed")
    classes = appkit.class_options(choice.card)
    if classes:
        options = ["balanced (all classes)", *classes]
        if state.get("label") not in options:
            state["label"] = options[0]
        st.selectbox("Class", options, key="label")
    if appkit.supports_truncation(choice.card):
        options = ["off", *appkit.TRUNCATIONS]
        if state.get("truncation") not in options:
            state["truncation"] = "off"
        st.select_slider("Truncation", options, key="truncation")
        st.caption("Truncation redraws noise values beyond the threshold: typical, less diverse.")
    if choice.status == appkit.NEEDS_INPUT:
        st.warning("This model needs input images; the app generates from noise only.")
    elif missing := appkit.missing_packages(choice.card):
        needs = appkit.escape_markdown(", ".join(missing))
        st.warning(f"This model needs pip packages this server lacks: {needs}.")
    st.button(
        "Generate",
        type="primary",
        key="generate",
        disabled=choice.status == appkit.NEEDS_INPUT,
        on_click=generate,
        args=(cat,),
    )

st.title("Synthetic medical images with GANs")
st.warning(appkit.ETHICS, icon="⚠️")
request = state.get("request")
tabs = st.tabs(VIEWS, key="view", on_change="rerun")  # only the open tab runs
with tabs[0]:
    if tabs[0].open:
        generate_view(key)
with tabs[1]:
    if tabs[1].open:
        card_view(choice, list(choices.values()), key)
with tabs[2]:
    if tabs[2].open:
        interpolation_view(choice, key)
with tabs[3]:
    if tabs[3].open:
        memorization_view(request, key)
with tabs[4]:
    if tabs[4].open:
        turing_view(choice, key)

if not st.get_option("global.appTest"):  # served: later reruns' collections skip what is loaded
    appkit.settle_memory()
