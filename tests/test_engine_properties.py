"""Property-based: random shapes, masks and strengths keep the engine's invariants."""

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aeapp.config import InferenceConfig
from aeapp.engine import Engine

from .conftest import make_tiny_networks

# The shipped fill network's prefill (its band solve meets every odd mask shape here).
ENGINE = Engine(make_tiny_networks(), torch.device("cpu"), torch.float32, tile=48, overlap=8,
                inference={"fill": InferenceConfig(prefill="telea_ns_band", noisy_skip_levels=(0,))})


@st.composite
def cases(draw):
    h = draw(st.integers(1, 70))
    w = draw(st.integers(1, 70))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    image = rng.random((h, w, 3), dtype=np.float32)
    density = draw(st.sampled_from([0.0, 0.05, 0.3, 0.9]))
    mask = rng.random((h, w)) < density
    if mask.all():
        mask.flat[0] = False
    strength = draw(st.sampled_from([0.0, 0.3, 1.0, 3.0]))
    steps = draw(st.integers(1, 2))
    return image, mask, strength, steps, seed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_repair_invariants(case):
    image, mask, strength, steps, seed = case
    out = ENGINE.repair(image, mask, steps=steps, strength=strength, seed=seed)
    assert out.shape == image.shape and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
    if mask.any():
        assert np.array_equal(out[~mask], image[~mask])
    again = ENGINE.repair(image, mask, steps=steps, strength=strength, seed=seed)
    assert np.array_equal(out, again)
