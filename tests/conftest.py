"""Shared fixtures: a tiny model config, seeded generators, small synthetic images, and
tiny checkpoints in tmp_path. Nothing here needs ../shared or a GPU."""

import dataclasses
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch

from aeapp import checkpoint
from aeapp.config import InferenceConfig, ModelConfig
from aeapp.engine import Engine
from aeapp.model import ConvAutoencoder

TINY = ModelConfig(
    unshuffle=2,
    widths=(8, 16),
    encoder_blocks=(1, 1),
    decoder_blocks=(1, 1),
    global_blocks=1,
    bottleneck_dilations=(1, 2),
    latent_channels=4,
)
TINY_INFERENCE = InferenceConfig(noisy_skip_levels=(0,))


def make_tiny_model(seed: int = 0) -> ConvAutoencoder:
    """The tiny model with every weight random: zero-initialised layers would make it the
    identity, which hides bugs."""
    torch.manual_seed(seed)
    model = ConvAutoencoder(TINY, TINY_INFERENCE)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.15)
    return model.eval()


def make_headed_model() -> ConvAutoencoder:
    """The tiny model with a refinement head whose weights are random (a fresh head's last
    layer is zero, so it would add nothing)."""
    model = ConvAutoencoder(dataclasses.replace(TINY, refine_channels=4), TINY_INFERENCE).eval()
    with torch.no_grad():
        for p in model.refine.parameters():
            p.normal_(0.0, 0.3)
    return model


def make_hole(shape, box=(10, 20, 12, 30)) -> np.ndarray:
    """A bool mask with one rectangular hole, box = (y0, y1, x0, x1)."""
    m = np.zeros(shape, bool)
    y0, y1, x0, x1 = box
    m[y0:y1, x0:x1] = True
    return m


def make_photo(h: int = 40, w: int = 52, seed: int = 0) -> np.ndarray:
    """A smooth, textured float32 HxWx3 image in [0,1]: gradients, a disc and stripes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 0.5 + 0.4 * np.sin(x / max(w, 1) * 3.0 + rng.uniform(0, 3))
    g = 0.3 + 0.5 * (y / max(h - 1, 1))
    b = 0.5 + 0.3 * np.cos((x + y) / 6.0)
    disc = ((x - w / 2) ** 2 + (y - h / 2) ** 2) < (min(h, w) / 4) ** 2
    img = np.stack([r, g, b], axis=2)
    img[disc] = [0.9, 0.8, 0.2]
    return np.clip(img, 0, 1).astype(np.float32)


@pytest.fixture
def tiny_config() -> ModelConfig:
    return TINY


@pytest.fixture
def tiny_model() -> ConvAutoencoder:
    return make_tiny_model()


def make_tiny_networks() -> dict:
    return {"fill": make_tiny_model(0), "restore": make_tiny_model(1)}


@pytest.fixture
def engine() -> Engine:
    return Engine(make_tiny_networks(), torch.device("cpu"), torch.float32)


@pytest.fixture
def tiny_checkpoint(tmp_path):
    info = {"networks": {"fill": {"seed": 0, "validation": {"psnr_thin": 20.0}}, "restore": {"seed": 1}}}
    return checkpoint.save(tmp_path / "tiny.safetensors", make_tiny_networks(), info)


@pytest.fixture
def photo() -> np.ndarray:
    return make_photo()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
