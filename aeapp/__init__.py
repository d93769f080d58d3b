"""aeapp: image repair and augmentation with a convolutional autoencoder.

    import aeapp
    engine = aeapp.load_engine()              # the shipped checkpoint, CUDA if present
    fixed = engine.repair("photo.jpg", mask="mask.png")
    variants = engine.vary("photo.jpg", strength=1.0, count=4, seed=0)

Names are imported on first use, so `python -m aeapp --help` does not wait for torch.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "DEFAULT_CHECKPOINT": "checkpoint",
    "CheckpointError": "checkpoint",
    "ModelConfig": "config",
    "TrainConfig": "config",
    "Engine": "engine",
    "EncodedImage": "engine",
    "get_engine": "engine",
    "load_image": "image_io",
    "save_image": "image_io",
    "ConvAutoencoder": "model",
    "Latent": "model",
}
__all__ = [*_EXPORTS, "load_engine", "__version__"]


def __getattr__(name):
    if name == "load_engine":
        name = "get_engine"
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'aeapp' has no attribute {name!r}")
