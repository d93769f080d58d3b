"""Handler tests: import app.py without launching it and call what the buttons call."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

import app
from PIL import Image

from aeapp.image_io import load_image, save_image, to_uint8

from .conftest import make_photo

ROOT = Path(__file__).resolve().parent.parent


def _editor(rgb_u8, layer_boxes=(), colour=(0, 200, 0, 255)):
    h, w = rgb_u8.shape[:2]
    background = np.dstack([rgb_u8, np.full((h, w), 255, np.uint8)])
    layer = np.zeros((h, w, 4), np.uint8)
    for y0, y1, x0, x1 in layer_boxes:
        layer[y0:y1, x0:x1] = colour
    return {"background": background, "layers": [layer], "composite": None}


@pytest.fixture
def photo_u8():
    return to_uint8(make_photo(48, 64))


def _pixels(path):
    """What the browser gets: the app answers every image as a PNG file it wrote."""
    assert isinstance(path, str) and path.endswith(".png") and Path(path).is_relative_to(app.RESULTS.folder)
    return np.asarray(Image.open(path))


def _as_uploaded(value):
    """An editor value the app returned, as the editor sends it back (RGBA arrays)."""
    rgba = lambda path: np.asarray(Image.open(path).convert("RGBA"))
    return {"background": rgba(value["background"]), "layers": [rgba(p) for p in value["layers"]], "composite": None}


def _mask(shape, box):
    m = np.zeros(shape, bool)
    y0, y1, x0, x1 = box
    m[y0:y1, x0:x1] = True
    return m


def test_the_model_loaded_at_import_and_the_status_says_where():
    assert app.ENGINE is not None, app.LOAD_ERROR
    status = app.status_text()
    assert "aeapp-repair.safetensors" in status and app.ENGINE.description in status
    assert app.ENGINE.description.startswith(("CPU", "CUDA"))
    assert "megapixels" in status


def test_mask_comes_from_painted_layers_whatever_the_colour(photo_u8):
    for colour in ((255, 0, 0, 255), (0, 0, 0, 255), (255, 255, 255, 128)):
        rgb, mask = app._editor_inputs(_editor(photo_u8, [(10, 20, 5, 30)], colour))
        assert np.array_equal(mask, _mask(photo_u8.shape[:2], (10, 20, 5, 30)))
        assert np.array_equal(to_uint8(rgb), photo_u8)


def test_repair_changes_only_painted_pixels(photo_u8):
    box = (10, 22, 8, 40)
    slider, path, report, _, last, _ = app.repair_image(_editor(photo_u8, [box]), 1, 0.0, 0, False, False, None)
    result = load_image(path)
    mask = _mask(photo_u8.shape[:2], box)
    assert result.shape == (48, 64, 3)
    assert np.array_equal(to_uint8(result)[~mask], photo_u8[~mask])
    assert not np.array_equal(to_uint8(result)[mask], photo_u8[mask])
    assert np.array_equal(_pixels(slider[0]), photo_u8) and np.array_equal(_pixels(slider[1]), to_uint8(result))
    assert "Repaired the holes" in report
    # The same repair again is a new file: two identical answers never share (and race on) one.
    again = app.repair_image(_editor(photo_u8, [box]), 1, 0.0, 0, False, False, None)[0]
    assert again[1] != slider[1] and np.array_equal(_pixels(again[1]), _pixels(slider[1]))


def test_without_paint_the_whole_image_is_restored(photo_u8):
    from aeapp.metrics import psnr

    clean = photo_u8 / 255.0
    noisy = to_uint8(np.clip(clean + np.random.default_rng(0).normal(0, 0.1, photo_u8.shape), 0, 1))
    _, path, report, _, _, _ = app.repair_image(_editor(noisy), 1, 0.0, 0, False, False, None)
    assert "blind restoration" in report
    assert psnr(clean, load_image(path)) > psnr(clean, noisy / 255.0) + 1.0  # the shipped model denoises


def test_synthetic_damage_then_repair_is_scored_against_the_original(photo_u8):
    value, state, mask_path, _ = app.damage_image(_editor(photo_u8), "boxes", 25, 3, None)
    assert np.array_equal(to_uint8(state["original"]), photo_u8)
    # The holes travel in the photo's alpha (cut out, fully transparent), not on a layer.
    background = _pixels(value["background"])
    mask = background[..., 3] == 0
    assert value["layers"] == [] and mask.any() and np.array_equal(mask, _pixels(mask_path) > 0)
    assert np.all(background[~mask][:, 3] == 255) and np.all(background[mask][:, :3] == 0)
    _, _, report, gallery, _, _ = app.repair_image(_as_uploaded(value), 1, 0.0, 0, False, True, state)
    assert "damaged input" in report and "**aeapp**" in report and "PSNR in holes" in report
    assert "OpenCV Telea" in report and "OpenCV Navier-Stokes" in report
    assert len(gallery["value"]) == 3 and all(_pixels(p).shape == photo_u8.shape for p, _ in gallery["value"])


def test_damaging_twice_damages_the_original_not_the_damaged_copy(photo_u8):
    first, state, *_ = app.damage_image(_editor(photo_u8), "thick", 25, 1, None)
    _, state2, *_ = app.damage_image(_as_uploaded(first), "thin", 25, 2, state)
    assert np.array_equal(to_uint8(state2["original"]), photo_u8)


def test_noise_damage_gives_no_layer(photo_u8):
    value, *_ = app.damage_image(_editor(photo_u8), "noise", 30, 0, None)
    assert value["layers"] == [] and not np.array_equal(_pixels(value["background"]), photo_u8)


def test_examples_are_recognised_as_known_originals():
    example = load_image(app.EXAMPLES[0])
    assert app.ORIGINALS.find(example, None) is not None
    assert app.ORIGINALS.find(make_photo(), None) is None


def test_overlay_toggle_redraws_the_before_side(photo_u8):
    *_, last, _ = app.repair_image(_editor(photo_u8, [(10, 20, 10, 20)]), 1, 0.0, 0, False, False, None)
    before, after = (_pixels(p) for p in app.toggle_overlay(True, last))
    assert not np.array_equal(before, photo_u8) and np.array_equal(before[30:], photo_u8[30:])


def test_candidate_fills_differ_and_can_be_picked(photo_u8):
    box = (10, 30, 10, 40)
    gallery, state = app.candidate_fills(_editor(photo_u8, [box]), 1, 0.0, 7, 3)
    assert [c for _, c in gallery] == ["seed 7", "seed 8", "seed 9"]
    assert not np.array_equal(_pixels(gallery[0][0]), _pixels(gallery[1][0]))
    slider, path, last, seed = app.pick_candidate(state, False, gr.SelectData(None, {"index": 1, "value": None}))
    assert seed == 8 and np.array_equal(to_uint8(load_image(path)), _pixels(gallery[1][0]))
    # Repair with the picked seed reproduces the picked fill, with one pass or several.
    *_, again, _ = app.repair_image(_editor(photo_u8, [box]), 1, app.studio.FILL_STRENGTH, seed, False, False, None)
    assert np.array_equal(_pixels(again["after"]), _pixels(last["after"]))
    gallery2, _ = app.candidate_fills(_editor(photo_u8, [box]), 2, 0.0, 7, 2)
    *_, twice, _ = app.repair_image(_editor(photo_u8, [box]), 2, app.studio.FILL_STRENGTH, 8, False, False, None)
    assert np.array_equal(_pixels(gallery2[1][0]), _pixels(twice["after"]))


def test_another_fill_draws_a_new_seed_and_turns_noise_on():
    seed, strength = app.new_seed(0.0)
    assert strength == app.studio.FILL_STRENGTH and 0 <= seed < 2**31
    assert app.new_seed(0.4)[1] == 0.4


def test_variations_differ_by_seed_and_zip_holds_them_all(photo_u8):
    gallery, latent, zip_path = app.make_variations(photo_u8, 1.0, 3, 5, False, False, 0, 1.0, 0, 0, 0)
    assert [c for _, c in gallery] == ["seed 5", "seed 6", "seed 7"]
    assert not np.array_equal(_pixels(gallery[0][0]), _pixels(gallery[1][0]))
    picture = _pixels(latent)
    assert picture.shape == photo_u8.shape
    # It shows the finest level the noise goes to: 1/4 of the side for the shipped restore
    # network (4x4 blocks), not its un-noised 1/2-level skips.
    assert app._engine().inference["restore"].noisy_skip_levels == (1, 2)
    assert np.array_equal(picture[1::4], picture[2::4]) and not np.array_equal(picture[3::4], picture[4::4])
    with zipfile.ZipFile(zip_path) as zf:
        names = sorted(zf.namelist())
        assert names == ["settings.json", "variant_seed5.png", "variant_seed6.png", "variant_seed7.png"]
        assert json.loads(zf.read("settings.json"))["seed"] == 5
        first = load_image(zf.read("variant_seed5.png"))
    assert np.array_equal(to_uint8(first), _pixels(gallery[0][0]))
    again, _, _ = app.make_variations(photo_u8, 1.0, 3, 5, False, False, 0, 1.0, 0, 0, 0)
    assert all(np.array_equal(_pixels(a[0]), _pixels(b[0])) for a, b in zip(gallery, again))


def test_classical_augmentations_apply(photo_u8):
    plain, _, _ = app.make_variations(photo_u8, 0.0, 1, 0, False, False, 0, 1.0, 0, 0, 0)
    jittered, _, _ = app.make_variations(photo_u8, 0.0, 1, 0, False, False, 20, 0.6, 0.5, 0.5, 0.5)
    assert not np.array_equal(_pixels(plain[0][0]), _pixels(jittered[0][0]))


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: app.repair_image(None, 1, 0, 0, False, False, None), "Upload a photo"),
        (lambda: app.repair_image({"background": None, "layers": [], "composite": None}, 1, 0, 0, False, False, None), "Upload a photo"),
        (lambda: app.make_variations(None, 1, 2, 0, False, False, 0, 1, 0, 0, 0), "Upload a photo"),
        (lambda: app.damage_image(None, "thick", 25, 0, None), "Upload a photo"),
        (lambda: app.candidate_fills(_editor(to_uint8(make_photo())), 1, 0, 0, 2), "Paint the damage first"),
        (lambda: app.make_variations(to_uint8(make_photo()), 1, 99, 0, False, False, 0, 1, 0, 0, 0), "between 1 and 16"),
    ],
)
def test_bad_input_is_a_message(call, message):
    with pytest.raises(gr.Error, match=message):
        call()


def test_full_mask_is_a_message(photo_u8):
    with pytest.raises(gr.Error, match="covers the whole image"):
        app.repair_image(_editor(photo_u8, [(0, 48, 0, 64)]), 1, 0, 0, False, False, None)


def test_too_many_pixels_is_a_message_naming_the_limit(monkeypatch, photo_u8):
    monkeypatch.setattr(app, "MAX_PIXELS", 1000)
    with pytest.raises(gr.Error, match="the limit here is 0 megapixels|limit"):
        app.repair_image(_editor(photo_u8), 1, 0, 0, False, False, None)


def test_api_endpoints(tmp_path, photo_u8):
    save_image(photo_u8 / 255.0, tmp_path / "p.png")
    save_image(_mask(photo_u8.shape[:2], (5, 15, 5, 25)), tmp_path / "m.png")
    # Answers are PNG files written once under fresh names (see _png in app.py).
    path = app.api_repair(str(tmp_path / "p.png"), str(tmp_path / "m.png"), 1, 0.0, 0)
    out = to_uint8(load_image(path))
    m = _mask(photo_u8.shape[:2], (5, 15, 5, 25))
    assert path.endswith(".png") and np.array_equal(out[~m], photo_u8[~m])
    assert app.api_repair(str(tmp_path / "p.png"), str(tmp_path / "m.png"), 1, 0.0, 0) != path
    damaged, mask = (to_uint8(load_image(p)) for p in app.api_damage(str(tmp_path / "p.png"), "thin", 25, 1))
    assert damaged.shape == photo_u8.shape and mask.any() and (mask[..., 0] > 0).sum() < mask[..., 0].size
    variants = app.api_vary(str(tmp_path / "p.png"), 1.0, 2, 0)
    assert [c for _, c in variants] == ["seed 0", "seed 1"]
    assert not np.array_equal(load_image(variants[0][0]), load_image(variants[1][0]))


def test_damage_sigma_outside_the_sliders_range_is_refused(tmp_path, photo_u8):
    save_image(photo_u8, tmp_path / "p.png")
    for sigma in (1000, 0, -5):
        with pytest.raises(gr.Error, match="between 1 and 75"):
            app.api_damage(str(tmp_path / "p.png"), "noise", sigma, 0)
        with pytest.raises(gr.Error, match="between 1 and 75"):
            app.damage_image(_editor(photo_u8), "noise", sigma, 0, None)


def test_the_vary_endpoint_defaults_to_the_variation_strength_not_the_repairs():
    endpoint = next(d for d in app.demo.fns.values() if d.api_name == "vary")
    strength = endpoint.inputs[1]
    assert strength.value == app.VARY_STRENGTH > 0
    repair = next(d for d in app.demo.fns.values() if d.api_name == "repair")
    assert repair.inputs[3].value == 0.0 and repair.inputs[3] is not strength


def test_api_refuses_a_file_that_is_not_an_image(tmp_path):
    bad = tmp_path / "x.png"
    bad.write_text("hello")
    with pytest.raises(gr.Error, match="not an image"):
        app.api_repair(str(bad), None, 1, 0, 0)
    with pytest.raises(gr.Error, match="Unknown damage kind"):
        app.api_damage(str(bad), "fire", 1, 0)


def test_results_never_share_a_path(photo_u8):
    paths = {app.repair_image(_editor(photo_u8, [(5, 9, 5, 9)]), 1, 0, 0, False, False, None)[1] for _ in range(3)}
    assert len(paths) == 3 and all(Path(p).is_relative_to(app.RESULTS.folder) for p in paths)


def _broken_checkpoints(tmp_path):
    import json as _json

    import torch
    from safetensors.torch import save_file

    from aeapp import checkpoint

    corrupt = tmp_path / "broken.safetensors"
    corrupt.write_bytes(b"\x00" * 64)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(app.CHECKPOINT.read_bytes()[:5000])
    other = tmp_path / "other-architecture.safetensors"
    save_file({"fill.stem.weight": torch.zeros(3)}, str(other), metadata={
        "format": checkpoint.FORMAT, "format_version": checkpoint.FORMAT_VERSION,
        "networks": _json.dumps({"fill": {"widths": [4]}}), "info": "{}"})
    return {"corrupt": corrupt, "truncated": truncated, "other": other, "missing": tmp_path / "missing.safetensors"}


@pytest.mark.parametrize("kind", ["corrupt", "truncated", "other", "missing"])
def test_app_starts_with_a_broken_checkpoint_and_says_how_to_fix_it(tmp_path, kind):
    bad = _broken_checkpoints(tmp_path)[kind]
    code = (
        "import app, gradio as gr\n"
        "print(app.status_text())\n"
        "try:\n    app.repair_image(None, 1, 0, 0, False, False, None)\n"
        "except gr.Error as e:\n    print('ERROR', e)\n"
    )
    env = {**os.environ, "AEAPP_CHECKPOINT": str(bad)}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-1500:]
    assert "could not be loaded" in result.stdout and bad.name in result.stdout
    assert "git checkout -- checkpoints/" in result.stdout
    assert "ERROR" in result.stdout


@pytest.mark.parametrize("kind", ["corrupt", "truncated", "other", "missing"])
def test_cli_says_what_is_wrong_with_a_broken_checkpoint_in_one_line(tmp_path, kind):
    bad = _broken_checkpoints(tmp_path)[kind]
    photo = tmp_path / "p.png"
    save_image(make_photo(), photo)
    result = subprocess.run([sys.executable, "-m", "aeapp", "repair", str(photo), "-o", str(tmp_path / "o.png"), "--checkpoint", str(bad)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aeapp: error: checkpoint") and bad.name in lines[0]



def test_sessions_hold_no_float_copies_and_expire_with_the_results(photo_u8):
    box = (10, 30, 10, 40)
    _, damaged, *_ = app.damage_image(_editor(photo_u8), "thick", 25, 1, None)
    *_, last, _ = app.repair_image(_editor(photo_u8, [box]), 1, 0.0, 0, False, False, None)
    _, candidates = app.candidate_fills(_editor(photo_u8, [box]), 1, 0.0, 7, 3)
    arrays = [v for state in (damaged, last, candidates) for v in state.values() if isinstance(v, np.ndarray)]
    assert arrays and all(a.dtype in (np.uint8, np.bool_) for a in arrays)
    assert all(isinstance(p, str) and Path(p).exists() for p in candidates["fills"])
    states = [b for b in app.demo.blocks.values() if isinstance(b, gr.State)]
    assert states and all(s.time_to_live == app.RESULTS.max_age_s for s in states)


def test_a_mask_file_becomes_holes_that_paint_adds_to_and_comes_back_as_a_png(tmp_path, photo_u8):
    mask = _mask(photo_u8.shape[:2], (5, 20, 8, 30))
    save_image(mask, tmp_path / "mask.png")
    value, state, saved = app.upload_mask(_editor(photo_u8), str(tmp_path / "mask.png"), None)
    assert value["layers"] == [] and np.array_equal(_pixels(value["background"])[..., 3] == 0, mask)
    assert np.array_equal(load_image(saved)[..., 0] > 0.5, mask)
    painted = _as_uploaded(value)
    stroke = np.zeros_like(painted["background"])
    stroke[30:40, 40:60] = (255, 59, 48, 255)
    again = app.save_mask({**painted, "layers": [stroke]})
    assert np.array_equal(load_image(again)[..., 0] > 0.5, mask | _mask(mask.shape, (30, 40, 40, 60)))
    # Clear mask gives back the photo's own pixels, which the holes covered.
    cleared = app.clear_mask(painted, state)
    assert cleared["layers"] == [] and np.array_equal(_pixels(cleared["background"])[..., :3], photo_u8)


def test_a_mask_that_declares_too_many_pixels_is_refused_before_decoding(tmp_path, photo_u8):
    huge = tmp_path / "mask.png"
    Image.new("1", (7000, 7000)).save(huge)  # a few KB declaring 49 megapixels
    for call in (lambda: app.upload_mask(_editor(photo_u8), str(huge), None),
                 lambda: app.api_repair(str(tmp_path / "p.png"), str(huge), 1, 0.0, 0)):
        save_image(photo_u8, tmp_path / "p.png")
        with pytest.raises(gr.Error, match=r"mask.png is 7000x7000 \(49.0 megapixels\); the limit is 25 megapixels"):
            call()


def test_the_repair_api_keeps_the_photos_exif_and_colour_profile(tmp_path, photo_u8):
    from PIL import ImageCms

    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(photo_u8).save(tmp_path / "photo.jpg", quality=95, exif=exif, icc_profile=icc)
    save_image(_mask(photo_u8.shape[:2], (5, 15, 5, 25)), tmp_path / "m.png")
    with Image.open(app.api_repair(str(tmp_path / "photo.jpg"), str(tmp_path / "m.png"), 1, 0.0, 0)) as out:
        assert out.info.get("icc_profile") == icc and out.getexif()[0x010F] == "Camera maker"
