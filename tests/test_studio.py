"""The app's operations as package functions (aeapp.studio) and its result files."""

import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aeapp import studio
from aeapp.augment import AugmentSettings
from aeapp.comparison import PeerResult
from aeapp.image_io import load_image, save_image, to_uint8
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
    holes = np.zeros(shown.shape[:2], bool)
    holes[5:15, 10:30] = True
    state = studio.holes_state(shown, holes, kept)
    assert np.array_equal(originals.find(shown / 255.0, state), kept / np.float32(255))
    # The editor hands the photo back with no colour under the holes; painted over, it is the same photo.
    cut = np.where(holes[..., None], np.uint8(0), shown)
    assert np.array_equal(originals.find(cut / 255.0, state), kept / np.float32(255))
    other = shown.copy()
    other[0, 0] ^= 1  # one pixel outside the holes changed: another photo
    assert originals.find(other / 255.0, state) is None


def test_the_pixels_under_cut_out_holes_come_back_only_for_the_photo_they_were_cut_from():
    photo = (make_photo(seed=5) * 255).round().astype(np.uint8)
    holes = np.zeros(photo.shape[:2], bool)
    holes[3:9, 4:20] = True
    state = studio.holes_state(photo, holes)
    cut = np.where(holes[..., None], np.uint8(0), photo) / np.float32(255)
    assert np.array_equal(studio.photo_under_holes(cut, state), photo / np.float32(255))
    elsewhere = make_photo(seed=6)
    assert studio.photo_under_holes(elsewhere, state) is elsewhere
    assert studio.photo_under_holes(cut, None) is cut


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


def test_the_editor_is_sent_the_photo_with_the_holes_cut_out_and_no_layers(tmp_path):
    photo = make_photo(seed=7)
    holes = np.zeros(photo.shape[:2], bool)
    holes[2:12, 5:25] = True
    value = studio.editor_value(photo, holes, ResultFiles(tmp_path).png)
    rgba = np.asarray(Image.open(value["background"]))
    assert rgba.shape == (*photo.shape[:2], 4) and value["layers"] == [] and value["composite"] is None
    assert np.array_equal(rgba[..., 3] == 0, holes) and np.all(rgba[~holes][:, 3] == 255)
    assert np.array_equal(rgba[~holes][:, :3], to_uint8(photo)[~holes])
