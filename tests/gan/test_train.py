from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.data.slices import SliceMeta
from medgan_utils.gan.models import DCGANConfig
from medgan_utils.gan.train import (
    GANTrainer,
    TrainConfig,
    discriminator_loss,
    generator_loss,
    read_checkpoint_meta,
)
from medgan_utils.settings import pick_precision

SMALL = DCGANConfig(image_size=32, width=8, latent_dim=16)
FAST = TrainConfig(epochs=2, batch_size=16, n_samples=8, precision="fp32")


def blobs(n: int = 64, labelled: bool = False) -> MedicalImageDataset:
    """Bright centred discs of varying radius on a dark background: easy to learn."""
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    r = (yy - 15.5) ** 2 + (xx - 15.5) ** 2
    radius = 6 + 6 * torch.rand(n, generator=g)
    images = torch.where(r[None] < radius[:, None, None] ** 2, 0.8, -0.9)[:, None]
    images = images + 0.05 * torch.randn(images.shape, generator=g)
    labels = (radius > 9).long() if labelled else torch.full((n,), -1)
    meta = [SliceMeta("blobs", f"s{i}") for i in range(n)]
    return MedicalImageDataset(
        images.clamp(-1, 1), labels, meta, ["big", "small"] if labelled else []
    )


def test_losses_match_their_definitions():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    sig = torch.sigmoid
    bce = -(torch.log(sig(real)).mean() + torch.log(1 - sig(fake)).mean())
    assert torch.allclose(discriminator_loss(real, fake, "bce"), bce)
    assert torch.allclose(generator_loss(fake, "bce"), -torch.log(sig(fake)).mean())
    hinge = torch.relu(1 - real).mean() + torch.relu(1 + fake).mean()
    assert torch.allclose(discriminator_loss(real, fake, "hinge"), hinge)
    assert torch.allclose(discriminator_loss(real, fake, "wgan-gp"), fake.mean() - real.mean())
    assert torch.allclose(generator_loss(fake, "wgan-gp"), -fake.mean())


def test_precision_choice(monkeypatch):
    from medgan_utils import settings

    cpu = torch.device("cpu")
    assert pick_precision(cpu, "fp32") is None
    assert pick_precision(cpu, "bf16") is torch.bfloat16
    assert pick_precision(cpu, "fp16") is torch.float16
    # "auto" follows the CPU's bf16 units: bf16 with AMX/AVX512-BF16, plain fp32 without.
    monkeypatch.setattr(settings, "cpu_has_bf16", lambda: True)
    assert pick_precision(cpu, "auto") is torch.bfloat16
    monkeypatch.setattr(settings, "cpu_has_bf16", lambda: False)
    assert pick_precision(cpu, "auto") is None
    assert pick_precision(torch.device("mps"), "auto") is None  # no autocast there


def test_bad_train_config_values():
    with pytest.raises(ValueError, match="loss must be one of"):
        TrainConfig(loss="lsgan")
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="fewer than one batch"):
        GANTrainer(SMALL, FAST).fit(blobs(8))


def test_same_seed_same_weights():
    a, b = GANTrainer(SMALL, FAST), GANTrainer(SMALL, FAST)
    a.fit(blobs(), epochs=1)
    b.fit(blobs(), epochs=1)
    for (k, x), y in zip(a.G.state_dict().items(), b.G.state_dict().values(), strict=True):
        assert torch.equal(x, y), k
    c = GANTrainer(SMALL, dataclasses.replace(FAST, seed=1))
    c.fit(blobs(), epochs=1)
    assert not torch.equal(c.samples(), a.samples())


@pytest.mark.parametrize("loss", ["bce", "hinge", "wgan-gp"])
def test_resume_reaches_the_same_weights(tmp_path, loss):
    model = dataclasses.replace(SMALL, norm="layer" if loss == "wgan-gp" else "batch")
    config = dataclasses.replace(FAST, loss=loss, n_critic=2 if loss == "wgan-gp" else 1)
    straight = GANTrainer(model, config)
    straight.fit(blobs())
    first = GANTrainer(model, config)
    first.fit(blobs(), epochs=1)
    first.save_checkpoint(tmp_path / "ck.safetensors")
    assert read_checkpoint_meta(tmp_path / "ck.safetensors")["epoch"] == 1
    resumed = GANTrainer(model, config)
    resumed.load_checkpoint(tmp_path / "ck.safetensors")
    resumed.fit(blobs())
    assert resumed.epoch == 2 and resumed.history == straight.history
    for name in ("G", "D"):
        ref = getattr(straight, name).state_dict()
        for k, v in getattr(resumed, name).state_dict().items():
            assert torch.equal(v, ref[k]), f"{name}.{k}"


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    GANTrainer(SMALL, FAST).save_checkpoint(tmp_path / "ck.safetensors")
    other = GANTrainer(dataclasses.replace(SMALL, width=16), FAST)
    with pytest.raises(ValueError, match="different architecture"):
        other.load_checkpoint(tmp_path / "ck.safetensors")


def test_training_learns_the_data():
    """A tiny GAN on disc images: generated statistics move toward the data's."""
    data = blobs(512)
    model = dataclasses.replace(SMALL, width=16)
    trainer = GANTrainer(model, dataclasses.replace(FAST, epochs=20, batch_size=32, n_samples=64))
    real_mean = data.images.mean().item()
    real_std = data.images.std().item()

    def gap() -> float:
        x = trainer.samples()
        return abs(x.mean().item() - real_mean) + abs(x.std().item() - real_std)

    before = gap()
    trainer.fit(data)
    after = gap()
    assert after < 0.5 * before, (before, after)
    # centre bright, corners dark, as in every training image
    x = trainer.samples()
    assert x[:, 0, 12:20, 12:20].mean() > 0.3 and x[:, 0, :4, :4].mean() < -0.4


def test_conditional_training_uses_labels():
    model = dataclasses.replace(SMALL, num_classes=2)
    trainer = GANTrainer(model, FAST)
    trainer.fit(blobs(labelled=True), epochs=1)
    assert trainer.fixed_labels.tolist() == [0, 1] * 4
    with pytest.raises(ValueError, match="labelled images"):
        GANTrainer(model, FAST).fit(blobs(labelled=False), epochs=1)


def test_bf16_autocast_step_runs_and_stays_finite():
    trainer = GANTrainer(SMALL, dataclasses.replace(FAST, precision="bf16"))
    trainer.fit(blobs(), epochs=1)
    assert trainer.amp_dtype is torch.bfloat16
    assert all(torch.isfinite(torch.tensor(v)) for v in trainer.history[-1].values())
    assert trainer.samples().dtype == torch.float32


# -- the modern recipe (issue 13): options, old files, each piece in the loop --------------

RECIPE_MODEL = dataclasses.replace(SMALL, spectral_norm=True, upsample="nearest", minibatch_std=4)
RECIPE = dataclasses.replace(
    FAST,
    loss="hinge",
    ema_decay=0.99,
    ema_warmup=True,
    r1_gamma=1.0,
    r1_interval=2,
    augment="translation,cutout,brightness,contrast",
)
NEW_MODEL_KEYS = ("upsample", "minibatch_std", "conditional_norm")
NEW_TRAIN_KEYS = (
    "ema_decay",
    "ema_warmup",
    "r1_gamma",
    "r1_interval",
    "augment",
    "balance_classes",
    "label_mismatch",
)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"loss": "wgan-gp", "r1_gamma": 1.0}, "r1_gamma: loss 'wgan-gp' has its own"),
        ({"augment": "translation,mixup"}, "augment: unknown augmentation 'mixup'"),
        ({"ema_decay": 1.5}, r"ema_decay must lie in \(0, 1\)"),
        ({"ema_warmup": True}, "ema_warmup needs ema_decay"),
        ({"r1_gamma": -1.0}, "r1_gamma must be >= 0"),
        ({"r1_interval": 0}, "r1_interval must be >= 1"),
        ({"label_mismatch": -0.5}, "label_mismatch must be >= 0, got -0.5"),
        ({"label_mismatch": float("nan")}, "label_mismatch must be >= 0, got nan"),
    ],
)
def test_recipe_option_errors_name_the_option(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_options_that_do_not_fit_the_model_or_data():
    with pytest.raises(ValueError, match="augment: saturation does nothing on grey-scale"):
        GANTrainer(SMALL, dataclasses.replace(FAST, augment="saturation"))
    with pytest.raises(ValueError, match="minibatch_std=4 needs a batch size divisible"):
        GANTrainer(
            dataclasses.replace(SMALL, minibatch_std=4), dataclasses.replace(FAST, batch_size=6)
        )
    conditional = GANTrainer(dataclasses.replace(SMALL, num_classes=2), FAST)
    with pytest.raises(ValueError, match="num_classes=2: a conditional GAN needs labelled"):
        conditional.fit(blobs(labelled=False), epochs=1)
    for classes in (0, 1):  # unconditional, or one class: no wrong label to show D
        with pytest.raises(ValueError, match="label_mismatch=1.0 needs a conditional model"):
            GANTrainer(
                dataclasses.replace(SMALL, num_classes=classes),
                dataclasses.replace(FAST, label_mismatch=1.0),
            )


@pytest.mark.usefixtures("one_thread")
def test_label_mismatch_teaches_d_to_tell_the_classes_apart_on_real_images():
    """D steps alone on discs labelled by size: with the mismatch term, D scores each real
    disc higher under its own label than under the other, far more than without it (then
    only the fakes, drawn with the same labels, tie the label to the image at all)."""
    data = blobs(256, labelled=True)
    model = dataclasses.replace(SMALL, num_classes=2)

    def margin(weight: float) -> float:
        trainer = GANTrainer(model, dataclasses.replace(FAST, label_mismatch=weight))
        rng = torch.Generator().manual_seed(0)
        for step in range(60):
            idx = torch.arange(step * 32, step * 32 + 32) % len(data)
            z = torch.randn(32, model.latent_dim, generator=rng)
            with torch.no_grad():
                fake = trainer.G(z, data.labels[idx])
            trainer.d_step(data.images[idx], fake, data.labels[idx], rng)
        trainer.D.eval()
        with torch.no_grad():
            own = trainer.D(data.images, data.labels)
            other = trainer.D(data.images, 1 - data.labels)
        return (own - other).mean().item()

    with_term, without = margin(1.0), margin(0.0)
    assert with_term > 1.0, with_term  # own label clearly preferred (logit units)
    assert with_term > 2 * abs(without), (without, with_term)  # measured: 8.0 against 2.0


def test_train_config_round_trip_and_old_dicts():
    assert TrainConfig.from_dict(json.loads(json.dumps(RECIPE.to_dict()))) == RECIPE
    old = {k: v for k, v in FAST.to_dict().items() if k not in NEW_TRAIN_KEYS}
    assert TrainConfig.from_dict(old) == FAST  # missing keys: the old behaviour (all off)
    with pytest.raises(ValueError, match="unknown TrainConfig keys"):
        TrainConfig.from_dict({**old, "ema": True})


def _as_old_checkpoint(path):
    """Rewrite a checkpoint as the code before the recipe wrote it: no keys for the new
    options in its configs (the tensors are the same)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["medgan"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    assert not any(k.startswith("G_ema.") for k in tensors)
    for key, new in (("model_config", NEW_MODEL_KEYS), ("train_config", NEW_TRAIN_KEYS)):
        meta[key] = {k: v for k, v in meta[key].items() if k not in new}
    save_file(tensors, str(path), metadata={"medgan": json.dumps(meta)})


def test_old_checkpoint_resumes_bit_exactly(tmp_path):
    straight = GANTrainer(SMALL, FAST)
    straight.fit(blobs())
    first = GANTrainer(SMALL, FAST)
    first.fit(blobs(), epochs=1)
    first.save_checkpoint(tmp_path / "old.safetensors")
    _as_old_checkpoint(tmp_path / "old.safetensors")
    assert "ema_decay" not in read_checkpoint_meta(tmp_path / "old.safetensors")["train_config"]
    resumed = GANTrainer(SMALL, FAST)
    resumed.load_checkpoint(tmp_path / "old.safetensors")
    resumed.fit(blobs())
    assert resumed.history == straight.history
    for name in ("G", "D"):
        ref = getattr(straight, name).state_dict()
        for k, v in getattr(resumed, name).state_dict().items():
            assert torch.equal(v, ref[k]), f"{name}.{k}"
    # an old checkpoint has no average of G to resume a run that keeps one
    with pytest.raises(ValueError, match="has no average of G's weights"):
        GANTrainer(SMALL, dataclasses.replace(FAST, ema_decay=0.9)).load_checkpoint(
            tmp_path / "old.safetensors"
        )


def test_old_run_folder_resumes(tmp_path):
    """A run folder written before the recipe (no new keys in run.json or the checkpoint)
    resumes with --resume and ends where an uninterrupted run ends."""
    from safetensors.torch import load_file

    from medgan_utils.gan.runs import train_run

    tiny = DCGANConfig(image_size=32, width=4, latent_dim=8)
    one = TrainConfig(epochs=1, batch_size=8, n_samples=4, precision="fp32")
    two = dataclasses.replace(one, epochs=2)
    options = {"n_subjects": 4, "seed": 1}
    train_run("builtin", tmp_path / "straight", tiny, two, progress=False, data_options=options)
    old = tmp_path / "old"
    train_run("builtin", old, tiny, one, progress=False, data_options=options)
    record = json.loads((old / "run.json").read_text())
    for key, new in (("model_config", NEW_MODEL_KEYS), ("train_config", NEW_TRAIN_KEYS)):
        record[key] = {k: v for k, v in record[key].items() if k not in new}
    (old / "run.json").write_text(json.dumps(record))
    _as_old_checkpoint(old / "checkpoint.safetensors")
    train_run("builtin", old, tiny, two, resume=True, progress=False, data_options=options)
    a = load_file(str(tmp_path / "straight" / "generator.safetensors"))
    b = load_file(str(old / "generator.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_recipe_resume_reaches_the_same_weights(tmp_path):
    straight = GANTrainer(RECIPE_MODEL, RECIPE)
    straight.fit(blobs())
    first = GANTrainer(RECIPE_MODEL, RECIPE)
    first.fit(blobs(), epochs=1)
    first.save_checkpoint(tmp_path / "ck.safetensors")
    resumed = GANTrainer(RECIPE_MODEL, RECIPE)
    resumed.load_checkpoint(tmp_path / "ck.safetensors")
    resumed.fit(blobs())
    assert resumed.history == straight.history and "r1" in straight.history[-1]
    for name in ("G", "D", "ema"):
        ref = getattr(straight, name).state_dict()
        for k, v in getattr(resumed, name).state_dict().items():
            assert torch.equal(v, ref[k]), f"{name}.{k}"
    assert resumed.ema.n_updates == straight.ema.n_updates == 2 * (64 // 16)  # one per G step


def test_ema_generator_samples_and_is_exported(tmp_path):
    from safetensors.torch import load_file

    from medgan_utils.gan.callbacks import Checkpoint

    config = dataclasses.replace(FAST, ema_decay=0.9)
    trainer = GANTrainer(SMALL, config, [Checkpoint(tmp_path)])
    trainer.fit(blobs(), epochs=1)
    assert trainer.generator is trainer.ema.generator
    shipped = load_file(str(tmp_path / "generator.safetensors"))
    averaged, live = trainer.ema.generator.state_dict(), trainer.G.state_dict()
    assert all(torch.equal(shipped[k], averaged[k]) for k in shipped)
    assert not all(torch.equal(shipped[k], live[k]) for k in shipped)
    G = trainer.ema.generator.eval()
    with torch.no_grad():
        assert torch.equal(trainer.samples(), G(trainer.fixed_noise))
    # the checkpoint holds both; a trainer without the average refuses it
    with pytest.raises(ValueError, match="has average of G's weights but"):
        GANTrainer(SMALL, FAST).load_checkpoint(tmp_path / "checkpoint.safetensors")


def test_augmentation_is_the_same_for_real_and_fake(monkeypatch):
    """D sees both batches through one policy: every call uses it, and the transforms
    leave the same statistics on identical real and fake inputs."""
    from medgan_utils.gan import train

    calls = []
    original = train.diff_augment

    def spy(x, policy, generator=None):
        calls.append(policy)
        return original(x, policy, generator)

    monkeypatch.setattr(train, "diff_augment", spy)
    trainer = GANTrainer(
        SMALL, dataclasses.replace(FAST, batch_size=256, augment="translation,cutout")
    )
    seen = []
    trainer.D.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach()))
    ones = torch.ones(256, 1, 32, 32)
    trainer.train_step(ones, None, torch.randn(256, 16), torch.Generator().manual_seed(0))
    assert calls == [("translation", "cutout")] * 3  # real and fake in D's step, fake in G's
    assert len(seen) == 3
    trainer.d_step(ones, ones, None, torch.Generator().manual_seed(1))
    real_in, fake_in = seen[3], seen[4]
    zr, zf = ((x == 0).flatten(1).double().mean(1) for x in (real_in, fake_in))
    assert zr.mean() > 0.1 and zf.mean() > 0.1  # cutout and translation really ran
    se = (zr.var() / len(zr) + zf.var() / len(zf)).sqrt()
    assert (zr.mean() - zf.mean()).abs() < 4 * se
    assert not torch.equal(real_in, fake_in)  # fresh draws for each batch


def test_lazy_r1_every_k_steps_scaled_by_k():
    import copy

    from medgan_utils.gan.penalties import r1_penalty

    model = dataclasses.replace(SMALL, norm="layer")  # per-sample D: forwards repeat exactly
    config = dataclasses.replace(FAST, r1_gamma=2.0, r1_interval=3)
    trainer = GANTrainer(model, config)
    real = blobs(16).images
    logged = []
    for _ in range(6):
        logs = trainer.train_step(real, None, torch.randn(16, 16))
        logged.append("r1" in logs)
    assert logged == [True, False, False, True, False, False]
    assert trainer.step == 6  # the next D step penalises: check the scale
    fake = torch.rand(16, 1, 32, 32) * 2 - 1
    D = copy.deepcopy(trainer.D)
    base = discriminator_loss(D(real), D(fake), "bce")
    penalty = r1_penalty(D, real)
    logs = trainer.d_step(real, fake, None)
    assert logs["r1"] == pytest.approx(penalty.item(), rel=1e-5)
    assert logs["loss_d"] == pytest.approx((base + 2.0 / 2 * 3 * penalty).item(), rel=1e-5)


def test_recipe_under_bf16_autocast():
    trainer = GANTrainer(RECIPE_MODEL, dataclasses.replace(RECIPE, precision="bf16"))
    trainer.fit(blobs(), epochs=1)
    assert trainer.amp_dtype is torch.bfloat16
    assert "r1" in trainer.history[-1]
    assert all(torch.isfinite(torch.tensor(v)) for v in trainer.history[-1].values())
    assert trainer.samples().dtype == torch.float32


@pytest.mark.usefixtures("one_thread")
def test_recipe_learns_the_data():
    """The whole recipe on disc images, 4 short epochs: the KID between generated and real
    images (pixel features) falls to under half of the untrained generator's."""
    from medgan_utils.evaluation.features import PixelFeatures
    from medgan_utils.evaluation.metrics import kernel_distance

    data = blobs(512)
    model = dataclasses.replace(RECIPE_MODEL, width=16)
    config = dataclasses.replace(
        RECIPE,
        epochs=4,
        batch_size=32,
        n_samples=256,
        ema_decay=0.999,
        r1_gamma=0.1,
        r1_interval=4,
        augment="translation,cutout",
    )
    trainer = GANTrainer(model, config)
    pixels = PixelFeatures(8)
    real = pixels(data.images)

    def kid() -> float:
        return kernel_distance(real, pixels(trainer.samples()), 100, 50)[0]

    before = kid()
    trainer.fit(data)
    after = kid()
    assert after < 0.5 * before, (before, after)
    x = trainer.samples()  # centre bright, corners dark, as in every training image
    assert x[:, 0, 12:20, 12:20].mean() > x[:, 0, :4, :4].mean() + 0.5


def test_lazy_r1_run_writes_its_history(tmp_path):
    """With R1 every 8 steps and 4 steps per epoch, only the first epoch logs "r1": the
    run's history.csv still has the column (empty where an epoch had no penalty)."""
    from medgan_utils.gan.callbacks import Checkpoint

    config = dataclasses.replace(FAST, r1_gamma=1.0, r1_interval=8)
    trainer = GANTrainer(SMALL, config, [Checkpoint(tmp_path)])
    trainer.fit(blobs())
    assert "r1" in trainer.history[0] and "r1" not in trainer.history[1]
    lines = (tmp_path / "history.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert "r1" in header and lines[2].split(",")[header.index("r1")] == ""


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize(
    ("conditional_norm", "label_mismatch"),
    [(False, 0.0), (True, 1.0)],
    ids=["embedding", "cbn-mismatch"],
)
def test_conditional_generator_learns_its_labels(conditional_norm, label_mismatch):
    """Discs labelled by size: after training, each label's samples have that label's disc
    area (bright share), and the two labels' areas lie on the real classes' sides; with the
    label in z, and with it in every BatchNorm of G and a matching-aware D (conditional
    BatchNorm alone needed twice the epochs here: areas 0.22 and 0.25 after 20)."""
    from medgan_utils.gan.zoo import generate

    data = blobs(512, labelled=True)  # label 1: radius > 9 px; label 0: 6-9 px
    model = dataclasses.replace(SMALL, width=16, num_classes=2, conditional_norm=conditional_norm)
    config = dataclasses.replace(FAST, epochs=20, batch_size=32, label_mismatch=label_mismatch)
    trainer = GANTrainer(model, config)

    def areas(images: torch.Tensor) -> torch.Tensor:
        return (images > 0).float().mean(dim=(1, 2, 3))  # bright share of each image

    real = [areas(data.images[data.labels == y]).mean() for y in (0, 1)]
    gap = real[1] - real[0]
    before = [areas(generate(trainer.G, 128, seed=1, labels=y)).mean() for y in (0, 1)]
    trainer.fit(data)
    fake = [areas(generate(trainer.G, 128, seed=1, labels=y)).mean() for y in (0, 1)]
    if not conditional_norm:  # untrained: the label (N(0, 0.02) in z) changes little
        assert abs(before[1] - before[0]) < gap / 10
    # (untrained outputs are near 0, where the bright share flips with any change; with the
    # label in every norm their signs differ by label before training has taught anything)
    for y in (0, 1):  # trained: each label's mean area within a third of the classes' gap
        assert abs(fake[y] - real[y]) < gap / 3, (y, fake[y], real[y])


def test_balanced_classes_fill_the_batches_equally():
    """A set with 1 'big' disc in 8: balanced sampling draws both classes about equally,
    repeats under the same seed, and refuses unlabelled images naming the option."""
    data = blobs(256, labelled=True)
    keep = torch.cat([(data.labels == 0).nonzero()[:, 0], (data.labels == 1).nonzero()[:28, 0]])
    rare = torch.utils.data.Subset(data, keep.tolist())  # label 1 is now rare
    config = dataclasses.replace(FAST, balance_classes=True, batch_size=8)
    trainer = GANTrainer(dataclasses.replace(SMALL, num_classes=2), config)

    def drawn() -> torch.Tensor:
        loader, _ = trainer._epoch_batches(rare)
        return torch.cat([batch["label"] for batch in loader])

    labels = drawn()
    share = (labels == 1).float().mean().item()
    assert 0.35 < share < 0.65 and len(labels) == len(keep) // 8 * 8
    assert torch.equal(labels, drawn())  # the epoch's seed fixes the draw
    plain = GANTrainer(dataclasses.replace(SMALL, num_classes=2), FAST)
    loader, _ = plain._epoch_batches(rare)
    assert (torch.cat([b["label"] for b in loader]) == 1).float().mean() < 0.2
    with pytest.raises(ValueError, match="balance_classes needs labelled images"):
        GANTrainer(SMALL, config).fit(blobs(64), epochs=1)
