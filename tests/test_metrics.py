import numpy as np
import pytest

from aeapp import metrics


def test_psnr_of_a_known_error():
    a = np.zeros((10, 10, 3), np.float32)
    b = np.full_like(a, 0.1)
    assert metrics.psnr(a, b) == pytest.approx(20.0, abs=1e-4)


def test_masked_psnr_only_counts_masked_pixels():
    a = np.zeros((10, 10, 3), np.float32)
    b = a.copy()
    b[:5] = 0.1
    mask = np.zeros((10, 10), bool)
    mask[:5] = True
    assert metrics.psnr(a, b, mask) == pytest.approx(20.0, abs=1e-4)
    assert metrics.psnr(a, b) > 20.0


def test_empty_mask_is_refused():
    a = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(ValueError, match="mask is empty"):
        metrics.psnr(a, a, np.zeros((8, 8), bool))


def test_ssim_is_one_for_identical_and_lower_for_noisy(photo):
    noisy = np.clip(photo + np.random.default_rng(0).normal(0, 0.1, photo.shape), 0, 1).astype(np.float32)
    assert metrics.ssim(photo, photo) == pytest.approx(1.0)
    assert metrics.ssim(photo, noisy) < 0.9


def test_shape_mismatch_is_refused(photo):
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.psnr(photo, photo[:-1])
