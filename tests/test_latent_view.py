import numpy as np
import torch

from aeapp.latent_view import latent_picture

from .conftest import make_photo


def test_picture_has_the_image_size_and_shows_structure(engine):
    photo = make_photo(37, 45)
    encoded = engine.encode(photo)
    for level in (0, None):
        pic = latent_picture(encoded, level)
        assert pic.shape == (37, 45, 3) and pic.dtype == np.float32
        assert 0.0 <= pic.min() and pic.max() <= 1.0
    assert latent_picture(encoded, 0).std() > 0.05  # not a flat colour


def test_constant_latent_gives_a_black_picture(engine):
    encoded = engine.encode(make_photo(16, 16))
    encoded.latent.skips[0] = torch.zeros_like(encoded.latent.skips[0])
    assert np.all(latent_picture(encoded, 0) == 0)
