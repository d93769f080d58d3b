"""The app under the real `spaces` package: on ZeroGPU nothing touches CUDA at import and
the model moves to the GPU inside the decorated call; off ZeroGPU, the app as everywhere.

Each case runs in a fresh interpreter (ZeroGPU mode patches torch for the whole process).
CUDA use is observed by a stub on the calls that place tensors or modules on a device."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("spaces")

ROOT = Path(__file__).resolve().parent.parent

PROBE = r'''
import json, sys
import torch

moves = []  # every request to place a tensor or module on CUDA
def watch(owner, name):
    original = getattr(owner, name)
    def spy(self, *args, **kwargs):
        target = [a for a in args if isinstance(a, (str, torch.device))] + [kwargs.get("device")]
        if name == "cuda" or any(t is not None and "cuda" in str(t) for t in target):
            moves.append(f"{owner.__name__}.{name}")
        return original(self, *args, **kwargs)
    setattr(owner, name, spy)
for owner, name in ((torch.Tensor, "to"), (torch.Tensor, "cuda"), (torch.nn.Module, "to"), (torch.nn.Module, "cuda")):
    watch(owner, name)

import app
from aeapp import serving
at_import = list(moves)
engine = app.ENGINE
on_cpu = all(p.device.type == "cpu" for net in engine.networks.values() for p in net.parameters())
inside = serving.engine_for_call(engine)  # what a decorated call runs on
print(json.dumps({
    "zero_gpu": serving.ON_ZERO_GPU, "moves_at_import": at_import, "engine_device": str(engine.device),
    "weights_on_cpu": on_cpu, "call_device": str(inside.device), "call_dtype": str(inside.dtype),
    "moves_in_call": moves[len(at_import):][:3], "wrapped": hasattr(app.repair_image, "__wrapped__"),
    "status": app.status_text(),
}))
'''


def _probe(env_extra: dict) -> dict:
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", **env_extra}
    if "SPACES_ZERO_GPU" not in env_extra:
        env.pop("SPACES_ZERO_GPU", None)
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_on_zero_gpu_the_model_loads_on_the_cpu_and_moves_inside_the_call():
    seen = _probe({"SPACES_ZERO_GPU": "true", "SPACES_ZERO_DEVICE_API_URL": "http://127.0.0.1:9"})
    assert seen["zero_gpu"] and seen["wrapped"]
    assert seen["moves_at_import"] == [] and seen["engine_device"] == "cpu" and seen["weights_on_cpu"]
    assert seen["call_device"].startswith("cuda") and seen["call_dtype"] == "torch.float16" and seen["moves_in_call"]
    assert "ZeroGPU" in seen["status"]


def test_off_zero_gpu_the_app_runs_where_the_device_module_decides():
    seen = _probe({})
    assert not seen["zero_gpu"] and seen["wrapped"]  # spaces.GPU is a plain wrapper here
    assert seen["moves_at_import"] == [] and seen["moves_in_call"] == []  # no CUDA on this machine
    assert seen["call_device"] == seen["engine_device"] and "ZeroGPU" not in seen["status"]
