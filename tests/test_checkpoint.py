import json

import pytest
import torch
from safetensors import safe_open
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


def test_int8_weights_per_network_are_within_half_a_step_and_half_the_size(tmp_path):
    networks = make_tiny_networks()
    with torch.no_grad():  # trained-like weights: no all-zero layers
        for p in networks["fill"].parameters():
            p.normal_(0, 0.05)
    half = checkpoint.save(tmp_path / "half.safetensors", networks, dtype=torch.float16)
    mixed = checkpoint.save(tmp_path / "mixed.safetensors", networks, dtype={"fill": torch.int8, "restore": torch.float16})
    assert mixed.stat().st_size < half.stat().st_size
    with safe_open(str(mixed), framework="pt") as f:
        assert f.metadata()["format_version"] == checkpoint.QUANTIZED_FORMAT_VERSION
        assert f.get_tensor("fill.stem.weight").dtype == torch.int8 and f.get_tensor("fill.stem.bias").dtype == torch.float16
        assert f.get_tensor("restore.stem.weight").dtype == torch.float16
    loaded, _ = checkpoint.load(mixed)
    for key, w in networks["fill"].state_dict().items():
        q = loaded["fill"].state_dict()[key]
        step = w.abs().flatten(1).amax(dim=1).reshape(-1, *[1] * (w.dim() - 1)) / 127 if w.dim() >= 2 else 1e-3 * w.abs()
        assert (q - w).abs().le(step / 2 + 1e-6).all(), key
    restore_half = checkpoint.load(half)[0]["restore"].state_dict()
    assert all(torch.equal(v, loaded["restore"].state_dict()[k]) for k, v in restore_half.items())
    x, m = torch.rand(1, 3, 16, 16), (torch.rand(1, 1, 16, 16) > 0.5).float()
    with torch.no_grad():
        assert torch.allclose(loaded["fill"](x, m), networks["fill"](x, m), atol=0.02)


def test_quantized_weight_without_its_scale_is_a_clear_error(tmp_path, tiny_model):
    path = checkpoint.save(tmp_path / "q.safetensors", {"fill": tiny_model}, dtype=torch.int8)
    with safe_open(str(path), framework="pt") as f:
        tensors, meta = {k: f.get_tensor(k) for k in f.keys()}, f.metadata()
    scale = next(k for k in tensors if k.endswith(checkpoint.SCALE_SUFFIX))
    weight = scale.removesuffix(checkpoint.SCALE_SUFFIX)
    for broken, message in (({k: v for k, v in tensors.items() if k != scale}, "lacks a scale"),
                            ({**tensors, weight: torch.zeros(tensors[weight].shape)}, "scales without an int8 weight")):
        bad = tmp_path / "bad.safetensors"
        save_file(broken, str(bad), metadata=meta)
        with pytest.raises(CheckpointError, match=message):
            checkpoint.load(bad)


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
