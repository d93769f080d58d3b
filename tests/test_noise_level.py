import dataclasses

import numpy as np
import pytest
import torch

from aeapp import damage
from aeapp.engine import Engine
from aeapp.model import ConvAutoencoder
from aeapp.noise_level import MAP_SCALE, estimate_sigma, estimate_sigma_array, level_map

from .conftest import TINY, TINY_INFERENCE, make_photo


@pytest.mark.parametrize("sigma", [5.0, 15.0, 25.0])
def test_the_estimate_finds_gaussian_noise_on_a_photo(sigma):
    clean = make_photo(256, 256, seed=3)
    noisy = damage.add_gaussian_noise(clean, sigma, np.random.default_rng(0), clip=False, quantize=False)
    assert estimate_sigma_array(noisy) * 255 == pytest.approx(sigma, rel=0.15)
    assert estimate_sigma_array(clean) * 255 < 3  # the photo's own edges are not taken for noise


def test_the_estimate_is_per_image_and_the_map_is_shaped_like_the_input():
    batch = torch.stack([torch.full((3, 32, 32), 0.5), torch.rand(3, 32, 32)])
    sigma = estimate_sigma(batch)
    assert sigma.shape == (2,) and sigma[0] == 0 and sigma[1] > 0.1
    assert estimate_sigma(torch.rand(1, 3, 1, 7)).item() == 0  # too small to have a diagonal detail
    like = torch.zeros(2, 1, 8, 12, dtype=torch.bfloat16)
    m = level_map(sigma, like)
    assert m.shape == (2, 1, 8, 12) and m.dtype == torch.bfloat16
    assert m[1, 0, 3, 5].item() == pytest.approx(sigma[1].item() * MAP_SCALE, rel=1e-2)


def _conditioned(seed=0) -> ConvAutoencoder:
    torch.manual_seed(seed)
    model = ConvAutoencoder(dataclasses.replace(TINY, noise_level_input=True), TINY_INFERENCE)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.15)
    return model.eval()


def test_a_conditioned_network_reads_the_level_not_the_mask():
    model = _conditioned()
    x = torch.rand(1, 3, 16, 16)
    empty, full = torch.zeros(1, 1, 16, 16), torch.ones(1, 1, 16, 16)
    with torch.no_grad():
        assert torch.equal(model(x, empty), model(x, full))  # the mask channel is not read
        assert torch.equal(model(x, empty), model(x, empty, noise_level=estimate_sigma(x)))  # estimated when not given
        assert not torch.equal(model(x, empty, noise_level=torch.tensor([0.0])), model(x, empty, noise_level=torch.tensor([0.2])))


def test_the_engine_tells_every_tile_the_whole_images_level(monkeypatch):
    model = _conditioned()
    engine = Engine({"restore": model}, torch.device("cpu"), torch.float32, tile=16, overlap=4, restore_views=1)
    seen = []
    encode = model.encode
    monkeypatch.setattr(model, "encode", lambda x, m, level=None: seen.append(level) or encode(x, m, level))
    image = make_photo(40, 36, seed=1)
    engine.repair(image)
    assert len(seen) > 4 and all(level is not None and level.item() == seen[0].item() for level in seen)
    assert seen[0].item() == pytest.approx(estimate_sigma_array(image))


def test_a_fine_tune_that_adds_the_level_input_starts_as_its_source(tmp_path):
    from aeapp import checkpoint
    from train.fine_tune import init_weights
    from train.train import parse_args

    from .conftest import make_tiny_model
    from .test_train import TINY_FLAGS

    source = make_tiny_model(2)
    path = checkpoint.save(tmp_path / "src.safetensors", {"restore": source})
    cfg = parse_args(["--data", "photos", "--task", "restore", *TINY_FLAGS, "--model-noise-level-input", "--init-from", str(path)])
    model, ema = ConvAutoencoder(cfg.model, cfg.inference), ConvAutoencoder(cfg.model, cfg.inference)
    init_weights(cfg, model, ema)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(model(x, torch.zeros(1, 1, 16, 16)), source(x, torch.zeros(1, 1, 16, 16)), atol=1e-6)
        assert torch.equal(ema.stem.weight, model.stem.weight)
