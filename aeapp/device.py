"""The one place that picks the device and the dtype.

CUDA when present, in half precision (the model is small and convolutional, and fp16 halves
memory and time there); otherwise the CPU in float32, where half precision is slower.
"""

from __future__ import annotations

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve(device: str = "auto", dtype: str | None = None) -> tuple[torch.device, torch.dtype]:
    """Return (device, dtype) for a device name ("auto", "cpu", "cuda", "cuda:1") and an
    optional dtype override ("float32", "float16", "bfloat16")."""
    name = (device or "auto").lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError("CUDA was requested but no CUDA device is available; use --device cpu or auto")
    elif name != "cpu":
        raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    dev = torch.device(name)
    if dtype is None:
        return dev, (torch.float16 if dev.type == "cuda" else torch.float32)
    if dtype not in _DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(_DTYPES)}")
    return dev, _DTYPES[dtype]


def describe(device: torch.device, dtype: torch.dtype) -> str:
    """A short human-readable name, e.g. 'CUDA (NVIDIA H200), float16' or 'CPU (2 threads), float32'."""
    if device.type == "cuda":
        where = f"CUDA ({torch.cuda.get_device_name(device)})"
    else:
        n = torch.get_num_threads()
        where = f"CPU ({n} thread{'s' if n != 1 else ''})"
    return f"{where}, {str(dtype).removeprefix('torch.')}"
