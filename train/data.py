"""Training data: random crops of a folder of photos, damaged on the fly by aeapp.damage.

Images are decoded once into memory as uint8 (CBSD432 is about 200 MB), so each step costs
only a crop, a flip and the damage. Batches are made by an IterableDataset whose random
stream is seeded by (seed, rank, worker, start step): runs are reproducible, every process
sees different crops, and a resumed run does not replay the crops it has already seen.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from aeapp import damage, image_io
from aeapp.config import TrainConfig
from aeapp.prefill import prefill
from aeapp.realistic_noise import realistic_degradation

# Validation kinds per network: hole masks for "fill", noise levels for "restore".
VAL_KINDS = {"fill": damage.MASK_KINDS, "restore": tuple(damage.NOISE_LEVELS)}


def load_folder(folder: str | Path, min_side: int = 0, limit: int | None = None) -> list[np.ndarray]:
    """Decode every readable image under `folder` (recursively; or "FOLDER[start:stop]", a
    slice of them) as uint8 HxWx3.

    Files that cannot be decoded, or are smaller than `min_side`, are skipped with a warning.
    """
    paths = image_io.list_image_set(folder)
    images = []
    for path in paths[:limit] if limit else paths:
        try:
            rgb = image_io.load_image(path)
        except ValueError as e:
            warnings.warn(f"skipped: {e}", stacklevel=2)
            continue
        if min(rgb.shape[:2]) < min_side:
            warnings.warn(f"skipping {path}: smaller than {min_side} px", stacklevel=2)
            continue
        images.append(image_io.to_uint8(rgb))
    if not images:
        raise ValueError(f"no usable images found under {folder}")
    return images


def damage_sample(clean: np.ndarray, rng: np.random.Generator, cfg: TrainConfig, scale: float):
    """Damage one float32 HxWx3 crop for the network being trained; returns (input, mask).

    fill: a hole mask from the mixture, the known pixels noisy in `p_noisy_context` of
    samples, the holes pre-filled as the engine does on a first pass. restore: a camera-like
    degradation in `realistic_noise_prob` of samples, else Gaussian noise of a sigma drawn
    from [0, max_sigma]; no holes.
    """
    h, w = clean.shape[:2]
    if cfg.task == "restore":
        if cfg.realistic_noise_prob and rng.random() < cfg.realistic_noise_prob:
            return realistic_degradation(clean, rng, cfg.max_sigma), np.zeros((h, w), bool)
        return damage.add_gaussian_noise(clean, rng.uniform(0.0, cfg.max_sigma), rng), np.zeros((h, w), bool)
    image = clean
    if rng.random() < cfg.p_noisy_context:
        image = damage.add_gaussian_noise(clean, rng.uniform(0.0, cfg.max_sigma), rng)
    mask = damage.mixed_mask(h, w, rng, dict(zip(damage.MASK_KINDS, cfg.mask_weights)), scale=scale)
    if mask.all():
        mask[0, 0] = False
    return prefill(image, mask, cfg.inference.prefill), mask


def random_crop(img: np.ndarray, crop: int, rng: np.random.Generator) -> np.ndarray:
    """A crop x crop window with a random flip and 90-degree rotation, as float32 [0,1]."""
    h, w = img.shape[:2]
    if h < crop or w < crop:
        img = np.pad(img, ((0, max(0, crop - h)), (0, max(0, crop - w)), (0, 0)), mode="reflect")
        h, w = img.shape[:2]
    y = int(rng.integers(0, h - crop + 1))
    x = int(rng.integers(0, w - crop + 1))
    out = img[y : y + crop, x : x + crop]
    if rng.random() < 0.5:
        out = out[:, ::-1]
    out = np.rot90(out, int(rng.integers(0, 4)))
    return np.ascontiguousarray(out, dtype=np.float32) / 255.0


class DamagedCrops(IterableDataset):
    """Endless batches of (clean, damaged, mask) NCHW float32 tensors: crops of `images`."""

    def __init__(self, images: list[np.ndarray], cfg: TrainConfig, rank: int = 0, start_step: int = 0):
        self.images = images
        self.cfg = cfg
        self.rank = rank
        self.start_step = start_step

    def __iter__(self):
        info = get_worker_info()
        worker = info.id if info is not None else 0
        rng = np.random.default_rng([self.cfg.seed, self.rank, worker, self.start_step])
        while True:
            yield self.make_batch(rng)

    def make_batch(self, rng: np.random.Generator):
        cfg = self.cfg
        side, count = cfg.crop, cfg.batch_size
        if cfg.crop_max > cfg.crop:
            stride = cfg.model.stride
            side = int(rng.choice(np.arange(cfg.crop, cfg.crop_max + 1, stride)))
            count = max(1, round(cfg.batch_size * cfg.crop**2 / side**2))
        clean, damaged, masks = [], [], []
        for _ in range(count):
            img = self.images[int(rng.integers(len(self.images)))]
            crop = random_crop(img, side, rng)
            image, mask = damage_sample(crop, rng, cfg, scale=max(img.shape[:2]) / 512)
            clean.append(crop)
            damaged.append(image)
            masks.append(mask)

        def nchw(arrays):
            return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()

        mask_t = torch.from_numpy(np.stack(masks)[:, None].astype(np.float32))
        return nchw(clean), nchw(damaged), mask_t


def make_validation_set(sets, out_dir: Path, count: int, seed: int, kinds: tuple[str, ...]) -> list[dict]:
    """The fixed validation set: the first `count` images of each set in `sets` (folders, or
    "FOLDER[start:stop]" slices of one), each damaged once per kind with a seed derived from
    (seed, image, kind). Each sample records its set's name ("set") and kind.

    The damaged images and masks are written to `out_dir`/<set> (PNG) the first time, so anyone
    can look at them, and read back from there on later runs and resumes.
    """
    samples, names = [], []
    for spec in [sets] if isinstance(sets, (str, Path)) else sets:
        name = image_io.image_set_name(spec)
        name = f"{name}{len(names)}" if name in names else name  # two slices of one folder
        names.append(name)
        folder = Path(out_dir) / name
        for i, path in enumerate(image_io.list_image_set(spec)[:count]):
            clean = image_io.to_uint8(image_io.load_image(path)).astype(np.float32) / 255.0
            for kind in kinds:
                stem = folder / f"{i:03d}_{kind}"
                if (stem.with_suffix(".input.png")).exists():
                    damaged = image_io.load_image(stem.with_suffix(".input.png"))
                    mask = image_io.load_image(stem.with_suffix(".mask.png"))[..., 0] > 0.5
                else:
                    damaged, mask = damage.scored_damage(clean, kind, seed, i)
                    image_io.save_image(damaged, stem.with_suffix(".input.png"))
                    image_io.save_image(mask, stem.with_suffix(".mask.png"))
                samples.append({"set": name, "kind": kind, "clean": clean, "input": damaged, "mask": mask})
    return samples
