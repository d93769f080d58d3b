"""`pip install` gives a working package: its dependencies declared, its console script, and
the shipped checkpoint inside it, usable from any folder."""

import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from aeapp import __version__
from aeapp.image_io import save_image

from .conftest import make_photo

ROOT = Path(__file__).resolve().parent.parent


def _run(*args, cwd, timeout=300):
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX venv layout")
def test_the_wheel_installs_and_repairs_from_another_folder(tmp_path):
    source = tmp_path / "source"  # a copy, so building leaves the checkout clean
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("aeapp", "checkpoints"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist", source, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("aeapp-*.whl"))
    # A fresh environment that sees the packages already installed here (torch takes
    # minutes to install), so every declared dependency must be found without an index.
    env = tmp_path / "env"
    _run(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", env, cwd=tmp_path)
    lib = next((env / "lib").glob("python3*")) / "site-packages"
    (lib / "here.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    _run(env / "bin" / "python", "-m", "pip", "install", "--no-index", "-q", wheel, cwd=tmp_path)
    work = tmp_path / "elsewhere"
    save_image(make_photo(40, 52), work / "photo.png")
    assert _run(env / "bin" / "aeapp", "--version", cwd=work).strip() == f"aeapp {__version__}"
    _run(env / "bin" / "aeapp", "repair", "photo.png", "-o", "fixed.png", "--device", "cpu", cwd=work)
    assert (work / "fixed.png").stat().st_size > 0
    info = _run(env / "bin" / "aeapp", "info", cwd=work)
    assert str(lib / "aeapp" / "checkpoints" / "aeapp-repair.safetensors") in info  # the packaged checkpoint


def test_the_declared_floors_are_versions_the_package_works_with():
    """LatentNoise overrides v2.Transform.make_params and .transform, public hooks from
    torchvision 0.21 (torch 2.6) on; older releases call private ones and never reach them."""
    import inspect
    import re
    import tomllib

    from packaging.version import Version
    from torchvision.transforms import v2

    from aeapp.transforms import LatentNoise

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    floors = dict(re.fullmatch(r"([\w-]+)>=([\d.]+)", d).groups() for d in declared)
    assert Version(floors["torchvision"]) >= Version("0.21") and Version(floors["torch"]) >= Version("2.6")
    for hook in ("make_params", "transform"):
        assert hook in vars(LatentNoise) and hook in vars(v2.Transform)
        assert not inspect.signature(getattr(v2.Transform, hook)).parameters.keys() - {"self", "flat_inputs", "inpt", "params"}
