import pytest
import torch

from aeapp.padding import pad_amounts, pad_to_multiple, unpad


@pytest.mark.parametrize("h,w", [(1, 1), (5, 7), (16, 16), (17, 33), (3, 40)])
def test_pad_then_unpad_restores_exactly(h, w):
    x = torch.rand(1, 3, h, w)
    padded, size = pad_to_multiple(x, 16)
    assert padded.shape[-2] % 16 == 0 and padded.shape[-1] % 16 == 0
    assert size == (h, w)
    assert torch.equal(unpad(padded, size), x)


def test_reflect_padding_continues_the_image():
    x = torch.arange(12.0).reshape(1, 1, 3, 4)
    padded, _ = pad_to_multiple(x, 4)
    assert torch.equal(padded[0, 0, 3], x[0, 0, 1])  # row 3 mirrors row 1


def test_pad_amounts():
    assert pad_amounts(481, 321, 16) == (15, 15)
    assert pad_amounts(32, 48, 16) == (0, 0)
