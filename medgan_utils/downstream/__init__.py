"""Using synthetic images: a lesion classifier, and fine-tuning it with synthetic data.

- :mod:`~medgan_utils.downstream.classifier`: the network, ``predict``, checkpoints;
- :mod:`~medgan_utils.downstream.fit`: training it (balanced batches, early stopping,
  Youden's threshold);
- :mod:`~medgan_utils.downstream.labelled`: labelled images and their subject-aware splits
  and samples;
- :mod:`~medgan_utils.downstream.synthetic_sources`: the synthetic training set, from any
  source;
- :mod:`~medgan_utils.downstream.config`: the strategies and the experiments' settings;
- :mod:`~medgan_utils.downstream.finetune`: the strategies and the experiment grid;
- :mod:`~medgan_utils.downstream.results`: the results as JSON, a table and a figure.

Metrics with bootstrap intervals come from :mod:`medgan_utils.stats`.
"""
