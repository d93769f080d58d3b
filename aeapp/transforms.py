"""Latent noise as a torchvision transform, for training pipelines.

    from torchvision.transforms import v2
    from aeapp.transforms import LatentNoise

    train_tf = v2.Compose([v2.ToImage(), v2.RandomResizedCrop(224), LatentNoise(strength=(1.5, 3.0), p=0.5),
                           v2.RandomHorizontalFlip(), v2.ToDtype(torch.float32, scale=True)])

A `transforms.v2` transform: it takes what v2 pipelines carry (PIL images, uint8 and float
tensors, `tv_tensors.Image`, single images (C,H,W) and batches (N,C,H,W)) and returns the
same type, dtype, shape and device; bounding boxes, masks and labels pass through untouched,
since latent noise moves no pixel. Its random draws (which images, their strengths, the
noise's seed) come from torch's global generator, so `torch.manual_seed` reproduces a run
and each DataLoader worker draws differently, as torchvision's own transforms do. It pickles
without its network, which loads once per process (and device) on first use.
"""

from __future__ import annotations

from typing import Any

import PIL.Image
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF


def _is_plain_tensor(x: Any) -> bool:
    return type(x) is torch.Tensor


class LatentNoise(v2.Transform):
    """Encode with the restore network, add `strength` standard deviations of noise to the
    latent code, decode: a new, natural-looking version of the image.

    strength: a number, or a (low, high) range drawn uniformly per image (0 to 5; visible
        changes start near 2). p: the chance that an image is varied at all.
    checkpoint: an aeapp checkpoint (default: the shipped one). dtype: the network's number
        format (default: the engine's choice for the tensors' device).
    """

    _transformed_types = (PIL.Image.Image, tv_tensors.Image, _is_plain_tensor)

    def __init__(self, strength: float | tuple[float, float] = (1.5, 3.0), p: float = 0.5,
                 checkpoint: str | None = None, dtype: str | None = None):
        super().__init__()
        low, high = (strength, strength) if isinstance(strength, (int, float)) else tuple(strength)
        if not 0.0 <= float(low) <= float(high) <= 5.0:
            raise ValueError(f"strength must be a number or a (low, high) range within 0 to 5, got {strength!r}")
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"p is a probability between 0 and 1, got {p!r}")
        self.strength = (float(low), float(high))
        self.p = float(p)
        self.checkpoint = None if checkpoint is None else str(checkpoint)
        self.dtype = dtype

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        first = flat_inputs[0]
        n = first.shape[0] if isinstance(first, torch.Tensor) and first.ndim == 4 else 1
        low, high = self.strength
        return {
            "varied": torch.rand(n) < self.p,
            "strength": low + (high - low) * torch.rand(n),
            "seed": int(torch.randint(0, 2**31 - 1, ())),
        }

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not params["varied"].any():
            return inpt
        if isinstance(inpt, PIL.Image.Image):
            varied = TF.to_pil_image(self._vary(TF.pil_to_tensor(inpt.convert("RGB")), params))
            if "A" in inpt.getbands():  # the colours vary, the transparency stays as it was
                varied.putalpha(inpt.getchannel("A"))
                return varied if inpt.mode == "RGBA" else varied.convert(inpt.mode)
            return varied if inpt.mode == "RGB" else varied.convert(inpt.mode)
        out = self._vary(inpt.as_subclass(torch.Tensor), params)
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out

    def _vary(self, image: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        """A (C,H,W) or (N,C,H,W) tensor of any dtype, its selected images varied."""
        from .engine import get_engine

        single = image.ndim == 3
        batch = image[None] if single else image
        if batch.shape[1] not in (1, 2, 3, 4):
            raise ValueError(f"LatentNoise takes images of 1 to 4 channels (grey or RGB, each with or without alpha), "
                             f"got {batch.shape[1]}")
        channels = 3 if batch.shape[1] >= 3 else 1  # the colour channels; an alpha after them is kept
        floats = batch.float() / 255.0 if not batch.is_floating_point() else batch.float()
        selected = params["varied"][: len(batch)].nonzero().flatten()
        picked = floats[selected.to(floats.device), :channels]
        rgb = picked.expand(-1, 3, -1, -1) if channels == 1 else picked
        engine = get_engine(self.checkpoint, device=str(image.device), dtype=self.dtype)
        varied = engine.vary_batch(rgb, params["strength"][selected], params["seed"]).to(floats.device)
        out = floats.clone()
        out[selected.to(floats.device), :channels] = varied.mean(dim=1, keepdim=True) if channels == 1 else varied
        if not batch.is_floating_point():
            out = (out * 255.0).round_().clamp_(0, 255)
        out = out.to(batch.dtype)
        return out[0] if single else out

    def extra_repr(self) -> str:
        return f"strength={self.strength}, p={self.p}" + (f", checkpoint={self.checkpoint!r}" if self.checkpoint else "")


class LatentCache:
    """The cached-latent mode of LatentNoise, for a training set of same-size images that
    fits in memory: each image is encoded once, and every call decodes the picked images
    with fresh latent noise, so an epoch pays only for the decoder (a code does not change
    between epochs). The codes are kept in the engine's number format (bfloat16 on a CPU
    that has it natively, float16 on CUDA).

    images: (N, 3, H, W) uint8 or float in [0, 1]. strength, p: as LatentNoise.
    `cache(indices)` -> float32 (n, 3, H, W) in [0, 1] on `device`: each picked image varied
    with probability p, else as it is; draws from torch's generator, as LatentNoise.
    `cache.mix(indices, partners, weights)`: each image's code moved toward a partner's (an
    image of the same class, say) by its weight (negative: away from it, extrapolating),
    then noised, every image varied.
    """

    def __init__(self, images: torch.Tensor, strength: float | tuple[float, float] = (1.5, 3.0), p: float = 0.5,
                 checkpoint: str | None = None, dtype: str | None = None, device: str | None = None, batch: int = 64):
        from .engine import EncodedImage, get_engine
        from .model import Latent

        self.settings = LatentNoise(strength, p)  # validates strength and p
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"LatentCache takes (N, 3, H, W) images, got shape {tuple(images.shape)}")
        self.images = images if images.is_floating_point() else images.float() / 255.0
        self.engine = get_engine(checkpoint, device=device or str(images.device), dtype=dtype)
        parts = [self.engine.encode_batch(chunk) for chunk in self.images.split(batch)]
        latents = [e.latent for e in parts]
        self.encoded = EncodedImage(
            Latent(torch.cat([l.code for l in latents]), [torch.cat(s) for s in zip(*(l.skips for l in latents))],
                   torch.cat([l.input for l in latents]), torch.cat([l.mask for l in latents])),
            parts[0].network, parts[0].size)

    def __len__(self) -> int:
        return len(self.images)

    def _strengths(self, n: int) -> torch.Tensor:
        low, high = self.settings.strength
        return low + (high - low) * torch.rand(n)

    def __call__(self, indices: torch.Tensor) -> torch.Tensor:
        indices = torch.as_tensor(indices).long().flatten()
        out = self.images[indices.to(self.images.device)].float().clone()
        varied = (torch.rand(len(indices)) < self.settings.p).nonzero().flatten()
        if len(varied):
            seed = int(torch.randint(0, 2**31 - 1, ()))
            decoded = self.engine.decode_batch(self.encoded, self._strengths(len(varied)), seed, select=indices[varied])
            out[varied.to(out.device)] = decoded.to(out.device)
        return out

    def mix(self, indices: torch.Tensor, partners: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        indices = torch.as_tensor(indices).long().flatten()
        seed = int(torch.randint(0, 2**31 - 1, ()))
        decoded = self.engine.decode_batch(self.encoded, self._strengths(len(indices)), seed, select=indices,
                                           mix=(torch.as_tensor(partners).long().flatten(), torch.as_tensor(weights).float()))
        return decoded.to(self.images.device)

