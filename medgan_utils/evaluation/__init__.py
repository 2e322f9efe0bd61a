"""Measuring synthetic images.

- :mod:`~medgan_utils.evaluation.features`: the feature spaces (the domain and anatomy
  encoders, Inception, pixels);
- :mod:`~medgan_utils.evaluation.metrics`: the scores (FID, KID, precision/recall, diversity)
  and :class:`~medgan_utils.evaluation.metrics.Score`, a score beside its floor;
- :mod:`~medgan_utils.evaluation.evaluate`: :func:`~medgan_utils.evaluation.evaluate.evaluate`,
  every score of a model beside its real-vs-real floor, and the report as text, rows or a table;
- :mod:`~medgan_utils.evaluation.conditional`: a class-conditional generator per class, and
  whether it follows its label (label fidelity);
- :mod:`~medgan_utils.evaluation.memorization`: the near-copy check;
- :mod:`~medgan_utils.evaluation.ablation`: the GAN recipe measured row by row (chapter 3);
- :mod:`~medgan_utils.evaluation.turing`: the visual Turing test (the app and the dashboard
  play it).
"""
