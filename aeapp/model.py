"""The repair autoencoder.

A U-shaped convolutional autoencoder that works at low resolution: pixel-unshuffle folds
`ModelConfig.unshuffle` x `unshuffle` blocks into channels (4x4 in the shipped fill
network, 2x2 in the restore network), so the finest convolution runs at 1/unshuffle of the
input's side. The coarsest level mixes dilated residual blocks with Fourier blocks (LaMa's fast
Fourier convolution, simplified) for a global receptive field. The decoder predicts a
residual that is added to the input (holes prefilled, or filled by a previous pass), so
denoising only has to learn the noise, and holes the content. An optional small head
(`ModelConfig.refine_channels`) then refines that output at full resolution, where a hole's
edge meets its known neighbours.

The latent code is the coarsest feature map together with the skip features named in
`InferenceConfig.noisy_skip_levels`; `decode(encode(x, m) + noise)` is how variations are made.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import InferenceConfig, ModelConfig
from .noise_level import estimate_sigma, level_map


@dataclass
class Latent:
    """Encoder output: `code` at the coarsest level and one skip tensor per finer level.

    All tensors are NCHW; `skips[i]` is at 1 / (unshuffle * 2**i) of the input side.
    """

    code: torch.Tensor
    skips: list[torch.Tensor]
    input: torch.Tensor  # the RGB input, to which the decoder's residual is added
    mask: torch.Tensor | None = None  # the mask it was encoded with, for the refinement head


RESIDUAL_INIT_SCALE = 0.1


class ResBlock(nn.Module):
    def __init__(self, channels: int, dilation: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        # Start each block close to the identity (EDSR's residual scaling, applied to the
        # init): deep stacks without normalisation train stably, and unlike a zero init the
        # network is nonlinear from the first step.
        with torch.no_grad():
            self.conv2.weight.mul_(RESIDUAL_INIT_SCALE)
            self.conv2.bias.zero_()

    def forward(self, x):
        return x + self.conv2(F.silu(self.conv1(x)))


class FourierUnit(nn.Module):
    """A 1x1 convolution in the 2-D frequency domain: every output sees the whole map."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(2 * channels, 2 * channels, 1)

    def forward(self, x):
        h, w = x.shape[-2:]
        # FFTs run in float32: half-precision cuFFT only takes power-of-two sizes.
        spec = torch.fft.rfft2(x.float(), norm="ortho")
        spec = torch.cat([spec.real, spec.imag], dim=1).to(x.dtype)
        real, imag = F.silu(self.conv(spec)).float().chunk(2, dim=1)
        return torch.fft.irfft2(torch.complex(real, imag), s=(h, w), norm="ortho").to(x.dtype)


class GlobalBlock(nn.Module):
    """Residual block whose two branches are local (3x3) and global (Fourier)."""

    def __init__(self, channels: int):
        super().__init__()
        self.local = nn.Conv2d(channels, channels, 3, padding=1)
        self.spectral = FourierUnit(channels)
        self.fuse = nn.Conv2d(2 * channels, channels, 1)
        with torch.no_grad():
            self.fuse.weight.mul_(RESIDUAL_INIT_SCALE)
            self.fuse.bias.zero_()

    def forward(self, x):
        y = torch.cat([F.silu(self.local(x)), self.spectral(x)], dim=1)
        return x + self.fuse(y)


def _blocks(channels: int, count: int, dilations=(1,)) -> nn.Sequential:
    return nn.Sequential(*[ResBlock(channels, dilations[i % len(dilations)]) for i in range(count)])


def _refine_head(channels: int) -> nn.Sequential:
    """Two hidden full-resolution layers over (output, input, mask); the last starts at zero,
    so adding the head to a trained network leaves its output unchanged until it learns."""
    head = nn.Sequential(
        nn.Conv2d(7, channels, 3, padding=1), nn.SiLU(),
        nn.Conv2d(channels, channels, 3, padding=1), nn.SiLU(),
        nn.Conv2d(channels, 3, 3, padding=1),
    )
    nn.init.zeros_(head[-1].weight)
    nn.init.zeros_(head[-1].bias)
    return head


HEAD_HALO = 3  # the refinement head's reach: three 3x3 convolutions
HEAD_BLOCK = 32  # side of the blocks `_refine_holes` runs the head on
HEAD_BLOCKS_MAX_SHARE = 0.5  # above this share of blocks with holes, the whole image is cheaper


def _refine_holes(head: nn.Sequential, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor | None:
    """The head's output on the blocks of HEAD_BLOCK pixels that hold a hole pixel, zero on
    the others; None when so many blocks hold one that running it everywhere is cheaper.

    Each block is cut out with a halo of HEAD_HALO pixels, so its inside sees what it would
    see in the whole image; the pixels the halo adds beyond the image's edge are zeroed
    after every layer, as the whole image's zero padding is. The head works at full
    resolution with few channels, where a convolution runs at a third of its speed at 1/4 of
    the side: on the benchmark's holes a third of the blocks or fewer hold one."""
    n, _, h, w = x.shape
    occupied = F.max_pool2d(mask, HEAD_BLOCK, ceil_mode=True)[:, 0] > 0  # (n, rows, cols)
    if occupied.float().mean().item() > HEAD_BLOCKS_MAX_SHARE:
        return None
    rows, cols = occupied.shape[1:]
    grid_h, grid_w, size = rows * HEAD_BLOCK, cols * HEAD_BLOCK, HEAD_BLOCK + 2 * HEAD_HALO
    pad = (HEAD_HALO, grid_w - w + HEAD_HALO, HEAD_HALO, grid_h - h + HEAD_HALO)
    inside = F.pad(x.new_ones(n, 1, h, w), pad)
    b, i, j = occupied.nonzero(as_tuple=True)

    def blocks(t: torch.Tensor) -> torch.Tensor:  # (K, C, size, size), channels last like the rest
        cut = t.unfold(2, size, HEAD_BLOCK).unfold(3, size, HEAD_BLOCK)[b, :, i, j]
        return cut.contiguous(memory_format=torch.channels_last)

    y, inside = blocks(F.pad(x, pad)), blocks(inside)
    for layer in head[:-1]:
        y = layer(y)
        if isinstance(layer, nn.SiLU):
            y = y * inside
    y = head[-1](y)[:, :, HEAD_HALO:-HEAD_HALO, HEAD_HALO:-HEAD_HALO]
    grid = y.new_zeros(n, rows, cols, y.shape[1], HEAD_BLOCK, HEAD_BLOCK)
    grid[b, i, j] = y
    return grid.permute(0, 3, 1, 4, 2, 5).reshape(n, -1, grid_h, grid_w)[:, :, :h, :w]


class ConvAutoencoder(nn.Module):
    """Image + mask -> latent -> repaired image. Built from a ModelConfig (and how it is run,
    an InferenceConfig).

    Inputs are NCHW float tensors: `image` (N,3,H,W) in [0,1], `mask` (N,1,H,W) with 1 where a
    pixel is to be repaired; H and W must be multiples of `config.stride`.
    """

    def __init__(self, config: ModelConfig, inference: InferenceConfig | None = None):
        super().__init__()
        self.config = config
        # How it is run (prefill, noisy skip levels): not part of the weights, but saved
        # with them. Without one, latent noise goes to the code alone.
        self.inference = inference if inference is not None else InferenceConfig(noisy_skip_levels=())
        self.inference.check(config)
        w = list(config.widths)
        levels = len(w)
        r = config.unshuffle
        self.stem = nn.Conv2d(4 * r * r, w[0], 3, padding=1)
        self.enc = nn.ModuleList()
        self.down = nn.ModuleList()
        for i in range(levels):
            last = i == levels - 1
            dil = config.bottleneck_dilations if last else (1,)
            self.enc.append(_blocks(w[i], config.encoder_blocks[i], dil))
            if not last:
                self.down.append(nn.Conv2d(w[i], w[i + 1], 2, stride=2))
        self.global_blocks = nn.Sequential(*[GlobalBlock(w[-1]) for _ in range(config.global_blocks)])
        self.to_latent = nn.Conv2d(w[-1], config.latent_channels, 1)
        self.from_latent = nn.Conv2d(config.latent_channels, w[-1], 1)
        self.dec = nn.ModuleList()
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for i in reversed(range(levels)):
            last = i == levels - 1
            dil = config.bottleneck_dilations if last else (1,)
            self.dec.append(_blocks(w[i], config.decoder_blocks[i], dil))
            if i > 0:
                self.up.append(nn.Sequential(nn.Conv2d(w[i], 4 * w[i - 1], 1), nn.PixelShuffle(2)))
                self.merge.append(nn.Conv2d(2 * w[i - 1], w[i - 1], 1))
        self.head = nn.Conv2d(w[0], 3 * r * r, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.refine = _refine_head(config.refine_channels) if config.refine_channels else None

    def encode(self, image: torch.Tensor, mask: torch.Tensor, noise_level: torch.Tensor | None = None) -> Latent:
        """Encode an image whose holes (mask 1) hold zeros on a first pass, or a previous
        fill when refining; the mask channel tells the model which pixels to distrust.

        With `config.noise_level_input` that channel holds the noise level instead: the (N,)
        sigmas in `noise_level` (0..1 scale), estimated from `image` when not given. A caller
        that cuts a photo into tiles passes the whole photo's, so the tiles agree."""
        fourth = mask
        if self.config.noise_level_input:
            sigma = estimate_sigma(image) if noise_level is None else noise_level
            fourth = level_map(torch.as_tensor(sigma).reshape(-1), mask)
        x = F.pixel_unshuffle(torch.cat([image, fourth], dim=1), self.config.unshuffle)
        x = self.stem(x)
        skips = []
        for i, blocks in enumerate(self.enc):
            x = blocks(x)
            if i < len(self.down):
                skips.append(x)
                x = self.down[i](x)
        x = self.global_blocks(x)
        return Latent(code=self.to_latent(x), skips=skips, input=image, mask=mask)

    def decode(self, latent: Latent, holes_only: bool = False) -> torch.Tensor:
        """The repaired image. `holes_only`: the caller keeps only the hole pixels (mask 1),
        so the refinement head may skip blocks without one (`_refine_holes`); the output
        there then lacks the head's correction."""
        x = self.from_latent(latent.code)
        for j, blocks in enumerate(self.dec):
            x = blocks(x)
            if j < len(self.up):
                skip = latent.skips[len(latent.skips) - 1 - j]
                x = self.merge[j](torch.cat([self.up[j](x), skip], dim=1))
        out = latent.input + F.pixel_shuffle(self.head(x), self.config.unshuffle)
        if self.refine is not None:
            seen = torch.cat([out, latent.input, latent.mask], dim=1)
            delta = _refine_holes(self.refine, seen, latent.mask) if holes_only else None
            out = out + (self.refine(seen) if delta is None else delta)
        return out

    def draw_latent_noise(self, latent: Latent, generator: torch.Generator | None = None,
                          levels: tuple[int, ...] | None = None) -> list[torch.Tensor]:
        """Standard normal noise for the tensors that get it: the code, then each noisy skip
        level in order. Drawn on the generator's device (CPU by default), so a seed gives
        the same noise everywhere; training draws several and keeps one (IMLE). `levels`:
        the noisy skip levels (default: `self.inference`'s)."""
        levels = self.inference.noisy_skip_levels if levels is None else levels
        gen_device = generator.device if generator is not None else torch.device("cpu")
        shapes = [latent.code.shape] + [latent.skips[i].shape for i in sorted(levels)]
        return [torch.randn(shape, generator=generator, device=gen_device, dtype=torch.float32) for shape in shapes]

    def add_latent_noise(self, latent: Latent, strength, generator: torch.Generator | None = None,
                         noise: list[torch.Tensor] | None = None, levels: tuple[int, ...] | None = None) -> Latent:
        """Add `strength` standard deviations of Gaussian noise to the latent code.

        The spread is measured per sample and per channel on the latent itself, so strength 1
        means one standard deviation whatever the image. `strength` is a float or a (N,)
        tensor (one strength per sample, as training uses). `noise` (from
        `draw_latent_noise`) is drawn from `generator` when not given.
        """
        levels = self.inference.noisy_skip_levels if levels is None else levels
        s = torch.as_tensor(strength, dtype=torch.float32).reshape(-1, 1, 1, 1)
        eps = iter(noise if noise is not None else self.draw_latent_noise(latent, generator, levels))

        def noisy(t: torch.Tensor) -> torch.Tensor:
            spread = t.float().std(dim=(2, 3), keepdim=True, correction=0)  # 1x1 maps: 0, not NaN
            return (t.float() + s.to(t.device) * spread * next(eps).to(t.device)).to(t.dtype)

        code = noisy(latent.code)
        skips = [noisy(t) if i in levels else t for i, t in enumerate(latent.skips)]
        return dataclasses.replace(latent, code=code, skips=skips)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, strength=0.0, generator=None, noise=None,
                noise_level=None) -> torch.Tensor:
        latent = self.encode(image, mask, noise_level)
        if (strength.any() if torch.is_tensor(strength) else strength):
            latent = self.add_latent_noise(latent, strength, generator, noise)
        return self.decode(latent)
