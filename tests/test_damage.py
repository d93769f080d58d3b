import numpy as np
import pytest

from aeapp import damage

from .conftest import make_photo


@pytest.mark.parametrize("kind", damage.MASK_KINDS)
def test_masks_are_reproducible_from_a_seed(kind):
    a = damage.make_mask(kind, 120, 160, np.random.default_rng(5))
    b = damage.make_mask(kind, 120, 160, np.random.default_rng(5))
    c = damage.make_mask(kind, 120, 160, np.random.default_rng(6))
    assert a.dtype == bool and a.shape == (120, 160)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kind,low,high", [("thin", 0.005, 0.35), ("thick", 0.03, 0.6), ("boxes", 0.01, 0.5), ("scratches", 0.002, 0.15)])
def test_mask_coverage_is_in_a_sensible_range(kind, low, high):
    cover = [damage.make_mask(kind, 321, 481, np.random.default_rng(s)).mean() for s in range(20)]
    assert low < np.mean(cover) < high
    assert max(cover) < 0.75


def test_thick_strokes_are_thicker_than_thin_ones():
    from scipy import ndimage

    def mean_width(kind):
        widths = []
        for s in range(10):
            m = damage.make_mask(kind, 321, 481, np.random.default_rng(s))
            widths.append(2 * ndimage.distance_transform_edt(m)[m].mean())
        return np.mean(widths)

    assert mean_width("thick") > 2.5 * mean_width("thin")


def test_scale_stretches_strokes():
    small = damage.thick_strokes(256, 256, np.random.default_rng(0), scale=0.5).mean()
    large = damage.thick_strokes(256, 256, np.random.default_rng(0), scale=2.0).mean()
    assert large > small


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown mask kind 'blobs'"):
        damage.make_mask("blobs", 10, 10, np.random.default_rng(0))


def test_gaussian_noise_has_the_requested_sigma_and_is_8_bit():
    img = np.full((200, 200, 3), 0.5, np.float32)
    noisy = damage.add_gaussian_noise(img, 25, np.random.default_rng(0))
    assert abs((noisy - img).std() * 255 - 25) < 1.0
    assert np.allclose(noisy * 255, np.round(noisy * 255), atol=1e-4)
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert np.array_equal(noisy, damage.add_gaussian_noise(img, 25, np.random.default_rng(0)))


def test_negative_sigma_is_refused():
    with pytest.raises(ValueError):
        damage.add_gaussian_noise(np.zeros((4, 4, 3), np.float32), -1, np.random.default_rng(0))


def test_apply_damage_blacks_out_holes_and_leaves_the_rest():
    img = make_photo(64, 64)
    damaged, mask = damage.apply_damage(img, "thick", np.random.default_rng(0))
    assert mask.any()
    assert np.all(damaged[mask] == 0)
    assert np.array_equal(damaged[~mask], img[~mask])
    noisy, empty = damage.apply_damage(img, "noise", np.random.default_rng(0), sigma=15)
    assert not empty.any() and not np.array_equal(noisy, img)


def test_mixed_masks_cover_several_kinds():
    masks = [damage.mixed_mask(100, 100, np.random.default_rng(s)) for s in range(30)]
    assert all(m.any() for m in masks)
    assert len({m.sum() for m in masks}) > 20


def test_tiny_images_get_masks_too():
    for kind in damage.MASK_KINDS:
        assert damage.make_mask(kind, 1, 1, np.random.default_rng(0)).shape == (1, 1)


def test_the_cli_offers_the_damage_kinds_and_the_strength_the_package_has():
    from aeapp import cli, engine

    assert cli.DAMAGE_KINDS == damage.KINDS and cli.VARY_STRENGTH == engine.VARY_STRENGTH


def test_camera_damage_is_seeded_whole_image_noise_and_described():
    clean = np.full((32, 40, 3), 0.5, np.float32)
    a, mask = damage.apply_damage(clean, "camera", np.random.default_rng(3))
    b, _ = damage.apply_damage(clean, "camera", np.random.default_rng(3))
    assert np.array_equal(a, b) and not mask.any() and (a - clean).std() > 0.02
    assert damage.describe("camera", 25, mask).startswith("a simulated camera's noise")
    assert damage.describe("noise", 25, mask) == "Gaussian noise, sigma 25"
    holes = np.zeros((10, 10), bool)
    holes[:5] = True
    assert damage.describe("boxes", 25, holes) == "boxes holes (50.0% of the image)"
