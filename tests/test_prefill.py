import numpy as np
import pytest
import torch

from aeapp import peers
from aeapp.config import InferenceConfig
from aeapp.edge_solve import blend_edge_band
from aeapp.prefill import coarse_fill, prefill

from .conftest import make_photo


@pytest.fixture
def holes():
    m = np.zeros((40, 52), bool)
    m[10:20, 10:30] = True
    return m


@pytest.mark.parametrize("method", ["telea", "telea_ns", "telea_ns_band", "coarse", "zeros"])
def test_known_pixels_are_kept(method, holes):
    img = make_photo()
    out = prefill(img, holes, method)
    assert out.shape == img.shape and out.dtype == np.float32
    assert np.array_equal(out[~holes], img[~holes])


def test_telea_is_opencv_telea(holes):
    img = make_photo()
    assert np.array_equal(prefill(img, holes, "telea"), peers.inpaint_telea(img, holes))


def test_telea_ns_is_the_mean_of_both_peers(holes):
    img = make_photo()
    both = (peers.inpaint_telea(img, holes) + peers.inpaint_ns(img, holes)) / 2
    assert np.allclose(prefill(img, holes, "telea_ns"), both, atol=1e-7)


def test_telea_ns_band_is_that_mean_with_its_edge_band_blended(holes):
    img = make_photo()
    mean = prefill(img, holes, "telea_ns")
    banded = prefill(img, holes, "telea_ns_band")
    assert np.allclose(banded, blend_edge_band(mean, holes), atol=1e-6)
    assert not np.allclose(banded[holes], mean[holes])


def test_coarse_fill_is_close_to_the_surroundings(holes):
    img = np.full((40, 52, 3), 0.3, np.float32)
    img[:, 26:] = 0.7
    out = prefill(img, holes, "coarse")
    assert abs(out[15, 12, 0] - 0.3) < 0.1 and abs(out[15, 28, 0] - 0.7) < 0.15
    assert np.all(prefill(img, holes, "zeros")[holes] == 0)


def test_empty_mask_changes_nothing():
    img = make_photo()
    assert prefill(img, np.zeros(img.shape[:2], bool), "telea") is img


def test_coarse_fill_handles_tiny_and_nearly_empty_images():
    x = torch.rand(1, 3, 3, 3)
    m = torch.ones(1, 1, 3, 3)
    m[..., 0, 0] = 0
    out = coarse_fill(x, m)
    assert torch.allclose(out, x[..., :1, :1].expand_as(x))  # one known pixel: its colour everywhere


def test_unknown_prefill_is_refused():
    with pytest.raises(ValueError, match="prefill must be one of"):
        InferenceConfig(prefill="magic")


@pytest.mark.parametrize("shape", [(1, 25), (25, 1), (1, 1), (2, 7)])
@pytest.mark.parametrize("method", ["telea", "telea_ns"])
def test_classical_fills_of_thin_images_are_deterministic(shape, method):
    # cv2.inpaint reads unwritten memory on single-row images; the result must not vary.
    rng = np.random.default_rng(25)
    img = rng.random((*shape, 3), dtype=np.float32)
    holes = rng.random(shape) < 0.4
    holes.flat[0] = True
    first = prefill(img, holes, method)
    for _ in range(30):
        junk = [np.random.default_rng(i).random(5000) for i in range(10)]  # churn the heap
        del junk
        assert np.array_equal(prefill(img, holes, method), first)
    assert np.array_equal(first[~holes], img[~holes])
