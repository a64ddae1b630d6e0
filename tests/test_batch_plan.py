"""The shared batch plan, and that both backends turn it into the very same batch."""

import numpy as np
import pytest

from shared.batch_plan import PAD, augment, epoch_plan, train_batch


def naive_augment(image, dy, dx, flip, pad=PAD, reflect=False):
    """Reference: one image at a time, the textbook way (a reflected border: pixel -k is pixel k)."""
    padded = np.zeros((32 + 2 * pad, 32 + 2 * pad, 3), np.uint8)
    for r in range(-pad, 32 + pad):
        for c in range(-pad, 32 + pad):
            if reflect:
                padded[r + pad, c + pad] = image[31 - abs(31 - abs(r)), 31 - abs(31 - abs(c))]
            elif 0 <= r < 32 and 0 <= c < 32:
                padded[r + pad, c + pad] = image[r, c]
    crop = padded[dy:dy + 32, dx:dx + 32]
    return crop[:, ::-1] if flip else crop


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (64, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, 64)


def test_same_seed_same_plan_other_seed_other_plan():
    a, b, c = epoch_plan(7, 1, 1000), epoch_plan(7, 1, 1000), epoch_plan(8, 1, 1000)
    for field in ("order", "crop_dy", "crop_dx", "flip"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.order, c.order)
    assert not np.array_equal(a.order, epoch_plan(7, 2, 1000).order)


def test_plan_draws_are_in_range_and_balanced():
    plan = epoch_plan(0, 1, 10000)
    assert sorted(plan.order.tolist()) == list(range(10000))
    assert plan.crop_dy.min() == 0 and plan.crop_dy.max() == 2 * PAD
    assert 0.45 < plan.flip.mean() < 0.55


def test_no_augmentation_is_identity(images):
    x, _ = images
    plan = epoch_plan(0, 1, len(x), crop=False, flip=False)
    np.testing.assert_array_equal(augment(x, plan.crop_dy, plan.crop_dx, plan.flip), x)


def test_batch_augment_equals_per_image_reference(images):
    x, _ = images
    plan = epoch_plan(3, 1, len(x))
    got = augment(x, plan.crop_dy, plan.crop_dx, plan.flip)
    want = np.stack([naive_augment(x[i], plan.crop_dy[i], plan.crop_dx[i], plan.flip[i]) for i in range(len(x))])
    np.testing.assert_array_equal(got, want)


def test_reflect_padding_crops_equal_the_per_image_reference(images):
    x, _ = images
    plan = epoch_plan(4, 1, len(x), pad=2, padding_mode="reflect")
    assert plan.crop_dy.max() == 4 and plan.pad == 2
    got = augment(x, plan.crop_dy, plan.crop_dx, plan.flip, plan.pad, plan.padding_mode)
    want = np.stack([naive_augment(x[i], plan.crop_dy[i], plan.crop_dx[i], plan.flip[i], pad=2, reflect=True)
                     for i in range(len(x))])
    np.testing.assert_array_equal(got, want)


def test_default_plans_are_the_draws_they_always_were():
    """Stored runs stay reproducible: order, then crops, then flips, from the (seed, epoch) stream."""
    rng = np.random.default_rng([7, 3])
    order = rng.permutation(500)
    dy, dx = rng.integers(0, 2 * PAD + 1, size=(2, 500))
    flips = rng.random(500) < 0.5
    plan = epoch_plan(7, 3, 500)
    for got, want in ((plan.order, order), (plan.crop_dy, dy), (plan.crop_dx, dx), (plan.flip, flips)):
        np.testing.assert_array_equal(got, want)


def by_image(plan):
    """The plan's flips indexed by image instead of by position in the epoch's order."""
    flips = np.empty_like(plan.flip)
    flips[plan.order] = plan.flip
    return flips


def test_alternating_flip_mirrors_each_image_every_other_epoch():
    first, second, third = (by_image(epoch_plan(2, e, 1000, alternating_flip=True)) for e in (1, 2, 3))
    assert 0.45 < first.mean() < 0.55
    np.testing.assert_array_equal(second, ~first)
    np.testing.assert_array_equal(third, first)
    # Drawn from the seed alone (a resumed run gets the same), and another seed's half differs.
    np.testing.assert_array_equal(by_image(epoch_plan(2, 3, 1000, alternating_flip=True)), first)
    assert not np.array_equal(by_image(epoch_plan(3, 1, 1000, alternating_flip=True)), first)
    assert not epoch_plan(2, 1, 1000, flip=False, alternating_flip=True).flip.any()


def test_batches_follow_the_plan_and_drop_the_partial_one(images):
    x, y = images
    plan = epoch_plan(1, 1, len(x))
    slices = plan.batch_slices(24)
    assert [(s.start, s.stop) for s in slices] == [(0, 24), (24, 48)]
    xb, yb = train_batch(x, y, plan, slices[1])
    np.testing.assert_array_equal(yb, y[plan.order[24:48]])
    np.testing.assert_array_equal(xb[0], naive_augment(x[plan.order[24]], plan.crop_dy[24], plan.crop_dx[24], plan.flip[24]))


def test_pytorch_and_keras_build_identical_batches(images):
    """The same planned batch through pytorch_impl.data and tensorflow_impl.data: same pixels."""
    import tensorflow_impl  # noqa: F401
    from pytorch_impl.data import to_batch as torch_batch
    from tensorflow_impl.data import to_batch as keras_batch

    x, y = images
    plan = epoch_plan(5, 2, len(x))
    xb, _ = train_batch(x, y, plan, plan.batch_slices(32)[0])
    from_torch = torch_batch(xb).permute(0, 2, 3, 1).numpy()     # NCHW → NHWC
    from_keras = keras_batch(xb).numpy()
    assert from_torch.dtype == from_keras.dtype == np.float32
    np.testing.assert_array_equal(from_torch, from_keras)


@pytest.mark.parametrize("size", [224, 64])
def test_pytorch_and_keras_resize_identically(images, size):
    """The imagenet variants read 224×224: both backends resize the augmented 32×32 batch
    bilinearly (half-pixel centres, no antialiasing) before normalising, to within 1e-5."""
    import tensorflow_impl  # noqa: F401
    from pytorch_impl.data import to_batch as torch_batch
    from tensorflow_impl.data import to_batch as keras_batch

    x, _ = images
    from_torch = torch_batch(x[:8], size=size).permute(0, 2, 3, 1).numpy()
    from_keras = keras_batch(x[:8], size).numpy()
    assert from_torch.shape == from_keras.shape == (8, size, size, 3)
    np.testing.assert_allclose(from_torch, from_keras, atol=1e-5, rtol=0)
    # Resizing is not a no-op copy of the corners: an upsampled image varies smoothly.
    assert np.abs(np.diff(from_torch, axis=1)).max() < np.abs(np.diff(torch_batch(x[:8]).numpy(), axis=2)).max()


@pytest.mark.parametrize("augmentation", [{}, dict(crop_padding=2, padding_mode="reflect", alternating_flip=True)])
def test_keras_training_stream_is_the_plan_epoch_after_epoch(images, augmentation):
    """tensorflow_impl's tf.data stream yields exactly the plan's batches, epoch 1 then epoch 2,
    normalised exactly as pytorch_impl normalises them (the default augmentation and airbench's)."""
    import tensorflow_impl  # noqa: F401
    from pytorch_impl.data import to_batch as torch_batch
    from shared.config import RunConfig
    from shared.run import Split
    from tensorflow_impl.data import training_batches

    x, y = images
    cfg = RunConfig(epochs=2, batch_size=16, seed=9, **augmentation)
    stream = list(training_batches(Split(x, y, x[:8], y[:8], "test"), cfg))
    assert len(stream) == 2 * (len(x) // 16)
    for epoch in (1, 2):
        plan = cfg.plan(epoch, len(x))
        for i, where in enumerate(plan.batch_slices(16)):
            xb, yb = train_batch(x, y, plan, where)
            got_x, got_y = stream[(epoch - 1) * 4 + i]
            np.testing.assert_array_equal(got_x.numpy(), torch_batch(xb).permute(0, 2, 3, 1).numpy())
            np.testing.assert_array_equal(got_y.numpy().argmax(1), yb)
