"""Using synthetic images: a lesion classifier and fine-tuning it with synthetic data."""
