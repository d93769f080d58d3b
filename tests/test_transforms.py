"""aeapp.transforms.LatentNoise: every input kind a v2 pipeline carries, seeding, pickling."""

import pickle

import numpy as np
import PIL.Image
import pytest
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from aeapp.engine import get_engine
from aeapp.transforms import LatentNoise

from .conftest import make_photo


@pytest.fixture
def noise(tiny_checkpoint):
    return LatentNoise(strength=(2.0, 3.0), p=1.0, checkpoint=str(tiny_checkpoint), dtype="float32")


def _float_image(seed=0):
    return torch.from_numpy(make_photo(32, 48, seed=seed)).permute(2, 0, 1).contiguous()


def test_vary_batch_gives_what_vary_gives_for_one_image(tiny_checkpoint):
    engine = get_engine(str(tiny_checkpoint), device="cpu", dtype="float32")
    photo = make_photo(32, 48)
    batch = engine.vary_batch(torch.from_numpy(photo).permute(2, 0, 1)[None], 2.5, seed=7)
    assert torch.equal(batch[0].permute(1, 2, 0), torch.from_numpy(engine.vary(photo, 2.5, 1, seed=7)[0]))


def test_float_uint8_and_batches_keep_type_dtype_and_shape(noise):
    x = _float_image()
    for inpt in (x, x.double(), (x * 255).round().to(torch.uint8), torch.stack([x, _float_image(1)])):
        out = noise(inpt)
        assert type(out) is torch.Tensor and out.dtype == inpt.dtype and out.shape == inpt.shape
        assert not torch.equal(out, inpt)  # p=1: every image varied


def test_pil_images_come_back_as_pil_images_of_the_same_mode(noise):
    rgb = PIL.Image.fromarray((make_photo(32, 48) * 255).astype(np.uint8))
    for image in (rgb, rgb.convert("L")):
        out = noise(image)
        assert isinstance(out, PIL.Image.Image) and out.mode == image.mode and out.size == image.size
        assert not np.array_equal(np.asarray(out), np.asarray(image))


def test_transparency_is_kept_while_the_colours_vary(noise):
    rgb = (make_photo(32, 48) * 255).astype(np.uint8)
    alpha = np.zeros((32, 48), np.uint8)
    alpha[8:24, 10:40] = 255
    rgba = PIL.Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    out = noise(rgba)
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out)[..., 3], alpha)
    assert not np.array_equal(np.asarray(out)[..., :3], rgb)
    tensor = torch.from_numpy(np.dstack([rgb, alpha])).permute(2, 0, 1).contiguous()
    varied = noise(tensor)
    assert varied.shape == (4, 32, 48) and torch.equal(varied[3], tensor[3]) and not torch.equal(varied[:3], tensor[:3])


def test_the_readmes_pipeline_runs_on_photos_and_its_batches_collate(tiny_checkpoint, monkeypatch):
    """The README's snippet as a user pastes it: PIL photos in, float tensors a DataLoader
    stacks out (the shipped checkpoint swapped for the tiny one, for speed)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("## Augmentation for training"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.setattr("aeapp.checkpoint.DEFAULT_CHECKPOINT", tiny_checkpoint)
    scope: dict = {}
    exec(code, scope)  # noqa: S102 - the README's own code
    photos = [PIL.Image.fromarray((make_photo(240, 260, seed=i) * 255).astype(np.uint8)) for i in range(3)]

    class Photos(Dataset):
        def __len__(self):
            return len(photos)

        def __getitem__(self, i):
            return scope["train_tf"](photos[i]), i

    images, labels = next(iter(DataLoader(Photos(), batch_size=3)))
    assert images.shape == (3, 3, 224, 224) and images.dtype == torch.float32 and labels.tolist() == [0, 1, 2]


def test_boxes_masks_and_labels_pass_through_untouched(noise):
    image = tv_tensors.Image(_float_image())
    boxes = tv_tensors.BoundingBoxes([[2, 3, 20, 30]], format="XYXY", canvas_size=(32, 48))
    mask = tv_tensors.Mask(torch.zeros(32, 48, dtype=torch.uint8))
    out = noise({"image": image, "boxes": boxes, "mask": mask, "label": 3})
    assert isinstance(out["image"], tv_tensors.Image) and not torch.equal(out["image"], image)
    assert out["boxes"] is boxes and out["mask"] is mask and out["label"] == 3


def test_a_seed_reproduces_the_draw_and_p_picks_images_in_a_batch(tiny_checkpoint):
    half = LatentNoise(strength=3.0, p=0.5, checkpoint=str(tiny_checkpoint), dtype="float32")
    batch = torch.stack([_float_image(i) for i in range(8)])
    torch.manual_seed(0)
    first = half(batch)
    torch.manual_seed(0)
    assert torch.equal(half(batch), first)
    torch.manual_seed(1)
    assert not torch.equal(half(batch), first)
    kept = [torch.equal(a, b) for a, b in zip(first, batch)]
    assert 0 < sum(kept) < 8  # some images varied, the rest exactly as they were


def test_p_zero_is_the_identity_and_bad_settings_are_refused(tiny_checkpoint):
    x = _float_image()
    assert LatentNoise(p=0.0, checkpoint=str(tiny_checkpoint))(x) is x
    for kwargs in ({"strength": (3.0, 1.0)}, {"strength": 6.0}, {"p": 1.5}):
        with pytest.raises(ValueError):
            LatentNoise(**kwargs)


def test_it_pickles_and_composes(noise):
    again = pickle.loads(pickle.dumps(noise))
    x = _float_image()
    torch.manual_seed(4)
    a = noise(x)
    torch.manual_seed(4)
    assert torch.equal(again(x), a)
    pipeline = v2.Compose([v2.RandomHorizontalFlip(p=1.0), again, v2.ToDtype(torch.float32, scale=True)])
    assert pipeline(x).shape == x.shape


class _Photos(Dataset):
    def __init__(self, transform):
        self.transform = transform

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return self.transform(_float_image(0))


def test_dataloader_workers_draw_differently(tiny_checkpoint):
    tf = LatentNoise(strength=(1.0, 4.0), p=1.0, checkpoint=str(tiny_checkpoint), dtype="float32")
    torch.manual_seed(0)
    out = torch.cat(list(DataLoader(_Photos(tf), batch_size=1, num_workers=2)))
    assert not torch.equal(out[0], out[1])  # the same photo, two workers: two different variants
