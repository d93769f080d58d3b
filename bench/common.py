"""Helpers the benchmark scripts share: photos, seeded damage, timing, and the app as a
subprocess on a local port."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

from aeapp import damage

ROOT = Path(__file__).resolve().parent.parent


def load_photos(folder, limit: int) -> list[np.ndarray]:
    """The folder's first `limit` images (recursively, unreadable files skipped, as training
    reads them) as float32 RGB in [0,1], what the engine takes."""
    from train.data import load_folder

    return [img.astype(np.float32) / 255.0 for img in load_folder(folder, limit=limit)]


def damaged_inputs(images: list[np.ndarray], task: str, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The damaged copy and mask of every image for one scored task, seeded by (seed, image,
    task) as validation seeds it (`aeapp.damage.scored_damage`)."""
    return [damage.scored_damage(clean, task, seed, i) for i, clean in enumerate(images)]


def hole_samples(folder, count: int, seed: int) -> list[tuple]:
    """(kind, clean, damaged, mask) for each of the first `count` images of `folder` and each
    hole kind, seeded by (seed, image, kind): the holes a candidate checkpoint is judged on."""
    samples = []
    for i, clean in enumerate(load_photos(folder, count)):
        for k, kind in enumerate(damage.MASK_KINDS):
            damaged, mask = damage.apply_damage(clean, kind, np.random.default_rng([seed, i, k]))
            samples.append((kind, clean, damaged, mask))
    return samples


def median_seconds(fn, repeats: int) -> float:
    """Median wall-clock seconds of `repeats` calls of fn()."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    """Resident memory of process `pid` (Linux), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_app(port: int, log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """app.py served on 127.0.0.1:`port` (output to `log_path`), returned once it answers."""
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", **(env or {})}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited: {log_path.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the app did not start in 180 s")


def merge_or_exit(parser, merge, paths):
    """`merge(paths)` for a script's --merge, a mismatch between the runs reported as a usage
    error (exit status 2) rather than a traceback."""
    try:
        return merge(paths)
    except ValueError as err:
        parser.error(str(err))
