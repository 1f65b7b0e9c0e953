"""Shape tests for every model at 16, 32 and 64, and the DCGAN details the paper relies on."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from gan_repro.errors import ConfigError
from gan_repro.models import build_discriminator, build_generator, dcgan_depth
from tests.helpers import compose_config

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("model", ["dcgan", "dcgan_nobn", "mlp"])
@pytest.mark.parametrize("image_size", [16, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes(model: str, image_size: int, channels: int) -> None:
    cfg = compose_config(
        [f"model={model}", "model.ngf=8", "model.ndf=8", "model.hidden=32"]
        if model == "mlp"
        else [f"model={model}", "model.ngf=8", "model.ndf=8"]
    )
    generator = build_generator(cfg.model, image_size=image_size, channels=channels)
    discriminator = build_discriminator(cfg.model, image_size=image_size, channels=channels)
    images = generator(torch.randn(5, cfg.model.nz))
    assert images.shape == (5, channels, image_size, image_size)
    assert images.abs().max() <= 1.0  # Tanh output, the data's range
    logits = discriminator(images)
    assert logits.shape == (5,)  # one logit per sample


def test_dcgan_paper_widths() -> None:
    """64x64 DCGAN: G starts at ngf*8 on 4x4; D has no BatchNorm on its first layer."""
    cfg = compose_config(["scale=paper"])
    generator = build_generator(cfg.model, image_size=64, channels=3)
    first = generator.net[0]
    assert isinstance(first, nn.ConvTranspose2d) and first.out_channels == 64 * 8 and first.in_channels == 100
    discriminator = build_discriminator(cfg.model, image_size=64, channels=3)
    assert isinstance(discriminator.net[0], nn.Conv2d) and isinstance(discriminator.net[1], nn.LeakyReLU)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in discriminator.modules()) == 3
    assert discriminator.net[1].negative_slope == 0.2


def test_dcgan_init_is_normal_002() -> None:
    torch.manual_seed(0)
    cfg = compose_config(["scale=paper"])
    discriminator = build_discriminator(cfg.model, image_size=64, channels=3)
    weights = torch.cat([m.weight.flatten() for m in discriminator.modules() if isinstance(m, nn.Conv2d)])
    assert abs(weights.std().item() - 0.02) < 0.001 and abs(weights.mean().item()) < 0.001


def test_nobn_generator_has_no_batchnorm() -> None:
    cfg = compose_config(["model=dcgan_nobn"])
    generator = build_generator(cfg.model, image_size=32, channels=1)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in generator.modules())


@pytest.mark.parametrize("image_size", [0, 8, 24, 48, 100])
def test_impossible_image_size_names_the_setting(image_size: int) -> None:
    with pytest.raises(ConfigError) as error:
        dcgan_depth(image_size)
    assert error.value.setting == "dataset.image_size"
