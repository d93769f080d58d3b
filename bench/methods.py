"""The methods the benchmark runs on each task, behind one signature: run(damaged, mask, task)
-> restored image (float32 HxWx3 in [0,1]). Each has a family: "aeapp", "classical" (OpenCV,
scikit-image, BM3D) or "learned" (the released FFDNet and CDnCNN-B, bench/learned_peers.py),
so the report can put aeapp beside the best of each.

Slow methods (`limit`) run on the centre crops of a set's first images only (BM3D, FSR in
its best mode); aeapp runs on the same crops beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from aeapp import damage, peers
from aeapp.comparison import quality
from bench.common import damaged_inputs

MASK_TASKS = damage.MASK_KINDS
NOISE_TASKS = damage.NOISE_TASKS
FAMILIES = ("aeapp", "classical", "learned")
# Every peer by the name the tables use, with its family; --skip takes these names.
PEERS = {
    "OpenCV Telea": "classical", "OpenCV Navier-Stokes": "classical", "scikit-image biharmonic": "classical",
    "OpenCV FSR fast": "classical", "OpenCV FSR best": "classical",
    "OpenCV NLM": "classical", "scikit-image TV": "classical", "BM3D": "classical",
    "FFDNet (true sigma)": "learned", "FFDNet (aeapp's estimate)": "learned", "CDnCNN-B": "learned",
}


@dataclass
class Method:
    name: str
    family: str
    run: Callable[[np.ndarray, np.ndarray, str], np.ndarray]
    limit: int | None = None  # only the centre crops of a set's first `limit` images (slow methods)


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


def run_bm3d(noisy: np.ndarray, sigma: float) -> np.ndarray:
    import bm3d

    return np.clip(bm3d.bm3d_rgb(noisy, sigma / 255.0), 0, 1).astype(np.float32)


def aeapp_method(engine) -> Method:
    return Method("aeapp", "aeapp", lambda x, m, task: engine.repair(x, m))


def inpainting_methods(engine, slow_limit: int) -> list[Method]:
    fsr = {"OpenCV FSR fast": lambda x, m, task: peers.inpaint_fsr(x, m),
           "OpenCV FSR best": lambda x, m, task: peers.inpaint_fsr(x, m, best=True)}
    methods = [aeapp_method(engine),
        Method("OpenCV Telea", "classical", lambda x, m, task: peers.inpaint_telea(x, m)),
        Method("OpenCV Navier-Stokes", "classical", lambda x, m, task: peers.inpaint_ns(x, m)),
        Method("scikit-image biharmonic", "classical", lambda x, m, task: inpaint_biharmonic(x, m)),
        Method("OpenCV FSR fast", "classical", fsr["OpenCV FSR fast"]),
    ]
    if slow_limit > 0:
        methods.append(Method("OpenCV FSR best", "classical", fsr["OpenCV FSR best"], slow_limit))
    return methods


def denoising_methods(engine, tuned: dict, learned, slow_limit: int, task: str) -> list[Method]:
    """aeapp, the classical denoisers (NLM and TV tuned per task on other images; BM3D told
    the true sigma, Gaussian noise only) and the learned ones (`learned`: a
    bench.learned_peers.LearnedPeers, or None): FFDNet told the true sigma (Gaussian noise
    only) and told aeapp's own blind estimate, CDnCNN-B blind."""
    from skimage.restoration import denoise_tv_chambolle

    from aeapp.noise_level import estimate_sigma_array

    t = tuned[task]
    sigma = damage.NOISE_LEVELS.get(task)
    methods = [aeapp_method(engine),
        Method("OpenCV NLM", "classical", lambda x, m, _: peers.denoise_nlm(x, h=t["nlm_h"])),
        Method("scikit-image TV", "classical",
               lambda x, m, _: denoise_tv_chambolle(x, weight=t["tv_weight"], channel_axis=-1).astype(np.float32)),
    ]
    if sigma is not None and slow_limit > 0:
        methods.append(Method("BM3D", "classical", lambda x, m, _: run_bm3d(x, sigma), slow_limit))
    if learned is not None:
        if sigma is not None:
            methods.append(Method("FFDNet (true sigma)", "learned", lambda x, m, _: learned.run_ffdnet(x, sigma)))
        methods += [
            Method("FFDNet (aeapp's estimate)", "learned", lambda x, m, _: learned.run_ffdnet(x, estimate_sigma_array(x) * 255)),
            Method("CDnCNN-B", "learned", lambda x, m, _: learned.run_cdncnn(x)),
        ]
    return methods


def methods_for(task: str, engine, tuned: dict, learned, slow_limit: int, skip=()) -> list[Method]:
    found = (inpainting_methods(engine, slow_limit) if task in MASK_TASKS
             else denoising_methods(engine, tuned, learned, slow_limit, task))
    return [m for m in found if m.name not in set(skip)]
