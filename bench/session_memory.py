"""What sessions cost the app's server: resident memory while N sessions each hold a large
photo they damaged and repaired (the app's own handlers, in this process).

    AEAPP_KEEP_FREED_MIB=0 python -m bench.session_memory --sessions 8 --megapixels 25

Each session damages its photo with thick strokes and repairs it, as a user pressing the
two buttons would, and keeps what the app keeps between requests (its gr.State values).
Prints the process's resident memory after the app loaded, after each session, and with
all of them held, freed heap pages handed back first, so the figures are what the sessions
hold. Run it with AEAPP_KEEP_FREED_MIB=0 (the app otherwise keeps up to 1.5 GiB of freed
memory for the next request, which the figures would include).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def resident_mib() -> float:
    from aeapp.heap import resident_mib as rss

    gc.collect()
    from aeapp.heap import release_freed_memory

    release_freed_memory()
    return rss()


def photo(megapixels: float, seed: int) -> np.ndarray:
    """A smooth, textured uint8 RGBA photo of about `megapixels`, 3:2."""
    w = int(math.sqrt(megapixels * 1e6 * 1.5))
    h = int(w / 1.5)
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.stack([0.5 + 0.4 * np.sin(x / w * 7 + rng.uniform(0, 3)), 0.3 + 0.5 * y / h,
                    0.5 + 0.3 * np.cos((x + y) / (h + w) * 11)], axis=2)
    rgb = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    return np.dstack([rgb, np.full((h, w), 255, np.uint8)])


def session(app, megapixels: float, seed: int) -> list:
    """One user's two requests; returns the state values the app keeps for them."""
    rgba = photo(megapixels, seed)
    editor = {"background": rgba, "layers": [], "composite": None}
    damaged = app.damage_image(editor, "thick", 25, seed, None)
    value, state = damaged[0], damaged[1]
    from PIL import Image

    back = {"background": np.asarray(Image.open(value["background"]).convert("RGBA")),
            "layers": [np.asarray(Image.open(p).convert("RGBA")) for p in value["layers"]], "composite": None}
    repaired = app.repair_image(back, 1, 0.0, 0, False, False, state)
    last = repaired[4]
    return [state, last]


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=8)
    p.add_argument("--megapixels", type=float, default=25.0)
    p.add_argument("--out", default=None, help="a JSON file for the figures")
    args = p.parse_args(argv)
    import os

    os.environ.setdefault("AEAPP_MAX_PIXELS", str(int(args.megapixels * 1.1e6)))
    import app

    held, after = [], []
    start = resident_mib()
    print(f"app loaded: {start:.0f} MiB", flush=True)
    t = time.time()
    for i in range(args.sessions):
        held.append(session(app, args.megapixels, i))
        after.append(resident_mib())
        print(f"session {i + 1}: {after[-1]:.0f} MiB ({time.time() - t:.0f} s)", flush=True)
    kept = sum(v.nbytes for states in held for s in states if s for v in s.values() if isinstance(v, np.ndarray))
    result = {"sessions": args.sessions, "megapixels": args.megapixels, "rss_start_mib": start, "rss_after_each_mib": after,
              "rss_held_mib": after[-1], "per_session_mib": (after[-1] - start) / args.sessions,
              "state_arrays_mib": kept / 2**20}
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
