"""Starting a run from a trained network (`--init-from`): loading its weights into a network
that may be grown (a refinement head added or widened, Fourier blocks appended), freezing
what it already had (`--train-new-only`), and recording its lineage."""

from __future__ import annotations

import torch

from aeapp import checkpoint
from aeapp.config import ModelConfig, TrainConfig
from aeapp.model import ConvAutoencoder


def for_task(named: dict, task: str):
    """The entry of a checkpoint's {network name: ...} that a `task` run starts from: its own
    name, or the only one (a run's file under another name); None when neither."""
    return named.get(task) or (next(iter(named.values())) if len(named) == 1 else None)


def init_weights(cfg: TrainConfig, model: ConvAutoencoder, ema: ConvAutoencoder) -> dict:
    """Load the `cfg.task` network of `cfg.init_from` into model and EMA; return how that
    checkpoint was trained, so a fine-tune's file records its whole lineage."""
    networks, _ = checkpoint.load(cfg.init_from)
    source = for_task(networks, cfg.task)
    if source is None:
        raise SystemExit(f"--init-from {cfg.init_from} has no {cfg.task!r} network (it has {', '.join(networks)})")
    # The differences allowed grow the network and start from the source's output: a
    # refinement head added or widened, global blocks appended after the source's, and a
    # restore network's fourth channel turned from the (empty) mask to the noise level.
    own = model.state_dict()
    loaded = {k: _widened(v, own[k]) if k.startswith("refine.") and k in own else v
              for k, v in source.state_dict().items()}
    added = range(source.config.global_blocks, model.config.global_blocks)
    try:
        missing, unexpected = model.load_state_dict(loaded, strict=False)
        fits = not unexpected and all(k.startswith("refine.") or _block_index(k) in added for k in missing)
    except RuntimeError:  # a tensor of another shape
        fits = False
    if not fits:
        raise SystemExit(
            f"--init-from {cfg.init_from}: its architecture differs from this run's --model-* flags "
            f"(it was trained with {source.config.to_dict()})"
        )
    with torch.no_grad():  # an appended block adds nothing until it learns
        for i in added:
            model.global_blocks[i].fuse.weight.zero_()
        if model.config.noise_level_input and not source.config.noise_level_input:
            # The source only ever saw an empty mask in this channel, so its weights there are
            # untrained: zeroed, the network starts as the source and learns to read the level.
            r = model.config.unshuffle
            model.stem.weight[:, 3 * r * r:].zero_()
    ema.load_state_dict(model.state_dict())
    return lineage(cfg.init_from, cfg.task)


def freeze_all_but_new(model: ConvAutoencoder, source: ModelConfig | None) -> None:
    """Freeze every parameter `source` (the --init-from network's config) already had, leaving
    appended global blocks, and the refinement head when added or widened, to train. Decided
    from the configs alone, so a resumed run freezes the same set."""
    if source is None:
        raise SystemExit("--train-new-only: the --init-from checkpoint has no network for this task")
    new_head = source.refine_channels != model.config.refine_channels
    for name, param in model.named_parameters():
        index = _block_index(name)
        param.requires_grad_((index is not None and index >= source.global_blocks) or (new_head and name.startswith("refine.")))
    if not any(p.requires_grad for p in model.parameters()):
        raise SystemExit("--train-new-only: this run's --model-* flags add nothing to the --init-from network")


def _block_index(key: str) -> int | None:
    """The index of the global block a state-dict key belongs to, else None."""
    parts = key.split(".")
    return int(parts[1]) if parts[0] == "global_blocks" and parts[1].isdigit() else None


def _widened(trained: torch.Tensor, fresh: torch.Tensor) -> torch.Tensor:
    """A trained head tensor set into the corner of a wider fresh one (net2net-style): the
    old units keep their weights and read nothing from the new ones, which keep their fresh
    initialisation (the head's last layer, zero, so adds nothing until trained). Where
    `fresh` is not larger, `trained` comes back as it is, for the shape check to judge."""
    if trained.dim() != fresh.dim() or trained.shape == fresh.shape \
            or any(t > f for t, f in zip(trained.shape, fresh.shape)):
        return trained
    out = fresh.detach().clone()
    if out.dim() > 1:  # a convolution's weight: the old outputs ignore the new inputs
        out[: trained.shape[0]] = 0
    out[tuple(slice(0, n) for n in trained.shape)] = trained
    return out


def lineage(path: str, task: str) -> dict:
    """How the `task` network of the checkpoint at `path` was trained (read from its header;
    no weights loaded): a run's own file, or a shipped file that packs both networks."""
    info = checkpoint.training_record(checkpoint.read_metadata(path)[1], task)
    return {k: info[k] for k in ("command", "commit", "steps", "minutes", "device", "validation", "init_from") if k in info}
