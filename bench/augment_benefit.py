"""Does latent noise help a classifier learn? A small ResNet trained from scratch on a few
labelled photos under each augmentation policy, in a regime where augmentation matters
(classical augmentation far ahead of none), the same start and batch order for every policy.

    python -m bench.augment_benefit --data ../shared/data/imagenette-fewshot --out bench/results \\
        --seeds 0 1 2 3 4 5 6 7 8 9

`--data` holds train/<class>/* and val/<class>/* (ImageFolder). Photos are read once, the
short side resized to 128 px and centre-cropped square, kept as uint8; training sees 112 px
crops, validation the centre 112 px. Policies (each image drawn on its own):

  none                      the centre crop
  classical                 random resized crop (35 to 100% of the area), flip, colour jitter
  classical+erasing         and random erasing
  classical+trivialaugment  TrivialAugment before the classical steps (a known-good control)
  classical+gaussian        Gaussian noise of the PSNR latent noise reaches, as often (a control)
  classical+latent          aeapp's latent noise (LatentCache: encoded once, decoded per epoch)
  classical+latentmix       each varied image's latent moved toward another image's of its
                            class (by 20 to 50%), then noised
  classical+latentextrap    moved away from it instead (by 20 to 50%), then noised

Per seed every policy starts from the same initial weights and sees the same batch order;
only the augmentation draws differ. Reports top-1 on the validation split and on noisy
copies of it (Gaussian sigma 15 and 25, a simulated camera's noise: aeapp.damage), each as
mean and standard error over seeds and as the paired difference from classical with its 95%
interval and the smallest difference the seeds can detect (80% power); seconds per epoch,
and of them the seconds spent augmenting. Writes augment_benefit.json, .md and .png.
Seeds can run in parallel processes and be merged: `--merge A/augment_benefit.json
B/augment_benefit.json --out bench/results`.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from aeapp import damage, image_io, metrics
from aeapp.device import trains_in_bfloat16
from bench.common import merge_or_exit

POLICIES = ("none", "classical", "classical+erasing", "classical+trivialaugment", "classical+gaussian",
            "classical+latent", "classical+latentmix", "classical+latentextrap")
# How far a varied image's latent moves toward another image of its class: interpolation
# (mixing) or, negative, extrapolation away from it (feature-space augmentation).
LATENT_MOVES = {"classical+latentmix": (0.2, 0.5), "classical+latentextrap": (-0.5, -0.2)}
NOISY_VAL = {"gaussian15": ("noise", 15.0), "gaussian25": ("noise", 25.0), "camera": ("camera", 0.0)}
STORED = 128  # side the photos are kept at
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def load_split(folder: Path, side: int = STORED, limit: int = 0) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(uint8 images (N,3,side,side), labels (N,), class names) of an ImageFolder split;
    `limit` images per class at most (0: all)."""
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    images, labels = [], []
    for label, name in enumerate(classes):
        for path in image_io.list_images(folder / name)[: limit or None]:
            x = torch.from_numpy(image_io.to_uint8(image_io.load_image(path))).permute(2, 0, 1)
            images.append(TF.center_crop(TF.resize(x, side, antialias=True), [side, side]))
            labels.append(label)
    return torch.stack(images), torch.tensor(labels), classes


def noisy_copy(images: torch.Tensor, kind: str, sigma: float, seed: int) -> torch.Tensor:
    """A fixed noisy copy of uint8 images, seeded per image (aeapp.damage, 8-bit as saved)."""
    out = []
    for i, x in enumerate(images):
        rgb = x.permute(1, 2, 0).numpy().astype(np.float32) / 255.0
        noisy, _ = damage.apply_damage(rgb, kind, np.random.default_rng([seed, i]), sigma=sigma)
        out.append(torch.from_numpy(image_io.to_uint8(noisy)).permute(2, 0, 1))
    return torch.stack(out)


def small_resnet(classes: int, width: int = 24) -> nn.Module:
    """A ResNet-style classifier for 112 px images: a strided stem, then four stages of one
    residual block each, the side halving and the width doubling from stage to stage."""

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                                      nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
            self.short = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            return torch.relu(self.body(x) + self.short(x))

    w = width
    return nn.Sequential(nn.Conv2d(3, w, 3, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
                         Block(w, w, 1), Block(w, 2 * w, 2), Block(2 * w, 4 * w, 2), Block(4 * w, 8 * w, 2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(8 * w, classes))


class Policy:
    """Indices of a batch -> float (n,3,size,size) in [0,1], each image drawn on its own."""

    def __init__(self, name: str, size: int, images: torch.Tensor, labels: torch.Tensor, latent=None,
                 gaussian_sigma: float = 0.0, p: float = 0.5):
        self.name, self.size, self.images, self.labels, self.p = name, size, images, labels, p
        self.latent = latent if "latent" in name else None
        self.classical = v2.Compose([v2.RandomResizedCrop(size, scale=(0.35, 1.0), antialias=True), v2.RandomHorizontalFlip(),
                                     v2.ColorJitter(0.4, 0.4, 0.4)])
        self.erasing = v2.RandomErasing(p=0.5, value=0.5) if "erasing" in name else None
        self.trivial = v2.TrivialAugmentWide() if "trivialaugment" in name else None
        self.gaussian = v2.GaussianNoise(sigma=gaussian_sigma) if "gaussian" in name else None
        self.same_class = [torch.nonzero(labels == c).flatten() for c in range(int(labels.max()) + 1)]

    def _latent_move(self, idx: torch.Tensor) -> torch.Tensor:
        low, high = LATENT_MOVES[self.name]
        out = self.images[idx].float() / 255
        varied = (torch.rand(len(idx)) < self.p).nonzero().flatten()
        if len(varied):
            picked = idx[varied]
            partners = torch.stack([self.same_class[int(self.labels[i])][torch.randint(len(self.same_class[int(self.labels[i])]), ())]
                                    for i in picked])
            out[varied] = self.latent.mix(picked, partners, low + (high - low) * torch.rand(len(picked)))
        return out

    def __call__(self, idx: torch.Tensor) -> torch.Tensor:
        if self.name == "none":
            return TF.center_crop(self.images[idx], [self.size, self.size]).float() / 255
        if self.latent is not None:
            floats = self._latent_move(idx) if self.name in LATENT_MOVES else self.latent(idx)
            batch = (floats * 255).round().clamp(0, 255).to(torch.uint8)
        else:
            batch = self.images[idx]
        if self.trivial is not None:
            batch = torch.stack([self.trivial(x) for x in batch])
        if self.gaussian is not None:
            floats = batch.float() / 255
            for i in (torch.rand(len(batch)) < self.p).nonzero().flatten():
                floats[i] = self.gaussian(floats[i])
            batch = (floats.clamp(0, 1) * 255).round().to(torch.uint8)
        out = torch.stack([self.classical(x) for x in batch]).float() / 255
        return torch.stack([self.erasing(x) for x in out]) if self.erasing else out


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, size: int, amp: bool) -> float:
    model.eval()
    x_all = (TF.center_crop(images, [size, size]).float() / 255 - MEAN) / STD
    correct = 0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        for x, y in zip(x_all.split(100), labels.split(100)):
            correct += int((model(x.contiguous(memory_format=torch.channels_last)).argmax(1) == y).sum())
    return 100.0 * correct / len(labels)


def train_once(policy: Policy, val: dict, seed: int, epochs: int, batch: int, classes: int, width: int) -> dict:
    images, labels = policy.images, policy.labels
    amp = trains_in_bfloat16(torch.device("cpu"))
    torch.manual_seed(seed)
    model = small_resnet(classes, width).to(memory_format=torch.channels_last)  # the same start for every policy
    order = torch.Generator().manual_seed(seed)  # the same batch order for every policy
    torch.manual_seed(10_000 + seed)  # the augmentations' draws
    steps = epochs * math.ceil(len(images) / batch)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.2)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    seconds, augmenting = [], []
    for _ in range(epochs):
        start, aug = time.perf_counter(), 0.0
        model.train()
        for idx in torch.randperm(len(images), generator=order).split(batch):
            t = time.perf_counter()
            x = ((policy(idx) - MEAN) / STD).contiguous(memory_format=torch.channels_last)
            aug += time.perf_counter() - t
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
                loss = loss_fn(model(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        seconds.append(time.perf_counter() - start)
        augmenting.append(aug)
    top1 = {name: evaluate(model, x, val["labels"], policy.size, amp) for name, x in val["images"].items()}
    return {"top1": top1, "seconds_per_epoch": statistics.median(seconds), "augment_seconds_per_epoch": statistics.median(augmenting)}


def latent_psnr(cache, images: torch.Tensor, count: int = 64) -> float:
    """The mean PSNR of latent-noise variants against their originals (every image varied)."""
    torch.manual_seed(0)
    p, cache.settings.p = cache.settings.p, 1.0
    idx = torch.arange(min(count, len(images)))
    varied = cache(idx)
    cache.settings.p = p
    return float(np.mean([metrics.psnr(images[i].permute(1, 2, 0).numpy() / 255.0, varied[k].permute(1, 2, 0).numpy())
                          for k, i in enumerate(idx)]))


def t_quantile(q: float, df: int) -> float:
    from scipy.stats import t

    return float(t.ppf(q, df))


def summarise(runs: dict[str, list[dict]], evals: list[str]) -> dict:
    """Per policy and validation copy: mean and standard error of top-1 over seeds, the paired
    difference from classical with its 95% interval, and the smallest difference these seeds
    detect with 80% power at the paired differences' spread."""
    out = {}
    for name, rows in runs.items():
        out[name] = {"seconds_per_epoch": float(np.median([r["seconds_per_epoch"] for r in rows])),
                     "augment_seconds_per_epoch": float(np.median([r["augment_seconds_per_epoch"] for r in rows]))}
        for ev in evals:
            top1 = np.array([r["top1"][ev] for r in rows])
            base = np.array([r["top1"][ev] for r in runs["classical"]][: len(top1)])
            diff = top1 - base
            n = len(top1)
            se = float(top1.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
            dse = float(diff.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
            half = t_quantile(0.975, n - 1) * dse if n > 1 else float("nan")
            mde = (t_quantile(0.975, n - 1) + t_quantile(0.8, n - 1)) * dse if n > 1 else float("nan")
            out[name][ev] = {"mean": float(top1.mean()), "se": se, "vs_classical": float(diff.mean()), "vs_classical_se": dse,
                             "ci95": [float(diff.mean() - half), float(diff.mean() + half)], "detectable": mde,
                             "top1": top1.tolist()}
    return out


def markdown(results: dict) -> str:
    evals = results["evals"]
    lines = [f"Machine: {results['machine']}. Command: `{results['command']}`", "",
             f"{results['train_images']} training and {results['val_images']} validation images ({results['classes']} classes), "
             f"{results['size']} px crops of {results['stored']} px photos, {results['epochs']} epochs, {len(results['seeds'])} seeds; "
             f"latent noise p {results['latent']['p']}, strength {results['latent']['strength']}, variants at "
             f"{results['latent']['psnr']:.1f} dB (the Gaussian control: sigma {results['latent']['gaussian_sigma'] * 255:.1f}/255).", "",
             "Top-1 (%) ± standard error over seeds; below it the paired difference from classical [95% interval].", "",
             "| policy | " + " | ".join(evals) + " | s / epoch (augmenting) |", "|---|" + "---|" * len(evals) + "---|"]
    for name, r in results["summary"].items():
        cells = []
        for ev in evals:
            e = r[ev]
            vs = "" if name == "classical" else f"<br>{e['vs_classical']:+.1f} [{e['ci95'][0]:+.1f}, {e['ci95'][1]:+.1f}]"
            cells.append(f"{e['mean']:.1f} ± {e['se']:.1f}{vs}")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {r['seconds_per_epoch']:.1f} ({r['augment_seconds_per_epoch']:.1f}) |")
    detect = np.median([results["summary"][n][ev]["detectable"] for n in results["summary"] if n != "classical" for ev in evals])
    lines += ["", f"With {len(results['seeds'])} seeds a paired difference of about {detect:.1f} points is detected with "
                  "80% power (median over policies and copies)."]
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in results["summary"] if n != "classical"]
    evals = results["evals"]
    fig, ax = plt.subplots(figsize=(9, 4))
    for j, ev in enumerate(evals):
        xs = np.arange(len(names)) + (j - (len(evals) - 1) / 2) * 0.18
        means = [results["summary"][n][ev]["vs_classical"] for n in names]
        lows = [results["summary"][n][ev]["ci95"][0] for n in names]
        highs = [results["summary"][n][ev]["ci95"][1] for n in names]
        ax.errorbar(xs, means, yerr=[np.subtract(means, lows), np.subtract(highs, means)], fmt="o", capsize=3, label=ev)
    ax.axhline(0, color="grey", lw=1)
    ax.set_xticks(range(len(names)), names, rotation=15, fontsize=8)
    ax.set_ylabel("top-1 vs classical, paired (points)")
    ax.set_title(f"{results['train_images']} training images, {results['epochs']} epochs, {len(results['seeds'])} seeds; "
                 "95% intervals", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def merge(paths: list[Path]) -> dict:
    """One result from runs of the same settings on different seeds (say, one process per
    core): their runs side by side, in seed order, summarised again."""
    parts = [json.loads(Path(path).read_text()) for path in paths]
    first = parts[0]
    keys = ("train_images", "val_images", "size", "stored", "epochs", "width", "evals", "latent")
    for other in parts[1:]:
        differ = [k for k in keys if other.get(k) != first.get(k)] + (["policies"] if set(other["runs"]) != set(first["runs"]) else [])
        if differ:
            raise ValueError(f"cannot merge runs whose settings differ: {', '.join(differ)}")
    seeds = [seed for part in parts for seed in part["seeds"]]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"the runs share seeds: {sorted(seeds)}")
    order = np.argsort(seeds)
    runs = {name: [[r for part in parts for r in part["runs"][name]][i] for i in order] for name in first["runs"]}
    return {**first, "command": " && ".join(part["command"] for part in parts), "seeds": sorted(seeds), "runs": runs,
            "summary": summarise(runs, first["evals"])}


def write(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "augment_benefit.json").write_text(json.dumps(results, indent=2))
    (out / "augment_benefit.md").write_text(markdown(results))
    plot(results, out / "augment_benefit.png")


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--merge", nargs="+", type=Path, metavar="JSON",
                   help="instead of training: merge augment_benefit.json files of the same settings and other seeds")
    p.add_argument("--data", help="folder with train/ and val/ in ImageFolder layout")
    p.add_argument("--out", default="bench/results")
    p.add_argument("--size", type=int, default=112, help="training and validation crop in pixels")
    p.add_argument("--stored", type=int, default=STORED, help="side the photos are resized and cropped to first")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--width", type=int, default=24, help="the classifier's first width")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--policies", nargs="+", default=list(POLICIES), choices=POLICIES)
    p.add_argument("--strength", type=float, nargs=2, default=[1.5, 3.0], metavar=("LOW", "HIGH"))
    p.add_argument("--p", type=float, default=0.5, help="the chance an image gets latent noise (and the Gaussian control)")
    p.add_argument("--limit", type=int, default=0, help="images per class at most (0: all)")
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args(argv)
    if args.merge:
        results = merge_or_exit(p, merge, args.merge)
        write(results, Path(args.out))
        print(markdown(results), flush=True)
        return results
    if not args.data:
        p.error("--data is required (or --merge)")
    if "classical" not in args.policies:
        p.error("the policies must include classical: the others are compared with it")
    if args.threads:
        torch.set_num_threads(args.threads)
    from aeapp.transforms import LatentCache

    data = Path(args.data)
    images, labels, classes = load_split(data / "train", args.stored, args.limit)
    val_images, val_labels, _ = load_split(data / "val", args.stored, args.limit)
    val = {"labels": val_labels, "images": {"clean": val_images}}
    for name, (kind, sigma) in NOISY_VAL.items():
        val["images"][name] = noisy_copy(val_images, kind, sigma, seed=7)
    cache = LatentCache(images, strength=tuple(args.strength), p=args.p, checkpoint=args.checkpoint)
    psnr = latent_psnr(cache, images)
    sigma = 10 ** (-psnr / 20)  # the Gaussian noise of the same PSNR
    runs: dict[str, list[dict]] = {name: [] for name in args.policies}
    for seed in args.seeds:
        for name in args.policies:
            policy = Policy(name, args.size, images, labels, cache, sigma, args.p)
            run = train_once(policy, val, seed, args.epochs, args.batch, len(classes), args.width)
            runs[name].append(run)
            print(f"seed {seed} {name:<26} top-1 " + " ".join(f"{k} {v:.1f}" for k, v in run["top1"].items())
                  + f"  {run['seconds_per_epoch']:.1f} s/epoch ({run['augment_seconds_per_epoch']:.1f} augmenting)", flush=True)
    evals = list(val["images"])
    results = {
        "command": "python -m bench.augment_benefit " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
        "train_images": len(labels), "val_images": len(val_labels), "classes": len(classes), "size": args.size,
        "stored": args.stored,
        "epochs": args.epochs, "seeds": args.seeds, "width": args.width, "evals": evals,
        "latent": {"strength": args.strength, "p": args.p, "psnr": psnr, "gaussian_sigma": sigma},
        "runs": runs, "summary": summarise(runs, evals),
    }
    write(results, Path(args.out))
    print(markdown(results), flush=True)
    return results


if __name__ == "__main__":
    main()
