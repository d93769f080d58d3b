"""The app's operations as package functions (aeapp.studio) and its result files."""

import os
import time
from pathlib import Path

import numpy as np
import pytest

from aeapp import studio
from aeapp.augment import AugmentSettings
from aeapp.comparison import PeerResult
from aeapp.image_io import load_image, save_image
from aeapp.result_files import ResultFiles

from .conftest import make_photo


def _hole(shape):
    mask = np.zeros(shape, bool)
    mask[10:22, 12:30] = True
    return mask


def test_candidate_fills_differ_by_seed_and_each_is_that_seeds_repair(engine):
    photo, mask = make_photo(), _hole((40, 52))
    fills = studio.candidate_fills(engine, photo, mask, 1, 0.0, 5, 3)
    assert len(fills) == 3 and not np.array_equal(fills[0], fills[1])
    assert np.array_equal(fills[1], engine.repair(photo, mask, strength=studio.FILL_STRENGTH, seed=6))
    assert all(np.array_equal(f[~mask], photo[~mask]) for f in fills)
    two_pass = studio.candidate_fills(engine, photo, mask, 2, 4.0, 5, 2)
    assert np.array_equal(two_pass[0], engine.repair(photo, mask, steps=2, strength=4.0, seed=5))
    with pytest.raises(ValueError, match="Paint the damage first"):
        studio.candidate_fills(engine, photo, np.zeros((40, 52), bool), 1, 0.0, 0, 2)


def test_variations_carry_their_seeds_and_a_latent_picture(engine):
    photo = make_photo()
    variants, picture = studio.variations(engine, photo, 2.0, 2, 7, AugmentSettings())
    assert [s for _, s in variants] == [7, 8] and not np.array_equal(variants[0][0], variants[1][0])
    assert variants[0][0].shape == photo.shape and picture is not None and picture.ndim == 3
    again, _ = studio.variations(engine, photo, 2.0, 1, 7, AugmentSettings())
    assert np.array_equal(again[0][0], variants[0][0])


def test_report_scores_the_repair_and_its_peers_only_with_an_original():
    photo, mask = make_photo(), _hole((40, 52))
    damaged = photo.copy()
    damaged[mask] = 0
    text = studio.report(photo, damaged, mask, photo, 0.5, [PeerResult("OpenCV Telea", damaged, 0.01)])
    assert "| **aeapp** | **inf dB** |" in text and "| OpenCV Telea |" in text and "0.50 s" in text
    assert "Scores need the undamaged original" in studio.report(None, damaged, mask, photo, 0.5)


def test_known_originals_are_the_damaged_photos_source_or_a_shipped_example(tmp_path):
    example = make_photo(seed=3)
    save_image(example, tmp_path / "ex.png")
    originals = studio.KnownOriginals([tmp_path / "ex.png"])
    assert np.array_equal(originals.find(load_image(tmp_path / "ex.png")), load_image(tmp_path / "ex.png"))
    assert originals.find(make_photo(seed=4)) is None
    shown = (make_photo(seed=4) * 255).round().astype(np.uint8)
    kept = (example * 255).round().astype(np.uint8)  # sessions keep uint8, not float32 copies
    assert np.array_equal(originals.find(shown / 255.0, {"shown": shown, "original": kept}), kept / np.float32(255))


def test_result_files_have_fresh_names_and_old_ones_are_swept(tmp_path):
    results = ResultFiles(tmp_path / "out", max_age_s=60)
    old = results.folder / "stale"
    old.mkdir()
    (old / "repaired.png").write_bytes(b"x")
    past = time.time() - 70
    os.utime(old, (past, past))
    first = results.png(make_photo(), "repaired")
    second = results.png(make_photo(), "repaired")
    assert not old.exists() and first != second and Path(first).name == "repaired.png"
    assert np.array_equal(load_image(first), load_image(second))
