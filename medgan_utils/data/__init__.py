"""Reading medical images into one Dataset.

Modules, bottom to top (each imports only those above it in this list):

- ``slices``: what a reader returns (:class:`~medgan_utils.data.slices.RawSlice`) and the
  intensity mapping onto ``[-1, 1]``;
- ``limits``: what every reader refuses before decoding (the pixel budget,
  :class:`~medgan_utils.data.limits.PixelBudget`, and files that are not regular files);
- ``images``, ``dicom``, ``nifti``, ``npz``: one reader per format (Pillow, pydicom,
  nibabel, MedMNIST);
- ``readers``: :func:`~medgan_utils.data.readers.read_path`, which walks files and folders
  and picks a reader, reading files in a pool of threads;
- ``dataset``: :class:`~medgan_utils.data.dataset.MedicalImageDataset` (a tensor, or
  uint8/float16 codes decoded on use), the subject split and the summary;
- ``cache``: :func:`~medgan_utils.data.cache.read_dataset`, a file or folder resized as it is
  read into a compact dataset, cached in ``$MEDGAN_HOME/reads`` and memory-mapped when read
  again;
- ``builtin``: the built-in brain-MRI set, needing no download;
- ``catalog_public``: public datasets as facts (MedMNIST files, URLs, MD5 sums, licences;
  recipes for the sets behind an account: Kaggle's brain-tumour MRI, IXI, BraTS);
- ``fetch``: downloading their files into ``$MEDGAN_HOME/datasets``, MD5-checked;
- ``public``: :func:`~medgan_utils.data.public.load_public`, a public dataset by name;
- ``load``: :func:`~medgan_utils.data.load.load_dataset`, the entry point by name or path;
- ``synthetic``: reading back the synthetic datasets that
  :func:`medgan_utils.hub.generate.build_synthetic_dataset` writes.
"""
