"""The course's Streamlit app (capstone). Run: ``streamlit run app/streamlit_app.py``.

A thin view over ``medgan_utils``: widgets and layout only. Until the shipped generator
lands (issue 3) the page shows the built-in brain-MRI dataset the models are trained on.
"""

from __future__ import annotations

import logging

import numpy as np
import streamlit as st

import medgan_utils as mu

log = logging.getLogger("medgan.app")

st.set_page_config(page_title="Synthetic medical images with GANs", layout="wide")


@st.cache_resource(show_spinner="Building the built-in brain-MRI dataset (first run only)...")
def builtin_dataset(name: str, image_size: int) -> mu.MedicalImageDataset:
    return mu.load_dataset(name, image_size)


@st.cache_data
def sample_grid(name: str, image_size: int, count: int, seed: int) -> tuple[np.ndarray, list[str]]:
    ds = builtin_dataset(name, image_size)
    idx = np.random.default_rng(seed).choice(len(ds), size=min(count, len(ds)), replace=False)
    captions = [
        f"{ds.meta[i].subject} z={ds.meta[i].slice_index}"
        + (f" {ds.classes[int(ds.labels[i])]}" if ds.is_labelled else "")
        for i in idx
    ]
    return mu.make_grid(ds.images[idx], nrow=8), captions


st.title("Synthetic medical images with GANs")
st.caption(
    "The built-in dataset: axial slices of the MNI152 T1 brain template with simulated subject "
    "and scanner variation (and, in the labelled variant, simulated lesions and two simulated "
    "sites). It is template-derived, not patient data."
)

with st.sidebar:
    st.header("Dataset")
    name = st.selectbox("Variant", ["builtin", "builtin-labelled"])
    image_size = st.selectbox("Image size", list(mu.SUPPORTED_SIZES), index=1)
    count = st.slider("Images", min_value=1, max_value=64, value=32)
    seed = st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1)

try:
    ds = builtin_dataset(name, int(image_size))
    grid, captions = sample_grid(name, int(image_size), int(count), int(seed))
except Exception:  # one failure must not take the app down, and users see no traceback
    log.exception("could not load %s", name)
    st.error(f"Could not load the dataset '{name}'. The server log has the details.")
    st.stop()

info = mu.describe(ds, source=name)
cols = st.columns(4)
cols[0].metric("Images", info.n_images)
cols[1].metric("Virtual subjects", info.n_subjects)
cols[2].metric("Size", f"{info.image_size}x{info.image_size}")
cols[3].metric("Classes", ", ".join(info.classes) or "unlabelled")
st.image(grid, caption=f"{len(captions)} random slices (seed {seed})", output_format="PNG")
with st.expander("What the loader found"):
    st.code(info.to_text())
