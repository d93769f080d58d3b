"""Train one of the two networks of the repair autoencoder.

    python -m train.train --task fill --data ../shared/data/CBSD432 \
        --val-data ../shared/data/CBSD68 --out runs/fill --minutes 120 --seed 0

--task fill trains hole filling (holes from aeapp.damage, their known pixels sometimes
noisy, the holes pre-filled as InferenceConfig.prefill says, the pixel loss inside the holes:
L1, or with --pixel-loss psnr the mean log-MSE); --task restore trains blind denoising
(Gaussian noise of a random sigma, the pixel loss everywhere). Both: random crops and flips,
an amplitude-spectrum L1 term, latent noise on some samples, AdamW with warm-up and a
cosine schedule; an EMA of the weights (the EMA is what ships); bfloat16 autocast where
aeapp.device says it pays (CUDA, CPUs with AMX or AVX512-BF16) and channels-last. Stops
after --steps or --minutes of wall clock, whichever first.

The run directory holds config.json (the resolved config), TensorBoard logs (tb/), the fixed
damaged validation set (val/), state.pt (resumable: weights, EMA, optimiser, step, RNG;
written atomically) and the EMA weights as safetensors: last.safetensors and
best.safetensors (best validation score). Re-running the same command resumes.

Several processes: `torchrun --nproc_per_node N -m train.train ...` (DistributedDataParallel;
NCCL on CUDA, gloo on CPU).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader

from aeapp import checkpoint, metrics
from aeapp.config import PIXEL_LOSSES, PREFILLS, TASKS, InferenceConfig, ModelConfig, TrainConfig
from aeapp.device import resolve, trains_in_bfloat16
from aeapp.engine import Engine
from aeapp.model import ConvAutoencoder
from train.data import VAL_KINDS, DamagedCrops, load_folder, make_validation_set
from train.fine_tune import for_task, freeze_all_but_new, init_weights, lineage
from train.losses import closest_noise, loss_fn, lr_at
from train.state import git_commit, load_state, rng_state, save_state, set_rng_state


# ---- configuration -----------------------------------------------------------------------

FLAG_CHOICES = {"task": TASKS, "pixel_loss": PIXEL_LOSSES, "prefill": PREFILLS}


def _add_flag(p: argparse.ArgumentParser, flag: str | list[str], default, choices, element=None) -> None:
    """One flag whose type, arity and choices follow its field's default (`element`: the
    type of a list flag's items, when its default is empty)."""
    shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
    kwargs = {"default": default, "help": f"default: {shown if shown != '' else 'none'}"}
    flags = [flag] if isinstance(flag, str) else flag
    if isinstance(default, bool):
        p.add_argument(*flags, action=argparse.BooleanOptionalAction, **kwargs)
    elif isinstance(default, tuple):
        element = element or type(default[0])
        p.add_argument(*flags, type=element, nargs="*", **{**kwargs, "default": list(default)})
    else:
        p.add_argument(*flags, type=type(default), choices=choices, **kwargs)


def _field_default(f: dataclasses.Field):
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def parse_args(argv=None) -> TrainConfig:
    """Command line -> TrainConfig. Every TrainConfig, ModelConfig and InferenceConfig field
    is a flag; --data is required."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Each flag is a field of TrainConfig (--model-*: of ModelConfig; --prefill and --noisy-skip-levels: "
        "of InferenceConfig) in aeapp/config.py, which says what it does and why its default is what it is.",
    )
    p.add_argument("--data", required=True, help="folder of training images (searched recursively)")
    for f in dataclasses.fields(TrainConfig):
        if f.name not in ("model", "inference", "data"):
            element = str if "str" in str(f.type) else None
            _add_flag(p, "--" + f.name.replace("_", "-"), _field_default(f), FLAG_CHOICES.get(f.name), element)
    for f in dataclasses.fields(ModelConfig):
        _add_flag(p, "--model-" + f.name.replace("_", "-"), _field_default(f), FLAG_CHOICES.get(f.name))
    for f in dataclasses.fields(InferenceConfig):
        _add_flag(p, "--" + f.name.replace("_", "-"), _field_default(f), FLAG_CHOICES.get(f.name))
    args = vars(p.parse_args(argv))
    model = {f.name: args.pop("model_" + f.name) for f in dataclasses.fields(ModelConfig)}
    inference = {f.name: args.pop(f.name) for f in dataclasses.fields(InferenceConfig)}
    try:
        return TrainConfig.from_dict({**args, "model": model, "inference": inference})
    except ValueError as err:  # a combination the config refuses: argparse's one-line exit
        p.error(str(err))


# ---- distributed helpers -----------------------------------------------------------------


def setup_distributed(cfg: TrainConfig):
    """(rank, world size, device); initialises the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    dev, _ = resolve(cfg.device)
    if world > 1:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if dev.type == "cuda":
            dev = torch.device("cuda", local)
            torch.cuda.set_device(dev)
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return rank, world, dev


def all_true(flag: bool, device) -> bool:
    """True on every process when `flag` is true on any (used to stop all ranks together)."""
    if not (dist.is_available() and dist.is_initialized()):
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device if device.type == "cuda" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def from_rank0(value: int, device) -> int:
    """Rank 0's value on every process (every rank must follow the same LR schedule)."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    t = torch.tensor([value], dtype=torch.long, device=device if device.type == "cuda" else "cpu")
    dist.broadcast(t, src=0)
    return int(t.item())


# ---- validation ------------------------------------------------------------------------------


def psnr_by_kind(engine: Engine, samples: list[dict]) -> dict[str, float]:
    """Mean PSNR per validation set and kind of the engine's repairs (inside the holes for
    hole kinds, over the whole image for noise), keyed "psnr_<kind>" for the first set and
    "psnr_<kind>_<set>" for the others."""
    first = samples[0].get("set") if samples else None
    per_kind: dict[str, list[float]] = {}
    for s in samples:
        key = f"psnr_{s['kind']}" + ("" if s.get("set") == first else f"_{s['set']}")
        out = engine.repair(s["input"], s["mask"])
        per_kind.setdefault(key, []).append(metrics.psnr(s["clean"], out, s["mask"] if s["mask"].any() else None))
    return {k: float(np.mean(v)) for k, v in per_kind.items()}


def validate(model: ConvAutoencoder, task: str, samples: list[dict], device) -> dict[str, float]:
    """PSNR per validation set and kind, through the same Engine users call, on one view (the
    network's own figure, not the self-ensemble's). `score` is their mean: every set counts
    alike, so a gain on one set bought with a loss on another does not raise it."""
    engine = Engine({task: model}, device, torch.float32, restore_views=1)
    result = psnr_by_kind(engine, samples)
    result["score"] = float(np.mean(list(result.values())))
    return result


# ---- the loop ------------------------------------------------------------------------------


@dataclass
class Run:
    """Everything a training process holds between steps."""

    cfg: TrainConfig
    out: Path
    rank: int
    world: int
    dev: torch.device
    model: ConvAutoencoder
    ema: AveragedModel
    optimizer: torch.optim.Optimizer
    trained: list[torch.nn.Parameter]
    images: list[np.ndarray]
    val_samples: list[dict]
    gen: torch.Generator
    amp: bool
    commit: str
    command: str
    step: int = 0
    elapsed: float = 0.0
    total_steps: int = 0
    best: float = -float("inf")
    source_info: dict = field(default_factory=dict)  # a fine-tune's lineage, recorded in every file it writes
    step_fn: Any = None
    writer: Any = None

    @property
    def main(self) -> bool:
        return self.rank == 0


def update_ema(run: Run) -> None:
    """Until the warm-up ends the EMA follows the weights exactly (a copy); then it averages
    them with `cfg.ema_decay`."""
    if run.step <= run.cfg.warmup_steps:
        run.ema.n_averaged.zero_()  # the next update copies the weights
    run.ema.update_parameters(run.model)


def setup(cfg: TrainConfig, argv: list[str] | None = None) -> Run:
    """The process's run: device, model, EMA and optimiser, resumed from OUT/state.pt or
    started from `init_from`; the data loader's images, the validation set and the logs."""
    rank, world, dev = setup_distributed(cfg)
    out = Path(cfg.out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        for stale in out.glob("*.tmp"):  # left by a run killed mid-save; the target is intact
            stale.unlink()
        (out / "config.json").write_text(cfg.to_json())
    torch.manual_seed(cfg.seed + rank)

    model = ConvAutoencoder(cfg.model, cfg.inference).to(dev)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay))
    ema.requires_grad_(False)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if cfg.train_new_only:
        freeze_all_but_new(model, for_task(checkpoint.read_metadata(cfg.init_from)[0], cfg.task))
    trained = [p for p in model.parameters() if p.requires_grad]
    if cfg.train_new_only and rank == 0:
        print(f"--train-new-only: {sum(p.numel() for p in trained):,} of "
              f"{sum(p.numel() for p in model.parameters()):,} parameters train, the rest are frozen", flush=True)
    optimizer = torch.optim.AdamW(trained, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99))
    run = Run(cfg=cfg, out=out, rank=rank, world=world, dev=dev, model=model, ema=ema, optimizer=optimizer,
              trained=trained, images=[], val_samples=[], gen=torch.Generator(), amp=cfg.amp and trains_in_bfloat16(dev),
              commit=git_commit(),  # the code this process runs, not whatever is checked out later
              command="python -m train.train " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
              total_steps=cfg.steps)

    state = load_state(out / "state.pt")
    if state is not None:
        model.load_state_dict(state["model"])
        ema.module.load_state_dict(state["ema"])
        ema.n_averaged.fill_(1)
        optimizer.load_state_dict(state["optimizer"])
        run.step, run.elapsed, run.best = state["step"], state["elapsed"], state["best"]
        # A budget-fitted schedule keeps its length; otherwise --steps may be raised to go on.
        run.total_steps = min(cfg.steps, state["total_steps"]) if cfg.minutes else cfg.steps
        set_rng_state(state["rng"][rank] if rank < len(state["rng"]) else state["rng"][0])
        if run.main:
            print(f"resumed from {out / 'state.pt'} at step {run.step} ({run.elapsed / 60:.1f} min elapsed)", flush=True)
        if cfg.init_from:
            run.source_info = lineage(cfg.init_from, cfg.task)
    elif cfg.init_from:
        run.source_info = init_weights(cfg, model, ema.module)
        if run.main:
            print(f"starting from {cfg.init_from} ({run.source_info.get('steps', '?')} steps)", flush=True)

    ddp = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    run.step_fn = torch.compile(ddp) if cfg.compile else ddp
    run.images = load_folder(cfg.data, min_side=cfg.crop // 2)
    run.gen = torch.Generator().manual_seed(cfg.seed * 1000 + rank + run.step)
    if run.main:
        from torch.utils.tensorboard import SummaryWriter

        run.val_samples = make_validation_set(cfg.val_data, out / "val", cfg.val_images, cfg.seed, VAL_KINDS[cfg.task])
        run.writer = SummaryWriter(str(out / "tb"))
        print(f"{len(run.images)} training images, {len(run.val_samples)} validation samples, "
              f"world size {world}, {dev}",
              flush=True)
    return run


def batches(run: Run):
    """The endless stream of (clean, damaged, mask) batches on the run's device, seeded from
    the step so that a resumed run sees what the uninterrupted one would have."""
    loader = DataLoader(
        DamagedCrops(run.images, run.cfg, rank=run.rank, start_step=run.step),
        batch_size=None,
        num_workers=run.cfg.workers,
        pin_memory=run.dev.type == "cuda",
        persistent_workers=run.cfg.workers > 0,
    )
    for batch in loader:
        batch = [t.to(run.dev, non_blocking=True) for t in batch]
        if run.cfg.channels_last:
            batch = [t.contiguous(memory_format=torch.channels_last) for t in batch]
        yield batch


def train_step(run: Run, clean, damaged, mask) -> tuple[torch.Tensor, dict[str, float], float, torch.Tensor]:
    """One optimiser step and EMA update; returns (loss, its parts, learning rate, gradient norm)."""
    cfg, dev, gen = run.cfg, run.dev, run.gen
    lr = lr_at(run.step, run.total_steps, cfg)
    for g in run.optimizer.param_groups:
        g["lr"] = lr
    n = clean.shape[0]
    strength = torch.rand(n, generator=gen) * cfg.latent_noise_max
    strength = torch.where(torch.rand(n, generator=gen) < cfg.latent_noise_prob, strength, torch.zeros(n))
    if cfg.task == "fill":
        inputs = damaged  # holes pre-filled by the data pipeline, as on a first pass
        if torch.rand(1, generator=gen).item() < cfg.refine_prob:
            # Teach refinement: holes hold the model's own (detached) first pass.
            with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=run.amp):
                guess = run.model(inputs, mask).float().clamp(0, 1)
            inputs = inputs * (1 - mask) + guess * mask
        weight = mask  # known pixels come back from the composite: only holes count
    else:
        inputs, weight = damaged, torch.ones_like(mask)
    sample_weight = None
    if cfg.task == "restore" and cfg.sigma_weight_offset:
        sigma = (damaged - clean).flatten(1).std(dim=1) * 255  # as drawn, after clipping and rounding
        sample_weight = cfg.sigma_weight_offset / (sigma + cfg.sigma_weight_offset)
    noise = None
    if cfg.latent_noise_draws > 1 and strength.any():
        noise = closest_noise(run.model, inputs, mask, clean, weight, strength.to(dev), cfg.latent_noise_draws, gen, run.amp)
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=run.amp):
        pred = run.step_fn(inputs, mask, strength=strength.to(dev), generator=None, noise=noise)
    loss, parts = loss_fn(pred, clean, weight, cfg, sample_weight)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    gnorm = torch.nn.utils.clip_grad_norm_(run.trained, cfg.grad_clip)
    run.optimizer.step()
    update_ema(run)
    run.step += 1
    return loss, parts, lr, gnorm


def evaluate(run: Run) -> dict[str, float]:
    """Validation of the EMA weights, logged."""
    val = validate(run.ema.module, run.cfg.task, run.val_samples, run.dev)
    for k, v in val.items():
        run.writer.add_scalar(f"val/{k}", v, run.step)
    print(f"\nstep {run.step}: " + ", ".join(f"{k} {v:.2f}" for k, v in val.items()), flush=True)
    return val


def record(run: Run, val: dict) -> dict:
    """How this network was trained, as every file the run writes records it."""
    cfg = run.cfg
    return {
        "task": cfg.task, "command": run.command, "commit": run.commit, "data": str(cfg.data),
        "training_images": len(run.images), "val_data": list(cfg.val_data), "seed": cfg.seed, "steps": run.step,
        "minutes": round(run.elapsed / 60, 1), "world_size": run.world, "device": str(run.dev), "torch": torch.__version__,
        "train_config": cfg.to_dict(), "validation": val,
        **({"init_from": {"path": cfg.init_from, **run.source_info}} if run.source_info else {}),
    }


def save(run: Run, val: dict | None = None) -> None:
    """The resumable state (atomically), the EMA as last.safetensors, and as best.safetensors
    when `val` is the best validation score so far."""
    save_state(
        run.out / "state.pt",
        model=checkpoint.state_dict_for_saving(run.model),
        ema=run.ema.module.state_dict(),
        optimizer=run.optimizer.state_dict(),
        step=run.step,
        elapsed=run.elapsed,
        total_steps=run.total_steps,
        best=run.best,
        rng=[rng_state()],
    )
    checkpoint.save(run.out / "last.safetensors", {run.cfg.task: run.ema.module}, record(run, val or {}))
    if val is not None and val["score"] > run.best:
        run.best = val["score"]
        checkpoint.save(run.out / "best.safetensors", {run.cfg.task: run.ema.module}, record(run, val))


def fit_schedule(run: Run, start_step: int, start_elapsed: float) -> None:
    """Fit the cosine schedule to the wall-clock budget: the step rate measured since this
    process started (or last validated), times the time left. Re-estimated as the run goes,
    so a busy machine early on does not fix the schedule's length."""
    rate = (run.step - start_step) / max(1e-6, run.elapsed - start_elapsed)
    estimate = run.step + int(rate * max(0.0, run.cfg.minutes * 60.0 - run.elapsed))
    run.total_steps = from_rank0(max(run.step + 1, min(run.cfg.steps, estimate)), run.dev)
    if run.main and run.step == run.cfg.schedule_every:
        print(f"wall-clock budget {run.cfg.minutes} min: {rate:.2f} steps/s, schedule set to {run.total_steps} steps", flush=True)


def log_step(run: Run, loss: torch.Tensor, parts: dict[str, float], lr: float, gnorm: torch.Tensor, progress) -> None:
    progress.update(1)
    if run.step % run.cfg.log_every == 0:
        progress.set_postfix(loss=f"{loss.item():.4f}", lr=f"{lr:.2e}")
        for k, v in {"loss": loss.item(), "lr": lr, "grad_norm": float(gnorm), **parts}.items():
            run.writer.add_scalar(f"train/{k}", v, run.step)


def train(cfg: TrainConfig, argv: list[str] | None = None) -> dict:
    """Train until `cfg.steps` or `cfg.minutes`; validate every `val_every` steps and at the
    end, save every `save_every`. Returns the final step, minutes and validation."""
    run = setup(cfg, argv)
    budget = cfg.minutes * 60.0
    progress = None
    if run.main:
        from tqdm import tqdm

        progress = tqdm(total=run.total_steps, initial=run.step, dynamic_ncols=True, mininterval=5)
    val: dict = {}
    start_step, start_elapsed, t_last = run.step, run.elapsed, time.time()
    run.model.train()
    stream = batches(run)
    while run.step < run.total_steps:
        loss, parts, lr, gnorm = train_step(run, *next(stream))
        now = time.time()
        run.elapsed += now - t_last
        t_last = now
        if budget and run.step % cfg.schedule_every == 0 and run.step < run.total_steps:
            fit_schedule(run, start_step, start_elapsed)
            if progress:
                progress.total = run.total_steps
        if run.main:
            log_step(run, loss, parts, lr, gnorm, progress)
        stop = all_true((bool(budget) and run.elapsed >= budget) or run.step >= run.total_steps, run.dev)
        if run.main and run.val_samples and (run.step % cfg.val_every == 0 or stop):
            val = evaluate(run)
            save(run, val)
            t_last = time.time()  # validation time does not eat the training budget
            start_step, start_elapsed = run.step, run.elapsed  # nor skew the step rate
        elif run.main and (run.step % cfg.save_every == 0 or stop):
            save(run)
        if stop:
            break
    if run.main:
        progress.close()
        run.writer.close()
    if run.world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return {"step": run.step, "elapsed_min": run.elapsed / 60, "validation": val}


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    cfg = parse_args(argv)
    result = train(cfg, argv)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
