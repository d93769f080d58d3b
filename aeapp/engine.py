"""The engine: the cached networks and the operations built on them (repair with optional
refinement passes, vary, encode and decode).

The checkpoint holds two autoencoders: "fill" repairs holes, "restore" restores a whole image
(blind denoising). A repair with a non-empty mask uses "fill", one without uses "restore".
Images in and out are float32 RGB HxWx3 in [0,1]; masks are bool HxW, True = repair. NCHW
tensors, padding and tiles exist only inside this module (tiles are laid out and blended by
aeapp/tiling.py). No UI, no file paths beyond the checkpoint, and no process-wide policy: a
server that wants freed memory handed back after each pass says so (`after_pass`).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from . import checkpoint, device as device_mod, image_io, masks, tiling
from .config import InferenceConfig
from .edge_solve import resolve_edges
from .model import ConvAutoencoder, Latent
from .noise_level import estimate_sigma, estimate_sigma_array
from .padding import pad_to_multiple, unpad
from .prefill import prefill

ProgressFn = Callable[[float, str], None]

# Default latent-noise strength for whole-image variations: the shipped restore network
# changes visibly and smoothly from about 2; below, variants differ by little more than grain.
VARY_STRENGTH = 3.0
# Blind restoration can average the restore network's output over several rotations of the
# image (a self-ensemble, `restore_views`): 2 views add 0.06 to 0.10 dB at twice the cost, an
# invisible gain, so one by default.
RESTORE_VIEWS = 1
NETWORKS = {"fill": "filling holes", "restore": "blind restoration (no mask)"}


def _as_image(image) -> image_io.LoadedImage:
    if isinstance(image, image_io.LoadedImage):
        return image
    if isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.float32:
        return image_io.LoadedImage(image_io.unit_range(image))
    return image_io.read_image(image)


def _as_mask(mask, shape: tuple[int, int]) -> np.ndarray:
    if not isinstance(mask, np.ndarray):
        return masks.read_mask(mask, shape)
    m = masks.mask_from_array(mask) if mask.dtype != bool or mask.ndim != 2 else mask
    return masks.fit_mask(m, shape)


def _check_strength_and_mask(strength: float, mask: np.ndarray) -> None:
    if not 0.0 <= float(strength) <= 5.0:
        raise ValueError(f"strength must be between 0 and 5, got {strength}")
    if mask.all():
        raise ValueError("the mask covers the whole image, so nothing is left to repair from; paint only the damage")


def _fill_window(mask: np.ndarray, min_context: int = 128) -> tuple[slice, slice]:
    """The part of the image the fill network has to see: the holes' bounding box grown on
    every side by the box's longer side (at least `min_context` pixels) of context. Outside
    it the network's output would be discarded anyway: the same PSNR in single holes as the
    whole image gives, and a blemish in a 12 MP photo 7 times faster."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    margin = max(min_context, y1 - y0, x1 - x0)
    h, w = mask.shape
    return slice(max(0, y0 - margin), min(h, y1 + margin)), slice(max(0, x0 - margin), min(w, x1 + margin))


def _network_and_window(mask: np.ndarray) -> tuple[str, tuple[slice, slice]]:
    """Which network repairs this mask, and the part of the image it has to see."""
    return ("fill", _fill_window(mask)) if mask.any() else ("restore", np.s_[:, :])


def _paste(image: np.ndarray, window, pred: np.ndarray) -> np.ndarray:
    """`image` with `window` replaced by `pred` (pred itself when the window is the image)."""
    if pred.shape == image.shape:
        return pred
    out = image.copy()
    out[window] = pred
    return out


def _part(progress: ProgressFn | None, i: int, n: int, label: str) -> ProgressFn | None:
    """Progress of part i of n (a view, a pass), reported as a fraction of the whole."""
    if progress is None:
        return None
    return lambda f, msg: progress((i + f) / n, f"{label} {i + 1}/{n}: {msg}")


@dataclass
class EncodedImage:
    """What `Engine.encode` returns and `Engine.decode` takes: the network's latent code of an
    image (aeapp.model.Latent: `.code`, `.skips`), which network made it, the image's size
    before the engine padded it, and the noise level the network was told (None when it is
    not told one)."""

    latent: Latent
    network: str
    size: tuple[int, int]
    noise_level: float | None = None


class Engine:
    """Loaded networks on one device, and the operations built on them.

    Thread-safe: calls from several threads share the weights and run one forward pass at
    a time (on a CPU the forward pass already uses every core). `after_pass`: called after
    each network pass, for a server's memory policy (aeapp.serving); nothing by default.
    """

    def __init__(
        self,
        networks: dict[str, ConvAutoencoder],
        device: torch.device,
        dtype: torch.dtype,
        info: dict[str, Any] | None = None,
        checkpoint_path: Path | None = None,
        tile: int = 2048,
        overlap: int = 128,
        restore_views: int = RESTORE_VIEWS,
        edge_solve: bool = True,
        inference: dict[str, InferenceConfig] | None = None,
        after_pass: Callable[[], None] | None = None,
    ):
        unknown = sorted(set(networks) - set(NETWORKS))
        if unknown or not networks:
            raise ValueError(f"an engine takes networks named {' and '.join(NETWORKS)}, got {', '.join(unknown) or 'none'}")
        if not 1 <= int(restore_views) <= len(tiling.VIEWS):
            raise ValueError(f"restore_views must be between 1 and {len(tiling.VIEWS)}, got {restore_views}")
        self.restore_views = int(restore_views)
        # Re-solve the ring of hole pixels next to a known pixel after the fill network
        # (aeapp/edge_solve.py); False shows the network alone.
        self.edge_solve = bool(edge_solve)
        self.after_pass = after_pass
        self.device = device
        self.dtype = dtype
        self.info = info or {}
        self.checkpoint_path = checkpoint_path
        self.memory_format = torch.channels_last
        self.networks = {
            name: m.to(device=device, dtype=dtype, memory_format=self.memory_format).eval() for name, m in networks.items()
        }
        # How each network runs: as its checkpoint says, unless `inference` overrides it.
        self.inference = {name: (inference or {}).get(name, m.inference) for name, m in self.networks.items()}
        for name, options in self.inference.items():
            options.check(self.networks[name].config)
        stride = max(m.config.stride for m in self.networks.values())
        self.tile = max(stride, tile // stride * stride)
        self.overlap = max(stride, overlap // stride * stride)
        self._lock = threading.Lock()

    @classmethod
    def from_checkpoint(cls, path=checkpoint.DEFAULT_CHECKPOINT, device: str = "auto", dtype: str | None = None, **kw):
        dev, dt = device_mod.resolve(device, dtype)
        networks, info = checkpoint.load(path, device=dev, dtype=dt)
        return cls(networks, dev, dt, info=info, checkpoint_path=Path(path), **kw)

    @property
    def description(self) -> str:
        return device_mod.describe(self.device, self.dtype)

    def network(self, name: str) -> ConvAutoencoder:
        if name not in self.networks:
            raise ValueError(f"this checkpoint has no {name!r} network, so {NETWORKS[name]} is not available")
        return self.networks[name]

    # ---- tensors ------------------------------------------------------------------------

    def _to_tensor(self, array: np.ndarray) -> torch.Tensor:
        array = np.ascontiguousarray(array, dtype=np.float32)
        if min(array.strides) < 0:  # a turned 1-pixel-wide view counts as contiguous; torch refuses it
            array = array.copy()
        t = torch.from_numpy(array)
        t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
        return t.to(device=self.device, dtype=self.dtype).contiguous(memory_format=self.memory_format)

    def _to_array(self, t: torch.Tensor) -> np.ndarray:
        return t[0].float().clamp_(0, 1).permute(1, 2, 0).cpu().numpy()

    def _noise_level(self, name: str, image: np.ndarray) -> float | None:
        """The noise sigma (0..1) a noise-level network is told: estimated once on the whole
        image as it is (not on padding, a tile or a view), so every path sees the same."""
        return estimate_sigma_array(image) if self.network(name).config.noise_level_input else None

    def _encode_tensor(self, name: str, image: np.ndarray, mask: np.ndarray, noise_level: float | None) -> EncodedImage:
        model = self.network(name)
        x, size = pad_to_multiple(self._to_tensor(image), model.config.stride)
        m, _ = pad_to_multiple(self._to_tensor(mask.astype(np.float32)), model.config.stride)
        level = None if noise_level is None else torch.tensor([noise_level])
        return EncodedImage(model.encode(x, m, level), name, size, noise_level)

    def _decode_tensor(self, encoded: EncodedImage, strength: float, generator: torch.Generator | None,
                       composited: bool = False) -> np.ndarray:
        """The decoded image; `composited`: the caller keeps only a fill's hole pixels."""
        model = self.network(encoded.network)
        latent = encoded.latent
        if strength:
            latent = model.add_latent_noise(latent, strength, generator, levels=self.inference[encoded.network].noisy_skip_levels)
        out = model.decode(latent, holes_only=composited and encoded.network == "fill")
        return self._to_array(unpad(out, encoded.size))

    def _pass_done(self) -> None:
        if self.after_pass is not None:
            self.after_pass()

    def _predict(self, image, mask, name, window, strength, generator, progress: ProgressFn | None = None) -> np.ndarray:
        """Network output (not yet composited) for an image of any size, tiled when large.

        `name` and `window` come from `_network_and_window`: with holes anywhere, the "fill"
        network runs on the window around them (outside it the image is returned as it is),
        and only on tiles that have holes; without, "restore" runs on every tile, averaged
        over `restore_views` rotations of the image unless latent noise is asked for (the
        average would wash the variation out).
        """
        views = self.restore_views if name == "restore" and not strength else 1
        part, part_mask = image[window], mask[window]
        level = self._noise_level(name, part)
        with self._lock, torch.inference_mode():
            try:
                pred = None
                for v in range(views):
                    sub = _part(progress, v, views, "view") if views > 1 else progress
                    seen = tiling.unview(self._predict_tiles(name, tiling.view(part, v), tiling.view(part_mask, v), strength,
                                                             generator, sub, level), v)
                    pred = seen if pred is None else pred + seen
                if views > 1:
                    pred /= views
            finally:
                self._pass_done()
        return _paste(image, window, pred)

    def _predict_tiles(self, name, image, mask, strength, generator, progress, noise_level) -> np.ndarray:
        h, w = mask.shape
        where = tiling.tiles(h, w, self.tile, self.overlap, self.network(name).config.stride)
        if len(where) == 1:
            return self._decode_tensor(self._encode_tensor(name, image, mask, noise_level), strength, generator, composited=True)
        blend = tiling.Blend(h, w, self.overlap)
        for done, sl in enumerate(where, start=1):
            if name == "fill" and not mask[sl].any():
                pred = image[sl]  # no holes here: the composite keeps these pixels anyway
            else:
                pred = self._decode_tensor(  # one expression: no tile's latent outlives its decode
                    self._encode_tensor(name, image[sl], mask[sl], noise_level), strength, generator, composited=True
                )
            blend.add(sl, pred)
            if progress:
                progress(done / len(where), f"tile {done}/{len(where)}")
        return blend.result()

    def _first_fill(self, rgb: np.ndarray, mask: np.ndarray, window) -> np.ndarray:
        """What a network sees on a first pass: the holes pre-filled as the fill network's
        config says; without holes, the image itself. The prefill runs on the fill window
        (from `_network_and_window`) only: OpenCV's inpainting reads 3 pixels around a hole
        and the window adds 128 or more, so its fill is the one the whole image would get."""
        if not mask.any():
            return rgb
        out = rgb.copy()
        out[window] = prefill(rgb[window], mask[window], self.inference["fill"].prefill)
        return out

    def _fill_result(self, pred: np.ndarray, rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The fill network's prediction in the holes, the known pixels exact, and (with
        `edge_solve`) the holes' edge ring re-solved biharmonically from both, pulled toward
        the network's values."""
        out = masks.composite(pred, rgb, mask)
        return resolve_edges(out, mask) if self.edge_solve else out

    # ---- public operations --------------------------------------------------------------

    def prepare(self, image, mask=None) -> tuple[np.ndarray, np.ndarray]:
        """(float32 HxWx3 image, bool HxW mask) from any supported image and mask.

        Without a mask, fully transparent pixels of an RGBA image are the holes.
        """
        loaded = _as_image(image)
        rgb = loaded.rgb
        shape = rgb.shape[:2]
        if mask is None:
            m = loaded.transparent if loaded.transparent is not None else np.zeros(shape, bool)
        else:
            m = _as_mask(mask, shape)
        return rgb, m

    def repair(
        self,
        image,
        mask=None,
        steps: int = 1,
        strength: float = 0.0,
        seed: int | None = None,
        progress: ProgressFn | None = None,
    ) -> np.ndarray:
        """Repair an image: fill the masked pixels, keep every other pixel exactly.

        image: float32 HxWx3 in [0,1], or anything `image_io.read_image` accepts.
        mask: bool HxW (True = repair), an image (nonzero or painted alpha = repair), or None.
            An empty mask means blind restoration: the whole image is denoised.
        steps: passes; each pass after the first re-encodes the previous result, known pixels
            re-imposed. strength: latent noise in standard deviations of the latent (0 =
            deterministic); different seeds give different fills. seed: None means 0.
        Returns float32 HxWx3 in [0,1].
        """
        rgb, m = self.prepare(image, mask)
        steps = int(steps)
        if not 1 <= steps <= 16:
            raise ValueError(f"steps must be between 1 and 16, got {steps}")
        _check_strength_and_mask(strength, m)
        generator = torch.Generator().manual_seed(int(seed or 0)) if strength else None
        name, window = _network_and_window(m)
        current = self._first_fill(rgb, m, window)
        for step in range(steps):
            pred = self._predict(current, m, name, window, float(strength), generator, _part(progress, step, steps, "pass"))
            current = pred if name == "restore" else self._fill_result(pred, rgb, m)
            if progress:
                progress((step + 1) / steps, f"pass {step + 1}/{steps} done")
        return current

    def vary(self, image, strength: float = VARY_STRENGTH, count: int = 4, seed: int = 0, mask=None) -> list[np.ndarray]:
        """`count` variants of an image, one per seed in seed .. seed+count-1.

        The image is encoded once; each variant decodes the latent plus `strength` standard
        deviations of noise. With a mask, known pixels are kept and only holes vary.
        Returns a list of float32 HxWx3 arrays in [0,1].
        """
        rgb, m = self.prepare(image, mask)
        if not 1 <= int(count) <= 64:
            raise ValueError(f"count must be between 1 and 64, got {count}")
        _check_strength_and_mask(strength, m)
        name, window = _network_and_window(m)
        start = self._first_fill(rgb, m, window)
        seeds = range(int(seed), int(seed) + int(count))
        if max(m[window].shape) <= self.tile:  # one tile: encode once, decode per seed
            encoded = self._encode_locked(name, start[window], m[window])
            out = [_paste(start, window, self._decode_locked(encoded, float(strength), s, composited=True)) for s in seeds]
        else:
            out = [self._predict(start, m, name, window, float(strength), torch.Generator().manual_seed(s)) for s in seeds]
        return [self._fill_result(o, rgb, m) if name == "fill" else o for o in out]

    def vary_batch(self, images: torch.Tensor, strength, seed: int = 0) -> torch.Tensor:
        """Whole-image variations of a batch, for training pipelines: (N,3,H,W) float in
        [0,1] on any device -> float32 (N,3,H,W) on the engine's device. Each image is
        encoded once and the batch goes through the network at once; `strength` is a float
        or one per image; the noise comes from a generator seeded by `seed`. Sides up to one
        tile (`self.tile`); larger images go through `vary` one by one."""
        _check_batch(images)
        if max(images.shape[-2:]) > self.tile:
            strengths = torch.as_tensor(strength, dtype=torch.float32).expand(len(images))
            rows = [self.vary(img.permute(1, 2, 0).float().cpu().numpy(), float(s), 1, seed + i)[0]
                    for i, (img, s) in enumerate(zip(images, strengths))]
            return torch.from_numpy(np.stack(rows)).permute(0, 3, 1, 2).to(self.device)
        return self.decode_batch(self.encode_batch(images), strength, seed)

    def encode_batch(self, images: torch.Tensor) -> EncodedImage:
        """The restore network's latent codes of a batch of same-size images ((N,3,H,W) float
        in [0,1], sides up to one tile), for `decode_batch`: a training set encoded once can
        be decoded with fresh latent noise every epoch (aeapp.transforms.LatentCache)."""
        _check_batch(images)
        if max(images.shape[-2:]) > self.tile:
            raise ValueError(f"encode_batch takes images up to {self.tile} px a side")
        model = self.network("restore")
        with self._lock, torch.inference_mode():
            try:
                x = images.to(device=self.device, dtype=self.dtype).contiguous(memory_format=self.memory_format)
                # Each image's level from its own pixels, before padding, as `repair` tells it.
                level = estimate_sigma(x) if model.config.noise_level_input else None
                x, size = pad_to_multiple(x, model.config.stride)
                return EncodedImage(model.encode(x, torch.zeros_like(x[:, :1]), level), "restore", size)
            finally:
                self._pass_done()

    def decode_batch(self, encoded: EncodedImage, strength, seed: int = 0, select: torch.Tensor | None = None,
                     mix: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """Decode the images `select` picks (indices; default all) of an `encode_batch`
        result: float32 (n,3,H,W) in [0,1] on the engine's device. `strength`: latent noise,
        a float or one per picked image, drawn from a generator seeded by `seed`. `mix`:
        (partners, weights), each picked image's latent moved toward its partner's (indices
        into the same batch) by its weight before the noise: 0 keeps it, 1 is the partner."""
        latent, n = encoded.latent, len(encoded.latent.code)
        pick = torch.arange(n) if select is None else torch.as_tensor(select).long().flatten()
        strength = torch.as_tensor(strength, dtype=torch.float32).expand(len(pick))
        if len(strength) and not 0.0 <= float(strength.min()) <= float(strength.max()) <= 5.0:
            raise ValueError("strength must be between 0 and 5")
        model = self.network(encoded.network)

        def rows(t: torch.Tensor | None, index: torch.Tensor):
            return None if t is None else t[index.to(t.device)]

        with self._lock, torch.inference_mode():
            try:
                picked = Latent(rows(latent.code, pick), [rows(s, pick) for s in latent.skips], rows(latent.input, pick),
                                rows(latent.mask, pick))
                if mix is not None:
                    partners, weights = (torch.as_tensor(v) for v in mix)
                    w = weights.float().reshape(-1, 1, 1, 1)

                    def toward(a, b):
                        return (a.float() + w.to(a.device) * (b.float() - a.float())).to(a.dtype)

                    picked = Latent(toward(picked.code, rows(latent.code, partners)),
                                    [toward(s, rows(t, partners)) for s, t in zip(picked.skips, latent.skips)],
                                    toward(picked.input, rows(latent.input, partners)), picked.mask)
                if bool((strength > 0).any()):
                    picked = model.add_latent_noise(picked, strength, torch.Generator().manual_seed(int(seed)),
                                                    levels=self.inference[encoded.network].noisy_skip_levels)
                out = model.decode(picked)
                return unpad(out, encoded.size).float().clamp_(0, 1).contiguous()
            finally:
                self._pass_done()

    def _encode_locked(self, name: str, image: np.ndarray, mask: np.ndarray) -> EncodedImage:
        with self._lock, torch.inference_mode():
            return self._encode_tensor(name, image, mask, self._noise_level(name, image))

    def _decode_locked(self, encoded: EncodedImage, strength: float, seed: int, composited: bool = False):
        with self._lock, torch.inference_mode():
            try:
                return self._decode_tensor(encoded, strength, torch.Generator().manual_seed(int(seed)), composited)
            finally:
                self._pass_done()

    def encode(self, image, mask=None) -> EncodedImage:
        """The latent code of an image (and optional mask), for `decode` or inspection.

        Works on images up to one tile (`self.tile` pixels a side); larger ones are refused.
        The code is the network's view of the image as it is: `decode` of it matches a repair
        by an engine with `restore_views=1`, not the rotation average `repair` gives.
        """
        rgb, m = self.prepare(image, mask)
        if max(m.shape) > self.tile:
            raise ValueError(f"encode takes images up to {self.tile} px a side; repair() tiles larger ones")
        name, window = _network_and_window(m)
        return self._encode_locked(name, self._first_fill(rgb, m, window), m)

    def decode(self, encoded: EncodedImage, strength: float = 0.0, seed: int = 0) -> np.ndarray:
        """Decode what `encode` returned, optionally with latent noise; float32 HxWx3 in [0,1]."""
        _check_strength_and_mask(strength, np.zeros(1, bool))
        return self._decode_locked(encoded, float(strength), seed)

    def warmup(self) -> None:
        """A small forward pass per network, so the first request does not pay for lazy init."""
        image = np.full((64, 64, 3), 0.5, np.float32)
        hole = np.zeros((64, 64), bool)
        hole[16:32, 16:32] = True
        for name, mask in (("restore", None), ("fill", hole)):
            if name in self.networks:
                self.repair(image, mask)


def _check_batch(images: torch.Tensor) -> None:
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"a batch is (N, 3, H, W) images, got shape {tuple(images.shape)}")


@functools.lru_cache(maxsize=4)
def _cached_engine(path: str, device: str, dtype: str | None) -> Engine:
    return Engine.from_checkpoint(path, device=device, dtype=dtype)


def get_engine(checkpoint_path=None, device: str = "auto", dtype: str | None = None) -> Engine:
    """The process-wide engine for (checkpoint, device, dtype), loaded on first use; it sets
    no process-wide policy (an `after_pass` hook is the caller's to add)."""
    path = Path(checkpoint_path or checkpoint.DEFAULT_CHECKPOINT).resolve()
    dev, dt = device_mod.resolve(device, dtype)
    return _cached_engine(str(path), str(dev), str(dt).removeprefix("torch."))
