"""The engine: one cached model and the operations built on it (repair, refine, vary).

Images in and out are float32 RGB HxWx3 in [0,1]; masks are bool HxW, True = repair. NCHW
tensors exist only inside this module. No UI and no file paths beyond the checkpoint.
"""

from __future__ import annotations

import functools
import math
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from . import checkpoint, device as device_mod, image_io, masks
from .config import ModelConfig
from .model import ConvAutoencoder, Latent
from .padding import pad_to_multiple, unpad

ProgressFn = Callable[[float, str], None]


def _as_image(image) -> image_io.LoadedImage:
    if isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.float32:
        return image_io.LoadedImage(np.clip(np.nan_to_num(image), 0.0, 1.0))
    return image_io.read_image(image)


def _as_mask(mask, shape: tuple[int, int]) -> np.ndarray:
    if isinstance(mask, np.ndarray):
        m = masks.mask_from_array(mask) if mask.dtype != bool or mask.ndim != 2 else mask
    else:
        loaded = image_io.read_image(mask)
        rgba = loaded.rgb if loaded.transparent is None else np.dstack([loaded.rgb, ~loaded.transparent])
        m = masks.mask_from_array(rgba)
    return masks.fit_mask(m, shape)


def _tile_starts(n: int, tile: int, overlap: int) -> list[int]:
    """Evenly spaced tile origins along one side: the fewest tiles that overlap by at least
    `overlap` pixels."""
    if n <= tile:
        return [0]
    count = math.ceil((n - overlap) / (tile - overlap))
    return [round(i * (n - tile) / (count - 1)) for i in range(count)]


def _ramp(n: int, overlap: int) -> np.ndarray:
    i = np.arange(n, dtype=np.float32)
    return np.minimum(1.0, np.minimum(i + 0.5, n - i - 0.5) / max(1, overlap))


class Engine:
    """A loaded model on one device, and the operations built on it.

    Thread-safe: calls from several threads share the weights and run one forward pass at
    a time (on a CPU the forward pass already uses every core).
    """

    def __init__(
        self,
        model: ConvAutoencoder,
        device: torch.device,
        dtype: torch.dtype,
        info: dict[str, Any] | None = None,
        checkpoint_path: Path | None = None,
        tile: int = 2048,
        overlap: int = 128,
    ):
        self.config: ModelConfig = model.config
        self.device = device
        self.dtype = dtype
        self.info = info or {}
        self.checkpoint_path = checkpoint_path
        self.memory_format = torch.channels_last
        self.model = model.to(device=device, dtype=dtype, memory_format=self.memory_format).eval()
        stride = self.config.stride
        self.tile = max(stride, tile // stride * stride)
        self.overlap = max(stride, overlap // stride * stride)
        self._lock = threading.Lock()

    @classmethod
    def from_checkpoint(cls, path=checkpoint.DEFAULT_CHECKPOINT, device: str = "auto", dtype: str | None = None, **kw):
        dev, dt = device_mod.resolve(device, dtype)
        model, _, info = checkpoint.load(path, device=dev, dtype=dt)
        return cls(model, dev, dt, info=info, checkpoint_path=Path(path), **kw)

    @property
    def description(self) -> str:
        return device_mod.describe(self.device, self.dtype)

    # ---- tensors ------------------------------------------------------------------------

    def _to_tensor(self, array: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
        t = t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]
        return t.to(device=self.device, dtype=self.dtype).contiguous(memory_format=self.memory_format)

    def _to_array(self, t: torch.Tensor) -> np.ndarray:
        return t[0].float().clamp_(0, 1).permute(1, 2, 0).cpu().numpy()

    def _encode_tensor(self, image: np.ndarray, mask: np.ndarray) -> Latent:
        x, size = pad_to_multiple(self._to_tensor(image), self.config.stride)
        m, _ = pad_to_multiple(self._to_tensor(mask.astype(np.float32)), self.config.stride)
        latent = self.model.encode(x, m)
        latent.size = size
        return latent

    def _decode_tensor(self, latent: Latent, strength: float, generator: torch.Generator | None) -> np.ndarray:
        if strength:
            latent = self.model.add_latent_noise(latent, strength, generator)
        out = self.model.decode(latent)
        return self._to_array(unpad(out, latent.size))

    def _predict(self, image, mask, strength=0.0, generator=None, progress: ProgressFn | None = None) -> np.ndarray:
        """Model output (not yet composited) for an image of any size, tiled when large."""
        h, w = mask.shape
        ys, xs = _tile_starts(h, self.tile, self.overlap), _tile_starts(w, self.tile, self.overlap)
        with self._lock, torch.inference_mode():
            if len(ys) == 1 and len(xs) == 1:
                return self._decode_tensor(self._encode_tensor(image, mask), strength, generator)
            out = np.zeros((h, w, 3), np.float32)
            weight = np.zeros((h, w, 1), np.float32)
            total, done = len(ys) * len(xs), 0
            for y in ys:
                for x in xs:
                    sl = np.s_[y : y + self.tile, x : x + self.tile]
                    pred = self._decode_tensor(self._encode_tensor(image[sl], mask[sl]), strength, generator)
                    wt = np.outer(_ramp(pred.shape[0], self.overlap), _ramp(pred.shape[1], self.overlap))[..., None]
                    out[sl] += pred * wt
                    weight[sl] += wt
                    done += 1
                    if progress:
                        progress(done / total, f"tile {done}/{total}")
            return out / weight

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
        if not 0.0 <= float(strength) <= 5.0:
            raise ValueError(f"strength must be between 0 and 5, got {strength}")
        if m.all():
            raise ValueError("the mask covers the whole image, so nothing is left to repair from; paint only the damage")
        generator = torch.Generator().manual_seed(int(seed or 0)) if strength else None
        blind = not m.any()
        current = rgb if blind else masks.composite(np.zeros_like(rgb), rgb, m)
        for step in range(steps):
            sub = None
            if progress:
                sub = lambda f, msg, s=step: progress((s + f) / steps, f"pass {s + 1}/{steps}: {msg}")  # noqa: E731
            pred = self._predict(current, m, float(strength), generator, sub)
            current = pred if blind else masks.composite(pred, rgb, m)
            if progress:
                progress((step + 1) / steps, f"pass {step + 1}/{steps} done")
        return current

    def vary(self, image, strength: float = 1.0, count: int = 4, seed: int = 0, mask=None) -> list[np.ndarray]:
        """`count` variants of an image, one per seed in seed .. seed+count-1.

        The image is encoded once; each variant decodes the latent plus `strength` standard
        deviations of noise. With a mask, known pixels are kept and only holes vary.
        Returns a list of float32 HxWx3 arrays in [0,1].
        """
        rgb, m = self.prepare(image, mask)
        if not 1 <= int(count) <= 64:
            raise ValueError(f"count must be between 1 and 64, got {count}")
        if not 0.0 <= float(strength) <= 5.0:
            raise ValueError(f"strength must be between 0 and 5, got {strength}")
        if m.all():
            raise ValueError("the mask covers the whole image, so nothing is left to vary from")
        single = len(_tile_starts(m.shape[0], self.tile, self.overlap)) * len(_tile_starts(m.shape[1], self.tile, self.overlap)) == 1
        start = masks.composite(np.zeros_like(rgb), rgb, m)
        out = []
        if single:
            with self._lock, torch.inference_mode():
                latent = self._encode_tensor(start, m)
                for s in range(int(seed), int(seed) + int(count)):
                    out.append(self._decode_tensor(latent, float(strength), torch.Generator().manual_seed(s)))
        else:
            for s in range(int(seed), int(seed) + int(count)):
                out.append(self._predict(start, m, float(strength), torch.Generator().manual_seed(s)))
        return [masks.composite(o, rgb, m) if m.any() else o for o in out]

    def encode(self, image, mask=None) -> Latent:
        """The latent code of an image (and optional mask), for `decode` or inspection.

        Works on images up to one tile (`self.tile` pixels a side); larger ones are refused.
        """
        rgb, m = self.prepare(image, mask)
        if max(m.shape) > self.tile:
            raise ValueError(f"encode takes images up to {self.tile} px a side; repair() tiles larger ones")
        with self._lock, torch.inference_mode():
            return self._encode_tensor(masks.composite(np.zeros_like(rgb), rgb, m), m)

    def decode(self, latent: Latent, strength: float = 0.0, seed: int = 0) -> np.ndarray:
        """Decode a latent from `encode`, optionally with latent noise; float32 HxWx3 in [0,1]."""
        with self._lock, torch.inference_mode():
            return self._decode_tensor(latent, float(strength), torch.Generator().manual_seed(int(seed)))

    def warmup(self) -> None:
        """One small forward pass, so the first user request does not pay for lazy init."""
        self.repair(np.full((64, 64, 3), 0.5, np.float32))


@functools.lru_cache(maxsize=4)
def _cached_engine(path: str, device: str, dtype: str | None) -> Engine:
    return Engine.from_checkpoint(path, device=device, dtype=dtype)


def get_engine(checkpoint_path=None, device: str = "auto", dtype: str | None = None) -> Engine:
    """The process-wide engine for (checkpoint, device, dtype), loaded on first use."""
    path = Path(checkpoint_path or checkpoint.DEFAULT_CHECKPOINT).resolve()
    dev, dt = device_mod.resolve(device, dtype)
    return _cached_engine(str(path), str(dev), str(dt).removeprefix("torch."))
