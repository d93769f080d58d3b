import json

import pytest

from aeapp.config import InferenceConfig, ModelConfig, TrainConfig


def test_model_config_round_trips_through_json():
    cfg = ModelConfig(widths=(8, 16, 32), encoder_blocks=(1, 2, 3), decoder_blocks=(1, 1, 1))
    again = ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert again.stride == cfg.unshuffle * 4


def test_train_config_round_trips_with_nested_model():
    cfg = TrainConfig(data="photos", seed=7, model=ModelConfig(latent_channels=8), inference=InferenceConfig(prefill="telea_ns"))
    again = TrainConfig.from_dict(json.loads(cfg.to_json()))
    assert again == cfg


def test_unknown_fields_are_refused():
    with pytest.raises(ValueError, match="unknown ModelConfig fields: colour"):
        ModelConfig.from_dict({"colour": 3})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"widths": ()},
        {"widths": (8, 16), "encoder_blocks": (1,), "decoder_blocks": (1, 1)},
        {"latent_channels": 0},
    ],
)
def test_invalid_model_configs_are_refused(kwargs):
    base = {"widths": (8, 16), "encoder_blocks": (1, 1), "decoder_blocks": (1, 1)}
    with pytest.raises(ValueError):
        ModelConfig(**{**base, **kwargs})


def test_noisy_skip_levels_must_be_levels_the_architecture_has():
    two_levels = ModelConfig(widths=(8, 16), encoder_blocks=(1, 1), decoder_blocks=(1, 1))
    InferenceConfig(noisy_skip_levels=(0,)).check(two_levels)
    with pytest.raises(ValueError, match="noisy_skip_levels must name skip levels"):
        InferenceConfig(noisy_skip_levels=(1,)).check(two_levels)


def test_training_data_has_no_default_outside_the_repository():
    with pytest.raises(ValueError, match="data is required"):
        TrainConfig()
    assert TrainConfig(data="photos").val_data == ()  # validation only where sets are named


@pytest.mark.parametrize("kwargs, message", [
    ({"task": "paint"}, "task must be one of fill, restore"),
    ({"pixel_loss": "l2"}, "pixel_loss must be one of l1, psnr"),
    ({"mask_weights": [1, 1]}, "mask_weights must be four non-negative odds"),
    ({"mask_weights": [1, -1, 1, 1]}, "mask_weights must be four non-negative odds"),
    ({"mask_weights": [0, 0, 0, 0]}, "mask_weights must be four non-negative odds"),
])
def test_invalid_train_configs_are_refused(kwargs, message):
    # A resolved config.json read back, not only the command line, must meet these.
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict({**TrainConfig(data="photos").to_dict(), **kwargs})
