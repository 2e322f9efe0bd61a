from __future__ import annotations

import dataclasses

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
    monkeypatch.setattr(settings, "_cpu_has_bf16", lambda: True)
    assert pick_precision(cpu, "auto") is torch.bfloat16
    monkeypatch.setattr(settings, "_cpu_has_bf16", lambda: False)
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
