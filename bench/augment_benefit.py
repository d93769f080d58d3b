"""Does latent noise help a classifier learn? The same small CNN trained from scratch on a
few labelled images under each augmentation policy, the same seeds for every policy.

    python -m bench.augment_benefit --data ../shared/data/imagenette-fewshot --out bench/results

`--data` holds train/<class>/* and val/<class>/* (an ImageFolder layout). Photos are read
once, their short side resized to `--size` * 9/8 and centre-cropped square, kept as uint8.
Policies: none (the centre `--size` crop); classical (random resized crop, horizontal flip,
colour jitter); classical + random erasing; classical + latent noise
(`aeapp.transforms.LatentNoise`, before the classical steps); classical + latent noise +
erasing. Per seed every policy starts from the same initial weights and sees the same
batch order; only the augmentation draws differ. Reports top-1 validation accuracy after
the last epoch (mean and standard error over seeds, and each policy's paired difference
from classical) and seconds per epoch, and the images per second of LatentNoise and of the
classical pipeline at 224 px. Writes augment_benefit.json, .md and .png to `--out`.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from aeapp import image_io
from aeapp.transforms import LatentNoise

POLICIES = ("none", "classical", "classical+erasing", "classical+latent", "classical+latent+erasing")


def load_split(folder: Path, size: int, limit: int = 0) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(uint8 images (N,3,S,S) with S = size * 9/8, labels (N,), class names) of an
    ImageFolder split; `limit` images per class at most (0: all)."""
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    side = size * 9 // 8
    images, labels = [], []
    for label, name in enumerate(classes):
        for path in image_io.list_images(folder / name)[: limit or None]:
            x = torch.from_numpy(image_io.to_uint8(image_io.load_image(path))).permute(2, 0, 1)
            x = TF.center_crop(TF.resize(x, side, antialias=True), [side, side])
            images.append(x)
            labels.append(label)
    return torch.stack(images), torch.tensor(labels), classes


def small_cnn(classes: int) -> nn.Module:
    """Four stages of two 3x3 convolutions with batch norm, halving the side each time."""
    def stage(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                             nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                             nn.MaxPool2d(2))
    return nn.Sequential(stage(3, 32), stage(32, 64), stage(64, 128), stage(128, 256),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(256, classes))


class Policy:
    """A batch of uint8 (N,3,S,S) images -> float (N,3,size,size), each image drawn on its own."""

    def __init__(self, name: str, size: int, latent: LatentNoise | None):
        self.name, self.size = name, size
        self.latent = latent if "latent" in name else None
        self.classical = v2.Compose([v2.RandomResizedCrop(size, scale=(0.35, 1.0), antialias=True), v2.RandomHorizontalFlip(),
                                     v2.ColorJitter(0.4, 0.4, 0.4)])
        self.erasing = v2.RandomErasing(p=0.5, value=0.5) if "erasing" in name else None

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        if self.name == "none":
            return TF.center_crop(batch, [self.size, self.size]).float() / 255
        if self.latent is not None:
            batch = self.latent(batch)  # per image: whether, how strong; one pass for the batch
        out = torch.stack([self.classical(x) for x in batch]).float() / 255
        return torch.stack([self.erasing(x) for x in out]) if self.erasing else out


def train_once(policy: Policy, train: tuple, val: tuple, seed: int, epochs: int, batch: int, classes: int) -> dict:
    images, labels = train
    torch.manual_seed(seed)
    model = small_cnn(classes).to(memory_format=torch.channels_last)  # the same start for every policy
    order = torch.Generator().manual_seed(seed)  # the same batch order for every policy
    torch.manual_seed(10_000 + seed)  # the augmentations' draws
    steps = epochs * math.ceil(len(images) / batch)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=steps, pct_start=0.15)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        for idx in torch.randperm(len(images), generator=order).split(batch):
            x = ((policy(images[idx]) - mean) / std).contiguous(memory_format=torch.channels_last)
            loss = loss_fn(model(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        seconds.append(time.perf_counter() - start)
    model.eval()
    x_val = (TF.center_crop(val[0], [policy.size, policy.size]).float() / 255 - mean) / std
    with torch.no_grad():
        correct = sum(int((model(x.contiguous(memory_format=torch.channels_last)).argmax(1) == y).sum())
                      for x, y in zip(x_val.split(100), val[1].split(100)))
    return {"top1": 100.0 * correct / len(val[1]), "seconds_per_epoch": statistics.median(seconds)}


def throughput(latent: LatentNoise, seconds: float = 5.0, batch: int = 16) -> dict:
    """Images per second at 224 px: LatentNoise (p=1, a batch at a time) and the classical
    pipeline (one image at a time, as a Dataset applies it)."""
    torch.manual_seed(0)
    images = (torch.rand(batch, 3, 256, 256) * 255).to(torch.uint8)
    always = LatentNoise(strength=latent.strength, p=1.0, checkpoint=latent.checkpoint, dtype=latent.dtype)
    classical = v2.Compose([v2.RandomResizedCrop(224, antialias=True), v2.RandomHorizontalFlip(), v2.ColorJitter(0.4, 0.4, 0.4)])
    crops = TF.center_crop(images, [224, 224])
    always(crops[:2])  # loads the network
    out = {}
    for name, fn, per_call in (("latent_noise", lambda: always(crops), batch),
                               ("classical", lambda: [classical(x) for x in images], batch)):
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            fn()
            done += per_call
        out[name] = done / (time.perf_counter() - start)
    return out


def summarise(runs: dict[str, list[dict]]) -> dict:
    base = [r["top1"] for r in runs["classical"]]
    out = {}
    for name, rows in runs.items():
        top1 = np.array([r["top1"] for r in rows])
        diff = top1 - np.array(base[: len(top1)])
        se = lambda a: float(a.std(ddof=1) / np.sqrt(len(a))) if len(a) > 1 else 0.0  # noqa: E731
        out[name] = {"top1_mean": float(top1.mean()), "top1_se": se(top1), "vs_classical": float(diff.mean()),
                     "vs_classical_se": se(diff), "seconds_per_epoch": float(np.median([r["seconds_per_epoch"] for r in rows])),
                     "top1": top1.tolist()}
    return out


def markdown(results: dict) -> str:
    lines = [f"Machine: {results['machine']}. Command: `{results['command']}`", "",
             f"{results['train_images']} training and {results['val_images']} validation images, {results['size']} px, "
             f"{results['epochs']} epochs, seeds {results['seeds']}.", "",
             "| policy | top-1 (%) | vs classical (paired) | s / epoch |", "|---|---|---|---|"]
    for name, r in results["summary"].items():
        lines.append(f"| {name} | {r['top1_mean']:.1f} ± {r['top1_se']:.1f} | {r['vs_classical']:+.1f} ± {r['vs_classical_se']:.1f} "
                     f"| {r['seconds_per_epoch']:.1f} |")
    t = results.get("throughput")
    if t:
        lines += ["", f"Throughput at 224 px: LatentNoise {t['latent_noise']:.1f} images/s, classical pipeline "
                      f"{t['classical']:.1f} images/s."]
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["summary"])
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, name in enumerate(names):
        r = results["summary"][name]
        ax.scatter([i] * len(r["top1"]), r["top1"], color="grey", s=12)
        ax.errorbar(i, r["top1_mean"], yerr=r["top1_se"], fmt="o", color=f"C{i}", capsize=4)
    ax.set_xticks(range(len(names)), names, rotation=15, fontsize=8)
    ax.set_ylabel("top-1 validation accuracy (%)")
    ax.set_title(f"{results['train_images']} training images, {results['epochs']} epochs, {len(results['seeds'])} seeds", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder with train/ and val/ in ImageFolder layout")
    p.add_argument("--out", default="bench/results")
    p.add_argument("--size", type=int, default=64, help="training resolution in pixels")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--policies", nargs="+", default=list(POLICIES), choices=POLICIES)
    p.add_argument("--strength", type=float, nargs=2, default=[1.5, 3.0], metavar=("LOW", "HIGH"))
    p.add_argument("--p", type=float, default=0.5, help="LatentNoise's chance per image")
    p.add_argument("--limit", type=int, default=0, help="images per class at most (0: all)")
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--throughput-seconds", type=float, default=5.0, help="0: skip the throughput measure")
    args = p.parse_args(argv)
    if "classical" not in args.policies:
        p.error("the policies must include classical: the others are compared with it")
    data = Path(args.data)
    train = load_split(data / "train", args.size, args.limit)
    val = load_split(data / "val", args.size, args.limit)
    classes = len(train[2])
    latent = LatentNoise(strength=tuple(args.strength), p=args.p, checkpoint=args.checkpoint)
    runs: dict[str, list[dict]] = {name: [] for name in args.policies}
    for seed in args.seeds:
        for name in args.policies:
            run = train_once(Policy(name, args.size, latent), train[:2], val[:2], seed, args.epochs, args.batch, classes)
            runs[name].append(run)
            print(f"seed {seed} {name:<26} top-1 {run['top1']:.1f}%  {run['seconds_per_epoch']:.1f} s/epoch", flush=True)
    results = {
        "command": "python -m bench.augment_benefit " + " ".join(argv if argv is not None else __import__("sys").argv[1:]),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
        "train_images": len(train[1]), "val_images": len(val[1]), "size": args.size, "epochs": args.epochs,
        "seeds": args.seeds, "latent_noise": {"strength": args.strength, "p": args.p},
        "runs": runs, "summary": summarise(runs),
    }
    if args.throughput_seconds:
        results["throughput"] = throughput(latent, args.throughput_seconds)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "augment_benefit.json").write_text(json.dumps(results, indent=2))
    (out / "augment_benefit.md").write_text(markdown(results))
    plot(results, out / "augment_benefit.png")
    print(markdown(results), flush=True)
    return results


if __name__ == "__main__":
    main()
