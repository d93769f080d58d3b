"""Benchmark aeapp against the classical peers on the same damaged images.

    python -m bench.benchmark --data ../shared/data/CBSD68 "../shared/data/Urban100[0:20]" \
        --tune-data ../shared/data/CBSD432 --out bench/results --bm3d-limit 10

Every set in --data (a folder, or FOLDER[start:stop] for a slice of its sorted images) is
scored alike, so the tables put BSDS500's test set beside photographs from elsewhere. Each
clean image is damaged with aeapp's seeded functions (thin and thick strokes, boxes,
scratches; Gaussian noise of sigma 15, 25 and 50 on the 0..255 scale, clipped and rounded to
8 bits as a user's PNG would be; a simulated camera's noise, low and high, JPEG-compressed).
aeapp and every peer run on exactly those inputs:

  inpainting  OpenCV Telea, OpenCV Navier-Stokes, scikit-image biharmonic
  denoising   OpenCV non-local means and scikit-image TV (strength tuned per task on a
              few images of --tune-data, never the test images), BM3D given the true sigma
              (Gaussian noise only; a camera's noise has none). BM3D is slow: it runs on
              the --bm3d-crop centre crops of the first --bm3d-limit images of each set,
              aeapp on the same crops beside it (timed, median of three, for the speed
              ratio); its scores are kept in OUT/bm3d_scores.json, so a rerun on the same
              inputs reuses them (their seconds are those of the first run)

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
from aeapp.device import DTYPE_CHOICES
from aeapp.engine import get_engine
from bench.common import damaged_inputs, median_seconds

MASK_TASKS = damage.MASK_KINDS
NOISE_TASKS = damage.NOISE_TASKS
ALL_TASKS = damage.SCORED_TASKS
HEAP_POLICIES = {"batch": "kept between images (the CLI's)", "pass": "handed back after every pass (the engine's default)"}
# The peers by the names the tables use; --skip takes these, so a misspelt or unquoted
# name ("OpenCV" "NLM") is an error instead of a silent no-op.
PEERS = ("OpenCV Telea", "OpenCV Navier-Stokes", "scikit-image biharmonic", "OpenCV NLM", "scikit-image TV", "BM3D")


@dataclass
class Method:
    name: str
    run: Callable[[np.ndarray, np.ndarray], np.ndarray]
    limit: int | None = None  # only the centre crops of the first `limit` images (slow methods)


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


def noise_sigma(task: str, clean: np.ndarray, noisy: np.ndarray) -> float:
    """The noise's sigma (0..255 scale), around which the peers' strengths are tuned: the
    task's for Gaussian noise, else measured."""
    return damage.NOISE_LEVELS.get(task) or float((noisy - clean).std() * 255.0)


def tune_denoisers(images: list[np.ndarray], seed: int, tasks=NOISE_TASKS) -> dict[str, dict[str, float]]:
    """Per noise task, the NLM strength h and TV weight that maximise PSNR on the tuning images."""
    from skimage.restoration import denoise_tv_chambolle

    tuned = {}
    for task in tasks:
        pairs = [(c, n) for c, (n, _) in zip(images, damaged_inputs(images, task, seed + 1))]
        sigma = round(float(np.mean([noise_sigma(task, c, n) for c, n in pairs])), 1)

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
        if bm3d_limit > 0 and task in damage.NOISE_LEVELS:  # BM3D needs the true sigma: Gaussian noise only
            methods.append(Method("BM3D", None, bm3d_limit))
    return [m for m in methods if m.name not in skip]


def centre_crop(array: np.ndarray, side: int) -> np.ndarray:
    h, w = array.shape[:2]
    y, x = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return array[y : y + side, x : x + side]


def run_bm3d(noisy: np.ndarray, task: str) -> np.ndarray:
    import bm3d

    return np.clip(bm3d.bm3d_rgb(noisy, damage.NOISE_LEVELS[task] / 255.0), 0, 1).astype(np.float32)


def run_task(task, image_set, engine, tuned, args, log, cache: dict) -> list[dict]:
    """Every method on one task of one set (`load_set`'s dict); `cache` holds the slow
    methods' scores by input, read and extended."""
    images = image_set["images"]
    inputs = damaged_inputs(images, task, args.seed)
    summaries = []
    for method in methods_for(task, engine, tuned, args.bm3d_limit, set(args.skip)):
        row = Row(task, method.name)
        if method.limit is not None:
            summaries.append(slow_method(task, image_set, inputs, engine, args, log, cache))
            continue
        for clean, (damaged, mask) in zip(images, inputs):
            t = time.perf_counter()
            out = method.run(damaged, mask)
            row.seconds.append(time.perf_counter() - t)
            row.megapixels.append(mask.size / 1e6)
            q = quality(clean, out, mask)
            row.psnr.append(q["psnr"])
            row.ssim.append(q["ssim"])
            if "psnr_holes" in q:
                row.psnr_holes.append(q["psnr_holes"])
        summaries.append(log_summary(row.summary(), log))
    return summaries


def log_summary(summary: dict, log) -> dict:
    log(f"{summary['task']:<11} {summary['method']:<24} n={summary['images']:<3} PSNR {summary['psnr']:.2f}"
        + (f"  holes {summary['psnr_holes']:.2f}" if "psnr_holes" in summary else "")
        + f"  SSIM {summary['ssim']:.4f}  {summary['seconds_median']:.3f} s/img")
    return summary


def slow_method(task, image_set, inputs, engine, args, log, cache: dict) -> dict:
    """BM3D on the --bm3d-crop centre crops of the first --bm3d-limit images, aeapp on the
    same crops beside it (scored, and timed median of three so that a stall does not decide
    the speed ratio); BM3D's scores come from `cache` when these inputs were run before."""
    row, ours, ours_seconds = Row(task, "BM3D"), [], []
    for i, (clean, (noisy, _)) in enumerate(list(zip(image_set["images"], inputs))[: args.bm3d_limit]):
        clean, noisy = centre_crop(clean, args.bm3d_crop), centre_crop(noisy, args.bm3d_crop)
        key = f"{image_set['name']} {i} {image_set['names'][i]} {task} seed {args.seed} crop {args.bm3d_crop}"
        if key not in cache:
            t = time.perf_counter()
            out = run_bm3d(noisy, task)
            cache[key] = {"seconds": time.perf_counter() - t, **quality(clean, out)}
        q = cache[key]
        row.psnr.append(q["psnr"])
        row.ssim.append(q["ssim"])
        row.seconds.append(q["seconds"])
        row.megapixels.append(clean.shape[0] * clean.shape[1] / 1e6)
        outputs = []  # the timed runs' output is the one scored: the repair is deterministic
        ours_seconds.append(median_seconds(lambda: outputs.append(engine.repair(noisy)), 3))
        ours.append(quality(clean, outputs[-1])["psnr"])
    summary = row.summary()
    summary.update(crop=args.bm3d_crop, aeapp_psnr_same_images=float(np.mean(ours)),
                   aeapp_seconds_same_images=float(statistics.median(ours_seconds)))
    return log_summary(summary, log)


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
    """Markdown rows, the sets side by side: aeapp against the best peer per task (PSNR in the
    holes for inpainting, of the whole image for denoising), and against BM3D on the images
    (or crops) BM3D ran on, with the speed ratio."""
    sets = results["sets"]
    rows = ["| task | " + " | ".join(f"{s['name']}: aeapp | best other | margin" for s in sets) + " |",
            "|---|" + "---|---|---|" * len(sets)]
    tasks = list(dict.fromkeys(r["task"] for s in sets for r in s["tasks"]))
    for task in tasks:
        metric = "psnr_holes" if task in MASK_TASKS else "psnr"
        cells, slow = [], []
        for s in sets:
            task_rows = [r for r in s["tasks"] if r["task"] == task]
            ours = next((r for r in task_rows if r["method"] == "aeapp"), None)
            full = [r for r in task_rows if r["method"] != "aeapp" and "aeapp_psnr_same_images" not in r]
            if ours is None or not full:
                cells.append("– | – | –")
            else:
                best = max(full, key=lambda r: r[metric])
                cells.append(f"{ours[metric]:.2f} | {best['method']} {best[metric]:.2f} | {ours[metric] - best[metric]:+.2f} dB")
            peer = next((r for r in task_rows if "aeapp_psnr_same_images" in r), None)
            slow.append("– | – | –" if peer is None else
                        f"{peer['aeapp_psnr_same_images']:.2f} | {peer['method']} {peer[metric]:.2f} | "
                        f"{peer['aeapp_psnr_same_images'] - peer[metric]:+.2f} dB, "
                        f"{peer['seconds_median'] / peer['aeapp_seconds_same_images']:.0f}x faster")
        rows.append(f"| {task} | " + " | ".join(cells) + " |")
        if any(c != "– | – | –" for c in slow):
            rows.append(f"| {task}, BM3D's images | " + " | ".join(slow) + " |")
    return rows


def bm3d_note(results: dict) -> str:
    """Which images BM3D ran on, per set, for the line under the tables."""
    parts = []
    for s in results["sets"]:
        r = next((r for r in s["tasks"] if "aeapp_psnr_same_images" in r), None)
        if r is not None:
            parts.append(f"{s['name']}: the first {r['images']} images, centre crops of at most {r['crop']}x{r['crop']} pixels")
    return "BM3D (given the true sigma) ran on " + "; ".join(parts) + "." if parts else ""


def markdown(results: dict) -> str:
    lines = [f"Machine: {results['machine']}. Command: `{results['command']}`", ""]
    lines += margins(results) + ["", bm3d_note(results), ""]
    for s in results["sets"]:
        lines += [f"### {s['name']} ({s['images']} images, `{s['data']}`)", "",
                  "| task | method | images | PSNR | PSNR in holes | SSIM | s / image | MP/s |", "|---|---|---|---|---|---|---|---|"]
        for r in s["tasks"]:
            holes = f"{r['psnr_holes']:.2f}" if "psnr_holes" in r else "–"
            name = f"**{r['method']}**" if r["method"] == "aeapp" else r["method"]
            extra = f" (aeapp on these: {r['aeapp_psnr_same_images']:.2f})" if "aeapp_psnr_same_images" in r else ""
            lines.append(f"| {r['task']} | {name} | {r['images']} | {r['psnr']:.2f}{extra} | {holes} | {r['ssim']:.4f} | "
                         f"{r['seconds_median']:.3f} | {r['megapixels_per_second']:.2f} |")
        lines.append("")
    if results.get("tuned"):
        lines += ["Peer strengths tuned on the tuning images: " + "; ".join(
            f"{task} (sigma {v['sigma']:g}): NLM h {v['nlm_h']}, TV weight {v['tv_weight']}" for task, v in results["tuned"].items()), ""]
    if results.get("latency"):
        peak = "peak RSS during it" if "peak_rss_mib" in results["latency"][0] else "peak RSS of the run so far"
        lines += [f"| repair latency | seconds (median) | MP/s | {peak} (MiB) |", "|---|---|---|---|"]
        for r in results["latency"]:
            lines.append(f"| {r['size']} ({r['width']}x{r['height']}) | {r['seconds_median']:.3f} | {r['megapixels_per_second']:.2f} | {peak_of(r):.0f} |")
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    """Quality against time: a row per set, holes on the left, noise on the right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = results["sets"]
    fig, grid = plt.subplots(len(sets), 2, figsize=(12, 4.8 * len(sets)), squeeze=False)
    for axes, s in zip(grid, sets):
        for ax, tasks, metric, title in (
            (axes[0], MASK_TASKS, "psnr_holes", "Inpainting: PSNR inside the holes"),
            (axes[1], NOISE_TASKS, "psnr", "Blind denoising: PSNR"),
        ):
            methods = sorted({r["method"] for r in s["tasks"] if r["task"] in tasks})
            if not methods:  # e.g. --tasks noise15: a log-scaled empty panel would fail
                ax.set_axis_off()
                continue
            markers = dict(zip(tasks, "osD^vPX"))
            for j, method in enumerate(methods):
                colour = f"C{j}"
                for r in s["tasks"]:
                    if r["method"] == method and r["task"] in tasks and metric in r:
                        ax.scatter(r["seconds_median"], r[metric], color=colour, marker=markers[r["task"]], s=50)
                slow = next((r for r in s["tasks"] if r["method"] == method and "crop" in r), None)
                ax.scatter([], [], color=colour, label=f"{method} (first {slow['images']} images, crops)" if slow else method)
            for task, mk in markers.items():
                ax.scatter([], [], color="grey", marker=mk, label=task)
            ax.set_xscale("log")
            ax.set_xlabel("seconds per image (median, log scale)")
            ax.set_ylabel("PSNR (dB)")
            ax.set_title(f"{s['name']} ({s['images']} images). {title}", fontsize=10)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="best")
    fig.suptitle(results["machine"], fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, nargs="+", metavar="SET",
                   help="sets of clean test images: a folder, or FOLDER[start:stop] for a slice of its sorted images")
    p.add_argument("--tune-data", help="folder of other images to tune the peers' strengths on")
    p.add_argument("--tune-images", type=int, default=4)
    p.add_argument("--out", default="bench/results")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tasks", nargs="*", default=list(ALL_TASKS), choices=ALL_TASKS)
    p.add_argument("--limit", type=int, default=0, help="only the first N test images of each set (0 = all)")
    p.add_argument("--bm3d-limit", type=int, default=10, help="BM3D on the first N images of each set only (0 = skip BM3D)")
    p.add_argument("--bm3d-crop", type=int, default=512, help="BM3D on centre crops of at most this side")
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


def load_set(spec: str, limit: int) -> dict:
    paths = image_io.list_image_set(spec)[: limit or None]
    if not paths:
        raise ValueError(f"{spec} names no images")
    return {"name": image_io.image_set_name(spec), "data": spec, "names": [p.name for p in paths],
            "images": [image_io.load_image(p) for p in paths]}


def run(args, argv, error: Callable[[str], None]) -> dict:
    """The benchmark for parsed arguments (see `main`)."""
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    def log(msg):
        print(msg, flush=True)

    try:
        image_sets = [load_set(spec, args.limit) for spec in args.data]
    except ValueError as err:
        error(str(err))
    engine = get_engine(args.checkpoint, device=args.device, dtype=args.dtype)
    engine.warmup()
    noise_tasks = [t for t in args.tasks if t in NOISE_TASKS]
    tuned = {}
    if noise_tasks:
        if not args.tune_data:
            error("--tune-data is needed to tune the denoising peers (use images that are not in --data)")
        tune = [image_io.load_image(p) for p in image_io.list_images(args.tune_data)[: args.tune_images]]
        tuned = tune_denoisers(tune, args.seed, noise_tasks)
        log("tuned peers: " + json.dumps(tuned))
    machine = (f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, {engine.description}, "
               f"heap {HEAP_POLICIES[args.heap]}")
    results = {
        "command": "python -m bench.benchmark " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine,
        "seed": args.seed,
        "checkpoint": str(engine.checkpoint_path),
        "tuned": tuned,
        "sets": [],
    }
    cache_path = out_dir / "bm3d_scores.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    for image_set in image_sets:
        log(f"== {image_set['name']}: {len(image_set['images'])} images")
        tasks = []
        for task in args.tasks:
            tasks += run_task(task, image_set, engine, tuned, args, log, cache)
            cache_path.write_text(json.dumps(cache, indent=1, sort_keys=True))
        results["sets"].append({"name": image_set["name"], "data": image_set["data"], "images": len(image_set["images"]),
                                "tasks": tasks})
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
