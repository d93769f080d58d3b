"""The one place that picks the device and the dtype.

CUDA when present, in half precision (the model is small and convolutional, and fp16 halves
memory and time there). On a CPU with native bfloat16 instructions (AMX tiles: Intel Xeon
since Sapphire Rapids; AVX512-BF16: AMD EPYC since Zen 4, Intel Cooper Lake) bfloat16:
oneDNN runs the networks on them 1.2 to 3 times as fast as in float32 with the same PSNR
(bench/dtype_speed.py measures both). Any other CPU runs float32, where the 16-bit types
are emulated and slower. Training autocasts to bfloat16 on the same devices (a training step
of either network takes about half the time there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# What `resolve` takes; the CLI offers these without importing torch (so --help is instant).
DEVICE_CHOICES = ("auto", "cpu", "cuda")
DTYPE_CHOICES = ("float32", "float16", "bfloat16")


def cpu_has_native_bfloat16() -> bool:
    """Whether this CPU computes in bfloat16 natively (AMX tiles or AVX512-BF16)."""
    import torch

    probes = [getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    try:  # private probes, so guarded: one that is missing or fails means "no"
        return any(bool(probe and probe()) for probe in probes)
    except Exception:  # noqa: BLE001
        return False


def default_dtype(device: torch.device) -> torch.dtype:
    import torch

    if device.type == "cuda":
        return torch.float16
    return torch.bfloat16 if cpu_has_native_bfloat16() else torch.float32


def trains_in_bfloat16(device: torch.device) -> bool:
    """Whether training should autocast to bfloat16 here (weights and loss stay float32)."""
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bfloat16())


def resolve(device: str = "auto", dtype: str | None = None) -> tuple[torch.device, torch.dtype]:
    """Return (device, dtype) for a device name ("auto", "cpu", "cuda", "cuda:1") and an
    optional dtype override ("float32", "float16", "bfloat16")."""
    import torch

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
        return dev, default_dtype(dev)
    if dtype not in DTYPE_CHOICES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPE_CHOICES)}")
    return dev, getattr(torch, dtype)


def describe(device: torch.device, dtype: torch.dtype) -> str:
    """A short human-readable name, e.g. 'CUDA (NVIDIA H200), float16' or 'CPU (2 threads), bfloat16'."""
    import torch

    if device.type == "cuda":
        where = f"CUDA ({torch.cuda.get_device_name(device)})"
    else:
        n = torch.get_num_threads()
        where = f"CPU ({n} thread{'s' if n != 1 else ''})"
    return f"{where}, {str(dtype).removeprefix('torch.')}"
