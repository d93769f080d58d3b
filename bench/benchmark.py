"""Benchmark aeapp against the classical and learned peers on the same damaged images.

    python -m bench.benchmark --data ../shared/data/CBSD68 "../shared/data/Urban100[0:20]" \\
        --tune-data ../shared/data/CBSD432 --peers ../shared/peers --out bench/results

Every set in --data (a folder, or FOLDER[start:stop] for a slice of its sorted images) is
scored alike, so the tables put BSDS500's test set beside photographs from elsewhere. Each
clean image is damaged with aeapp's seeded functions (thin and thick strokes, boxes,
scratches; Gaussian noise of sigma 15, 25 and 50 on the 0..255 scale, clipped and rounded to
8 bits as a user's PNG would be; a simulated camera's noise, low and high, JPEG-compressed).
aeapp and every peer (bench/methods.py) run on exactly those inputs:

  inpainting  OpenCV Telea, Navier-Stokes and FSR (fast on every image, best on the slow
              methods' crops), scikit-image biharmonic
  denoising   OpenCV NLM and scikit-image TV (strength tuned per task on --tune-data, never
              the test images), BM3D told the true sigma (slow: crops), FFDNet told the true
              sigma and told aeapp's own estimate, CDnCNN-B blind (--peers: their weights)

Slow methods run on --slow-crop crops (centred on the holes) of the first --slow-limit
images of each set, aeapp on the same crops beside them. Then every method's time on one 1 MP
photo, all in this run (so speed ratios divide times measured together), and aeapp's latency
at 512x512, 1 MP, 12 MP and 24 MP with its peak RSS. This module measures and writes
results.json; bench/report.py turns it into results.md and quality_vs_time.png (called at
the end). Sets can be measured in parallel processes, all but one with --no-speed, then
combined: `--merge A/results.json B/results.json --out bench/results`.
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
from pathlib import Path

import numpy as np
import torch

from aeapp import damage, heap, image_io
from aeapp.comparison import quality
from aeapp.device import DTYPE_CHOICES
from aeapp.engine import get_engine
from bench import report
from bench.common import damaged_inputs, median_seconds, merge_or_exit
from bench.methods import MASK_TASKS, NOISE_TASKS, PEERS, Method, methods_for, tune_denoisers

ALL_TASKS = damage.SCORED_TASKS
HEAP_POLICIES = {"batch": "kept between images (the CLI's)", "pass": "handed back after every pass (the engine's default)"}
ONE_MEGAPIXEL = (1024, 1024)


def centre_crop(array: np.ndarray, side: int, centre: tuple[float, float] | None = None) -> np.ndarray:
    """A crop of at most side x side around `centre` (default: the image's), kept inside it."""
    h, w = array.shape[:2]
    cy, cx = centre if centre is not None else (h / 2, w / 2)
    y = int(min(max(0, round(cy - side / 2)), max(0, h - side)))
    x = int(min(max(0, round(cx - side / 2)), max(0, w - side)))
    return array[y : y + side, x : x + side]


def slow_crop(clean: np.ndarray, damaged: np.ndarray, mask: np.ndarray, side: int):
    """The slow methods' crop of one image: centred on its holes' centroid, so a crop of a
    large photo holds holes to score (a plain centre crop may hold none), else its centre."""
    ys, xs = np.nonzero(mask)
    centre = (float(ys.mean()), float(xs.mean())) if len(ys) else None
    return tuple(centre_crop(a, side, centre) for a in (clean, damaged, mask))


def _summary(task: str, method: Method, scores: list[dict], seconds: list[float], megapixels: list[float], **extra) -> dict:
    out = {"task": task, "method": method.name, "family": method.family, "images": len(scores)}
    for key in ("psnr", "ssim", "psnr_holes"):
        values = [s[key] for s in scores if key in s]
        if values:
            out[key] = float(np.mean(values))
    out["seconds_median"] = float(statistics.median(seconds))
    out["megapixels_per_second"] = float(sum(megapixels) / sum(seconds))
    return {**out, **extra}


def run_method(task: str, method: Method, images, inputs, engine, args) -> dict:
    """One method on one task of one set: every image, or for a slow method the centre crops
    of the first images, with aeapp scored (and timed) on the same crops beside it."""
    if method.limit is None:
        pairs = list(zip(images, inputs))
    else:
        crops = [slow_crop(c, x, m, args.slow_crop) for c, (x, m) in list(zip(images, inputs))[: method.limit]]
        pairs = [(c, (x, m)) for c, x, m in crops]
    scores, seconds, megapixels, ours = [], [], [], []
    for clean, (damaged, mask) in pairs:
        start = time.perf_counter()
        out = method.run(damaged, mask, task)
        seconds.append(time.perf_counter() - start)
        megapixels.append(mask.size / 1e6)
        scores.append(quality(clean, out, mask))
        if method.limit is not None:
            ours.append(quality(clean, engine.repair(damaged, mask), mask))
    extra = {}
    if method.limit is not None:
        metric = "psnr_holes" if task in MASK_TASKS else "psnr"
        extra = {"crop": args.slow_crop, "aeapp_same_images": float(np.mean([s[metric] for s in ours if metric in s]))}
    return _summary(task, method, scores, seconds, megapixels, **extra)


def speed_tasks(tasks: list[str]) -> list[str]:
    """One task per family for the speed table: thick strokes and Gaussian sigma 25 (else the
    first of each family that runs)."""
    holes = [t for t in tasks if t in MASK_TASKS]
    noise = [t for t in tasks if t in NOISE_TASKS]
    return ([("thick" if "thick" in holes else holes[0])] if holes else []) + \
        ([("noise25" if "noise25" in noise else noise[0])] if noise else [])


def one_megapixel_times(engine, tuned: dict, learned, args, photo: np.ndarray, log) -> dict[str, dict[str, float]]:
    """Every method's seconds on one 1 MP photo with thick strokes (the inpainting methods) or
    Gaussian noise of sigma 25 (the denoisers): median of --repeats runs, one for the slow
    methods. All in this run, so that every speed ratio divides times measured together."""
    times: dict[str, dict[str, float]] = {}
    for task in speed_tasks(args.tasks):
        damaged, mask = damage.scored_damage(photo, task, args.seed, 0)
        for method in methods_for(task, engine, tuned, learned, args.slow_limit, args.skip):
            method.run(damaged[:64, :64], mask[:64, :64], task)  # warm
            runs = 1 if method.limit is not None else args.repeats
            seconds = median_seconds(lambda: method.run(damaged, mask, task), runs)
            times.setdefault(task, {})[method.name] = seconds
            log(f"{args.speed_side}² {task:<11} {method.name:<26} {seconds:.3f} s")
    return times


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
        log(f"latency {name:<8} {rec['seconds_median']:.3f} s  ({rec['megapixels_per_second']:.2f} MP/s, "
            f"peak RSS {report.peak_of(rec):.0f} MiB)")
    return out


def load_set(spec: str, limit: int) -> dict:
    paths = image_io.list_image_set(spec)[: limit or None]
    if not paths:
        raise ValueError(f"{spec} names no images")
    return {"name": image_io.image_set_name(spec), "data": spec, "names": [p.name for p in paths],
            "images": [image_io.load_image(p) for p in paths]}


def speed_photo(image_sets: list[dict], side: int) -> np.ndarray:
    """A side x side photo for the speed table (1 MP: 1024): the largest test image, its
    centre cropped or reflected to size."""
    largest = max((img for s in image_sets for img in s["images"]), key=lambda a: a.shape[0] * a.shape[1])
    h = w = side
    padded = np.pad(largest, ((0, max(0, h - largest.shape[0])), (0, max(0, w - largest.shape[1])), (0, 0)), mode="reflect")
    return np.ascontiguousarray(centre_crop(padded, h)[:h, :w])


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--merge", nargs="+", type=Path, metavar="JSON",
                   help="instead of measuring: merge results.json files of other sets (one measured speed)")
    p.add_argument("--data", nargs="+", metavar="SET",
                   help="sets of clean test images: a folder, or FOLDER[start:stop] for a slice of its sorted images")
    p.add_argument("--tune-data", help="folder of other images to tune the denoising peers' strengths on")
    p.add_argument("--tune-images", type=int, default=4)
    p.add_argument("--peers", default=None, help="folder with FFDNet's and CDnCNN-B's released weights (none: left out)")
    p.add_argument("--out", default="bench/results")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tasks", nargs="*", default=list(ALL_TASKS), choices=ALL_TASKS)
    p.add_argument("--limit", type=int, default=0, help="only the first N test images of each set (0 = all)")
    p.add_argument("--slow-limit", type=int, default=10, help="slow methods (BM3D, FSR best) on the first N images of each set")
    p.add_argument("--slow-crop", type=int, default=512, help="slow methods on centre crops of at most this side")
    p.add_argument("--skip", nargs="*", default=[], choices=list(PEERS), metavar="PEER",
                   help=f"peers to leave out, each quoted: {', '.join(repr(n) for n in PEERS)}")
    p.add_argument("--no-speed", action="store_true",
                   help="leave out the 1 MP times and the latency (for a run to --merge with one that has them)")
    p.add_argument("--latency", nargs="*", default=["512", "1MP", "12MP", "24MP"], choices=["512", "1MP", "8MP", "12MP", "24MP"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--speed-side", type=int, default=1024, help="side of the photo every method is timed on (1024: 1 MP)")
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default=None, choices=DTYPE_CHOICES, help="default: the engine's choice for the device")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--heap", default="batch", choices=list(HEAP_POLICIES),
                   help="freed memory kept between images as the CLI keeps it (batch, the default) or handed back after every pass")
    args = p.parse_args(argv)
    if args.merge:
        results = merge_or_exit(p, merge, args.merge)
        write(results, Path(args.out))
        return results
    if not args.data:
        p.error("--data is required (or --merge)")
    if args.threads:
        torch.set_num_threads(args.threads)
    with heap.keeping_freed_memory(math.inf if args.heap == "batch" else 0):
        return run(args, argv, p.error)


def run(args, argv, error) -> dict:
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
    learned = None
    if args.peers:
        from bench.learned_peers import LearnedPeers

        try:
            learned = LearnedPeers(args.peers)
        except ValueError as err:
            error(str(err))
    tuned = {}
    if any(t in NOISE_TASKS for t in args.tasks):
        if not args.tune_data:
            error("--tune-data is needed to tune the denoising peers (use images that are not in --data)")
        tune = [image_io.load_image(p) for p in image_io.list_images(args.tune_data)[: args.tune_images]]
        tuned = tune_denoisers(tune, args.seed, [t for t in args.tasks if t in NOISE_TASKS])
        log("tuned peers: " + json.dumps(tuned))
    machine = (f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, {engine.description}, "
               f"heap {HEAP_POLICIES[args.heap]}")
    results = {"command": "python -m bench.benchmark " + " ".join(sys.argv[1:] if argv is None else argv),
               "machine": machine, "seed": args.seed, "checkpoint": str(engine.checkpoint_path), "tuned": tuned, "sets": []}
    for image_set in image_sets:
        log(f"== {image_set['name']}: {len(image_set['images'])} images")
        rows = []
        for task in args.tasks:
            inputs = damaged_inputs(image_set["images"], task, args.seed)
            for method in methods_for(task, engine, tuned, learned, args.slow_limit, args.skip):
                rows.append(report.log_row(run_method(task, method, image_set["images"], inputs, engine, args), log))
        results["sets"].append({"name": image_set["name"], "data": image_set["data"], "images": len(image_set["images"]),
                                "tasks": rows})
    if not args.no_speed:
        results["one_megapixel_seconds"] = one_megapixel_times(engine, tuned, learned, args, speed_photo(image_sets, args.speed_side), log)
        results["speed_side"] = args.speed_side
        sizes = {"512": (512, 512), "1MP": ONE_MEGAPIXEL, "8MP": (2448, 3264), "12MP": (3000, 4000), "24MP": (4000, 6000)}
        results["latency"] = latency(engine, [(s, sizes[s]) for s in args.latency], args.repeats, log)
        results["peak_rss_mib"] = peak_rss_mib()
    write(results, out_dir, log)
    return results


def write(results: dict, out_dir: Path, log=print) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    report.write(results, out_dir)
    log(f"wrote {out_dir}/results.json, results.md, quality_vs_time.png")


SPEED_KEYS = ("one_megapixel_seconds", "speed_side", "latency", "peak_rss_mib")


def merge(paths: list[Path]) -> dict:
    """One result from runs of the same checkpoint, seed and tuning on different sets (say,
    one process per core): their sets in the order given, and the speed figures of the one
    run that measured them (run the others with --no-speed), so every ratio still divides
    times measured together."""
    parts = [json.loads(Path(path).read_text()) for path in paths]
    first = parts[0]
    for other in parts[1:]:
        differ = [k for k in ("checkpoint", "seed", "tuned") if other.get(k) != first.get(k)]
        if differ:
            raise ValueError(f"cannot merge runs whose settings differ: {', '.join(differ)}")
    names = [s["name"] for part in parts for s in part["sets"]]
    if len(set(names)) != len(names):
        raise ValueError(f"the runs share sets: {', '.join(names)}")
    timed = [part for part in parts if "one_megapixel_seconds" in part]
    if len(timed) > 1:
        raise ValueError("more than one run measured speed: run all but one with --no-speed")
    merged = {**first, "command": " && ".join(part["command"] for part in parts),
              "sets": [s for part in parts for s in part["sets"]]}
    for key in SPEED_KEYS:
        merged.pop(key, None)
        if timed and key in timed[0]:
            merged[key] = timed[0][key]
    return merged


if __name__ == "__main__":
    main()
