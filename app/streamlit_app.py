"""The course's Streamlit app (capstone). Run: ``streamlit run app/streamlit_app.py``.

A thin view over ``medgan_utils``: widgets and layout only. It generates images with the
shipped brain-MRI DCGAN (or any run folder), and shows the built-in dataset it learned from.
"""

from __future__ import annotations

import logging

import numpy as np
import streamlit as st

import medgan_utils as mu
from medgan_utils import zoo

log = logging.getLogger("medgan.app")

st.set_page_config(page_title="Synthetic medical images with GANs", layout="wide")


@st.cache_resource(show_spinner="Loading the generator...")
def generator(model: str) -> tuple[mu.Generator, dict]:
    return zoo.load_generator(model)


@st.cache_data(show_spinner="Generating...")
def generated_grid(model: str, count: int, seed: int) -> np.ndarray:
    G, _ = generator(model)
    return mu.make_grid(zoo.generate(G, count, seed=seed), nrow=8)


@st.cache_resource(show_spinner="Building the built-in brain-MRI dataset (first run only)...")
def builtin_dataset(name: str, image_size: int) -> mu.MedicalImageDataset:
    return mu.load_dataset(name, image_size)


@st.cache_data
def sample_grid(name: str, image_size: int, count: int, seed: int) -> np.ndarray:
    ds = builtin_dataset(name, image_size)
    idx = np.random.default_rng(seed).choice(len(ds), size=min(count, len(ds)), replace=False)
    return mu.make_grid(ds.images[idx], nrow=8)


def generate_page(count: int, seed: int) -> None:
    models = list(zoo.list_models())
    if not models:
        st.warning("No shipped model is on disk; showing the built-in dataset instead.")
        return dataset_page(count, seed)
    model = st.sidebar.selectbox("Model", models)
    try:
        _, card = generator(model)
        grid = generated_grid(model, count, seed)
    except Exception:  # one failing model must not take the app down; no traceback shown
        log.exception("generation failed for %s", model)
        st.error(f"Could not generate with '{model}'. The server log has the details.")
        return
    st.subheader(f"{model}: {count} synthetic images, seed {seed}")
    st.caption(
        "SYNTHETIC images from a DCGAN trained on the built-in, template-derived brain-MRI "
        f"set ({card.get('epochs', '?')} epochs). Not patient data; not for clinical use."
    )
    st.image(grid, caption=f"synthetic, seed {seed}", output_format="PNG")


def dataset_page(count: int, seed: int) -> None:
    name = st.sidebar.selectbox("Variant", ["builtin", "builtin-labelled"])
    image_size = st.sidebar.selectbox("Image size", list(mu.SUPPORTED_SIZES), index=1)
    try:
        ds = builtin_dataset(name, int(image_size))
        grid = sample_grid(name, int(image_size), count, seed)
    except Exception:
        log.exception("could not load %s", name)
        st.error(f"Could not load the dataset '{name}'. The server log has the details.")
        return
    st.caption(
        "The built-in dataset: axial slices of the MNI152 T1 brain template with simulated "
        "subject and scanner variation (and, in the labelled variant, simulated lesions and two "
        "simulated sites). It is template-derived, not patient data."
    )
    info = mu.describe(ds, source=name)
    cols = st.columns(4)
    cols[0].metric("Images", info.n_images)
    cols[1].metric("Virtual subjects", info.n_subjects)
    cols[2].metric("Size", f"{info.image_size}x{info.image_size}")
    cols[3].metric("Classes", ", ".join(info.classes) or "unlabelled")
    st.image(
        grid,
        caption=f"{min(count, info.n_images)} random slices (seed {seed})",
        output_format="PNG",
    )
    with st.expander("What the loader found"):
        st.code(info.to_text())


st.title("Synthetic medical images with GANs")
with st.sidebar:
    page = st.radio("Show", ["Generate", "Training data"])
    count = int(st.slider("Images", min_value=1, max_value=64, value=32))
    seed = int(st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1))

if page == "Generate":
    generate_page(count, seed)
else:
    dataset_page(count, seed)
