"""Benchmark aeapp against the classical peers on the same damaged images.

    python -m bench.benchmark --data ../shared/data/CBSD68 --tune-data ../shared/data/CBSD432 \
        --out bench/results --bm3d-limit 10

Each clean image is damaged with aeapp's seeded functions (thin and thick strokes, boxes,
scratches; Gaussian noise of sigma 15, 25 and 50 on the 0..255 scale, clipped and rounded to
8 bits as a user's PNG would be). aeapp and every peer run on exactly those inputs:

  inpainting  OpenCV Telea, OpenCV Navier-Stokes, scikit-image biharmonic
  denoising   OpenCV non-local means and scikit-image TV (strength tuned per sigma on a
              few images of --tune-data, never the test images), BM3D given the true sigma
              (slow: only the first --bm3d-limit images; aeapp is timed again beside
              each of its runs, median of three, for the speed ratio on those images)

aeapp is blind: one model, the sigma unknown to it. Reported per task and method: PSNR and
SSIM of the whole image, PSNR inside the holes, median seconds per image, megapixels per
second; then the latency of one warm repair at 512x512, 1 MP and 12 MP and the peak RSS.
Writes results.json, results.md and quality_vs_time.png to --out. BM3D and matplotlib come
from requirements-dev.txt. The process keeps its heap between images as the CLI does
(`aeapp.heap.batch_mode`; `--heap pass` hands it back after every pass, the engine's default).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from aeapp import damage, heap, image_io, peers
from aeapp.comparison import quality
from aeapp.config import DTYPE_CHOICES
from aeapp.engine import get_engine
from bench.common import damaged_inputs, median_seconds

MASK_TASKS = damage.MASK_KINDS
NOISE_TASKS = damage.NOISE_LEVELS
ALL_TASKS = damage.SCORED_TASKS
HEAP_POLICIES = {"batch": "kept between images (the CLI's)", "pass": "handed back after every pass (the engine's default)"}
# The peers by the names the tables use; --skip takes these, so a misspelt or unquoted
# name ("OpenCV" "NLM") is an error instead of a silent no-op.
PEERS = ("OpenCV Telea", "OpenCV Navier-Stokes", "scikit-image biharmonic", "OpenCV NLM", "scikit-image TV", "BM3D")


@dataclass
class Method:
    name: str
    run: Callable[[np.ndarray, np.ndarray], np.ndarray]
    limit: int | None = None  # only the first `limit` images (slow methods)


@dataclass
class Row:
    task: str
    method: str
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    psnr_holes: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    megapixels: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        out = {"task": self.task, "method": self.method, "images": len(self.psnr)}
        for key in ("psnr", "ssim", "psnr_holes"):
            values = getattr(self, key)
            if values:
                out[key] = float(np.mean(values))
        out["seconds_median"] = float(statistics.median(self.seconds))
        out["megapixels_per_second"] = float(sum(self.megapixels) / sum(self.seconds))
        return out


def tune_denoisers(images: list[np.ndarray], seed: int) -> dict[str, dict[str, float]]:
    """Per sigma, the NLM strength h and TV weight that maximise PSNR on the tuning images."""
    from skimage.restoration import denoise_tv_chambolle

    tuned = {}
    for task, sigma in NOISE_TASKS.items():
        pairs = [(c, n) for c, (n, _) in zip(images, damaged_inputs(images, task, seed + 1))]

        def best(candidates, fn):
            scores = {c: np.mean([quality(clean, fn(noisy, c))["psnr"] for clean, noisy in pairs]) for c in candidates}
            return max(scores, key=scores.get)

        h = best([round(sigma * f, 1) for f in (0.4, 0.5, 0.6, 0.7, 0.8, 1.0)], lambda x, h: peers.denoise_nlm(x, h=h))
        w = best([round(sigma / 255 * f, 4) for f in (0.5, 1.0, 1.5, 2.0, 3.0)],
                 lambda x, w: denoise_tv_chambolle(x, weight=w, channel_axis=-1).astype(np.float32))
        tuned[task] = {"sigma": sigma, "nlm_h": h, "tv_weight": w}
    return tuned


def inpaint_biharmonic(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """scikit-image's biharmonic inpainting, known pixels kept exactly."""
    from skimage.restoration import inpaint_biharmonic as biharmonic

    return np.where(mask[..., None], biharmonic(image, mask, channel_axis=-1), image).astype(np.float32)


def methods_for(task: str, engine, tuned: dict, bm3d_limit: int, skip: set[str]) -> list[Method]:
    def aeapp_run(x, m):
        return engine.repair(x, m)

    if task in MASK_TASKS:
        methods = [
            Method("aeapp", aeapp_run),
            Method("OpenCV Telea", peers.inpaint_telea),
            Method("OpenCV Navier-Stokes", peers.inpaint_ns),
            Method("scikit-image biharmonic", inpaint_biharmonic),
        ]
    else:
        from skimage.restoration import denoise_tv_chambolle

        t = tuned[task]
        methods = [
            Method("aeapp", aeapp_run),
            Method("OpenCV NLM", lambda x, m: peers.denoise_nlm(x, h=t["nlm_h"])),
            Method("scikit-image TV", lambda x, m: denoise_tv_chambolle(x, weight=t["tv_weight"], channel_axis=-1).astype(np.float32)),
        ]
        if bm3d_limit > 0:
            import bm3d

            methods.append(Method("BM3D", lambda x, m: np.clip(bm3d.bm3d_rgb(x, t["sigma"] / 255.0), 0, 1).astype(np.float32), bm3d_limit))
    return [m for m in methods if m.name not in skip]


def run_task(task, images, engine, tuned, args, log) -> list[dict]:
    inputs = damaged_inputs(images, task, args.seed)
    summaries = []
    aeapp_scores = None
    for method in methods_for(task, engine, tuned, args.bm3d_limit, set(args.skip)):
        row = Row(task, method.name)
        aeapp_paired = []  # aeapp timed again beside each run of this peer, when it is slow
        n = len(images) if method.limit is None else min(method.limit, len(images))
        for clean, (damaged, mask) in list(zip(images, inputs))[:n]:
            if method.limit is not None and aeapp_scores is not None:
                # A second-long stall would dominate aeapp's single 0.05 s run but not the
                # peer's 10 s one: time aeapp here, next to the peer, median of three.
                aeapp_paired.append(median_seconds(lambda: engine.repair(damaged, mask), 3))
            t = time.perf_counter()
            out = method.run(damaged, mask)
            row.seconds.append(time.perf_counter() - t)
            row.megapixels.append(mask.size / 1e6)
            q = quality(clean, out, mask)
            row.psnr.append(q["psnr"])
            row.ssim.append(q["ssim"])
            if "psnr_holes" in q:
                row.psnr_holes.append(q["psnr_holes"])
        summary = row.summary()
        if method.name == "aeapp":
            aeapp_scores = row
        elif method.limit is not None and aeapp_scores is not None:
            # Slow peers see fewer images: give aeapp's figure on the same ones.
            summary["aeapp_psnr_same_images"] = float(np.mean(aeapp_scores.psnr[:n]))
            summary["aeapp_seconds_same_images"] = float(statistics.median(aeapp_paired))
        summaries.append(summary)
        log(f"{task:<10} {method.name:<24} n={summary['images']:<3} PSNR {summary['psnr']:.2f}"
            + (f"  holes {summary['psnr_holes']:.2f}" if "psnr_holes" in summary else "")
            + f"  SSIM {summary['ssim']:.4f}  {summary['seconds_median']:.3f} s/img")
    return summaries


def peak_rss_mib() -> float:
    """The process's peak resident memory: since the last `reset_peak_rss` on Linux, else
    since it started."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024.0
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_peak_rss() -> bool:
    """Start a new peak (Linux's clear_refs), so a latency row shows what its own repair
    needed rather than the most any earlier method in the run did."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def latency_mask(h: int, w: int) -> np.ndarray:
    """The latency rows' hole: a box of a quarter of the height by a third of the width."""
    mask = np.zeros((h, w), bool)
    mask[h // 3 : h // 3 + h // 4, w // 3 : w // 3 + w // 3] = True
    return mask


def latency(engine, sizes, repeats: int, log) -> list[dict]:
    """Warm median latency of one repair (a 1/12 box hole) per size, and the peak RSS while
    it ran (the loaded model included)."""
    out = []
    rng = np.random.default_rng(0)
    for name, (h, w) in sizes:
        image = rng.random((h, w, 3), dtype=np.float32)
        mask = latency_mask(h, w)
        engine.repair(image[:64, :64], mask[:64, :64])  # warm
        own_peak = reset_peak_rss()
        runs = repeats if h * w < 4e6 else max(2, repeats // 2)
        seconds = median_seconds(lambda: engine.repair(image, mask), runs)
        rec = {"size": name, "height": h, "width": w, "seconds_median": seconds, "runs": runs,
               "megapixels_per_second": h * w / 1e6 / seconds,
               ("peak_rss_mib" if own_peak else "peak_rss_mib_process"): peak_rss_mib()}
        out.append(rec)
        log(f"latency {name:<8} {rec['seconds_median']:.3f} s  ({rec['megapixels_per_second']:.2f} MP/s, peak RSS {peak_of(rec):.0f} MiB)")
    return out


def peak_of(rec: dict) -> float:
    return rec.get("peak_rss_mib", rec.get("peak_rss_mib_process", float("nan")))


def margins(results: dict) -> list[str]:
    """Markdown rows: aeapp against the best peer per task (PSNR in the holes for inpainting,
    of the whole image for denoising), and against BM3D on the images BM3D ran on."""
    rows = ["| task | aeapp | best peer | margin | speed ratio (peer s / aeapp s) |", "|---|---|---|---|---|"]
    for task in dict.fromkeys(r["task"] for r in results["tasks"]):
        task_rows = [r for r in results["tasks"] if r["task"] == task]
        metric = "psnr_holes" if task in MASK_TASKS else "psnr"
        ours = next((r for r in task_rows if r["method"] == "aeapp"), None)
        if ours is None:
            continue
        full = [r for r in task_rows if r["method"] != "aeapp" and "aeapp_psnr_same_images" not in r]
        if full:
            best = max(full, key=lambda r: r[metric])
            rows.append(f"| {task} | {ours[metric]:.2f} | {best['method']} {best[metric]:.2f} | {ours[metric] - best[metric]:+.2f} dB | "
                        f"{best['seconds_median'] / ours['seconds_median']:.2f} |")
        for r in task_rows:
            if "aeapp_psnr_same_images" in r:
                rows.append(f"| {task} (first {r['images']} images) | {r['aeapp_psnr_same_images']:.2f} | {r['method']} {r[metric]:.2f} | "
                            f"{r['aeapp_psnr_same_images'] - r[metric]:+.2f} dB | {r['seconds_median'] / r['aeapp_seconds_same_images']:.0f} |")
    return rows


def markdown(results: dict) -> str:
    lines = [f"Machine: {results['machine']}. Command: `{results['command']}`", ""]
    lines += margins(results) + [""]
    lines += ["| task | method | images | PSNR | PSNR in holes | SSIM | s / image | MP/s |", "|---|---|---|---|---|---|---|---|"]
    for r in results["tasks"]:
        holes = f"{r['psnr_holes']:.2f}" if "psnr_holes" in r else "–"
        name = f"**{r['method']}**" if r["method"] == "aeapp" else r["method"]
        extra = f" (aeapp on these: {r['aeapp_psnr_same_images']:.2f})" if "aeapp_psnr_same_images" in r else ""
        lines.append(f"| {r['task']} | {name} | {r['images']} | {r['psnr']:.2f}{extra} | {holes} | {r['ssim']:.4f} | "
                     f"{r['seconds_median']:.3f} | {r['megapixels_per_second']:.2f} |")
    if results.get("tuned"):
        lines += ["", "Peer strengths tuned on the tuning images: " + "; ".join(
            f"sigma {v['sigma']:g}: NLM h {v['nlm_h']}, TV weight {v['tv_weight']}" for v in results["tuned"].values())]
    if results.get("latency"):
        peak = "peak RSS during it" if "peak_rss_mib" in results["latency"][0] else "peak RSS of the run so far"
        lines += ["", f"| repair latency | seconds (median) | MP/s | {peak} (MiB) |", "|---|---|---|---|"]
        for r in results["latency"]:
            lines.append(f"| {r['size']} ({r['width']}x{r['height']}) | {r['seconds_median']:.3f} | {r['megapixels_per_second']:.2f} | {peak_of(r):.0f} |")
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, tasks, metric, title in (
        (axes[0], MASK_TASKS, "psnr_holes", "Inpainting: PSNR inside the holes"),
        (axes[1], tuple(NOISE_TASKS), "psnr", "Blind denoising: PSNR"),
    ):
        methods = sorted({r["method"] for r in results["tasks"] if r["task"] in tasks})
        if not methods:  # e.g. --tasks noise15: a log-scaled empty panel would fail
            ax.set_axis_off()
            continue
        markers = dict(zip(tasks, "osD^v"))
        for j, method in enumerate(methods):
            colour = f"C{j}"
            for r in results["tasks"]:
                if r["method"] == method and r["task"] in tasks and metric in r:
                    ax.scatter(r["seconds_median"], r[metric], color=colour, marker=markers[r["task"]], s=50)
            counts = {r["images"] for r in results["tasks"] if r["method"] == method and r["task"] in tasks}
            subset = max(counts) < results["images"]  # e.g. BM3D on the first N images only
            ax.scatter([], [], color=colour, label=f"{method} (first {max(counts)} images)" if subset else method)
        for task, mk in markers.items():
            ax.scatter([], [], color="grey", marker=mk, label=task)
        ax.set_xscale("log")
        ax.set_xlabel("seconds per image (median, log scale)")
        ax.set_ylabel("PSNR (dB)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(f"{results['images']} images of {Path(results['data']).name}, {results['machine']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder of clean test images")
    p.add_argument("--tune-data", help="folder of other images to tune the peers' strengths on")
    p.add_argument("--tune-images", type=int, default=4)
    p.add_argument("--out", default="bench/results")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tasks", nargs="*", default=list(ALL_TASKS), choices=ALL_TASKS)
    p.add_argument("--limit", type=int, default=0, help="only the first N test images (0 = all)")
    p.add_argument("--bm3d-limit", type=int, default=10, help="BM3D on the first N images only (0 = skip BM3D)")
    p.add_argument("--skip", nargs="*", default=[], choices=PEERS, metavar="PEER",
                   help=f"peers to leave out, each quoted: {', '.join(repr(n) for n in PEERS)}")
    p.add_argument("--latency", nargs="*", default=["512", "1MP", "12MP", "24MP"], choices=["512", "1MP", "8MP", "12MP", "24MP"])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default=None, choices=DTYPE_CHOICES, help="default: the engine's choice for the device")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--heap", default="batch", choices=list(HEAP_POLICIES),
                   help="freed memory kept between images as the CLI keeps it (batch, the default) or handed back after every pass")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with heap.keeping_freed_memory(math.inf if args.heap == "batch" else 0):
        return run(args, argv, p.error)


def run(args, argv, error: Callable[[str], None]) -> dict:
    """The benchmark for parsed arguments (see `main`)."""
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    def log(msg):
        print(msg, flush=True)

    paths = image_io.list_images(args.data)[: args.limit or None]
    images = [image_io.load_image(p) for p in paths]
    engine = get_engine(args.checkpoint, device=args.device, dtype=args.dtype)
    engine.warmup()
    noise_tasks = [t for t in args.tasks if t in NOISE_TASKS]
    tuned = {}
    if noise_tasks:
        if not args.tune_data:
            error("--tune-data is needed to tune the denoising peers (use images that are not in --data)")
        tune = [image_io.load_image(p) for p in image_io.list_images(args.tune_data)[: args.tune_images]]
        tuned = tune_denoisers(tune, args.seed)
        log("tuned peers: " + json.dumps(tuned))
    machine = (f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, {engine.description}, "
               f"heap {HEAP_POLICIES[args.heap]}")
    results = {
        "command": "python -m bench.benchmark " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine,
        "data": str(args.data),
        "images": len(images),
        "seed": args.seed,
        "checkpoint": str(engine.checkpoint_path),
        "tuned": tuned,
        "tasks": [],
    }
    for task in args.tasks:
        results["tasks"] += run_task(task, images, engine, tuned, args, log)
    sizes = {"512": (512, 512), "1MP": (1024, 1024), "8MP": (2448, 3264), "12MP": (3000, 4000), "24MP": (4000, 6000)}
    results["latency"] = latency(engine, [(s, sizes[s]) for s in args.latency], args.repeats, log)
    results["peak_rss_mib"] = peak_rss_mib()
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    (out_dir / "results.md").write_text(markdown(results))
    plot(results, out_dir / "quality_vs_time.png")
    log(f"wrote {out_dir}/results.json, results.md, quality_vs_time.png")
    return results


if __name__ == "__main__":
    main()
