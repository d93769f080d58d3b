"""aeapp studio: repair damaged photos and grow datasets with variations, in the browser.

Layout, event wiring and user-facing messages only: every computation is in the `aeapp`
package. `python app.py` serves it locally; the same file runs as a Hugging Face Space.
Tests import this module and call the handlers; nothing launches on import.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import functools
import json
import logging
import math
import re
import secrets
import time
import zipfile
from pathlib import Path

import gradio as gr

try:  # ZeroGPU on Hugging Face Spaces: `spaces` must come before torch (aeapp.serving explains)
    import spaces  # noqa: F401
except ImportError:
    pass

import numpy as np

from aeapp import damage, image_io, masks, serving, studio
from aeapp.augment import AugmentSettings
from aeapp.checkpoint import DEFAULT_CHECKPOINT
from aeapp.comparison import run_peers
from aeapp.engine import VARY_STRENGTH
from aeapp.result_files import ResultFiles


log = logging.getLogger("aeapp.app")

ROOT = Path(__file__).resolve().parent
EXAMPLES = sorted((ROOT / "examples").glob("*.png"))
CHECKPOINT = Path(DEFAULT_CHECKPOINT)  # AEAPP_CHECKPOINT when set
MAX_PIXELS = int(os.environ.get("AEAPP_MAX_PIXELS", 25_000_000))
# The image editor sends its photo as a PNG it encodes itself: up to 4 bytes a pixel for a
# detailed photo, so the default lets through every photo within the pixel limit.
MAX_FILE_SIZE = os.environ.get("AEAPP_MAX_FILE_SIZE") or f"{math.ceil(4.2 * MAX_PIXELS / gr.FileSize.MB)}mb"
MAX_VARIANTS = 16
NOISE_SIGMA = (1, 75)  # the synthetic noise a user can ask for (0..255 scale)
# Freed memory is kept for the next request while the process's resident memory is under
# this many MiB (aeapp/heap.py): repairs skip re-faulting it, and memory stays bounded.
# 0: handed back after every network pass.
KEEP_FREED_MIB = float(os.environ.get("AEAPP_KEEP_FREED_MIB", 1536))
# Every image the app shows or hands out is a PNG written here under a fresh name, kept an hour.
RESULTS = ResultFiles(max_age_s=3600)
_png = RESULTS.png
ORIGINALS = studio.KnownOriginals(EXAMPLES)
MAX_FILE_SIZE_SHOWN = re.sub(r"(?i)^(\d+)\s*([kmg]b)$", lambda m: f"{m[1]} {m[2].upper()}", MAX_FILE_SIZE.strip())
LIMITS = f"Uploads up to {MAX_FILE_SIZE_SHOWN} and {MAX_PIXELS / 1e6:.0f} megapixels."


# Present in the page (a script fills it) but not shown.
CSS = ".aeapp-offscreen {position: absolute !important; left: -10000px !important; width: 1px; height: 1px; overflow: hidden}"


def upload_guard_head() -> str:
    """The page's <head> addition: web/upload_guard.js with this server's limits, which checks
    a photo in the browser before an image input takes it."""
    number, unit = re.fullmatch(r"(?i)(\d+)\s*([kmg]?b)", MAX_FILE_SIZE.strip()).groups()
    limits = {"maxPixels": MAX_PIXELS, "maxBytes": int(number) * getattr(gr.FileSize, unit.upper()),
              "maxFileSize": MAX_FILE_SIZE_SHOWN, "guarded": ["#editor", "#var-image"], "editor": "#editor",
              "source": "#source-file"}
    script = (ROOT / "web" / "upload_guard.js").read_text(encoding="utf-8")
    return f"<script>window.AEAPP_LIMITS = {json.dumps(limits)};\n{script}</script>"


ENGINE, LOAD_ERROR = serving.start_server_engine(CHECKPOINT, KEEP_FREED_MIB, os.environ.get("AEAPP_DEVICE", "auto"))


def status_text() -> str:
    return serving.status_markdown(ENGINE, LOAD_ERROR, CHECKPOINT.name, LIMITS)


def user_errors(fn):
    """Turn package errors into messages; the inputs on the page stay as they were."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except ValueError as e:
            raise gr.Error(str(e)) from None
        except MemoryError:
            raise gr.Error(f"Out of memory for this image; try a smaller one. {LIMITS}") from None
        except Exception as e:  # anything unexpected: log it, never show a traceback
            log.exception("handler %s failed", fn.__name__)
            raise gr.Error(f"Something went wrong ({type(e).__name__}); your image is kept, please try again.") from None

    return wrapper


def _engine():
    if ENGINE is None:
        raise gr.Error(status_text())
    return serving.engine_for_call(ENGINE)


def _check_pixels(h: int, w: int) -> None:
    if h * w > MAX_PIXELS:
        raise gr.Error(f"This image is {w}x{h} ({h * w / 1e6:.1f} megapixels); the limit here is {MAX_PIXELS / 1e6:.0f} megapixels.")


def _editor_inputs(value) -> tuple[np.ndarray, np.ndarray]:
    """(float32 RGB image, bool mask) from a gr.ImageEditor value: the painted layers (any
    colour) and fully transparent pixels of the photo are the holes."""
    if not value or value.get("background") is None:
        raise gr.Error("Upload a photo (or paste one, or pick an example) first.")
    background = np.asarray(value["background"])
    _check_pixels(*background.shape[:2])
    loaded = image_io.read_image(background, MAX_PIXELS)
    mask = masks.mask_from_layers(value.get("layers") or [], loaded.rgb.shape[:2])
    if loaded.transparent is not None:
        mask |= loaded.transparent
    return loaded.rgb, mask


def _image_input(value, what: str = "a photo") -> image_io.LoadedImage:
    """An upload (a file path or an array) read within the pixel limit; messages name the
    file as the user did."""
    if value is None:
        raise gr.Error(f"Upload {what} (or pick an example) first.")
    if not isinstance(value, (str, Path)):
        _check_pixels(*np.asarray(value).shape[:2])
    return image_io.read_image(value, MAX_PIXELS, name=Path(value).name if isinstance(value, (str, Path)) else None)


def _progress_callback(progress: gr.Progress):
    return lambda fraction, message: progress(fraction, desc=message)


def _check_sigma(sigma: float) -> None:
    if not NOISE_SIGMA[0] <= float(sigma) <= NOISE_SIGMA[1]:
        raise gr.Error(f"The noise sigma must be between {NOISE_SIGMA[0]} and {NOISE_SIGMA[1]} (0..255 scale), got {sigma:g}.")


@user_errors
def damage_image(editor_value, kind: str, sigma: float, seed: int, state: dict | None):
    """Apply a synthetic damage to the photo in the editor; remember the original."""
    _check_sigma(sigma)
    rgb, _ = _editor_inputs(editor_value)
    original = ORIGINALS.find(rgb, state)
    base = original if original is not None else rgb
    damaged, mask = damage.apply_damage(base, kind, np.random.default_rng(int(seed)), sigma=float(sigma))
    shown = image_io.to_uint8(damaged)
    what = damage.describe(kind, sigma, mask)
    gr.Info(f"Damaged with {what}. Press Repair to restore it; the original is kept for scoring.", duration=5)
    # The photo is no longer the file the user uploaded: its file is forgotten.
    return (studio.editor_value(shown, mask, _png), studio.holes_state(shown, mask, image_io.to_uint8(base)),
            _png(mask, "mask", 6), None)


@user_errors
def upload_mask(editor_value, path, state: dict | None):
    """A mask made elsewhere (nonzero or opaque = repair), cut into the photo as holes that
    more paint can add to; Clear mask puts the photo back."""
    if not path:
        return gr.update(), gr.update(), gr.update()
    rgb, _ = _editor_inputs(editor_value)
    photo = studio.photo_under_holes(rgb, state)
    mask = masks.read_mask(path, rgb.shape[:2], MAX_PIXELS, name=Path(path).name)
    original = ORIGINALS.find(rgb, state)
    new_state = studio.holes_state(image_io.to_uint8(photo), mask, None if original is None else image_io.to_uint8(original))
    return studio.editor_value(photo, mask, _png), new_state, _png(mask, "mask", 6)


@user_errors
def save_mask(editor_value):
    """The mask painted in the editor, as a PNG (white = repair) for `aeapp repair --mask`."""
    return _png(_editor_inputs(editor_value)[1], "mask", 6)


@user_errors
def clear_mask(editor_value, state: dict | None):
    """The photo without holes or paint: the pixels cut out for holes come back."""
    rgb, _ = _editor_inputs(editor_value)
    return {"background": _png(studio.photo_under_holes(rgb, state), "photo"), "layers": [], "composite": None}


def _slider(rgb, mask, after: str, overlay: bool):
    """Before/after pair; `after` is the result's PNG already written for download."""
    before = masks.overlay(rgb, mask) if overlay and mask.any() else rgb
    return (_png(before, "before"), after)


def _source_file(path) -> image_io.LoadedImage | None:
    """The photo file uploaded beside the editor (see web/upload_guard.js), or None when
    there is none or it cannot be read: the editor's own pixels are then repaired."""
    if not path:
        return None
    try:
        return image_io.read_image(path, MAX_PIXELS)
    except ValueError:
        return None


@serving.gpu_function(serving.REPAIR_SECONDS)
@user_errors
def repair_image(editor_value, steps, strength, seed, overlay, compare, state, source=None, progress=gr.Progress()):
    """Repair the painted holes (or the whole image without paint) and report scores. With
    the photo's own file (`source`), the file's pixels are repaired and the result keeps its
    EXIF and colour profile."""
    engine = _engine()
    rgb, mask = _editor_inputs(editor_value)
    photo = studio.source_photo(rgb, mask, _source_file(source))
    metadata = None
    if photo is not None:
        rgb, metadata = photo.rgb, photo.metadata
    if not mask.any():
        gr.Info("Nothing painted: restoring the whole image (blind denoising).", duration=5)
    t = time.perf_counter()
    result = engine.repair(rgb, mask, steps=int(steps), strength=float(strength), seed=int(seed), progress=_progress_callback(progress))
    seconds = time.perf_counter() - t
    original = ORIGINALS.find(rgb, state)
    peer_rows = run_peers(rgb, mask) if compare else []
    report = studio.report(original, rgb, mask, result, seconds, peer_rows)
    repaired = _png(result, "repaired", 6, metadata)  # one file: download, slider and gallery
    gallery = [(repaired, "aeapp")] + [(_png(p.image, "peer"), f"{p.name} ({p.seconds:.2f} s)") for p in peer_rows]
    last = {"rgb": image_io.to_uint8(rgb), "mask": mask, "after": repaired}  # no float copies: a session stays small
    return (_slider(rgb, mask, repaired, overlay), repaired, report, gr.update(value=gallery if compare else None, visible=bool(compare)),
            last, _png(mask, "mask", 6))


@user_errors
def toggle_overlay(overlay, last):
    if not last or not Path(last["after"]).exists():  # results and sessions expire after an hour
        return gr.update()
    return _slider(image_io.load_image(last["rgb"]), last["mask"], last["after"], overlay)


def new_seed(strength):
    """'Another fill': a fresh seed, and some latent noise if there was none."""
    if float(strength) == 0.0:
        gr.Info(f"Latent noise strength set to {studio.FILL_STRENGTH} so that a new seed gives a different fill.", duration=5)
        strength = studio.FILL_STRENGTH
    return secrets.randbelow(2**31), strength


@serving.gpu_function(serving.BATCH_SECONDS)
@user_errors
def candidate_fills(editor_value, steps, strength, seed, count, progress=gr.Progress()):
    """Several fills of the same holes, one per seed, to choose from."""
    engine = _engine()
    rgb, mask = _editor_inputs(editor_value)
    count, seed = int(count), int(seed)
    fills = studio.candidate_fills(engine, rgb, mask, int(steps), float(strength), seed, count, _progress_callback(progress))
    paths = [_png(f, f"fill_seed{seed + i}", 6) for i, f in enumerate(fills)]  # the session keeps paths, not arrays
    return [(p, f"seed {seed + i}") for i, p in enumerate(paths)], {"rgb": image_io.to_uint8(rgb), "mask": mask, "fills": paths, "seed": seed}


@user_errors
def pick_candidate(candidates, overlay, evt: gr.SelectData):
    if not candidates:
        raise gr.Error("Make some candidate fills first.")
    repaired = candidates["fills"][evt.index]
    last = {"rgb": candidates["rgb"], "mask": candidates["mask"], "after": repaired}
    return _slider(image_io.load_image(last["rgb"]), last["mask"], repaired, overlay), repaired, last, candidates["seed"] + evt.index


@serving.gpu_function(serving.BATCH_SECONDS)
@user_errors
def make_variations(image, strength, count, seed, hflip, vflip, rotation, crop, brightness, contrast, saturation, progress=gr.Progress()):
    """Latent-noise variants plus classical augmentations; a zip of them all."""
    engine = _engine()
    rgb = _image_input(image).rgb
    count = int(count)
    if not 1 <= count <= MAX_VARIANTS:
        raise gr.Error(f"Choose between 1 and {MAX_VARIANTS} variants.")
    settings = AugmentSettings(hflip=0.5 * bool(hflip), vflip=0.5 * bool(vflip), rotation=float(rotation), crop=float(crop),
                               brightness=float(brightness), contrast=float(contrast), saturation=float(saturation))
    progress(0.1, desc="encoding")
    variants, picture = studio.variations(engine, rgb, float(strength), count, int(seed), settings, _progress_callback(progress))
    gallery = [(_png(img, f"variant_seed{s}", compress_level=6), f"seed {s}") for img, s in variants]
    zip_path = RESULTS.path(".zip")  # the gallery's own files: each variant is encoded once
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_STORED) as zf:
        for path, _ in gallery:
            zf.write(path, Path(path).name)
        zf.writestr("settings.json", json.dumps({"strength": float(strength), "seed": int(seed), "count": count,
                                                 "augment": settings.to_dict()}, indent=2))
    return gallery, (_png(picture, "latent") if picture is not None else None), str(zip_path)


@serving.gpu_function(serving.REPAIR_SECONDS)
@user_errors
def api_repair(image, mask, steps, strength, seed):
    """repair(image, mask or None, steps, strength, seed) -> repaired PNG."""
    engine = _engine()
    loaded = _image_input(image)  # its EXIF and colour profile come back with the result
    m = None if mask is None else masks.read_mask(mask, loaded.rgb.shape[:2], MAX_PIXELS, name=Path(mask).name)
    result = engine.repair(loaded.rgb, m, steps=int(steps), strength=float(strength), seed=int(seed))
    return _png(result, "repaired", 6, loaded.metadata)


@serving.gpu_function(serving.BATCH_SECONDS)
@user_errors
def api_vary(image, strength, count, seed):
    """vary(image, strength, count, seed) -> gallery of variants."""
    engine = _engine()
    count = int(count)
    if not 1 <= count <= MAX_VARIANTS:
        raise gr.Error(f"Choose between 1 and {MAX_VARIANTS} variants.")
    variants = engine.vary(_image_input(image).rgb, strength=float(strength), count=count, seed=int(seed))
    return [(_png(v, f"variant_{int(seed) + i}"), f"seed {int(seed) + i}") for i, v in enumerate(variants)]


@user_errors
def api_damage(image, kind, sigma, seed):
    """damage(image, kind, sigma, seed) -> (damaged PNG, mask PNG)."""
    if kind not in damage.KINDS:
        raise gr.Error(f"Unknown damage kind {kind!r}; choose one of {', '.join(damage.KINDS)}.")
    _check_sigma(sigma)
    damaged, mask = damage.apply_damage(_image_input(image).rgb, kind, np.random.default_rng(int(seed)), sigma=float(sigma))
    return _png(damaged, "damaged"), _png(mask, "mask")


ABOUT = """# aeapp studio
Paint over the damage in a photo and press **Repair**: a convolutional autoencoder fills
the painted pixels and leaves every other pixel exactly as it was. With nothing painted it
restores the whole photo (denoising). **Variations** makes new, natural-looking versions of a
photo for growing a training set."""

with gr.Blocks(title="aeapp studio", delete_cache=(1800, 3600)) as demo:
    gr.Markdown(ABOUT)
    status = gr.Markdown(status_text(), elem_id="status")
    # Sessions hold uint8 images, masks and file paths, and expire with the results (an hour).
    cut_state, last_state, candidate_state = (gr.State(None, time_to_live=RESULTS.max_age_s) for _ in range(3))

    with gr.Tab("Repair", id="repair"):
        with gr.Row():
            with gr.Column(scale=1):
                editor = gr.ImageEditor(
                    label="Photo: paint over the damage (any colour); the eraser takes paint back", type="numpy",
                    image_mode="RGBA", format="png", sources=("upload", "webcam", "clipboard"), transforms=(), height=520,
                    brush=gr.Brush(colors=["#ff3b30", "#ffffff", "#000000"], default_color="#ff3b30", color_mode="defaults"),
                    eraser=gr.Eraser(), layers=gr.LayerOptions(allow_additional_layers=False, layers=["Damage"]), elem_id="editor")
                # The photo's own file, which web/upload_guard.js uploads beside the editor: the
                # editor re-encodes what it shows and drops the photo's EXIF and colour profile.
                source_file = gr.File(type="filepath", elem_id="source-file", elem_classes=["aeapp-offscreen"], label="Photo file")
                gr.Examples(examples=[[str(p)] for p in EXAMPLES], inputs=[editor], label="Example photos (public domain and CC0)")
                with gr.Accordion("Mask file: upload one, or save the painted one", open=False):
                    with gr.Row():
                        mask_upload = gr.File(label="Mask image (white or opaque = repair)", type="filepath", elem_id="mask-upload",
                                              file_types=[*image_io.IMAGE_SUFFIXES])
                        with gr.Column():
                            save_mask_btn = gr.Button("Save the painted mask")
                            mask_download = gr.DownloadButton("Download the mask (PNG)", value=None, elem_id="mask-download")
                with gr.Accordion("Damage it for me", open=False):
                    with gr.Row():
                        kind = gr.Radio(list(damage.KINDS), value="thick", label="Damage")
                        sigma = gr.Slider(*NOISE_SIGMA, value=25, step=1, label="Noise sigma (0..255 scale)")
                        damage_seed = gr.Number(0, precision=0, label="Damage seed")
                    damage_btn = gr.Button("Damage it")
                with gr.Row():
                    steps = gr.Slider(1, 8, value=1, step=1, label="Refinement passes")
                    strength = gr.Slider(0, 3, value=0, step=0.05, label="Latent noise strength (alternative fills)")
                    seed = gr.Number(0, precision=0, label="Seed")
                with gr.Row():
                    repair_btn = gr.Button("Repair", variant="primary", elem_id="repair-button")
                    another_btn = gr.Button("Another fill")
                    clear_btn = gr.Button("Clear mask")
            with gr.Column(scale=1):
                slider = gr.ImageSlider(label="Before / after", type="numpy", format="png", elem_id="result", max_height=520)
                with gr.Row():
                    overlay = gr.Checkbox(False, label="Show the mask on the 'before' side")
                    compare = gr.Checkbox(False, label="Compare with OpenCV (Telea, Navier-Stokes / non-local means)")
                download = gr.DownloadButton("Download repaired PNG (full resolution)", value=None)
                report = gr.Markdown(elem_id="report")
                peers_gallery = gr.Gallery(label="Side by side", visible=False, columns=3, height=260)
                with gr.Accordion("Candidate fills", open=False):
                    count = gr.Slider(2, 8, value=4, step=1, label="How many")
                    candidates_btn = gr.Button("Make candidate fills")
                    candidates = gr.Gallery(label="Click one to use it", columns=4, height=220, allow_preview=False)

    with gr.Tab("Variations", id="variations"):
        with gr.Row():
            with gr.Column(scale=1):
                var_image = gr.Image(label="Photo", type="numpy", image_mode="RGB", sources=("upload", "webcam", "clipboard"), height=360,
                                     elem_id="var-image")
                gr.Examples(examples=[[str(p)] for p in EXAMPLES], inputs=[var_image], label="Example photos")
                var_strength = gr.Slider(0, 5, value=VARY_STRENGTH, step=0.05, label="Latent noise strength (updates on release)")
                with gr.Row():
                    var_count = gr.Slider(1, MAX_VARIANTS, value=4, step=1, label="Variants")
                    var_seed = gr.Number(0, precision=0, label="Seed")
                with gr.Accordion("Classical augmentations", open=False):
                    with gr.Row():
                        hflip = gr.Checkbox(False, label="Random horizontal flip")
                        vflip = gr.Checkbox(False, label="Random vertical flip")
                    rotation = gr.Slider(0, 45, value=0, step=1, label="Max rotation (degrees)")
                    crop = gr.Slider(0.3, 1.0, value=1.0, step=0.05, label="Smallest crop (fraction of area)")
                    brightness = gr.Slider(0, 1, value=0, step=0.05, label="Brightness jitter")
                    contrast = gr.Slider(0, 1, value=0, step=0.05, label="Contrast jitter")
                    saturation = gr.Slider(0, 1, value=0, step=0.05, label="Saturation jitter")
                vary_btn = gr.Button("Make variations", variant="primary")
            with gr.Column(scale=1):
                var_gallery = gr.Gallery(label="Variants", columns=2, height=420, format="png")
                latent_img = gr.Image(label="Latent code where the noise goes: its finest level (first 3 principal components as colours)", type="numpy", height=240, interactive=False)
                zip_file = gr.DownloadButton("Download all variants (zip)", value=None)

    gr.Markdown(f"<small>{LIMITS} Results are kept for an hour and only shown to you. "
                "Model, code and licences: see the README.</small>")

    # Hidden components behind the stable API endpoints.
    with gr.Row(visible=False):
        # Files, not gr.Image: the upload reaches aeapp's decoder, whose messages are clear.
        api_image, api_mask = gr.File(type="filepath", label="image"), gr.File(type="filepath", label="mask")
        api_steps, api_seed = gr.Number(1, precision=0, label="steps"), gr.Number(0, precision=0, label="seed")
        api_strength, api_count = gr.Number(0.0, label="strength"), gr.Number(4, precision=0, label="count")
        api_vary_strength = gr.Number(VARY_STRENGTH, label="strength")  # variations' own default, as in the app and CLI
        api_kind, api_sigma = gr.Textbox("thick", label="kind"), gr.Number(25.0, label="sigma")
        api_out = gr.Image(type="filepath", format="png", label="result")
        api_mask_out = gr.Image(type="filepath", format="png", label="mask")
        api_gallery = gr.Gallery(format="png", label="variants")
        api_repair_btn, api_vary_btn, api_damage_btn = gr.Button(), gr.Button(), gr.Button()

    model_events = dict(concurrency_id="model", concurrency_limit=int(os.environ.get("AEAPP_CONCURRENCY", 1)))
    repair_inputs = [editor, steps, strength, seed, overlay, compare, cut_state, source_file]
    repair_outputs = [slider, download, report, peers_gallery, last_state, mask_download]
    ui = dict(api_visibility="undocumented")
    # Events that send the editor a new photo show their progress on their own button: on the
    # editor, Gradio 6.31 leaves its progress overlay (a blank canvas and a running timer) up
    # long after the answer when the editor reloads under it.
    damage_btn.click(damage_image, [editor, kind, sigma, damage_seed, cut_state], [editor, cut_state, mask_download, source_file],
                     show_progress_on=[damage_btn], **ui)
    mask_upload.upload(upload_mask, [editor, mask_upload, cut_state], [editor, cut_state, mask_download],
                       show_progress_on=[mask_upload], **ui)
    save_mask_btn.click(save_mask, [editor], [mask_download], **ui)
    clear_btn.click(clear_mask, [editor, cut_state], [editor], show_progress_on=[clear_btn], **ui)
    repair_btn.click(repair_image, repair_inputs, repair_outputs, **model_events, **ui)
    another_btn.click(new_seed, [strength], [seed, strength], **ui).then(repair_image, repair_inputs, repair_outputs, **model_events, **ui)
    overlay.change(toggle_overlay, [overlay, last_state], [slider], **ui)
    candidates_btn.click(candidate_fills, [editor, steps, strength, seed, count], [candidates, candidate_state], **model_events, **ui)
    candidates.select(pick_candidate, [candidate_state, overlay], [slider, download, last_state, seed], **ui)

    vary_inputs = [var_image, var_strength, var_count, var_seed, hflip, vflip, rotation, crop, brightness, contrast, saturation]
    vary_outputs = [var_gallery, latent_img, zip_file]
    vary_btn.click(make_variations, vary_inputs, vary_outputs, **model_events, **ui)
    var_strength.release(make_variations, vary_inputs, vary_outputs, trigger_mode="always_last", **model_events, **ui)

    api_repair_btn.click(api_repair, [api_image, api_mask, api_steps, api_strength, api_seed], api_out, api_name="repair", **model_events)
    api_vary_btn.click(api_vary, [api_image, api_vary_strength, api_count, api_seed], api_gallery, api_name="vary", **model_events)
    api_damage_btn.click(api_damage, [api_image, api_kind, api_sigma, api_seed], [api_out, api_mask_out], api_name="damage")

demo.queue(max_size=64)


if __name__ == "__main__":
    demo.launch(max_file_size=MAX_FILE_SIZE, head=upload_guard_head(), css=CSS)
