import json

import pytest
import torch
from safetensors.torch import save_file

from aeapp import checkpoint
from aeapp.checkpoint import CheckpointError
from aeapp.config import ModelConfig
from aeapp.model import ConvAutoencoder

from .conftest import TINY, make_tiny_networks


def test_round_trip_gives_identical_outputs(tmp_path):
    networks = make_tiny_networks()
    path = checkpoint.save(tmp_path / "both.safetensors", networks, {"seed": 3})
    loaded, info = checkpoint.load(path)
    configs, _ = checkpoint.read_metadata(path)
    assert set(loaded) == {"fill", "restore"} and configs["fill"] == TINY
    assert info["seed"] == 3
    x, m = torch.rand(1, 3, 16, 16), (torch.rand(1, 1, 16, 16) > 0.5).float()
    with torch.no_grad():
        for name in networks:
            assert torch.equal(loaded[name](x, m), networks[name](x, m))
        assert not torch.equal(loaded["fill"](x, m), loaded["restore"](x, m))


def test_float16_checkpoint_loads_close_to_float32(tmp_path, tiny_model):
    path = checkpoint.save(tmp_path / "half.safetensors", {"fill": tiny_model}, dtype=torch.float16)
    loaded, _ = checkpoint.load(path)
    x, m = torch.rand(1, 3, 16, 16), torch.zeros(1, 1, 16, 16)
    with torch.no_grad():
        assert torch.allclose(loaded["fill"](x, m), tiny_model(x, m), atol=0.05)


def test_prefixes_from_ddp_and_compile_are_stripped(tmp_path, tiny_model):
    class Wrapper(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.module = m

    path = checkpoint.save(tmp_path / "w.safetensors", {"fill": Wrapper(tiny_model)})
    loaded, _ = checkpoint.load(path)
    assert set(loaded["fill"].state_dict()) == set(tiny_model.state_dict())


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="nope.safetensors does not exist"):
        checkpoint.load(tmp_path / "nope.safetensors")


@pytest.mark.parametrize("keep", [0, 7, 100, -50])
def test_truncated_file_is_a_clear_error(tmp_path, tiny_checkpoint, keep):
    data = tiny_checkpoint.read_bytes()
    bad = tmp_path / "truncated.safetensors"
    bad.write_bytes(data[:keep] if keep >= 0 else data[:keep])
    with pytest.raises(CheckpointError, match="truncated.safetensors"):
        checkpoint.load(bad)


def test_garbage_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "garbage.safetensors"
    bad.write_bytes(b"\x80\x04\x95 this is a pickle, not safetensors" * 10)
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        checkpoint.load(bad)


def test_foreign_safetensors_is_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="not an aeapp autoencoder checkpoint"):
        checkpoint.load(path)


def test_weights_for_another_architecture_are_refused(tmp_path, tiny_model):
    other = ModelConfig(**{**TINY.to_dict(), "widths": (8, 24)})
    path = tmp_path / "mismatch.safetensors"
    # A header that claims another architecture than the weights have.
    tensors = {f"fill.{k}": v for k, v in tiny_model.state_dict().items()}
    save_file(tensors, str(path), metadata={"format": checkpoint.FORMAT, "format_version": checkpoint.FORMAT_VERSION,
                                             "networks": json.dumps({"fill": other.to_dict()}), "info": "{}"})
    with pytest.raises(CheckpointError, match="network 'fill' does not match the architecture"):
        checkpoint.load(path)


def test_invalid_config_json_is_refused(tmp_path):
    path = tmp_path / "badcfg.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": checkpoint.FORMAT, "format_version": "1", "networks": "{not json"})
    with pytest.raises(CheckpointError, match="invalid model config"):
        checkpoint.load(path)


def test_nan_weights_are_refused(tmp_path):
    model = ConvAutoencoder(TINY)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    path = checkpoint.save(tmp_path / "nan.safetensors", {"restore": model})
    with pytest.raises(CheckpointError, match="NaN"):
        checkpoint.load(path)


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path, tiny_model):
    checkpoint.save(tmp_path / "a.safetensors", {"fill": tiny_model})
    checkpoint.save(tmp_path / "a.safetensors", {"fill": tiny_model})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors"]


def test_stray_weights_are_refused(tmp_path, tiny_model):
    path = tmp_path / "stray.safetensors"
    tensors = {f"fill.{k}": v for k, v in tiny_model.state_dict().items()}
    tensors["other.w"] = torch.zeros(1)
    save_file(tensors, str(path), metadata={"format": checkpoint.FORMAT, "format_version": checkpoint.FORMAT_VERSION,
                                             "networks": json.dumps({"fill": TINY.to_dict()}), "info": "{}"})
    with pytest.raises(CheckpointError, match="weights for no listed network"):
        checkpoint.load(path)
