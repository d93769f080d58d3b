"""What the studio's buttons compute, as plain functions of an Engine: alternative fills,
variations with a picture of their latent code, and the scored report of a repair. No UI
types: the app converts its inputs, calls these and shows what they return.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from . import image_io, masks
from .augment import AugmentSettings, augment
from .comparison import PeerResult, quality
from .latent_view import latent_picture

ProgressFn = Callable[[float, str], None]

# Latent noise for alternative fills when none is asked for: the fill network learned to
# mostly ignore latent noise, so below this strength the fills of two seeds look the same.
FILL_STRENGTH = 3.0


def fill_strength(strength: float) -> float:
    """The strength alternative fills use: the one asked for, at least FILL_STRENGTH."""
    return max(float(strength), FILL_STRENGTH)


def candidate_fills(engine, rgb: np.ndarray, mask: np.ndarray, steps: int, strength: float, seed: int, count: int,
                    progress: ProgressFn | None = None) -> list[np.ndarray]:
    """`count` fills of the same holes, one per seed in seed .. seed+count-1, each what a
    repair with that seed gives."""
    if not mask.any():
        raise ValueError("Paint the damage first: candidate fills vary what is inside the holes.")
    strength = fill_strength(strength)
    if int(steps) == 1:  # one pass: encode once, decode per seed
        if progress:
            progress(0.0, f"{count} fills")
        return engine.vary(rgb, strength=strength, count=count, seed=seed, mask=mask)
    fills = []
    for i in range(count):
        if progress:
            progress(i / count, f"fill {i + 1} of {count}")
        fills.append(engine.repair(rgb, mask, steps=int(steps), strength=strength, seed=seed + i))
    return fills


def variations(engine, rgb: np.ndarray, strength: float, count: int, seed: int, settings: AugmentSettings,
               progress: ProgressFn | None = None) -> tuple[list[tuple[np.ndarray, int]], np.ndarray | None]:
    """`count` variants of a photo, each (image, seed): latent noise, then the classical
    augmentations drawn from the same seed. Also a picture of the latent code at the finest
    level the noise reaches (None for photos larger than one tile, which are not encoded
    whole)."""
    encoded = engine.encode(rgb) if max(rgb.shape[:2]) <= engine.tile else None
    picture = None
    if encoded is not None:
        noised = engine.inference[encoded.network].noisy_skip_levels
        picture = latent_picture(encoded, level=min(noised, default=None))
    out = []
    for i in range(count):
        if progress:
            progress(0.1 + 0.8 * i / count, f"variant {i + 1} of {count}")
        s = int(seed) + i
        base = engine.decode(encoded, float(strength), s) if encoded is not None else engine.vary(rgb, float(strength), 1, s)[0]
        out.append((augment(base, settings, s), s))
    return out, picture


def editor_value(rgb: np.ndarray, mask: np.ndarray, write_png: Callable[[np.ndarray, str], str]) -> dict:
    """What the image editor is sent: the photo with the mask's pixels cut out (fully
    transparent, drawn as a checkerboard) and no layers, so the paint layer stays the
    user's own. The editor keeps the photo's alpha exactly and hands it back, and the app
    reads transparent pixels as holes. The mask does not go on a layer: Gradio's editor
    (6.31) draws a layer it is sent away from where its pixels are, and shows its own
    flattened copy of the composite, so what a user saw and erased would not be the mask."""
    rgba = np.dstack([image_io.to_uint8(rgb), np.where(mask, 0, 255).astype(np.uint8)])
    return {"background": write_png(rgba, "photo"), "layers": [], "composite": None}


def _cut(photo_u8: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The photo as the editor hands it back once `mask` is cut out: a browser's canvas keeps
    no colour under fully transparent pixels."""
    return np.where(mask[..., None], np.uint8(0), photo_u8)


def holes_state(photo_u8: np.ndarray, mask: np.ndarray, original_u8: np.ndarray | None = None) -> dict:
    """What a session remembers once holes are cut into the editor's photo: the holes
    ("mask"), the photo they were cut into ("photo", whose pixels under the holes Clear mask
    puts back) and, after a synthetic damage, the undamaged photo ("original", for scores)."""
    return {"mask": mask, "photo": photo_u8, "original": original_u8}


def _shows(state: dict | None, rgb: np.ndarray) -> bool:
    """Whether the editor's photo `rgb` is the one `state` cut holes into (its other pixels
    equal; the holes themselves may have been painted over or cleared since)."""
    if not state or state.get("photo") is None or state["photo"].shape[:2] != rgb.shape[:2]:
        return False
    return np.array_equal(_cut(image_io.to_uint8(rgb), state["mask"]), _cut(state["photo"], state["mask"]))


def photo_under_holes(rgb: np.ndarray, state: dict | None) -> np.ndarray:
    """The editor's photo with the pixels its cut-out holes cover put back (from `state`),
    or `rgb` itself when the session did not cut them. float32 HxWx3."""
    return image_io.load_image(state["photo"]) if _shows(state, rgb) else rgb


def source_photo(rgb: np.ndarray, mask: np.ndarray, source: image_io.LoadedImage | None) -> image_io.LoadedImage | None:
    """The photo file a user uploaded into the editor (`source`, read on the server with its
    EXIF and colour profile), when the editor still shows it; else None. The editor hands
    back a PNG the browser re-encoded, without metadata and with colours the browser may
    have converted to sRGB. Pixels equal outside the holes (within JPEG decoders' rounding):
    the file itself, metadata and all. The same picture in converted colours: the editor's
    pixels with the file's EXIF (no profile: they are sRGB now). Another picture: None."""
    if source is None or source.rgb.shape != rgb.shape:
        return None
    known = ~mask
    if not known.any():
        return None
    diff = np.abs(image_io.to_uint8(source.rgb).astype(np.int16) - image_io.to_uint8(rgb).astype(np.int16)).max(axis=2)
    if (diff[known] <= 2).mean() >= 0.99:
        return source
    a, b = source.rgb.mean(axis=2)[known], rgb.mean(axis=2)[known]
    if a.std() > 0 and b.std() > 0 and np.corrcoef(a, b)[0, 1] > 0.99:
        return image_io.LoadedImage(rgb, metadata=image_io.Metadata(exif=source.metadata.exif))
    return None


def _fmt(scores: dict, key: str, unit: str = " dB") -> str:
    return f"{scores[key]:.2f}{unit}" if key in scores else "–"


def report(original: np.ndarray | None, damaged: np.ndarray, mask: np.ndarray, result: np.ndarray, seconds: float,
           peers: list[PeerResult] | None = None) -> str:
    """Markdown: what was repaired and how fast; with the undamaged original, PSNR (whole
    and in the holes) and SSIM of the input, the result and each classical peer."""
    kind = "holes" if mask.any() else "whole image (blind restoration)"
    lines = [f"Repaired the {kind} in **{seconds:.2f} s** ({mask.shape[1]}x{mask.shape[0]}, {mask.mean():.1%} masked)."]
    if original is None and not peers:
        lines.append("Scores need the undamaged original: use *Damage it for me* or an example photo to see them.")
        return "\n\n".join(lines)
    rows = []
    if original is not None:
        # What the model was given: painted pixels count as lost.
        q_in = quality(original, masks.composite(np.zeros_like(damaged), damaged, mask), mask)
        rows.append(f"| damaged input | {_fmt(q_in, 'psnr')} | {_fmt(q_in, 'psnr_holes')} | {_fmt(q_in, 'ssim', '')} | – |")
        q = quality(original, result, mask)
        rows.append(f"| **aeapp** | **{_fmt(q, 'psnr')}** | **{_fmt(q, 'psnr_holes')}** | **{_fmt(q, 'ssim', '')}** | {seconds:.2f} s |")
    for peer in peers or []:
        q = quality(original, peer.image, mask) if original is not None else {}
        rows.append(f"| {peer.name} | {_fmt(q, 'psnr')} | {_fmt(q, 'psnr_holes')} | {_fmt(q, 'ssim', '')} | {peer.seconds:.2f} s |")
    lines.append("| method | PSNR | PSNR in holes | SSIM | time |\n|---|---|---|---|---|\n" + "\n".join(rows))
    return "\n\n".join(lines)


class KnownOriginals:
    """The undamaged original of a photo being repaired, when there is one to score against:
    the photo a synthetic damage was applied to, or a shipped example the user painted over."""

    def __init__(self, example_paths):
        self._paths = list(example_paths)
        self._examples: dict[bytes, np.ndarray] | None = None

    def find(self, rgb: np.ndarray, state: dict | None = None) -> np.ndarray | None:
        """`state`: `holes_state` of the last holes cut into the editor's photo, or None.
        Returns float32 HxWx3 in [0,1]."""
        if _shows(state, rgb) and state.get("original") is not None:
            return image_io.load_image(state["original"])
        shown = image_io.to_uint8(rgb)
        if self._examples is None:  # the examples by content, read on first use
            self._examples = {}
            for path in self._paths:
                example = image_io.load_image(path)
                self._examples[image_io.to_uint8(example).tobytes()] = example
        return self._examples.get(shown.tobytes())
