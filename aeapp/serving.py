"""How a server runs the engine: the memory policy of a long-running process, the device the
model lives on, and ZeroGPU on Hugging Face Spaces.

On ZeroGPU (`SPACES_ZERO_GPU` set) a GPU exists only inside functions decorated with
`spaces.GPU`, and the `spaces` package makes CUDA look present at import, where it is not.
So there the model loads and warms up on the CPU, and each decorated call moves it to the
GPU (`engine_for_call`); everywhere else the engine loads where `aeapp.device` decides, and
`gpu_function` leaves functions as they are.
"""

from __future__ import annotations

import os
from typing import Callable

ON_ZERO_GPU = os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")

# Seconds a decorated call may hold a ZeroGPU GPU: shorter requests are scheduled sooner,
# and a call that outruns its duration is cut off. On two CPU cores a 24 MP repair takes
# 8 s and a 1 MP one 0.34 s (bench/results); a GPU is faster, so a repair of the largest
# upload with a few refinement passes fits in 30 s, and the calls that decode up to 16
# variants or 8 candidate fills in 60 s.
REPAIR_SECONDS = 30
BATCH_SECONDS = 60


def gpu_function(duration: int) -> Callable[[Callable], Callable]:
    """`spaces.GPU(duration=...)` where the `spaces` package is installed (a no-op wrapper
    off ZeroGPU); the function itself elsewhere."""
    try:
        import spaces
    except ImportError:
        return lambda fn: fn
    return spaces.GPU(duration=duration)


def start_server_engine(checkpoint, keep_freed_mib: float, device: str = "auto"):
    """(engine, None), or (None, a message saying what is wrong) when the checkpoint or the
    device cannot be used. Sets this process's memory policy, as a long-running server's
    (few heaps; freed memory kept up to `keep_freed_mib` of resident memory, handed back
    after each network pass above it), and loads the engine once, warmed up."""
    from .engine import Engine
    from .heap import keep_freed_memory, limit_arenas, release_freed_memory

    limit_arenas()
    if keep_freed_mib > 0:
        keep_freed_memory(keep_freed_mib)
    try:
        engine = Engine.from_checkpoint(checkpoint, device="cpu" if ON_ZERO_GPU else device, after_pass=release_freed_memory)
        engine.warmup()
        return engine, None
    except ValueError as e:  # CheckpointError or an unavailable device
        return None, str(e)


_on_gpu: dict[int, object] = {}


def engine_for_call(engine):
    """The engine a request runs on: inside a decorated call on ZeroGPU, a copy of its
    networks on the GPU in float16 (made once per process); elsewhere the engine itself."""
    import torch

    if not (ON_ZERO_GPU and engine.device.type == "cpu" and torch.cuda.is_available()):
        return engine
    if id(engine) not in _on_gpu:
        import copy

        from .engine import Engine

        networks = {name: copy.deepcopy(net) for name, net in engine.networks.items()}
        _on_gpu[id(engine)] = Engine(networks, torch.device("cuda"), torch.float16, info=engine.info,
                                     checkpoint_path=engine.checkpoint_path, inference=engine.inference,
                                     after_pass=engine.after_pass)
    return _on_gpu[id(engine)]


def status_markdown(engine, load_error: str | None, checkpoint_name: str, limits: str) -> str:
    """One line for the page: the model, where it runs and how it validated; or, when it
    could not be loaded, what is wrong and how to fix it."""
    if engine is None:
        return (f"**The model could not be loaded.** {load_error}. To fix it, restore the shipped checkpoint (`git checkout "
                "-- checkpoints/`) or set `AEAPP_CHECKPOINT` to a valid aeapp .safetensors file, then restart the app.")
    from .checkpoint import validation_summary

    summary = validation_summary(engine.info)
    scores = f" · validation PSNR on CBSD68 ({summary})" if summary else ""
    where = "ZeroGPU (a GPU for each request)" if ON_ZERO_GPU else engine.description
    return f"**Model** `{checkpoint_name}` on **{where}**{scores} · {limits}"
