"""Save and load model weights as safetensors, with the model config in the header.

A checkpoint alone rebuilds its model: the metadata holds the ModelConfig as JSON, a
format version, and an `info` JSON object (how it was trained: command, data, seed,
steps, measured metrics). Nothing is ever unpickled. Every failure to load is a
CheckpointError (a ValueError) whose message names the file and says what to do.
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

from .config import ModelConfig
from .model import ConvAutoencoder

FORMAT = "aeapp-autoencoder"
FORMAT_VERSION = "1"
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "aeapp-repair.safetensors"


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


def save(
    path: str | os.PathLike,
    model: torch.nn.Module,
    config: ModelConfig,
    info: dict[str, Any] | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write `model`'s weights (optionally cast, e.g. to float16 for shipping) atomically."""
    path = Path(path)
    tensors = state_dict_for_saving(model)
    if dtype is not None:
        tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_config": json.dumps(config.to_dict(), sort_keys=True),
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


def read_metadata(path: str | os.PathLike) -> tuple[ModelConfig, dict[str, Any]]:
    """Read (config, info) from a checkpoint's header without loading its weights."""
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
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {meta.get('format_version')!r}; this aeapp reads version {FORMAT_VERSION}"
        )
    try:
        config = ModelConfig.from_dict(json.loads(meta["model_config"]))
        info = json.loads(meta.get("info", "{}"))
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"checkpoint {path} has an invalid model config: {e}") from None
    return config, info


def load(path: str | os.PathLike = DEFAULT_CHECKPOINT, device: torch.device | str = "cpu", dtype=torch.float32):
    """Build the model a checkpoint describes and load its weights strictly.

    Returns (model in eval mode on `device` with `dtype`, ModelConfig, info dict).
    """
    path = Path(path)
    config, info = read_metadata(path)
    model = ConvAutoencoder(config)
    try:
        with safe_open(str(path), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"checkpoint {path} could not be read ({e}); it may be truncated or corrupt") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in expected if k in tensors and tensors[k].shape != expected[k].shape)
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
        raise CheckpointError(f"checkpoint {path} does not match the architecture its config describes ({detail})")
    tensors = {k: v.float() for k, v in tensors.items()}
    if not all(torch.isfinite(v).all() for v in tensors.values()):
        raise CheckpointError(f"checkpoint {path} contains NaN or infinite weights")
    model.load_state_dict(tensors, strict=True)
    return model.to(device=device, dtype=dtype).eval(), config, info
