import dataclasses

import pytest
import torch

from aeapp.model import ConvAutoencoder, FourierUnit

from .conftest import TINY, make_headed_model, make_tiny_model


@pytest.mark.parametrize("h,w", [(8, 8), (16, 24), (32, 12)])
def test_output_shape_matches_input(tiny_model, h, w):
    x = torch.rand(2, 3, h, w)
    m = torch.zeros(2, 1, h, w)
    assert tiny_model(x, m).shape == (2, 3, h, w)


def test_latent_shapes_follow_the_config(tiny_model):
    lat = tiny_model.encode(torch.rand(1, 3, 16, 24), torch.zeros(1, 1, 16, 24))
    assert lat.code.shape == (1, TINY.latent_channels, 16 // TINY.stride, 24 // TINY.stride)
    assert [s.shape[1] for s in lat.skips] == list(TINY.widths[:-1])


def test_forward_is_decode_of_encode(tiny_model):
    x, m = torch.rand(1, 3, 16, 16), (torch.rand(1, 1, 16, 16) > 0.7).float()
    with torch.no_grad():
        assert torch.equal(tiny_model(x, m), tiny_model.decode(tiny_model.encode(x, m)))


def test_latent_noise_is_seeded_and_scaled(tiny_model):
    x, m = torch.rand(1, 3, 16, 16), torch.zeros(1, 1, 16, 16)
    with torch.no_grad():
        lat = tiny_model.encode(x, m)
        a = tiny_model.add_latent_noise(lat, 1.0, torch.Generator().manual_seed(3))
        b = tiny_model.add_latent_noise(lat, 1.0, torch.Generator().manual_seed(3))
        c = tiny_model.add_latent_noise(lat, 1.0, torch.Generator().manual_seed(4))
        zero = tiny_model.add_latent_noise(lat, 0.0, torch.Generator().manual_seed(4))
    assert torch.equal(a.code, b.code) and not torch.equal(a.code, c.code)
    assert torch.equal(zero.code, lat.code)
    # Strength 1 adds noise with the latent's own per-channel spread.
    added = (a.code - lat.code).std(dim=(2, 3))
    spread = lat.code.std(dim=(2, 3))
    assert torch.allclose(added.mean(), spread.mean(), rtol=0.6)
    # The finest skip is named noisy in TINY; every other tensor is untouched.
    assert not torch.equal(a.skips[0], lat.skips[0])


def test_per_sample_strength_leaves_zero_strength_samples_alone(tiny_model):
    x, m = torch.rand(2, 3, 16, 16), torch.zeros(2, 1, 16, 16)
    with torch.no_grad():
        lat = tiny_model.encode(x, m)
        noisy = tiny_model.add_latent_noise(lat, torch.tensor([0.0, 1.0]))
    assert torch.equal(noisy.code[0], lat.code[0])
    assert not torch.equal(noisy.code[1], lat.code[1])


def test_fourier_unit_handles_odd_sizes_and_is_global():
    torch.manual_seed(0)
    fu = FourierUnit(4)
    x = torch.rand(1, 4, 7, 9)
    x2 = x.clone()
    x2[..., 0, 0] += 1.0
    with torch.no_grad():
        y, y2 = fu(x), fu(x2)
    assert y.shape == x.shape
    # A change at one corner reaches the opposite corner: a global receptive field.
    assert (y2[..., -1, -1] - y[..., -1, -1]).abs().sum() > 1e-4


def test_fresh_model_is_the_identity_on_known_pixels():
    # Zero-initialised heads: an untrained model returns its input, a safe starting point.
    model = ConvAutoencoder(TINY).eval()
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(model(x, torch.zeros(1, 1, 8, 8)), x)


def test_training_step_reduces_loss():
    torch.manual_seed(0)
    model = make_tiny_model()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(4, 3, 16, 16)
    m = torch.zeros(4, 1, 16, 16)
    losses = []
    for _ in range(20):
        loss = (model(x, m) - x).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_refinement_head_starts_as_the_identity_and_then_acts_at_full_resolution():
    base = make_tiny_model()
    refined = ConvAutoencoder(dataclasses.replace(TINY, refine_channels=4)).eval()
    missing, unexpected = refined.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("refine.") for k in missing)
    x, m = torch.rand(1, 3, 16, 16), (torch.rand(1, 1, 16, 16) > 0.7).float()
    with torch.no_grad():
        assert torch.equal(refined(x, m), base.eval()(x, m))  # a fresh head adds nothing
        for p in refined.refine.parameters():
            p.normal_(0.0, 0.15)
        # The head sees the mask at full resolution: one changed mask pixel changes the
        # output only within the head's 7x7 reach once the decoder's input is the same.
        lat = refined.encode(x, m)
        other = dataclasses.replace(lat, mask=lat.mask.clone())
        other.mask[..., 8, 8] = 1 - other.mask[..., 8, 8]
        diff = (refined.decode(lat) - refined.decode(other)).abs().sum(1)[0]
    assert diff[8, 8] > 0
    assert diff[:5].sum() == 0 and diff[12:].sum() == 0 and diff[:, :5].sum() == 0 and diff[:, 12:].sum() == 0


def test_latent_noise_keeps_the_mask_for_the_refinement_head():
    model = ConvAutoencoder(dataclasses.replace(TINY, refine_channels=4)).eval()
    x, m = torch.rand(1, 3, 16, 16), torch.ones(1, 1, 16, 16)
    with torch.no_grad():
        lat = model.encode(x, m)
        noisy = model.add_latent_noise(lat, 1.0, torch.Generator().manual_seed(0))
        assert noisy.mask is lat.mask and noisy.input is lat.input
        assert model.decode(noisy).shape == x.shape


@pytest.mark.parametrize("h,w", [(40, 72), (64, 64), (8, 200)])
def test_head_on_blocks_with_holes_gives_the_whole_images_output_in_the_holes(h, w):
    model = make_headed_model()
    x, m = torch.rand(2, 3, h, w), torch.zeros(2, 1, h, w)
    m[0, :, :3, :5] = 1  # the image's corner
    m[0, :, h - 2 :, w // 2 : w // 2 + 3] = 1  # its bottom edge
    m[1, :, h // 2, -4:] = 1  # its right edge, in the other image of the batch
    with torch.no_grad():
        lat = model.encode(x, m)
        whole, blocks = model.decode(lat), model.decode(lat, holes_only=True)
    holes = m.bool().expand_as(whole)
    torch.testing.assert_close(blocks[holes], whole[holes], rtol=0, atol=1e-5)  # summation order only
    assert not torch.allclose(blocks, whole)  # blocks without holes were skipped


def test_head_runs_on_the_whole_image_when_most_blocks_hold_holes():
    model = make_headed_model()
    x, m = torch.rand(1, 3, 64, 64), (torch.rand(1, 1, 64, 64) > 0.9).float()
    with torch.no_grad():
        lat = model.encode(x, m)
        assert torch.equal(model.decode(lat, holes_only=True), model.decode(lat))
