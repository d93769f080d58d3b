import numpy as np
import pytest

from aeapp import masks


def test_mask_from_black_and_white_image():
    arr = np.zeros((4, 4, 3), np.uint8)
    arr[1, 1] = 255
    arr[2, 2] = 3  # JPEG noise around black is not a hole
    m = masks.mask_from_array(arr)
    assert m.sum() == 1 and m[1, 1]


def test_mask_from_alpha_when_not_fully_opaque():
    arr = np.zeros((4, 4, 4), np.uint8)
    arr[0, 0, 3] = 255  # painted, in black
    m = masks.mask_from_array(arr)
    assert m.sum() == 1 and m[0, 0]


def test_opaque_rgba_mask_uses_colour():
    arr = np.zeros((4, 4, 4), np.uint8)
    arr[..., 3] = 255
    arr[3, 3, :3] = 255
    assert masks.mask_from_array(arr).sum() == 1


def test_layers_union_whatever_the_brush_colour():
    a = np.zeros((5, 5, 4), np.uint8)
    a[0, 0] = [10, 200, 30, 255]
    b = np.zeros((5, 5, 4), np.uint8)
    b[4, 4] = [0, 0, 0, 255]
    erased = np.zeros((5, 5, 4), np.uint8)
    erased[2, 2] = [255, 255, 255, 0]  # an erased stroke is transparent again
    m = masks.mask_from_layers([a, b, erased, None], (5, 5))
    assert m.sum() == 2 and m[0, 0] and m[4, 4]


def test_fit_mask_resizes_same_aspect_and_refuses_others():
    small = np.zeros((10, 20), bool)
    small[:5, :10] = True
    big = masks.fit_mask(small, (20, 40))
    assert big.shape == (20, 40) and big[:10, :20].all() and not big[10:].any()
    with pytest.raises(ValueError, match="the mask is 20x10 but the image is 20x20"):
        masks.fit_mask(small, (20, 20))


def test_composite_is_exact_outside_the_mask(photo):
    pred = np.random.default_rng(0).random(photo.shape).astype(np.float32)
    mask = np.zeros(photo.shape[:2], bool)
    mask[5:10, 5:20] = True
    out = masks.composite(pred, photo, mask)
    assert np.array_equal(out[~mask], photo[~mask])
    assert np.array_equal(out[mask], pred[mask])


def test_dilate_grows_the_mask():
    m = np.zeros((9, 9), bool)
    m[4, 4] = True
    assert masks.dilate(m, 2).sum() > 9 and masks.dilate(m, 0).sum() == 1


def test_overlay_tints_only_masked_pixels(photo):
    mask = np.zeros(photo.shape[:2], bool)
    mask[0, 0] = True
    out = masks.overlay(photo, mask)
    assert np.array_equal(out[1:], photo[1:]) and not np.array_equal(out[0, 0], photo[0, 0])
