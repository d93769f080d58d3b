import numpy as np
import pytest
import torch

from aeapp.augment import AugmentSettings, _inscribed_fraction, augment

from .conftest import make_photo


def test_same_seed_same_result_and_seeds_differ():
    img = make_photo(48, 64)
    s = AugmentSettings()
    a, b, c = augment(img, s, 3), augment(img, s, 3), augment(img, s, 4)
    assert a.shape == img.shape and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_caller_random_state_is_left_alone():
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    augment(make_photo(), AugmentSettings(), 9)
    assert torch.equal(torch.rand(1), expected)


def test_everything_off_is_the_identity():
    img = make_photo()
    off = AugmentSettings(hflip=0, vflip=0, rotation=0, crop=1.0, brightness=0, contrast=0, saturation=0)
    assert np.allclose(augment(img, off, 0), img)


def test_certain_flip_mirrors():
    img = make_photo()
    only_flip = AugmentSettings(hflip=1.0, rotation=0, crop=1.0, brightness=0, contrast=0, saturation=0)
    assert np.allclose(augment(img, only_flip, 0), img[:, ::-1])


def test_rotation_leaves_no_empty_corners():
    img = np.full((60, 80, 3), 0.7, np.float32)
    rot = AugmentSettings(hflip=0, rotation=30, crop=1.0, brightness=0, contrast=0, saturation=0)
    for seed in range(5):
        out = augment(img, rot, seed)
        assert out.min() > 0.6  # black corners would show as 0


def test_inscribed_fraction():
    assert _inscribed_fraction(10, 10, 0) == 1.0
    assert _inscribed_fraction(10, 10, 45) == pytest.approx(1 / np.sqrt(2))


@pytest.mark.parametrize("kwargs", [{"hflip": 2}, {"rotation": 90}, {"crop": 0}, {"brightness": -0.1}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        AugmentSettings(**kwargs)


def test_tiny_images_survive():
    assert augment(make_photo(1, 1), AugmentSettings(), 0).shape == (1, 1, 3)
