"""Device figures: repair latency (half precision on CUDA) and training throughput.

    python -m bench.gpu_check --sizes 1MP 8MP --train-seconds 60 --out bench/results/gpu.json

Latency is the warm median of `--repeats` repairs of a random image with a 10% hole,
synchronised with the device. Training throughput runs the real training step (the same
loss, optimiser and autocast as train/train.py) on random crops for `--train-seconds` and
reports crops and megapixels per second. Runs on the CPU too (--device cpu), which is how
it is tested; the figures it reports are the ones measured on the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from aeapp.config import TrainConfig
from aeapp.device import describe, resolve, trains_in_bfloat16
from aeapp.engine import get_engine
from aeapp.model import ConvAutoencoder
from train.losses import loss_fn

SIZES = {"256": (256, 256), "1MP": (1024, 1024), "8MP": (2448, 3264), "12MP": (3000, 4000)}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def repair_latency(engine, size: str, repeats: int) -> dict:
    h, w = SIZES[size]
    image = np.random.default_rng(0).random((h, w, 3), dtype=np.float32)
    mask = np.zeros((h, w), bool)
    mask[h // 3 : h // 3 + h // 4, w // 3 : w // 3 + w // 3] = True
    engine.repair(image, mask)  # warm-up at this size (cuDNN picks its algorithms here)
    times = []
    for _ in range(repeats):
        sync(engine.device)
        t = time.perf_counter()
        out = engine.repair(image, mask)
        sync(engine.device)
        times.append(time.perf_counter() - t)
    peak = torch.cuda.max_memory_allocated(engine.device) / 2**20 if engine.device.type == "cuda" else None
    return {"size": size, "seconds_median": statistics.median(times), "megapixels_per_second": h * w / 1e6 / statistics.median(times),
            "finite": bool(np.isfinite(out).all()), "peak_gpu_mib": peak}


def training_throughput(device: torch.device, seconds: float, batch: int, crop: int) -> dict:
    cfg = TrainConfig(data="random tensors", batch_size=batch, crop=crop)  # no images read: random batches
    model = ConvAutoencoder(cfg.model, cfg.inference).to(device, memory_format=torch.channels_last).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
    amp = trains_in_bfloat16(device)
    gen = torch.Generator().manual_seed(0)

    def batch_tensors():
        clean = torch.rand(batch, 3, crop, crop, generator=gen)
        mask = (torch.rand(batch, 1, crop, crop, generator=gen) < 0.2).float()
        return [t.to(device).contiguous(memory_format=torch.channels_last) for t in (clean, clean * (1 - mask), mask)]

    def step(clean, damaged, mask):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            pred = model(damaged, mask)
        loss, _ = loss_fn(pred, clean, mask, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    data = batch_tensors()
    for _ in range(3):
        step(*data)
    sync(device)
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step(*data)
        steps += 1
    sync(device)
    dt = time.perf_counter() - t0
    return {"batch": batch, "crop": crop, "steps": steps, "steps_per_second": steps / dt,
            "crops_per_second": steps * batch / dt, "megapixels_per_second": steps * batch * crop * crop / 1e6 / dt}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--sizes", nargs="*", default=["1MP", "8MP"], choices=list(SIZES))
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--train-seconds", type=float, default=60.0)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--out", default="bench/results/gpu.json")
    args = p.parse_args(argv)
    device, dtype = resolve(args.device)
    engine = get_engine(args.checkpoint, device=args.device)
    result = {"device": describe(device, dtype), "torch": torch.__version__, "latency": [], "training": None}
    for size in args.sizes:
        result["latency"].append(repair_latency(engine, size, args.repeats))
        print(json.dumps(result["latency"][-1]), flush=True)
    if args.train_seconds > 0:
        result["training"] = training_throughput(device, args.train_seconds, args.batch, args.crop)
        print(json.dumps(result["training"]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
