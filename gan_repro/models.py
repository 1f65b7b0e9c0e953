"""Generators and discriminators. D returns one logit per sample, shape (B,). A user's own G and D come
from model.generator._target_ and model.discriminator._target_ (extend.py, docs/extending.md)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn as nn
from omegaconf import DictConfig

from gan_repro.errors import ConfigError
from gan_repro.extend import build_network, has_target, is_user_model

MODEL_NAMES = ("dcgan", "dcgan_nobn", "mlp")
NORMS = ("batch", "layer", "none")  # D's hidden normalization (the probe's critic.<name>.norm)


def dcgan_depth(image_size: int) -> int:
    """Number of stride-2 layers between 4x4 and image_size (image_size = 4 * 2**depth); needs 2^k >= 16."""
    depth = math.log2(image_size) - 2 if image_size > 0 else -1
    if depth != int(depth) or image_size < 16:
        raise ConfigError(
            "dataset.image_size", f"DCGAN needs a power of 2 >= 16 (16, 32, 64, 128, ...), got {image_size}"
        )
    return int(depth)


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN's init (convs have no bias): conv weights N(0, 0.02); norm scale N(1, 0.02), shift 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """z (B, nz) -> image (B, channels, S, S) in [-1, 1]; S = 4 * 2**depth."""

    def __init__(self, *, image_size: int, nz: int, ngf: int, channels: int, batch_norm: bool = True):
        super().__init__()
        depth = dcgan_depth(image_size)
        self.nz = nz

        def norm(width: int) -> nn.Module:
            return nn.BatchNorm2d(width) if batch_norm else nn.Identity()

        width = ngf * 2 ** (depth - 1)  # 64x64: ngf*8 at 4x4, as in DCGAN
        layers: list[nn.Module] = [  # (B, nz, 1, 1) -> (B, width, 4, 4)
            nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False),
            norm(width),
            nn.ReLU(True),
        ]
        for _ in range(depth - 1):  # each doubles the side and halves the width
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                norm(width // 2),
                nn.ReLU(True),
            ]
            width //= 2
        layers += [
            nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False),
            nn.Tanh(),
        ]  # (B, ngf, S/2, S/2) -> (B, C, S, S)
        self.net = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.nz, 1, 1))


def discriminator_norm(kind: str, width: int) -> nn.Module:
    """D's hidden normalization: BatchNorm (DCGAN), layer norm over (C, H, W) with a per-channel scale and
    shift (GroupNorm with one group: WGAN-GP's drop-in for a critic without BatchNorm), or none."""
    if kind == "batch":
        return nn.BatchNorm2d(width)
    if kind == "layer":
        return nn.GroupNorm(1, width)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm '{kind}'; choose one of {', '.join(NORMS)}")


class DCGANDiscriminator(nn.Module):
    """image (B, channels, S, S) -> logit (B,); no normalization on the first layer."""

    def __init__(self, *, image_size: int, ndf: int, channels: int, norm: str = "batch"):
        super().__init__()
        depth = dcgan_depth(image_size)
        layers: list[nn.Module] = [
            nn.Conv2d(channels, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, True),
        ]  # (B, ndf, S/2, S/2)
        width = ndf
        for _ in range(depth - 1):  # each halves the side and doubles the width
            layers += [
                nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                discriminator_norm(norm, width * 2),
                nn.LeakyReLU(0.2, True),
            ]
            width *= 2
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False)]  # (B, ndf*2**(depth-1), 4, 4) -> (B, 1, 1, 1)
        self.net = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images).view(-1)


class MLPGenerator(nn.Module):
    """z (B, nz) -> image (B, C, S, S): three ReLU hidden layers, Tanh output (WGAN's MLP_G + Tanh)."""

    def __init__(self, *, image_size: int, nz: int, hidden: int, channels: int):
        super().__init__()
        self.nz, self.shape = nz, (channels, image_size, image_size)
        self.net = nn.Sequential(
            nn.Linear(nz, hidden),
            nn.ReLU(True),
            nn.Linear(hidden, hidden),
            nn.ReLU(True),
            nn.Linear(hidden, hidden),
            nn.ReLU(True),
            nn.Linear(hidden, channels * image_size * image_size),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.nz)).view(z.shape[0], *self.shape)


class MLPDiscriminator(nn.Module):
    """image (B, C, S, S) -> logit (B,): three ReLU hidden layers (WGAN's MLP_D)."""

    def __init__(self, *, image_size: int, hidden: int, channels: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(channels * image_size * image_size, hidden),
            nn.ReLU(True),
            nn.Linear(hidden, hidden),
            nn.ReLU(True),
            nn.Linear(hidden, hidden),
            nn.ReLU(True),
            nn.Linear(hidden, 1),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images.flatten(1)).view(-1)


class LinearDiscriminator(nn.Module):
    """image (B, C, S, S) -> logit (B,): logistic regression on the pixels, w . x + b (critic=linear, the
    linear-shortcut control: if it separates real from fake, Figure 1 needs no nonlinear D on these data)."""

    def __init__(self, *, image_size: int, channels: int):
        super().__init__()
        self.net = nn.Linear(channels * image_size * image_size, 1)  # PyTorch's default init

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images.flatten(1)).view(-1)


def build_generator(model_cfg: DictConfig, *, image_size: int, channels: int) -> nn.Module:
    """The generator named by the `model` config node (checked by config.py), or the user's own
    (model.generator._target_, called with nz, image_size and channels)."""
    if is_user_model(model_cfg):
        return build_network(
            "model.generator",
            model_cfg.generator,
            nz=int(model_cfg.nz),
            image_size=image_size,
            channels=channels,
        )
    if model_cfg.name == "mlp":
        return MLPGenerator(
            image_size=image_size, nz=model_cfg.nz, hidden=model_cfg.hidden, channels=channels
        )
    return DCGANGenerator(
        image_size=image_size,
        nz=model_cfg.nz,
        ngf=model_cfg.ngf,
        channels=channels,
        batch_norm=bool(model_cfg.batch_norm),
    )


def build_discriminator(
    model_cfg: DictConfig,
    *,
    image_size: int,
    channels: int,
    norm: str = "batch",
    architecture: str | DictConfig = "model",
) -> nn.Module:
    """The discriminator named by the `model` config node (dcgan_nobn keeps DCGAN's D), with `norm` as its
    hidden normalization (DCGAN's D; the MLP has none); architecture=linear: logistic regression on pixels.
    A user's D (a critic's architecture._target_, or model.discriminator._target_) is called with image_size
    and channels; critic.<name>.norm does not reach it."""
    if has_target(architecture):
        return build_network("critic architecture", architecture, image_size=image_size, channels=channels)
    if architecture == "linear":
        return LinearDiscriminator(image_size=image_size, channels=channels)
    if is_user_model(model_cfg):
        return build_network(
            "model.discriminator", model_cfg.discriminator, image_size=image_size, channels=channels
        )
    if model_cfg.name == "mlp":
        return MLPDiscriminator(image_size=image_size, hidden=model_cfg.hidden, channels=channels)
    return DCGANDiscriminator(image_size=image_size, ndf=model_cfg.ndf, channels=channels, norm=norm)


def requires_grad(model: nn.Module, flag: bool) -> None:
    """Switch gradient tracking for all of a model's parameters."""
    for parameter in model.parameters():
        parameter.requires_grad_(flag)


@contextmanager
def tracking_gradients(model: nn.Module) -> Iterator[None]:
    """Every parameter of the model tracks gradients for the duration, then each flag is as it was (the
    probe's frozen G is differentiated, never trained)."""
    parameters = list(model.parameters())
    was_tracking = [parameter.requires_grad for parameter in parameters]
    requires_grad(model, True)
    try:
        yield
    finally:
        for parameter, flag in zip(parameters, was_tracking, strict=True):
            parameter.requires_grad_(flag)
