"""Model and training configuration as plain dataclasses.

Both are saved as JSON: the model config inside every checkpoint (so a checkpoint alone
rebuilds its model), the training config beside each run and inside the checkpoint it
produces (so a result can be traced to the command that made it).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any


def _to_dict(obj) -> dict[str, Any]:
    """A frozen config as JSON-safe values (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(obj).items()}


def _from_dict(cls, data: dict[str, Any]):
    """Build a dataclass from a dict, refusing unknown keys and restoring tuples."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__} must be a JSON object, got {type(data).__name__}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {', '.join(unknown)}")
    kwargs = {}
    for key, value in data.items():
        default = names[key].default
        if default is dataclasses.MISSING and names[key].default_factory is not dataclasses.MISSING:
            default = names[key].default_factory()
        kwargs[key] = tuple(value) if isinstance(value, list) and isinstance(default, tuple) else value
    return cls(**kwargs)


TASKS = ("fill", "restore")
PIXEL_LOSSES = ("l1", "psnr")
PREFILLS = ("telea", "telea_ns", "telea_ns_band", "coarse", "zeros")  # aeapp/prefill.py


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the repair autoencoder (see aeapp/model.py)."""

    # The first layer folds unshuffle x unshuffle pixel blocks into channels (FFDNet-style)
    # so no wide convolution runs at full resolution (only the optional refinement head, 16
    # channels): that is what keeps a megapixel repair interactive on a CPU.
    unshuffle: int = 4
    # Channels at each encoder level; level i runs at 1 / (unshuffle * 2**i) resolution.
    widths: tuple[int, ...] = (64, 128, 192)
    # Residual blocks per level in the encoder and in the decoder.
    encoder_blocks: tuple[int, ...] = (2, 2, 2)
    decoder_blocks: tuple[int, ...] = (2, 2, 2)
    # Fourier blocks (LaMa's FFC idea) at the coarsest level: a global receptive field
    # for holes a third of the image wide.
    global_blocks: int = 2
    # Dilations cycled through the coarsest level's residual blocks.
    bottleneck_dilations: tuple[int, ...] = (1, 2, 4)
    # Channels of the latent code at the coarsest level.
    latent_channels: int = 64
    # Channels of a small full-resolution head that refines the decoder's output from the
    # output, the input and the mask (0: none). Everything else runs at 1/unshuffle of the
    # side or less, and with 4x4 the pixels next to a hole's edge came out worse than a
    # classical interpolation of their known neighbours; this head sees them at full
    # resolution.
    refine_channels: int = 0
    # Restore networks only: the fourth input channel holds the image's estimated noise
    # level (aeapp/noise_level.py) instead of the mask, which is empty when restoring.
    # Told the noise strength, the network need not infer it from how photographs it was
    # trained on look, which is what fails on other kinds of photographs (FFDNet's noise map,
    # estimated so the user still gives nothing).
    noise_level_input: bool = False

    def __post_init__(self):
        levels = len(self.widths)
        if levels < 1 or any(int(w) <= 0 for w in self.widths):
            raise ValueError("widths must be a non-empty list of positive integers")
        if len(self.encoder_blocks) != levels or len(self.decoder_blocks) != levels:
            raise ValueError("encoder_blocks and decoder_blocks need one entry per width")
        if self.unshuffle < 1 or self.latent_channels < 1 or self.global_blocks < 0:
            raise ValueError("unshuffle and latent_channels must be positive")
        if self.refine_channels < 0:
            raise ValueError("refine_channels must be 0 (no refinement head) or positive")

    @property
    def stride(self) -> int:
        """Input sides must be a multiple of this (the engine pads to it)."""
        return self.unshuffle * 2 ** (len(self.widths) - 1)

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        return _from_dict(cls, data)


@dataclass(frozen=True)
class InferenceConfig:
    """How a trained network is run, apart from its architecture: what it finds in the holes
    on its first pass and where latent noise goes. Training uses the same settings (the
    data pipeline prefills, training noises these levels); packing a checkpoint may change
    them without touching the weights (`train.ship`), and an engine may override them."""

    # Encoder levels (counted from the finest, 0) whose skip features receive latent noise
    # along with the code. Training perturbs these (so noisy latents decode to natural
    # images); the shipped restore network adds the 1/4-resolution skips at inference, where
    # the decoder has not learned to ignore noise, so that variants differ visibly.
    noisy_skip_levels: tuple[int, ...] = (1,)
    # What the fill network finds in the holes on its first pass (see aeapp/prefill.py):
    # "telea" (OpenCV's fast-marching inpainting, which the network then refines),
    # "telea_ns" (the mean of Telea's and Navier-Stokes' fills: the shipped fill network was
    # trained on "telea" and does better from this start, measured on CBSD432),
    # "telea_ns_band" (that mean with its outer band of 6 pixels a third of the way to a
    # biharmonic solve: the same network does better again), "coarse"
    # (local averages of the known pixels) or "zeros".
    prefill: str = "telea"

    def __post_init__(self):
        if self.prefill not in PREFILLS:
            raise ValueError(f"prefill must be one of {', '.join(PREFILLS)}, got {self.prefill!r}")

    def check(self, model: ModelConfig) -> None:
        """Refuse skip levels that the architecture does not have."""
        if any(not 0 <= i < len(model.widths) - 1 for i in self.noisy_skip_levels):
            raise ValueError("noisy_skip_levels must name skip levels (0 .. len(widths) - 2)")

    def to_dict(self) -> dict[str, Any]:
        return _to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "InferenceConfig":
        return _from_dict(cls, data)


@dataclass
class TrainConfig:
    """Everything a training run needs; parsed from train.py's command line."""

    data: str = ""  # folder of training images (searched recursively); required
    # Validation sets, each a folder optionally followed by [start:stop] (which of its images,
    # sorted by name); none: no validation. The recipe (train/recipe.toml) validates on
    # BSDS500's test set and half of Urban100, so a network that learns BSDS500's photographs
    # rather than the task shows.
    val_data: tuple[str, ...] = ()
    out: str = "runs/default"  # run directory: config, logs, state, checkpoints
    model: ModelConfig = field(default_factory=ModelConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    seed: int = 0
    # Start from this checkpoint's weights for `task` (a fine-tune: fresh optimiser and
    # schedule); the architecture flags must match it, but for a refinement head added or
    # widened (`refine_channels`) or Fourier blocks appended (`global_blocks`, starting as
    # the identity). Ignored when the run resumes.
    init_from: str = ""
    # With `init_from`: train only what the source lacks (appended Fourier blocks, an added
    # or widened refinement head), the rest frozen, so new capacity learns at its own rate
    # without moving what is trained.
    train_new_only: bool = False
    steps: int = 100_000  # stop after this many optimiser steps ...
    minutes: float = 0.0  # ... or after this many minutes of wall clock (0 = no limit)
    batch_size: int = 16  # per process
    crop: int = 128
    # When above `crop`, each batch draws its crop side from crop..crop_max (multiples of the
    # model's stride) and scales its batch to keep the pixels per step about constant: the
    # Fourier blocks then see maps of many sizes, as they do on users' whole images.
    crop_max: int = 0
    lr: float = 5e-4  # higher (1e-3) diverges: no normalisation layers
    min_lr: float = 1e-5
    warmup_steps: int = 500
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    # The cosine schedule spans `steps`; with a wall-clock budget, the step count the budget
    # allows is re-estimated every `schedule_every` steps and the schedule shrunk to fit.
    schedule_every: int = 100
    # Which network to train: "fill" learns to fill holes (loss inside the holes only; the
    # known pixels are put back by the composite), "restore" learns blind denoising.
    # They are separate networks because their gradients fight in a shared one: large,
    # coherent hole errors take over Adam's statistics and denoising stops learning.
    task: str = "fill"
    max_sigma: float = 55.0  # noise sigma on the 0..255 scale, drawn uniformly from [0, max]
    # restore: weight each sample's loss by c / (sigma + c), sigma its noise level and c this
    # value (0..255 scale; 0 = equal weights). A plain L1 is dominated by the large errors of
    # strong noise, so a blind denoiser neglects light noise (and blurs clean photos);
    # relative weights balance the noise levels in dB, the scale PSNR measures.
    sigma_weight_offset: float = 0.0
    # restore: fraction of samples degraded as cameras degrade photos (aeapp/realistic_noise.py:
    # signal-dependent and spatially correlated noise, JPEG, in random order) rather than by
    # white Gaussian noise.
    realistic_noise_prob: float = 0.0
    p_noisy_context: float = 0.25  # fill: fraction of samples whose known pixels are noisy
    # fill: relative odds of thin strokes, thick strokes, boxes and scratches in the hole
    # mixture (aeapp.damage.MASK_KINDS order); a fine-tune can lean on the kinds it lacks.
    mask_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)
    fft_weight: float = 0.05  # weight of the L1 loss between amplitude spectra
    # "l1": mean absolute error over the pixels that count. "psnr": each sample's mean squared
    # error weighted by the inverse of its own (detached) value, the gradient of the mean
    # log-MSE: it optimises the mean PSNR the benchmark reports, so a thin scratch's small
    # error counts as much in dB as a box's large one.
    pixel_loss: str = "l1"
    refine_prob: float = 0.15  # fill: fraction of steps that teach refinement (holes pre-filled)
    latent_noise_prob: float = 0.3  # fraction of samples whose latent gets noise
    latent_noise_max: float = 1.0  # strength drawn uniformly from [0, max]
    # Noises drawn per noisy sample, of which the one whose output is closest to the clean
    # image trains (implicit maximum likelihood estimation, Li and Malik 2018). With one, the
    # loss averages over noises and teaches the decoder to ignore them; with several, different
    # noises learn to give different plausible fills.
    latent_noise_draws: int = 1
    val_images: int = 16  # whole images per validation set, each damaged once per kind with a fixed seed
    val_every: int = 1000
    save_every: int = 500
    log_every: int = 50
    workers: int = 0  # DataLoader worker processes
    device: str = "auto"
    amp: bool = True  # bfloat16 autocast on CUDA and on CPUs with native bfloat16 (aeapp.device)
    channels_last: bool = True
    compile: bool = False

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.pixel_loss not in PIXEL_LOSSES:
            raise ValueError(f"pixel_loss must be one of {', '.join(PIXEL_LOSSES)}, got {self.pixel_loss!r}")
        weights = tuple(float(w) for w in self.mask_weights)
        if len(weights) != 4 or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(
                "mask_weights must be four non-negative odds (thin, thick, boxes, scratches) "
                f"that are not all zero, got {self.mask_weights!r}"
            )
        self.mask_weights = weights
        if self.latent_noise_draws < 1:
            raise ValueError(f"latent_noise_draws must be at least 1, got {self.latent_noise_draws}")
        if self.model.noise_level_input and self.task != "restore":
            raise ValueError("model noise_level_input is for the restore network: the fill network's fourth channel is the mask")
        if not 0.0 <= self.realistic_noise_prob <= 1.0:
            raise ValueError(f"realistic_noise_prob must be between 0 and 1, got {self.realistic_noise_prob}")
        if not self.data:
            raise ValueError("data is required: the folder of training images")
        self.val_data = tuple(self.val_data)
        if self.train_new_only and not self.init_from:
            raise ValueError("train_new_only needs init_from: the network whose new parts are trained")
        self.inference.check(self.model)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["model"] = self.model.to_dict()
        data["inference"] = self.inference.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        data = dict(data)
        model = ModelConfig.from_dict(data.pop("model", {}))
        inference = InferenceConfig.from_dict(data.pop("inference", {}))
        return _from_dict(cls, {**data, "model": model, "inference": inference})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)
