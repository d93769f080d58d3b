"""Tables and the plot from a benchmark's results.json (bench/benchmark.py measures, this
module only formats):

    python -m bench.report bench/results/results.json

writes results.md and quality_vs_time.png beside it, and prints the README's table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.methods import MASK_TASKS, NOISE_TASKS

TASK_NAMES = {"thin": "thin strokes", "thick": "thick strokes", "boxes": "boxes", "scratches": "scratches",
              "noise15": "Gaussian σ 15", "noise25": "Gaussian σ 25", "noise50": "Gaussian σ 50",
              "camera_low": "camera, low", "camera_high": "camera, high"}


def metric_of(task: str) -> str:
    """PSNR inside the holes for inpainting, of the whole image for denoising."""
    return "psnr_holes" if task in MASK_TASKS else "psnr"


def peak_of(rec: dict) -> float:
    return rec.get("peak_rss_mib", rec.get("peak_rss_mib_process", float("nan")))


def log_row(summary: dict, log) -> dict:
    log(f"{summary['task']:<11} {summary['method']:<26} n={summary['images']:<3} PSNR {summary['psnr']:.2f}"
        + (f"  holes {summary['psnr_holes']:.2f}" if "psnr_holes" in summary else "")
        + f"  SSIM {summary['ssim']:.4f}  {summary['seconds_median']:.3f} s/img"
        + (f"  (crops; aeapp on them {summary['aeapp_same_images']:.2f})" if "crop" in summary else ""))
    return summary


def best(rows: list[dict], family: str, task: str) -> dict | None:
    """The family's best method on the whole images of a task (not the slow methods' crops)."""
    found = [r for r in rows if r["task"] == task and r["family"] == family and "crop" not in r]
    return max(found, key=lambda r: r[metric_of(task)], default=None)


def summary_rows(results: dict) -> list[str]:
    """Markdown rows, the sets side by side: per task aeapp, the best classical method and the
    best learned one on the same images, each with aeapp's margin over it."""
    sets = results["sets"]
    header = "| task | " + " | ".join(f"{s['name']}: aeapp | best classical | best learned" for s in sets) + " |"
    rows = [header, "|---|" + "---|---|---|" * len(sets)]
    tasks = list(dict.fromkeys(r["task"] for s in sets for r in s["tasks"]))
    for task in tasks:
        metric, cells = metric_of(task), []
        for s in sets:
            ours = next((r for r in s["tasks"] if r["task"] == task and r["method"] == "aeapp"), None)
            if ours is None:
                cells.append("– | – | –")
                continue
            cell = [f"{ours[metric]:.2f}"]
            for family in ("classical", "learned"):
                peer = best(s["tasks"], family, task)
                cell.append("–" if peer is None else f"{peer['method']} {peer[metric]:.2f} ({ours[metric] - peer[metric]:+.2f})")
            cells.append(" | ".join(cell))
        rows.append(f"| {TASK_NAMES.get(task, task)} | " + " | ".join(cells) + " |")
    return rows


def slow_rows(results: dict) -> list[str]:
    """The slow methods on their crops, beside aeapp on the same crops."""
    rows = []
    for s in results["sets"]:
        for r in s["tasks"]:
            if "crop" in r:
                metric = metric_of(r["task"])
                rows.append(f"| {s['name']} | {TASK_NAMES.get(r['task'], r['task'])} | {r['method']} | {r['images']} | "
                            f"{r['aeapp_same_images']:.2f} | {r[metric]:.2f} | {r['aeapp_same_images'] - r[metric]:+.2f} |")
    if not rows:
        return []
    return ["| set | task | method | crops | aeapp | method | margin |", "|---|---|---|---|---|---|---|", *rows]


def speed_rows(results: dict) -> list[str]:
    """Each method's seconds on one 1 MP photo, measured in the same run: the inpainting
    methods on thick strokes, the denoisers on Gaussian sigma 25."""
    times = results.get("one_megapixel_seconds") or {}
    rows = []
    for task, by_method in times.items():
        for method, seconds in by_method.items():
            ratio = seconds / by_method["aeapp"] if "aeapp" in by_method else float("nan")
            rows.append(f"| {TASK_NAMES.get(task, task)} | {method} | {seconds:.2f} | {ratio:.1f}x |")
    return ["| task | method | seconds, 1 MP | vs aeapp |", "|---|---|---|---|", *rows] if rows else []


def readme_table(results: dict) -> str:
    """The table the README shows: the summary, then the 1 MP times."""
    return "\n".join(summary_rows(results)) + "\n\n" + "\n".join(speed_rows(results)) + "\n"


def markdown(results: dict) -> str:
    lines = [f"Machine: {results['machine']}. Command: `{results['command']}`", "",
             "PSNR in dB (inside the holes for inpainting); in brackets aeapp's margin over the method.", ""]
    lines += summary_rows(results) + [""]
    for extra in (slow_rows(results), speed_rows(results)):
        if extra:
            lines += extra + [""]
    for s in results["sets"]:
        lines += [f"### {s['name']} ({s['images']} images, `{s['data']}`)", "",
                  "| task | method | images | PSNR | PSNR in holes | SSIM | s / image | MP/s |", "|---|---|---|---|---|---|---|---|"]
        for r in s["tasks"]:
            holes = f"{r['psnr_holes']:.2f}" if "psnr_holes" in r else "–"
            name = f"**{r['method']}**" if r["family"] == "aeapp" else r["method"]
            where = f" ({r['images']} crops of {r['crop']}²)" if "crop" in r else ""
            lines.append(f"| {r['task']} | {name}{where} | {r['images']} | {r['psnr']:.2f} | {holes} | {r['ssim']:.4f} | "
                         f"{r['seconds_median']:.3f} | {r['megapixels_per_second']:.2f} |")
        lines.append("")
    if results.get("tuned"):
        lines += ["Peer strengths tuned on the tuning images: " + "; ".join(
            f"{task} (sigma {v['sigma']:g}): NLM h {v['nlm_h']}, TV weight {v['tv_weight']}" for task, v in results["tuned"].items()), ""]
    if results.get("latency"):
        peak = "peak RSS during it" if "peak_rss_mib" in results["latency"][0] else "peak RSS of the run so far"
        lines += [f"| aeapp repair latency | seconds (median) | MP/s | {peak} (MiB) |", "|---|---|---|---|"]
        for r in results["latency"]:
            lines.append(f"| {r['size']} ({r['width']}x{r['height']}) | {r['seconds_median']:.3f} | "
                         f"{r['megapixels_per_second']:.2f} | {peak_of(r):.0f} |")
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
            (axes[1], NOISE_TASKS, "psnr", "Denoising: PSNR"),
        ):
            methods = sorted({r["method"] for r in s["tasks"] if r["task"] in tasks})
            if not methods:  # e.g. --tasks noise15: a log-scaled empty panel would fail
                ax.set_axis_off()
                continue
            markers = dict(zip(tasks, "osD^vPX"))
            for j, method in enumerate(methods):
                colour = f"C{j % 10}"
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


def write(results: dict, out_dir: Path) -> None:
    (out_dir / "results.md").write_text(markdown(results))
    plot(results, out_dir / "quality_vs_time.png")


def main(argv=None) -> str:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", type=Path, help="a results.json written by bench.benchmark")
    args = p.parse_args(argv)
    results = json.loads(args.results.read_text())
    write(results, args.results.parent)
    table = readme_table(results)
    print(table)
    return table


if __name__ == "__main__":
    main()
