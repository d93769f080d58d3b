"""Load test: the real app on a local port, driven by concurrent gradio_client clients.

    python -m bench.load_test --clients 8 --requests 200 --out bench/results/load.json

Builds `--requests` distinct requests (repair with a mask, blind repair, vary; images from
64x64 to 2 megapixels, made from the shipped example photos), runs each alone first to
get its reference answer, then all of them again from `--clients` threads at once, for
`--rounds` rounds. Checks every answer under load against its reference, so no user can
have received another user's result, and reports failures, p50/p95 latency under load and
the app's resident memory after each round. The first concurrent round is the warm-up for
memory (queued uploads, allocator arenas and caches grow to their working size there); a
leak shows as growth over the later rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from aeapp import damage, image_io
from bench.common import ROOT, free_port, rss_mib, start_app
SIZES = [((64, 64), 3), ((96, 128), 3), ((256, 256), 3), ((321, 481), 3), ((600, 800), 2), ((900, 1200), 1), ((1200, 1600), 1)]


def make_requests(n: int, folder: Path, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    photos = [image_io.load_image(p) for p in sorted((ROOT / "examples").glob("*.png"))]
    weights = np.array([w for _, w in SIZES], float)
    requests = []
    for i in range(n):
        (h, w), _ = SIZES[int(rng.choice(len(SIZES), p=weights / weights.sum()))]
        photo = cv2.resize(photos[i % len(photos)], (w, h), interpolation=cv2.INTER_AREA)
        path = folder / f"req{i:03d}.png"
        image_io.save_image(photo, path)
        kind = ("repair", "blind", "vary")[int(rng.integers(3))]
        req = {"id": i, "kind": kind, "image": str(path), "size": f"{w}x{h}", "seed": int(rng.integers(1000))}
        if kind == "repair":
            mask = damage.make_mask(("thin", "thick", "boxes")[i % 3], h, w, np.random.default_rng([seed, i]))
            mask[0, 0] = False
            if not mask.any():
                mask[h // 2, w // 2] = True
            req["mask"] = str(image_io.save_image(mask, folder / f"req{i:03d}_mask.png"))
        requests.append(req)
    return requests


def call(client, req: dict) -> np.ndarray:
    from gradio_client import handle_file

    if req["kind"] == "vary":
        out = client.predict(handle_file(req["image"]), 0.8, 2, req["seed"], api_name="/vary")
        return np.concatenate([image_io.load_image(item["image"]) for item in out], axis=0)
    mask = handle_file(req["mask"]) if req["kind"] == "repair" else None
    strength = 0.5 if req["kind"] == "repair" else 0.0
    return image_io.load_image(client.predict(handle_file(req["image"]), mask, 1, strength, req["seed"], api_name="/repair"))


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3, help="concurrent rounds of all requests (the first warms up)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="bench/results/load.json")
    args = p.parse_args(argv)
    from gradio_client import Client

    work = Path(tempfile.mkdtemp(prefix="aeapp-load-"))
    requests = make_requests(args.requests, work, args.seed)
    port = free_port()
    app = start_app(port, work / "app.log")
    url = f"http://127.0.0.1:{port}/"
    try:
        rss_start = rss_mib(app.pid)
        client = Client(url, verbose=False)
        t0 = time.time()
        reference = {}
        for req in requests:  # each request alone: the reference answer, and the warm-up
            reference[req["id"]] = call(client, req)
        alone_s = time.time() - t0
        rss_warm = rss_mib(app.pid)

        local = threading.local()
        latencies, failures, mismatches = [], [], []
        lock = threading.Lock()

        def worker(req):
            if not hasattr(local, "client"):
                local.client = Client(url, verbose=False)
            t = time.perf_counter()
            try:
                out = call(local.client, req)
            except Exception as e:  # noqa: BLE001 - every failure is counted and reported
                with lock:
                    failures.append(f"{req['id']} {req['kind']} {req['size']}: {type(e).__name__}: {e}")
                return
            dt = time.perf_counter() - t
            with lock:
                latencies.append(dt)
                if out.shape != reference[req["id"]].shape or not np.array_equal(out, reference[req["id"]]):
                    mismatches.append(req["id"])

        rounds = []
        with ThreadPoolExecutor(args.clients) as pool:
            for r in range(args.rounds):
                order = np.random.default_rng([args.seed, r]).permutation(len(requests))
                t0 = time.time()
                list(pool.map(worker, [requests[i] for i in order]))
                rounds.append({"seconds": time.time() - t0, "rss_after_mib": rss_mib(app.pid)})
    finally:
        app.terminate()
        app.wait(20)
    q = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else [float("nan")] * 19
    result = {
        "clients": args.clients,
        "requests": len(requests),
        "rounds": len(rounds),
        "requests_under_load": len(requests) * len(rounds),
        "kinds": {k: sum(r["kind"] == k for r in requests) for k in ("repair", "blind", "vary")},
        "sizes": sorted({r["size"] for r in requests}, key=lambda s: int(s.split("x")[0]) * int(s.split("x")[1])),
        "failures": len(failures),
        "failure_messages": failures[:10],
        "mismatched_results": len(mismatches),
        "latency_p50_s": statistics.median(latencies) if latencies else None,
        "latency_p95_s": q[18],
        "alone_total_s": alone_s,
        "round_seconds": [r["seconds"] for r in rounds],
        "rss_start_mib": rss_start,
        "rss_after_alone_pass_mib": rss_warm,
        "rss_after_each_round_mib": [r["rss_after_mib"] for r in rounds],
        "rss_after_load_mib": rounds[-1]["rss_after_mib"],
        "rss_growth_after_first_round_mib": rounds[-1]["rss_after_mib"] - rounds[0]["rss_after_mib"],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
