"""DCGAN generator and discriminator (Radford et al., 2015) for 32, 64 and 128 px images.

The layers follow pytorch/examples ``dcgan/main.py``: with the default config the
unconditional networks have exactly its parameters and ``state_dict`` keys, so its
checkpoints load as they are. Options on top: a class-conditional variant, spectral
norm or a per-sample norm in the discriminator (for WGAN-GP), upsample + conv in the
generator and minibatch standard deviation in the discriminator
(:mod:`medgan_utils.gan.blocks`), and FLOP counting.

Example:
    >>> G, D = build_gan(DCGANConfig(image_size=64, channels=1))
    >>> D(G(torch.randn(8, 100))).shape
    torch.Size([8])
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, cast

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from medgan_utils.gan.blocks import UPSAMPLE_MODES, ConditionalBatchNorm2d, MinibatchStd, up_block
from medgan_utils.settings import SUPPORTED_SIZES

__all__ = [
    "DCGANConfig",
    "Generator",
    "Discriminator",
    "weights_init",
    "build_gan",
    "count_parameters",
    "layer_macs",
    "training_flops_per_image",
]

NORMS = ("batch", "layer", "instance", "none")
# written by to_dict() only when set
LATER_OPTIONS = ("upsample", "minibatch_std", "conditional_norm")


@dataclass(frozen=True)
class DCGANConfig:
    """Architecture of a DCGAN pair; ``to_dict``/``from_dict`` round-trip it through JSON.

    Args:
        image_size: side ``S`` of the square images, one of ``(32, 64, 128)``.
        channels: image channels ``C`` (1 for grey-scale scans, 3 for RGB).
        latent_dim: length of the noise vector ``z`` (``nz``).
        width: channel multiplier, ``ngf = ndf = width`` (64 in the paper).
        num_classes: 0 for an unconditional GAN, else the number of labels it is
            conditioned on.
        embed_dim: size of the generator's label embedding (conditional only).
        spectral_norm: spectral norm on every discriminator conv; this drops BatchNorm
            (``norm="batch"`` then means no norm), while "layer"/"instance" are kept.
        norm: the discriminator's norm: "batch" (the paper), "layer" (``GroupNorm(1, c)``),
            "instance" (``InstanceNorm2d(affine=True)``) or "none". WGAN-GP needs one of the
            last three: its gradient penalty is per sample, which BatchNorm breaks by mixing
            the samples of a batch. The generator always uses BatchNorm.
        upsample: how the generator doubles the side: "transpose" (the paper's strided
            transposed conv), or "nearest" / "bilinear" resizing followed by a 3x3 conv,
            against checkerboard texture (:func:`~medgan_utils.gan.blocks.up_block`).
        minibatch_std: 0 (off), or the group size of a minibatch standard deviation channel
            appended before the discriminator's last conv
            (:class:`~medgan_utils.gan.blocks.MinibatchStd`; 4 as in StyleGAN2).
        conditional_norm: conditional models only: the label sets the gain and bias of every
            generator BatchNorm (:class:`~medgan_utils.gan.blocks.ConditionalBatchNorm2d`)
            instead of being concatenated to ``z`` as an embedding of ``embed_dim``, so it
            acts at every resolution (SNGAN-projection's and BigGAN's generator).

    Example:
        >>> DCGANConfig(image_size=128, channels=3, num_classes=2).conditional
        True
    """

    image_size: int = 64
    channels: int = 1
    latent_dim: int = 100
    width: int = 64
    num_classes: int = 0
    embed_dim: int = 50
    spectral_norm: bool = False
    norm: Literal["batch", "layer", "instance", "none"] = "batch"
    upsample: Literal["transpose", "nearest", "bilinear"] = "transpose"
    minibatch_std: int = 0
    conditional_norm: bool = False

    def __post_init__(self) -> None:
        for name in ("image_size", "channels", "latent_dim", "width", "num_classes", "embed_dim"):
            low = 0 if name == "num_classes" else 1
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.image_size not in SUPPORTED_SIZES:
            raise ValueError(f"image_size must be one of {SUPPORTED_SIZES}, got {self.image_size}")
        if not isinstance(self.spectral_norm, bool):
            raise ValueError(f"spectral_norm must be True or False, got {self.spectral_norm!r}")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.upsample not in UPSAMPLE_MODES:
            raise ValueError(f"upsample must be one of {UPSAMPLE_MODES}, got {self.upsample!r}")
        if not isinstance(self.conditional_norm, bool):
            raise ValueError(
                f"conditional_norm must be True or False, got {self.conditional_norm!r}"
            )
        if self.conditional_norm and not self.conditional:
            raise ValueError("conditional_norm needs a conditional model (num_classes > 0)")
        mbstd = self.minibatch_std
        if isinstance(mbstd, bool) or not isinstance(mbstd, int) or mbstd < 0 or mbstd == 1:
            raise ValueError(
                f"minibatch_std must be 0 (off) or a group size >= 2, got {self.minibatch_std!r}"
            )

    @property
    def conditional(self) -> bool:
        """Whether the networks take class labels (``num_classes > 0``)."""
        return self.num_classes > 0

    @property
    def num_blocks(self) -> int:
        """Number of 2x resolution steps between 4x4 and ``image_size`` (3, 4 or 5)."""
        return self.image_size.bit_length() - 3

    @property
    def discriminator_norm(self) -> str:
        """The norm the discriminator really uses (spectral norm replaces BatchNorm)."""
        return "none" if self.spectral_norm and self.norm == "batch" else self.norm

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-serialisable dict.

        Options added after the first shipped models (:data:`LATER_OPTIONS`) are written
        only when they differ from their default, so the ``generator.json`` of a plain
        DCGAN is what it always was (the shipped files and their checksums stay valid);
        :meth:`from_dict` fills them back in.
        """
        d = dataclasses.asdict(self)
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        return {k: v for k, v in d.items() if k not in LATER_OPTIONS or v != defaults[k]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DCGANConfig:
        """Build a config from ``to_dict()`` output; missing keys take their defaults.

        Files written before an option existed lack its key, and its default is the
        behaviour they were trained with, so old run folders and models load unchanged.

        Raises:
            ValueError: ``d`` has keys that are not fields, or a value is invalid.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(
                f"unknown DCGANConfig keys {unknown}; expected some of {sorted(known)}"
            )
        return cls(**d)


def weights_init(module: nn.Module) -> None:
    """The paper's init, for ``model.apply(weights_init)``.

    Conv, conv-transpose and linear weights ~ N(0, 0.02); BatchNorm (and GroupNorm /
    InstanceNorm) weights ~ N(1, 0.02); all biases 0. Under spectral norm the raw weight
    is initialised (its scale then cancels out). Other modules are left unchanged.

    Label embeddings (conditional models) ~ N(0, 0.02) too, as BigGAN-PyTorch's
    ``init_weights`` does; the paper has none. With PyTorch's default N(0, 1) the generator's
    label input is as large as the noise from the first step, and on the built-in labelled
    set our conditional runs collapsed within 100 steps to nearly one image per label (the
    noise ignored): a within-label spread of 0.04 (BCE) and 0.01 (hinge + spectral norm)
    at step 400, against 0.20 for real lesion slices; from N(0, 0.02) the same runs reach
    0.15 and 0.07 (``benchmarks/conditional_init.py``, width 32, one seed).
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
        mean = 0.0
    elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d)) and module.affine:
        mean = 1.0
    else:
        return
    weight: torch.Tensor
    if parametrize.is_parametrized(module, "weight"):
        # `parametrizations` is set at run time: a ModuleDict of ParametrizationLists.
        plists = cast(nn.ModuleDict, module.parametrizations)
        weight = cast(parametrize.ParametrizationList, plists.weight).original
    else:
        weight = module.weight
    nn.init.normal_(weight, mean, 0.02)
    bias = getattr(module, "bias", None)  # an embedding has none
    if isinstance(bias, torch.Tensor):
        nn.init.zeros_(bias)


def _check_labels(labels: torch.Tensor | None, n: int, num_classes: int) -> torch.Tensor | None:
    """Validate labels against the model's ``num_classes``; return them as int64."""
    if num_classes == 0:
        if labels is not None:
            raise ValueError("this model is unconditional (num_classes=0): labels must be None")
        return None
    if labels is None:
        raise ValueError(f"this model is conditional (num_classes={num_classes}): pass labels")
    if labels.shape != (n,) or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(
            f"labels must be an integer tensor of shape ({n},), "
            f"got {labels.dtype} {tuple(labels.shape)}"
        )
    # The range check reads values back; skip it on accelerators (no sync per step),
    # where nn.Embedding's own device-side assert catches bad labels.
    if labels.device.type == "cpu" and n and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got {labels.tolist()}")
    return labels.long()


class Generator(nn.Module):
    """DCGAN generator: noise (and optionally labels) to images.

    Strided 4x4 transposed convs double the side from 4x4 to ``S`` while the channels halve,
    each followed by BatchNorm + ReLU; the last layer maps to ``C`` channels with tanh. For
    ``S = 64`` the channels are ``8w -> 4w -> 2w -> w -> C`` (the paper's); 32 px drops the
    first block (``4w`` at 4x4), 128 px adds one (``16w`` at 4x4). A conditional generator
    concatenates an ``nn.Embedding(num_classes, embed_dim)`` of the label to ``z``, or with
    ``conditional_norm`` sets every BatchNorm's gain and bias from the label. With
    ``upsample="nearest"`` or ``"bilinear"`` each doubling after the first 4x4 layer is a
    resize and a 3x3 conv instead (:func:`~medgan_utils.gan.blocks.up_block`).

    Args:
        config: the architecture.

    Example:
        >>> G = Generator(DCGANConfig(image_size=32))
    """

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        concat = config.conditional and not config.conditional_norm
        in_dim = config.latent_dim + (config.embed_dim if concat else 0)
        self.embed = nn.Embedding(config.num_classes, config.embed_dim) if concat else None

        def norm(c: int) -> nn.Module:
            if config.conditional_norm:
                return ConditionalBatchNorm2d(c, config.num_classes)
            return nn.BatchNorm2d(c)

        c = config.width * 2 ** (config.num_blocks - 1)  # 8w for 64 px
        # (N, nz [+ embed_dim], 1, 1) -> (N, 8w, 4, 4)
        layers: list[nn.Module] = [nn.ConvTranspose2d(in_dim, c, 4, 1, 0, bias=False)]
        layers += [norm(c), nn.ReLU(True)]
        for _ in range(config.num_blocks - 1):
            # (N, c, s, s) -> (N, c/2, 2s, 2s); for 64 px: 8w@4 -> 4w@8 -> 2w@16 -> w@32
            layers += [*up_block(c, c // 2, config.upsample), norm(c // 2)]
            layers.append(nn.ReLU(True))
            c //= 2
        # (N, w, S/2, S/2) -> (N, C, S, S), values in [-1, 1]
        layers += [*up_block(c, config.channels, config.upsample), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.apply(weights_init)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Generate images.

        Args:
            z: noise ``(N, latent_dim)`` or ``(N, latent_dim, 1, 1)``, usually N(0, 1).
            labels: ``(N,)`` integers in ``[0, num_classes)`` for a conditional generator;
                must be None for an unconditional one.

        Returns:
            ``(N, C, S, S)`` images in ``[-1, 1]``.
        """
        d = self.config.latent_dim
        if z.ndim not in (2, 4) or z.shape[1:] not in ((d,), (d, 1, 1)):
            raise ValueError(f"z must have shape (N, {d}) or (N, {d}, 1, 1), got {tuple(z.shape)}")
        z = z.reshape(z.shape[0], d)
        labels = _check_labels(labels, z.shape[0], self.config.num_classes)
        if self.embed is not None and labels is not None:
            z = torch.cat([z, self.embed(labels).to(z.dtype)], dim=1)
        if not self.config.conditional_norm:
            return self.main(z[:, :, None, None])
        assert labels is not None  # _check_labels raised for a conditional model without them
        x = z[:, :, None, None]
        for layer in self.main:
            x = layer(x, labels) if isinstance(layer, ConditionalBatchNorm2d) else layer(x)
        return x


class Discriminator(nn.Module):
    """DCGAN discriminator: images (and optionally labels) to one raw score each.

    Strided 4x4 convs halve the side from ``S`` to 4x4 while the channels double, with
    LeakyReLU(0.2) and a norm after all but the first conv; a 4x4 conv then maps the 4x4
    map to one logit. For ``S = 64``: ``C -> w -> 2w -> 4w -> 8w -> 1``. With
    ``minibatch_std`` a :class:`~medgan_utils.gan.blocks.MinibatchStd` channel is appended to
    the 4x4 map before that last conv (``8w + 1`` channels).

    With ``spectral_norm`` every conv is spectrally normalised and BatchNorm dropped, as in
    SN-GAN: SN already bounds each layer's Lipschitz constant, and BatchNorm would undo that
    bound by rescaling with batch statistics. A conditional discriminator is a projection
    discriminator (Miyato & Koyama, 2018): ``logit = head(phi(x)) + <embed(y), phi(x)>``,
    with ``phi`` = :meth:`features`. We chose it over feeding the label as an extra input
    channel because it leaves the conv stack unchanged, adds only ``num_classes x F``
    parameters, and conditions the score where the class evidence is (the final features);
    it also trained better than input concatenation in their experiments.

    Args:
        config: the architecture.

    Example:
        >>> D = Discriminator(DCGANConfig(norm="layer"))  # a critic for WGAN-GP
    """

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__()
        self.config = config
        norm = config.discriminator_norm
        c = config.width
        # Biases where no norm follows, except in the paper's BatchNorm net, which has none.
        layers: list[nn.Module] = [
            # (N, C, S, S) -> (N, w, S/2, S/2); no norm on the input layer (the paper)
            nn.Conv2d(config.channels, c, 4, 2, 1, bias=norm != "batch"),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for _ in range(config.num_blocks - 1):
            # (N, c, s, s) -> (N, 2c, s/2, s/2); for 64 px: w@32 -> 2w@16 -> 4w@8 -> 8w@4
            layers.append(nn.Conv2d(c, 2 * c, 4, 2, 1, bias=norm == "none"))
            if norm == "batch":
                layers.append(nn.BatchNorm2d(2 * c))
            elif norm == "layer":
                layers.append(nn.GroupNorm(1, 2 * c))  # normalises each sample over (C, H, W)
            elif norm == "instance":
                layers.append(nn.InstanceNorm2d(2 * c, affine=True))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c *= 2
        if config.minibatch_std:
            # (N, 8w, 4, 4) -> (N, 8w + 1, 4, 4): how alike the samples of a group are
            layers.append(MinibatchStd(config.minibatch_std))
            c += 1
        # (N, 8w, 4, 4) -> (N, 1, 1, 1): the 4x4 conv is a linear layer on the flat features
        layers.append(nn.Conv2d(c, 1, 4, 1, 0, bias=False))
        self.main = nn.Sequential(*layers)
        self.feature_dim = c * 16
        self.embed = (
            nn.Embedding(config.num_classes, self.feature_dim) if config.conditional else None
        )
        self.apply(weights_init)  # the label embedding too: N(0, 0.02), the head's scale
        if config.spectral_norm:
            for module in [m for m in self.modules() if isinstance(m, (nn.Conv2d, nn.Embedding))]:
                spectral_norm(module)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features: the flattened last 4x4 map.

        Args:
            x: ``(N, C, S, S)`` images in ``[-1, 1]``.

        Returns:
            ``(N, F)`` with ``F = feature_dim = 16 * top channels`` (8192 for the default
            64 px config), after LeakyReLU (and the minibatch-std channel, if any).
        """
        return self.main[:-1](x).flatten(1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Score images.

        Args:
            x: ``(N, C, S, S)`` images in ``[-1, 1]``.
            labels: ``(N,)`` integers in ``[0, num_classes)`` for a conditional
                discriminator; must be None for an unconditional one.

        Returns:
            ``(N,)`` raw logits (real > fake), no sigmoid: the loss applies it
            (``BCEWithLogitsLoss`` is stable where sigmoid + BCE is not), and WGAN critics
            need the raw score.
        """
        expected = (self.config.channels, self.config.image_size, self.config.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"x must have shape (N, {', '.join(map(str, expected))}), got {tuple(x.shape)}"
            )
        labels = _check_labels(labels, x.shape[0], self.config.num_classes)
        h = self.main[:-1](x)  # (N, 8w [+ 1], 4, 4)
        logits = self.main[-1](h).flatten()  # (N,)
        if self.embed is not None and labels is not None:
            phi = h.flatten(1)  # (N, F)
            logits = logits + (self.embed(labels).to(phi.dtype) * phi).sum(dim=1)
        return logits


def build_gan(config: DCGANConfig | None = None) -> tuple[Generator, Discriminator]:
    """Return a freshly initialised ``(Generator, Discriminator)`` pair.

    Example:
        >>> G, D = build_gan(DCGANConfig(image_size=32, num_classes=2))
    """
    config = config or DCGANConfig()
    return Generator(config), Discriminator(config)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (spectral norm's power-iteration vectors are buffers: not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def layer_macs(model: nn.Module, *inputs: torch.Tensor | None) -> dict[str, int]:
    """Multiply-accumulates per sample of each conv, conv-transpose and linear layer.

    Runs one forward with hooks. Conv: ``out elements x in_channels/groups x kh x kw``;
    conv-transpose: ``in elements x out_channels/groups x kh x kw`` (every input pixel is
    scattered through the whole kernel, as fvcore counts it); linear: ``in x out``.

    Args:
        model: the network.
        *inputs: its forward arguments (``None`` for an unused optional one, such as an
            unconditional model's labels); their first dimension is the batch.

    Returns:
        ``{module name: MACs per sample}`` in call order. The model runs in eval mode (so
        BatchNorm statistics are untouched) and is then put back in its previous mode.
    """
    was_training = model.training
    names = {m: name for name, m in model.named_modules()}
    macs: dict[str, int] = {}

    def hook(m: nn.Module, args: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        x = args[0]
        if isinstance(m, nn.ConvTranspose2d):
            n = x[0].numel() * m.out_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Conv2d):
            n = out[0].numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        else:
            assert isinstance(m, nn.Linear)  # hooks go on conv, conv-transpose and linear only
            n = out[0].numel() * m.in_features
        macs[names[m]] = macs.get(names[m], 0) + n

    kinds = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    try:
        with torch.no_grad():
            model.eval()(*inputs)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return macs


def training_flops_per_image(config: DCGANConfig) -> float:
    """Forward + backward FLOPs of one training image through G and D, for GFLOP/s benchmarks.

    Accounting (pytorch/examples' loop, which reuses the D-step fake for the G step):

    * ``G_fwd``, ``D_fwd``: FLOPs of one forward = ``2 x`` :func:`layer_macs` summed over
      conv / conv-transpose / linear layers. Norms, activations, embeddings, the projection
      product and spectral norm's power iteration are not counted (well under 1%).
    * A backward costs ``2 x`` its forward (input and weight gradients), so a trained
      forward costs ``3 x``.
    * D step, one real and one fake image: ``3 D_fwd + 3 D_fwd``, plus ``G_fwd`` for the fake.
    * G step: ``D_fwd`` on the fake, backward through D and G: ``3 D_fwd + 2 G_fwd``.

    Total: ``3 G_fwd + 9 D_fwd``.

    Returns:
        FLOPs per image in the batch (divide by 1e9 for GFLOP).
    """
    with torch.device("meta"):  # shapes only: no memory, no compute
        G, D = build_gan(config)
        z = torch.zeros(1, config.latent_dim)
        x = torch.zeros(1, config.channels, config.image_size, config.image_size)
        y = torch.zeros(1, dtype=torch.long) if config.conditional else None
        g_fwd = 2 * sum(layer_macs(G, z, y).values())
        d_fwd = 2 * sum(layer_macs(D, x, y).values())
    return float(3 * g_fwd + 9 * d_fwd)
