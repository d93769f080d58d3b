"""The app works with what requirements.txt installs, nothing more: a Space or a user who
runs the README's first command gets exactly that environment, so a dependency that only
the development requirements pull in must not be needed by any path a user can reach.

`.ci/run` builds `.venv-runtime` from requirements.txt alone and names its interpreter in
AEAPP_RUNTIME_PYTHON; without it (a plain local pytest run) this test skips."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_PYTHON = os.environ.get("AEAPP_RUNTIME_PYTHON")


@pytest.mark.skipif(not RUNTIME_PYTHON, reason="needs AEAPP_RUNTIME_PYTHON, a runtime-only environment (.ci/run builds it)")
def test_the_app_end_to_end_in_a_runtime_only_environment():
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    result = subprocess.run([RUNTIME_PYTHON, str(ROOT / "tests" / "runtime_smoke.py")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stdout[-3000:] + result.stderr[-3000:]
