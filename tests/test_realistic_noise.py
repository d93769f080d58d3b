import numpy as np
import pytest

from aeapp import damage
from aeapp.realistic_noise import CAMERA_LEVELS, add_noise, camera_noise, jpeg, realistic_degradation

from .conftest import make_photo


def _eight_bit(x):
    return np.allclose(x * 255, np.round(x * 255), atol=1e-3) and x.min() >= 0 and x.max() <= 1


def test_degradations_are_seeded_eight_bit_and_varied():
    clean = make_photo(64, 64, seed=0)
    a = realistic_degradation(clean, np.random.default_rng(5))
    b = realistic_degradation(clean, np.random.default_rng(5))
    assert np.array_equal(a, b) and a.shape == clean.shape and a.dtype == np.float32 and _eight_bit(a)
    draws = [realistic_degradation(clean, np.random.default_rng(s)) for s in range(12)]
    spreads = [float((d - clean).std() * 255) for d in draws]
    assert max(spreads) > 3 * min(spreads)  # light and strong noise both drawn


def test_signal_dependent_noise_grows_with_the_signal_and_correlated_noise_is_smooth():
    dark, bright = np.full((128, 128, 3), 0.1, np.float32), np.full((128, 128, 3), 0.9, np.float32)
    rng = np.random.default_rng(0)
    assert (add_noise(bright, 20, rng, signal_share=1.0) - bright).std() > 2 * (add_noise(dark, 20, rng, signal_share=1.0) - dark).std()
    grey = np.full((128, 128, 3), 0.5, np.float32)

    def neighbour_correlation(x):
        n = x - 0.5
        return float(np.corrcoef(n[:, :-1].ravel(), n[:, 1:].ravel())[0, 1])

    assert neighbour_correlation(add_noise(grey, 20, rng)) < 0.1
    assert neighbour_correlation(add_noise(grey, 20, rng, correlation=1.0)) > 0.5
    assert (add_noise(grey, 20, rng, correlation=1.0) - grey).std() * 255 == pytest.approx(20, rel=0.15)
    g = add_noise(grey, 20, rng, grey=True)
    assert np.array_equal(g[..., 0], g[..., 1])


def test_camera_noise_keeps_colours_in_place_and_is_stronger_at_the_high_level():
    red = np.zeros((16, 16, 3), np.float32)
    red[..., 0] = 0.8
    assert np.argmax(camera_noise(red, np.random.default_rng(0), "camera_low", None).mean((0, 1))) == 0  # RGGB read right
    grey = np.full((64, 64, 3), 0.5, np.float32)
    low, high = (float((camera_noise(grey, np.random.default_rng(1), lvl, None) - 0.5).std()) for lvl in CAMERA_LEVELS)
    assert high > 2 * low > 0
    assert _eight_bit(camera_noise(grey, np.random.default_rng(1)))
    with pytest.raises(ValueError, match="unknown camera level"):
        camera_noise(grey, np.random.default_rng(1), "iso9")
    with pytest.raises(ValueError, match="at least 2x2"):
        camera_noise(grey[:1], np.random.default_rng(1))


def test_jpeg_round_trip_loses_more_at_low_quality():
    clean = make_photo(64, 64, seed=2)
    assert np.abs(jpeg(clean, 30) - clean).mean() > np.abs(jpeg(clean, 95) - clean).mean()


def test_camera_tasks_are_scored_damage_seeded_like_the_others():
    clean = make_photo(48, 64, seed=4)
    for task in damage.CAMERA_TASKS:
        a, mask = damage.scored_damage(clean, task, 0, 3)
        b, _ = damage.scored_damage(clean, task, 0, 3)
        assert np.array_equal(a, b) and not mask.any() and not np.array_equal(a, clean)
        assert not np.array_equal(a, damage.scored_damage(clean, task, 0, 4)[0])
