"""train.ship packs two training runs into one checkpoint (float16 or int8 weights) with inference settings."""

import json

import pytest
import torch

from aeapp import checkpoint, cli
from .conftest import make_tiny_model
from train import ship


def test_ship_packs_both_networks_with_inference_settings(tmp_path):
    fill = checkpoint.save(tmp_path / "fill.safetensors", {"fill": make_tiny_model(0)}, {"task": "fill", "steps": 3})
    restore = checkpoint.save(tmp_path / "restore.safetensors", {"restore": make_tiny_model(1)}, {"task": "restore"})
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"images": 2}))
    out = tmp_path / "shipped.safetensors"
    ship.main(["--fill", str(fill), "--restore", str(restore), "-o", str(out),
               "--fill-noisy-skip-levels", "--restore-noisy-skip-levels", "0", "--prefill", "telea_ns", "--benchmark", str(bench)])
    models, info = checkpoint.load(out)
    assert set(models) == {"fill", "restore"}
    assert models["fill"].inference.prefill == "telea_ns" and models["restore"].inference.prefill == "telea"
    assert models["fill"].inference.noisy_skip_levels == () and models["restore"].inference.noisy_skip_levels == (0,)
    assert info["networks"]["fill"]["steps"] == 3 and info["benchmark"] == {"images": 2}
    reference = make_tiny_model(0).state_dict()
    for name, tensor in models["fill"].state_dict().items():
        assert torch.allclose(tensor.float(), reference[name].float(), atol=1e-3, rtol=1e-3)  # float16 storage


def test_ship_takes_a_network_from_a_shipped_file_with_its_own_record(tmp_path):
    """A new fill network shipped beside the restore network already shipped keeps that
    network's training record, not the shipped file's whole header nested inside it."""
    fill = checkpoint.save(tmp_path / "fill.safetensors", {"fill": make_tiny_model(0)}, {"task": "fill", "steps": 3})
    restore = checkpoint.save(tmp_path / "restore.safetensors", {"restore": make_tiny_model(1)}, {"task": "restore", "steps": 7})
    first = tmp_path / "first.safetensors"
    ship.main(["--fill", str(fill), "--restore", str(restore), "-o", str(first)])
    second = tmp_path / "second.safetensors"
    ship.main(["--fill", str(fill), "--restore", str(first), "-o", str(second)])
    models, info = checkpoint.load(second)
    assert info["networks"]["restore"] == {"task": "restore", "steps": 7, "source": str(restore), "weights": "float16"}
    shipped = checkpoint.load(first)[0]["restore"].state_dict()
    assert all(torch.equal(a, b) for a, b in zip(models["restore"].state_dict().values(), shipped.values()))


def test_ship_stores_each_network_in_the_weights_asked_for(tmp_path, capsys):
    fill = checkpoint.save(tmp_path / "fill.safetensors", {"fill": make_tiny_model(0)}, {"task": "fill"})
    restore = checkpoint.save(tmp_path / "restore.safetensors", {"restore": make_tiny_model(1)}, {"task": "restore"})
    out = tmp_path / "shipped.safetensors"
    ship.main(["--fill", str(fill), "--restore", str(restore), "-o", str(out), "--fill-weights", "int8"])
    models, info = checkpoint.load(out)
    assert info["networks"]["fill"]["weights"] == "int8" and info["networks"]["restore"]["weights"] == "float16"
    reference = make_tiny_model(0).state_dict()
    for name, tensor in models["fill"].state_dict().items():  # int8: within 1% of each channel's largest weight
        assert torch.allclose(tensor, reference[name], atol=0.01 * reference[name].abs().max().item() + 1e-3), name
    capsys.readouterr()
    assert cli.main(["info", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "refinement" not in shown and "int8 weights" in shown and "float16 weights" in shown


def test_ship_refuses_a_run_without_the_network(tmp_path):
    fill = checkpoint.save(tmp_path / "fill.safetensors", {"fill": make_tiny_model(0)}, {})
    with pytest.raises(SystemExit, match="no 'restore' network"):
        ship.main(["--fill", str(fill), "--restore", str(fill), "-o", str(tmp_path / "x.safetensors")])
