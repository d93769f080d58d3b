"""The Space deploy's dry run: the file list and the front-matter checks, no network."""

import shutil
from pathlib import Path

from aeapp import deploy

ROOT = Path(__file__).resolve().parent.parent


def test_dry_run_lists_exactly_what_the_space_needs_and_passes_its_checks(capsys):
    assert deploy.main(["--space", "someone/aeapp", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    listed = [line.split()[-1] for line in printed.splitlines() if line.strip().endswith((".py", ".md", ".png", ".txt",
                                                                                          ".safetensors", ".gitattributes", ".js"))]
    assert "app.py" in listed and "checkpoints/aeapp-repair.safetensors" in listed and "requirements.txt" in listed
    assert "web/upload_guard.js" in listed  # app.py reads it into the page
    assert not any(p.startswith(("tests/", "bench/", "train/", ".ci/")) for p in listed)
    assert "MiB  checkpoints/aeapp-repair.safetensors" in printed and "checks passed" in printed


def test_every_binary_type_the_repository_holds_goes_through_lfs():
    rules = [line.split()[0] for line in (ROOT / ".gitattributes").read_text().splitlines()
             if "filter=lfs" in line and not line.startswith("#")]
    binaries = {p.suffix for p in ROOT.rglob("*") if p.suffix in (".png", ".jpg", ".jpeg", ".webp", ".safetensors", ".gif")
                and ".venv" not in p.parts}
    assert binaries and all(f"*{suffix}" in rules for suffix in binaries)


def _copy(tmp_path):
    root = tmp_path / "repo"
    for path in deploy.space_files(ROOT):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, root / path)
    return root


def test_a_front_matter_that_would_not_build_is_refused(tmp_path, capsys):
    root = _copy(tmp_path)
    readme = root / "README.md"
    readme.write_text(readme.read_text().replace("sdk_version: 6.31.0", "sdk_version: 5.0.0").replace("app_file: app.py", "app_file: main.py"))
    assert deploy.main(["--space", "someone/aeapp", "--dry-run", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "sdk_version is '5.0.0' but requirements.txt pins gradio==6.31.0" in err and "app_file 'main.py'" in err


def test_a_missing_licence_link_or_file_is_refused(tmp_path, capsys):
    root = _copy(tmp_path)
    (root / "LICENSE.md").unlink()
    assert deploy.main(["--space", "someone/aeapp", "--dry-run", "--root", str(root)]) == 2
    assert "nothing matches LICENSE.md" in capsys.readouterr().err
