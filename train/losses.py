"""The training losses, the latent-noise draw that trains (IMLE) and the learning-rate
schedule."""

from __future__ import annotations

import math

import torch

from aeapp.config import TrainConfig
from aeapp.model import ConvAutoencoder


def loss_fn(pred, clean, weight, cfg: TrainConfig, sample_weight=None) -> tuple[torch.Tensor, dict[str, float]]:
    """The pixel loss (`cfg.pixel_loss`) over the pixels that count (weight 1: the holes for
    "fill", every pixel for "restore"), plus L1 between amplitude spectra of the composite
    (sharpness); both averaged over the batch with the per-sample weights `sample_weight`
    (default: equal)."""
    pred, clean = pred.float(), clean.float()
    sw = torch.ones(len(pred), device=pred.device) if sample_weight is None else sample_weight.float()
    if cfg.pixel_loss == "psnr":
        loss, parts = psnr_loss(pred, clean, weight, sw)
    else:
        w = weight * sw.view(-1, 1, 1, 1)
        loss = ((pred - clean).abs() * w).sum() / (w.sum() * 3).clamp_min(1e-8)
        parts = {"l1": loss.item()}
    sw = sw.view(-1, 1, 1, 1)
    if cfg.fft_weight:
        shown = pred * weight + clean * (1 - weight)
        diff = (torch.fft.rfft2(shown, norm="ortho").abs() - torch.fft.rfft2(clean, norm="ortho").abs()).abs()
        fft = (diff * sw).sum() / (sw.sum() * diff[0].numel())
        loss = loss + cfg.fft_weight * fft
        parts["fft"] = fft.item()
    return loss, parts


def psnr_loss(pred, clean, weight, sample_weight) -> tuple[torch.Tensor, dict[str, float]]:
    """Each sample's MSE over its weighted pixels, weighted by 1 / (its detached MSE + 1e-5):
    the gradient of the mean log-MSE, scaled like a plain MSE (the floor, 50 dB, keeps a
    near-perfect sample from taking over). Samples with no weighted pixel are left out."""
    counted = weight.flatten(1).sum(1) * 3
    mse = ((pred - clean) ** 2 * weight).flatten(1).sum(1) / counted.clamp_min(1e-8)
    w = sample_weight * (counted > 0) / (mse.detach() + 1e-5)
    loss = (w * mse).sum() / w.sum().clamp_min(1e-12)
    shown = mse.detach()[counted > 0]
    return loss, {"harmonic_mse": loss.item(), "psnr": float((-10 * torch.log10(shown + 1e-10)).mean()) if len(shown) else 0.0}


def closest_noise(model: ConvAutoencoder, inputs, mask, clean, weight, strength, draws: int, gen, amp: bool) -> list[torch.Tensor]:
    """IMLE's choice: for each sample with latent noise (`strength` > 0), the one of `draws`
    latent noises (from `gen`) whose output is closest to `clean` in the pixels that count
    (`weight`). Training on that draw pulls the nearest noise toward the truth, rather than
    every noise toward the average, so the decoder learns to make noises count."""
    noisy = (strength > 0).nonzero().flatten()
    with torch.no_grad(), torch.autocast(inputs.device.type, dtype=torch.bfloat16, enabled=amp):
        latent = model.encode(inputs[noisy], mask[noisy])
        drawn = [model.draw_latent_noise(latent, gen) for _ in range(draws)]
        errors = torch.stack([
            (((model.decode(model.add_latent_noise(latent, strength[noisy], noise=eps)).float() - clean[noisy]) ** 2)
             * weight[noisy]).flatten(1).sum(1)
            for eps in drawn])
    pick = errors.argmin(0).cpu()  # (noisy samples,): the closest draw of each
    full = []
    for level in zip(*drawn):  # the code, then each noisy skip: (draws, noisy samples, ...)
        t = level[0].new_zeros((len(inputs), *level[0].shape[1:]))
        t[noisy.cpu()] = torch.stack(level)[pick, torch.arange(len(pick))]
        full.append(t)
    return full


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * t))
