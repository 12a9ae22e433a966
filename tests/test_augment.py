"""imcpnn.augment: flips, crops and rotations of image batches (seeded, deterministic on CPU), and their use in
training (TrainConfig.augment)."""

from __future__ import annotations

import pytest
import torch

from imcpnn import augment as A
from imcpnn import train
from imcpnn.train import TrainConfig


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(b: int = 6, c: int = 3, h: int = 12, w: int = 12, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, c, h, w, generator=gen(seed + 100))


def test_hflip_probability_extremes_and_mixture():
    x = images()
    assert torch.equal(A.hflip(x, gen(), p=1.0), x.flip(-1))
    assert torch.equal(A.hflip(x, gen(), p=0.0), x)
    y = A.hflip(images(64), gen(3))
    flipped = [bool(torch.equal(y[i], images(64)[i].flip(-1))) for i in range(64)]
    assert 16 < sum(flipped) < 48  # p = 1/2 over 64 images (binomial: outside this range with prob < 1e-4)


def test_random_crop_is_a_zero_filled_integer_shift():
    x, pad = images(8), 2
    y = A.random_crop(x, gen(1), pad)
    assert y.shape == x.shape
    xp = torch.nn.functional.pad(x, (pad,) * 4)
    shifts = []
    for i in range(len(x)):
        hits = [
            (dy, dx)
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
            if torch.equal(y[i], xp[i, :, dy : dy + 12, dx : dx + 12])
        ]
        assert hits, i
        shifts.append(hits[0])
    assert len(set(shifts)) > 1  # not the same shift for every image
    assert torch.equal(A.random_crop(x, gen(1), 0), x)


def test_rotation_identity_limit_range_and_centre():
    x = images()
    assert torch.equal(A.random_rotation(x, gen(), 0.0), x)
    assert torch.allclose(A.random_rotation(x, gen(), 1e-7), x, atol=1e-5)
    ones = torch.ones(32, 1, 9, 9)
    y = A.random_rotation(ones, gen(2), 30.0)
    assert ((y >= 0) & (y <= 1 + 1e-6)).all()
    assert torch.allclose(y[:, :, 4, 4], torch.ones(32), atol=1e-5)  # the centre pixel stays inside
    assert (y[:, :, 0, 0] < 0.999).float().mean() > 0.8  # corners rotate out (filled with 0) for most angles


def test_augment_batch_is_seeded_deterministic_and_bounded():
    x = images(16)
    a, b, c = A.augment_batch(x, gen(5)), A.augment_batch(x, gen(5)), A.augment_batch(x, gen(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1 + 1e-6
    assert A.default_pad(32) == 4 and A.default_pad(28) == 3
    before = torch.get_rng_state()
    A.augment_batch(x, gen(7))
    assert torch.equal(before, torch.get_rng_state())  # the global RNG stream is untouched


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: A.hflip(torch.rand(2, 3, 4), gen()), "x must"),
        (lambda: A.hflip(torch.rand(2, 1, 4, 4), gen(), p=1.5), "p must"),
        (lambda: A.random_crop(torch.rand(2, 1, 4, 4), gen(), -1), "pad must"),
        (lambda: A.random_rotation(torch.rand(2, 1, 4, 4), gen(), 200.0), "degrees must"),
        (lambda: A.random_crop(torch.rand(2, 1, 4, 4), None, 1), "generator must"),
        (lambda: A.augment_batch(torch.zeros(2, 1, 4, 4, dtype=torch.long), gen()), "x must"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _epoch(config: TrainConfig, x, y) -> tuple[float, torch.Tensor]:
    torch.manual_seed(0)
    model = train.build_model(config)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss, _ = train.train_epoch(model, opt, x, y, config, 1, device=torch.device("cpu"))
    return loss, torch.cat([p.detach().flatten() for p in model.parameters()])


def test_training_with_augment_is_deterministic_and_differs_from_plain():
    torch.set_num_threads(1)
    g = gen(9)
    x, y = torch.rand(32, 1, 28, 28, generator=g), torch.randint(0, 10, (32,), generator=g)
    cfg = TrainConfig(
        dataset="fmnist",
        model="vgg7",
        width=0.0625,
        batch_size=16,
        epochs=1,
        lr=1e-3,
        steps=2,
        test_steps=2,
        augment=True,
    )
    l1, w1 = _epoch(cfg, x, y)
    l2, w2 = _epoch(cfg, x, y)
    l3, w3 = _epoch(cfg.replace(augment=False), x, y)
    assert l1 == l2 and torch.equal(w1, w2)
    assert not torch.equal(w1, w3)
    with pytest.raises(ValueError, match="augment must"):
        cfg.replace(augment=1)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_device_path_runs_on_meta_tensors():
    """The CUDA path (random numbers drawn on the CPU generator, then moved to the images' device) on ``meta``
    tensors: shapes and device are kept without a GPU."""
    x = torch.empty(4, 3, 32, 32, device="meta")
    y = A.augment_batch(x, gen(0))
    assert y.shape == x.shape and y.device.type == "meta"
