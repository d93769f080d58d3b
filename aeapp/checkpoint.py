"""Save and load networks as safetensors, with their configs in the header.

A checkpoint holds one or more named networks: "fill" (inpainting) and "restore" (blind
denoising) in the shipped file, one of them in a training run's file. Tensors are named
"<network>.<parameter>". The metadata holds each network's ModelConfig as JSON, a format
version, and an `info` JSON object (how it was trained: commands, data, seeds, steps,
measured metrics), so the file alone rebuilds its models. Weights are float32, float16, or
(format version 2) int8 with one float32 scale per output channel, stored beside the weight
as "<network>.<parameter>:scale". Nothing is ever unpickled. Every
failure to load is a CheckpointError (a ValueError) whose message names the file and says
what to do.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .config import InferenceConfig, ModelConfig
from .model import ConvAutoencoder

FORMAT = "aeapp-autoencoder"
FORMAT_VERSION = "1"
QUANTIZED_FORMAT_VERSION = "2"  # adds int8 weights with per-channel scales
SCALE_SUFFIX = ":scale"
SHIPPED_NAME = "aeapp-repair.safetensors"


def _default_checkpoint() -> Path:
    """`AEAPP_CHECKPOINT` when set; else the shipped file inside the installed package
    (aeapp/checkpoints/), or in a clone of the repository (checkpoints/)."""
    if os.environ.get("AEAPP_CHECKPOINT"):
        return Path(os.environ["AEAPP_CHECKPOINT"])
    package = Path(__file__).resolve().parent
    installed = package / "checkpoints" / SHIPPED_NAME
    return installed if installed.exists() else package.parent / "checkpoints" / SHIPPED_NAME


DEFAULT_CHECKPOINT = _default_checkpoint()


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message is meant for the user."""


def state_dict_for_saving(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The bare module's weights: strips the `module.` (DDP) and `_orig_mod.` (compile) prefixes."""
    out = {}
    for key, value in model.state_dict().items():
        for prefix in ("module.", "_orig_mod."):
            key = key.removeprefix(prefix)
        out[key] = value.detach().cpu().contiguous()
    return out


def quantize_int8(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 with one scale per output channel: half of float16's size, and each
    weight within half a step (1/254 of its channel's largest weight) of its value."""
    flat = weight.detach().float().flatten(1)
    scale = flat.abs().amax(dim=1) / 127
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # an all-zero channel stays zero
    q = torch.round(flat / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return q.reshape(weight.shape), scale


def dequantize_int8(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return q.float() * scale.float().reshape(-1, *[1] * (q.dim() - 1))


def save(
    path: str | os.PathLike,
    networks: dict[str, torch.nn.Module],
    info: dict[str, Any] | None = None,
    dtype: torch.dtype | dict[str, torch.dtype] | None = None,
) -> Path:
    """Write named ConvAutoencoders atomically, weights optionally cast (e.g. to float16),
    all alike or per network (a {name: dtype} dict; names left out keep their dtype).

    `torch.int8` stores convolution weights as int8 with per-channel scales and the rest
    (biases) as float16: half a float16 file's size.
    """
    path = Path(path)
    dtypes = dtype if isinstance(dtype, dict) else {name: dtype for name in networks}
    tensors, configs, inference = {}, {}, {}
    for name, model in networks.items():
        dtype = dtypes.get(name)
        if not name.isidentifier():
            raise ValueError(f"network names must be identifiers, got {name!r}")
        bare = getattr(model, "module", model)
        bare = getattr(bare, "_orig_mod", bare)
        configs[name] = bare.config.to_dict()
        inference[name] = bare.inference.to_dict()
        for key, value in state_dict_for_saving(model).items():
            if dtype == torch.int8 and value.is_floating_point() and value.dim() >= 2:
                value, tensors[f"{name}.{key}{SCALE_SUFFIX}"] = quantize_int8(value)
            elif dtype is not None and value.is_floating_point():
                value = value.to(torch.float16 if dtype == torch.int8 else dtype)
            tensors[f"{name}.{key}"] = value
    metadata = {
        "format": FORMAT,
        "format_version": QUANTIZED_FORMAT_VERSION if torch.int8 in dtypes.values() else FORMAT_VERSION,
        "networks": json.dumps(configs, sort_keys=True),
        "inference": json.dumps(inference, sort_keys=True),
        "info": json.dumps(info or {}, sort_keys=True),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; weights are meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_metadata(path: str | os.PathLike) -> tuple[dict[str, ModelConfig], dict[str, Any]]:
    """Read ({network: config}, info) from a checkpoint's header without loading weights."""
    configs, _, info = read_header(path)
    return configs, info


def read_header(path: str | os.PathLike) -> tuple[dict[str, ModelConfig], dict[str, InferenceConfig], dict[str, Any]]:
    """({network: architecture}, {network: how it is run}, info) from a checkpoint's header."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist; pass the path of an aeapp .safetensors file")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} is not a file")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(
            f"checkpoint {path} is not a readable safetensors file ({e}); it may be truncated or corrupt: "
            "download or copy it again"
        ) from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} is a safetensors file but not an aeapp autoencoder checkpoint")
    if meta.get("format_version") not in (FORMAT_VERSION, QUANTIZED_FORMAT_VERSION):
        raise CheckpointError(
            f"checkpoint {path} has format version {meta.get('format_version')!r}; "
            f"this aeapp reads versions {FORMAT_VERSION} and {QUANTIZED_FORMAT_VERSION}"
        )
    try:
        raw = json.loads(meta["networks"])
        if not isinstance(raw, dict) or not raw:
            raise ValueError("no networks listed")
        run = json.loads(meta.get("inference", "{}"))
        configs = {name: ModelConfig.from_dict(cfg) for name, cfg in raw.items()}
        # A network listed without inference settings gets latent noise on its code alone,
        # which every architecture has.
        inference = {name: InferenceConfig.from_dict(run[name]) if name in run else InferenceConfig(noisy_skip_levels=())
                     for name in raw}
        for name, options in inference.items():
            options.check(configs[name])
        info = json.loads(meta.get("info", "{}"))
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise CheckpointError(f"checkpoint {path} has an invalid model config: {e}") from None
    return configs, inference, info


def training_record(info: dict[str, Any], name: str) -> dict[str, Any]:
    """How network `name` was trained: its entry in a shipped file's `networks` (one per
    network), or the whole `info` of a training run's own file (which holds one network)."""
    if "networks" in info:
        return info["networks"].get(name, {})
    return info


def _dequantized(path: Path, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replace each int8 weight and its scale by the float32 weight they store."""
    out = {k: v for k, v in tensors.items() if not k.endswith(SCALE_SUFFIX) and v.dtype != torch.int8}
    for key, q in tensors.items():
        if q.dtype != torch.int8:
            continue
        scale = tensors.get(key + SCALE_SUFFIX)
        if scale is None or q.dim() < 1 or scale.shape != (q.shape[0],):
            raise CheckpointError(f"checkpoint {path}: int8 weight {key} lacks a scale per output channel; it may be corrupt")
        out[key] = dequantize_int8(q, scale)
    orphans = sorted(k for k in tensors if k.endswith(SCALE_SUFFIX)
                     and getattr(tensors.get(k.removesuffix(SCALE_SUFFIX)), "dtype", None) != torch.int8)
    if orphans:
        raise CheckpointError(f"checkpoint {path}: scales without an int8 weight ({', '.join(orphans[:3])})")
    return out


def load(path: str | os.PathLike = DEFAULT_CHECKPOINT, device: torch.device | str = "cpu", dtype=torch.float32):
    """Build every network a checkpoint describes and load its weights strictly.

    Returns ({network: model in eval mode on `device` with `dtype`}, info dict).
    """
    path = Path(path)
    configs, inference, info = read_header(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint {path} could not be read ({e}); it may be truncated or corrupt") from None
    tensors = _dequantized(path, tensors)
    models = {}
    for name, config in configs.items():
        model = ConvAutoencoder(config, inference[name])
        prefix = name + "."
        own = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        expected = model.state_dict()
        missing = sorted(set(expected) - set(own))
        unexpected = sorted(set(own) - set(expected))
        wrong = sorted(k for k in expected if k in own and own[k].shape != expected[k].shape)
        if missing or unexpected or wrong:
            detail = "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing[:3])}" if missing else "",
                    f"unexpected {', '.join(unexpected[:3])}" if unexpected else "",
                    f"wrong shape for {', '.join(wrong[:3])}" if wrong else "",
                )
                if part
            )
            raise CheckpointError(
                f"checkpoint {path}: network {name!r} does not match the architecture its config describes ({detail})"
            )
        own = {k: v.float() for k, v in own.items()}
        if not all(torch.isfinite(v).all() for v in own.values()):
            raise CheckpointError(f"checkpoint {path}: network {name!r} contains NaN or infinite weights")
        model.load_state_dict(own, strict=True)
        models[name] = model.to(device=device, dtype=dtype).eval()
    stray = sorted(k for k in tensors if k.split(".", 1)[0] not in configs)
    if stray:
        raise CheckpointError(f"checkpoint {path} has weights for no listed network ({', '.join(stray[:3])})")
    return models, info


def validation_summary(info: dict[str, Any]) -> str:
    """Each network's validation PSNR from its training record, on one line, e.g. "holes:
    thin 24.1 dB, ...; denoising: noise15 33.2 dB, ..."; "" when none is recorded."""
    from .damage import MASK_KINDS, NOISE_LEVELS

    parts = []
    for name, what, tasks in (("fill", "holes", MASK_KINDS), ("restore", "denoising", tuple(NOISE_LEVELS))):
        val = training_record(info, name).get("validation", {})
        shown = [f"{k} {val['psnr_' + k]:.1f} dB" for k in tasks if "psnr_" + k in val]
        if shown:
            parts.append(f"{what}: " + ", ".join(shown))
    return "; ".join(parts)
