"""Public datasets by name, as facts: files, URLs, MD5 sums, licences, modalities, classes.

Two kinds of entry:

- **MedMNIST v2** (2-D, 12 sets), at every size it publishes: 28 px and the MedMNIST+ files
  of 64, 128 and 224 px, on Zenodo record 10519652. :mod:`medgan_utils.data.fetch`
  downloads a file on first use and checks its MD5.
- **Recipes** for sets behind an account or a licence (the brain-tumour MRI set on Kaggle,
  IXI, BraTS 2021): what to fetch, from where, and where to put it
  (``$MEDGAN_HOME/datasets/<name>/``); :mod:`medgan_utils.data.public` loads them from there.

The MedMNIST facts (file names, URLs, MD5 sums, classes, split sizes, licences) are copied
from ``medmnist/info.py`` of medmnist 3.0.2 (``pip download medmnist==3.0.2 --no-deps``);
the modality and source columns summarise each set's description there. medmnist itself is
not imported: its download goes through torchvision, which does not import beside the torch
build this project pins, and importing it creates ``~/.medmnist``. Its 3-D sets
(``*mnist3d``) are left out: the readers here return 2-D images.

MedMNIST asks users to cite Yang et al., "MedMNIST v2", Scientific Data 10, 41 (2023), and
the paper of each source dataset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "MEDMNIST_SIZES",
    "PUBLIC_DATASETS",
    "ZENODO_FILES",
    "PublicDataset",
    "RemoteFile",
]

ZENODO_FILES = "https://zenodo.org/records/10519652/files"  # MedMNIST+ (v3.0) files
MEDMNIST_SIZES = (28, 64, 128, 224)  # the image sides MedMNIST publishes
MEDMNIST_HOMEPAGE = "https://medmnist.com/"


@dataclass(frozen=True)
class RemoteFile:
    """One file to download: its official name, URL and MD5 sum (hex)."""

    name: str
    url: str
    md5: str


@dataclass(frozen=True)
class PublicDataset:
    """What is known about one public dataset, and how to get and read it.

    Attributes:
        name: the name ``load_dataset`` and ``medgan data`` take (lower case).
        title, modality, task, source, homepage, licence: the dataset card. ``task`` is the
            publisher's word (MedMNIST's ``"binary-class"``, ``"multi-class"``,
            ``"multi-label, binary-class"``, ``"ordinal-regression"``).
        classes: class names in label order (label ``i`` is ``classes[i]``).
        channels: colour channels of the published images (read as grey either way).
        splits: the publisher's split sizes, in ``unit`` (``"images"`` or ``"subjects"``).
        layout: how the files are read: ``"medmnist"`` (one ``.npz`` per size),
            ``"class-folders"`` (one folder per split, one subfolder per class) or
            ``"nifti"`` (volumes, one file per subject and sequence).
        files: MedMNIST: the file of each published image side.
        kaggle: the ``kagglehub`` dataset handle, when the set can come from Kaggle.
        how_to_get: what to fetch by hand, from where, and where to put it (``{folder}``
            stands for ``$MEDGAN_HOME/datasets/<name>``).
        split_folders: ``"class-folders"``: the folder of each split.
        sequences: ``"nifti"``: the MRI sequences, the first the default.
        pattern: ``"nifti"``: the file name of one volume, ``{sequence}`` filled in.
        subject_regex: ``"nifti"``: a regex on the file name with a ``subject`` group and
            optionally a ``site`` group (kept as the ``site`` group for audits).
    """

    name: str
    title: str
    modality: str
    task: str
    classes: tuple[str, ...]
    channels: int
    splits: Mapping[str, int]
    licence: str
    source: str
    homepage: str
    layout: Literal["medmnist", "class-folders", "nifti"]
    unit: str = "images"
    files: Mapping[int, RemoteFile] = field(default_factory=dict)
    kaggle: str = ""
    how_to_get: str = ""
    split_folders: Mapping[str, str] = field(default_factory=dict)
    sequences: tuple[str, ...] = ()
    pattern: str = ""
    subject_regex: str = ""

    @property
    def sizes(self) -> tuple[int, ...]:
        """The image sides published as files (MedMNIST), smallest first; else ``()``."""
        return tuple(sorted(self.files))


def _medmnist(
    name: str,
    title: str,
    *,
    modality: str,
    source: str,
    task: str,
    classes: tuple[str, ...],
    channels: int,
    splits: dict[str, int],
    licence: str,
    md5: tuple[str, str, str, str],
) -> PublicDataset:
    """A MedMNIST entry; ``md5`` lists the sums of the 28, 64, 128 and 224 px files."""
    files = {}
    for size, digest in zip(MEDMNIST_SIZES, md5, strict=True):
        file = f"{name}.npz" if size == 28 else f"{name}_{size}.npz"
        files[size] = RemoteFile(file, f"{ZENODO_FILES}/{file}?download=1", digest)
    return PublicDataset(
        name=name,
        title=title,
        modality=modality,
        task=task,
        classes=classes,
        channels=channels,
        splits=splits,
        licence=licence,
        source=f"MedMNIST v2 (Yang et al., 2023), from {source}",
        homepage=MEDMNIST_HOMEPAGE,
        layout="medmnist",
        files=files,
    )


_MEDMNIST = [
    _medmnist(
        "pathmnist",
        "PathMNIST",
        modality="colon pathology (H&E)",
        source="NCT-CRC-HE-100K and CRC-VAL-HE-7K",
        task="multi-class",
        classes=(
            "adipose",
            "background",
            "debris",
            "lymphocytes",
            "mucus",
            "smooth muscle",
            "normal colon mucosa",
            "cancer-associated stroma",
            "colorectal adenocarcinoma epithelium",
        ),
        channels=3,
        splits={"train": 89996, "val": 10004, "test": 7180},
        licence="CC BY 4.0",
        md5=(
            "a8b06965200029087d5bd730944a56c1",
            "55aa9c1e0525abe5a6b9d8343a507616",
            "ac42d08fb904d92c244187169d1fd1d9",
            "2c51a510bcdc9cf8ddb2af93af1eadec",
        ),
    ),
    _medmnist(
        "chestmnist",
        "ChestMNIST",
        modality="chest X-ray",
        source="NIH ChestX-ray14",
        task="multi-label, binary-class",
        classes=(
            "atelectasis",
            "cardiomegaly",
            "effusion",
            "infiltration",
            "mass",
            "nodule",
            "pneumonia",
            "pneumothorax",
            "consolidation",
            "edema",
            "emphysema",
            "fibrosis",
            "pleural",
            "hernia",
        ),
        channels=1,
        splits={"train": 78468, "val": 11219, "test": 22433},
        licence="CC BY 4.0",
        md5=(
            "02c8a6516a18b556561a56cbdd36c4a8",
            "9de6cd0b934ebb5b7426cfba5efbae16",
            "db107e5590b27930b62dbaf558aebee3",
            "45bd33e6f06c3e8cdb481c74a89152aa",
        ),
    ),
    _medmnist(
        "dermamnist",
        "DermaMNIST",
        modality="dermatoscopy",
        source="HAM10000",
        task="multi-class",
        classes=(
            "actinic keratoses and intraepithelial carcinoma",
            "basal cell carcinoma",
            "benign keratosis-like lesions",
            "dermatofibroma",
            "melanoma",
            "melanocytic nevi",
            "vascular lesions",
        ),
        channels=3,
        splits={"train": 7007, "val": 1003, "test": 2005},
        licence="CC BY-NC 4.0",
        md5=(
            "0744692d530f8e62ec473284d019b0c7",
            "b70a2f5635c6199aeaa28c31d7202e1f",
            "2defd784463fa5243564e855ed717de1",
            "8974907d8e169bef5f5b96bc506ae45d",
        ),
    ),
    _medmnist(
        "octmnist",
        "OCTMNIST",
        modality="retinal OCT",
        source="retinal OCT images for retinal diseases (109,309)",
        task="multi-class",
        classes=("choroidal neovascularization", "diabetic macular edema", "drusen", "normal"),
        channels=1,
        splits={"train": 97477, "val": 10832, "test": 1000},
        licence="CC BY 4.0",
        md5=(
            "c68d92d5b585d8d81f7112f81e2d0842",
            "e229e9440236b774d9f0dfef9d07bdaf",
            "0a97e76651ace45c5d943ee3f65b63ae",
            "abc493b6d529d5de7569faaef2773ba3",
        ),
    ),
    _medmnist(
        "pneumoniamnist",
        "PneumoniaMNIST",
        modality="chest X-ray",
        source="paediatric chest X-rays (5,856)",
        task="binary-class",
        classes=("normal", "pneumonia"),
        channels=1,
        splits={"train": 4708, "val": 524, "test": 624},
        licence="CC BY 4.0",
        md5=(
            "28209eda62fecd6e6a2d98b1501bb15f",
            "8f4eceb4ccffa70c672198ea285246c6",
            "05b46931834c231683c68f40c47b2971",
            "d6a3c71de1b945ea11211b03746c1fe1",
        ),
    ),
    _medmnist(
        "retinamnist",
        "RetinaMNIST",
        modality="fundus photography",
        source="DeepDRiD challenge",
        task="ordinal-regression",
        classes=("0", "1", "2", "3", "4"),
        channels=3,
        splits={"train": 1080, "val": 120, "test": 400},
        licence="CC BY 4.0",
        md5=(
            "bd4c0672f1bba3e3a89f0e4e876791e4",
            "afda852cc34dcda56f86ad2b2457dbcc",
            "e48e916a24454daf90583d4e6efb1a18",
            "eae7e3b6f3fcbda4ae613ebdcbe35348",
        ),
    ),
    _medmnist(
        "breastmnist",
        "BreastMNIST",
        modality="breast ultrasound",
        source="breast ultrasound images (780)",
        task="binary-class",
        classes=("malignant", "normal, benign"),
        channels=1,
        splits={"train": 546, "val": 78, "test": 156},
        licence="CC BY 4.0",
        md5=(
            "750601b1f35ba3300ea97c75c52ff8f6",
            "742edef2a1fd1524b2efff4bd7ba9364",
            "363e4b3f8d712e9b5de15470a2aaadf1",
            "b56378a6eefa9fed602bb16d192d4c8b",
        ),
    ),
    _medmnist(
        "bloodmnist",
        "BloodMNIST",
        modality="blood cell microscopy",
        source="normal blood cells (17,092)",
        task="multi-class",
        classes=(
            "basophil",
            "eosinophil",
            "erythroblast",
            "immature granulocytes(myelocytes, metamyelocytes and promyelocytes)",
            "lymphocyte",
            "monocyte",
            "neutrophil",
            "platelet",
        ),
        channels=3,
        splits={"train": 11959, "val": 1712, "test": 3421},
        licence="CC BY 4.0",
        md5=(
            "7053d0359d879ad8a5505303e11de1dc",
            "2b94928a2ae4916078ca51e05b6b800b",
            "adace1e0ed228fccda1f39692059dd4c",
            "b718ff6835fcbdb22ba9eacccd7b2601",
        ),
    ),
    _medmnist(
        "tissuemnist",
        "TissueMNIST",
        modality="kidney cortex microscopy",
        source="BBBC051 (Broad Bioimage Benchmark Collection)",
        task="multi-class",
        classes=(
            "Collecting Duct, Connecting Tubule",
            "Distal Convoluted Tubule",
            "Glomerular endothelial cells",
            "Interstitial endothelial cells",
            "Leukocytes",
            "Podocytes",
            "Proximal Tubule Segments",
            "Thick Ascending Limb",
        ),
        channels=1,
        splits={"train": 165466, "val": 23640, "test": 47280},
        licence="CC BY 4.0",
        md5=(
            "ebe78ee8b05294063de985d821c1c34b",
            "123ece2eba09d0aa5d698fda57103344",
            "61b955355d7425a89687b06cca3ce0c2",
            "b077128c4a949f0a4eb01517f9037b9c",
        ),
    ),
    _medmnist(
        "organamnist",
        "OrganAMNIST",
        modality="abdominal CT (axial)",
        source="LiTS (Liver Tumor Segmentation Benchmark)",
        task="multi-class",
        classes=(
            "bladder",
            "femur-left",
            "femur-right",
            "heart",
            "kidney-left",
            "kidney-right",
            "liver",
            "lung-left",
            "lung-right",
            "pancreas",
            "spleen",
        ),
        channels=1,
        splits={"train": 34561, "val": 6491, "test": 17778},
        licence="CC BY 4.0",
        md5=(
            "68e3f8846a6bd62f0c9bf841c0d9eacc",
            "2dcccc29b88e6da5a01161ef20cda288",
            "eeae80d0a227a8d099027e1b3cfd3b60",
            "50747347e05c87dd3aaf92c49f9f3170",
        ),
    ),
    _medmnist(
        "organcmnist",
        "OrganCMNIST",
        modality="abdominal CT (coronal)",
        source="LiTS (Liver Tumor Segmentation Benchmark)",
        task="multi-class",
        classes=(
            "bladder",
            "femur-left",
            "femur-right",
            "heart",
            "kidney-left",
            "kidney-right",
            "liver",
            "lung-left",
            "lung-right",
            "pancreas",
            "spleen",
        ),
        channels=1,
        splits={"train": 12975, "val": 2392, "test": 8216},
        licence="CC BY 4.0",
        md5=(
            "b9ceb9546e10131b32923c5bbeaea2b1",
            "3ce34a8724ea6f548e6db4744d03b6a9",
            "773c1f009daa3fe5d9a2a201b2a7ed94",
            "050f5e875dc056f6768abf94ec9995d1",
        ),
    ),
    _medmnist(
        "organsmnist",
        "OrganSMNIST",
        modality="abdominal CT (sagittal)",
        source="LiTS (Liver Tumor Segmentation Benchmark)",
        task="multi-class",
        classes=(
            "bladder",
            "femur-left",
            "femur-right",
            "heart",
            "kidney-left",
            "kidney-right",
            "liver",
            "lung-left",
            "lung-right",
            "pancreas",
            "spleen",
        ),
        channels=1,
        splits={"train": 13932, "val": 2452, "test": 8827},
        licence="CC BY 4.0",
        md5=(
            "9ab87b696fb54e2a387ebe992d6ed5f1",
            "53a6d115339d874c25e309a994ff46d3",
            "ded0c5fa01a95dc4978b956f613e9b8e",
            "b354719e553fbbb2513d5533f52a4cb1",
        ),
    ),
]

_RECIPES = [
    PublicDataset(
        name="brain-tumor-mri",
        title="Brain Tumor MRI Dataset (M. Nickparvar, Kaggle)",
        modality="brain MRI (2-D JPEG slices)",
        task="multi-class",
        classes=("glioma", "meningioma", "notumor", "pituitary"),
        channels=1,
        splits={"train": 5712, "test": 1311},
        licence="CC0 1.0 as stated on its Kaggle page; its sources (figshare, SARTAJ, Br35H) "
        "state their own terms",
        source="figshare (Cheng et al.), SARTAJ and Br35H, combined",
        homepage="https://www.kaggle.com/datasets/masoudnickparvar/brain-tumor-mri-dataset",
        layout="class-folders",
        kaggle="masoudnickparvar/brain-tumor-mri-dataset",
        split_folders={"train": "Training", "test": "Testing"},
        how_to_get=(
            "with `pip install kagglehub`, run `medgan data fetch brain-tumor-mri` (it calls "
            "kagglehub.dataset_download('masoudnickparvar/brain-tumor-mri-dataset', "
            "output_dir='{folder}'); if Kaggle asks for an account, log in first with "
            "kagglehub.login() or KAGGLE_USERNAME and KAGGLE_KEY). Or download the archive from "
            "https://www.kaggle.com/datasets/masoudnickparvar/brain-tumor-mri-dataset and unzip it "
            "into {folder}, so that {folder}/Training/<class>/ and {folder}/Testing/<class>/ "
            "hold the images (classes glioma, meningioma, notumor, pituitary)"
        ),
    ),
    PublicDataset(
        name="ixi",
        title="IXI (Information eXtraction from Images)",
        modality="brain MRI, healthy (3-D NIfTI)",
        task="unlabelled (healthy adults)",
        classes=(),
        channels=1,
        splits={"all": 581},  # T1 volumes (578 T2), as TorchIO counts them
        unit="subjects",
        licence="CC BY-SA 3.0 (acknowledge https://brain-development.org/ixi-dataset/)",
        source="nearly 600 healthy adults scanned at Guy's, Hammersmith (HH) and IOP, London",
        homepage="https://brain-development.org/ixi-dataset/",
        layout="nifti",
        sequences=("T1", "T2", "PD"),
        pattern="IXI*-{sequence}.nii.gz",
        subject_regex=r"^(?P<subject>IXI\d+)-(?P<site>[A-Za-z]+)-",
        how_to_get=(
            "no account is needed, but each archive is several GB and served over plain http, "
            "so it is not downloaded for you. Download IXI-T1.tar (IXI-T2.tar, IXI-PD.tar for "
            "the other sequences) from https://brain-development.org/ixi-dataset/ (the file is "
            "http://biomedic.doc.ic.ac.uk/brain-development/downloads/IXI/IXI-T1.tar; MD5 "
            "34901a0593b41dd19c1a1f746eac2d58 for T1, e3140d78730ecdd32ba92da48c0a9aaa for T2, "
            "88ecd9d1fa33cb4a2278183b42ffd749 for PD, as TorchIO records them) and unpack it "
            "into the folder of its sequence: `mkdir -p {folder}/T1 && tar -xf IXI-T1.tar -C "
            "{folder}/T1` (files named IXI<id>-<site>-<number>-T1.nii.gz)"
        ),
    ),
    PublicDataset(
        name="brats",
        title="BraTS 2021 Task 1 (RSNA-ASNR-MICCAI Brain Tumor Segmentation)",
        modality="brain MRI, gliomas (3-D NIfTI)",
        task="segmentation (read here as unlabelled slices)",
        classes=(),
        channels=1,
        splits={"all": 1251},  # the training cases, the only ones with public files
        unit="subjects",
        licence="BraTS 2021 data terms on Synapse (account required); cite Baid et al. "
        "2021, Menze et al. 2015 and Bakas et al. 2017",
        source="pre-operative glioma scans from many institutions",
        homepage="https://www.synapse.org/#!Synapse:syn25829067/wiki/610863",
        layout="nifti",
        sequences=("t1", "t1ce", "t2", "flair"),
        pattern="BraTS*_{sequence}.nii.gz",
        subject_regex=r"^(?P<subject>BraTS\d*_\d+)_",
        how_to_get=(
            "it needs a Synapse account: register at https://www.synapse.org, join the BraTS "
            "2021 challenge (https://www.synapse.org/#!Synapse:syn25829067/wiki/610863), accept "
            "its data terms and download the Task 1 training data "
            "(BraTS2021_Training_Data.tar). Unpack it into {folder}: `mkdir -p {folder} && tar "
            "-xf BraTS2021_Training_Data.tar -C {folder}`, so that "
            "BraTS2021_00000/BraTS2021_00000_t1.nii.gz (and _t1ce, _t2, _flair, _seg) lie below it"
        ),
    ),
]

PUBLIC_DATASETS: dict[str, PublicDataset] = {d.name: d for d in [*_MEDMNIST, *_RECIPES]}
"""Every public dataset known by name, MedMNIST first, then the recipes."""
