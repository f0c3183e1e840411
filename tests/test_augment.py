import numpy as np
import torch

from napari_unet.core.augment import PatchAugmenter
from napari_unet.core.config import AugmentConfig
from napari_unet.core.data import IGNORE, Slice2D


def _slice(rng, h=80, w=90):
    img = rng.random((2, h, w)).astype(np.float32)
    target = rng.integers(-1, 3, (h, w))
    weight = np.where(target >= 0, rng.random((h, w)) + 0.5, 0).astype(np.float32)
    return Slice2D(img, target, weight)


def test_zero_displacement_is_the_identity(rng):
    s = _slice(rng)
    cfg = AugmentConfig(flips=False, rot90=False, rotation_degrees=0, elastic_sigma=0, scale_range=0,
                        intensity=0, noise=0)
    aug = PatchAugmenter([s], 32, cfg, torch.device("cpu"))
    centres = np.array([[0, 40, 45], [0, 20, 30]])
    g = torch.Generator().manual_seed(0)
    for identity in (True, False):  # the explicit identity and the random path with all strengths zero
        img, target, weight = aug.batch(centres, g, identity=identity)
        for i, (_, y, x) in enumerate(centres):
            np.testing.assert_allclose(img[i].numpy(), s.image[:, y - 16 : y + 16, x - 16 : x + 16], atol=1e-5)
            np.testing.assert_array_equal(target[i].numpy(), s.target[y - 16 : y + 16, x - 16 : x + 16])
            np.testing.assert_allclose(weight[i].numpy(), s.weight[y - 16 : y + 16, x - 16 : x + 16], atol=1e-6)


def test_elastic_deformation_keeps_label_values_and_weights_paired(rng):
    """Labels are resampled by nearest neighbour: values 0 and 10 side by side would give 5 if
    they were interpolated, and each weight keeps the value of its own pixel."""
    s = _slice(rng)
    s.target[:] = np.where(np.indices(s.target.shape).sum(0) % 2, 10, 0)  # a checkerboard of 0 and 10
    s.target[:5] = IGNORE
    s.weight[:] = np.where(s.target == 10, 3.0, np.where(s.target == 0, 1.0, 0.0))
    aug = PatchAugmenter([s], 48, AugmentConfig(elastic_sigma=10), torch.device("cpu"))
    g = torch.Generator().manual_seed(1)
    img, target, weight = aug.batch(np.array([[0, 40, 45]] * 8), g)
    assert set(np.unique(target.numpy())) == {IGNORE, 0, 10}
    np.testing.assert_array_equal(weight.numpy(), np.select([target == 10, target == 0], [3.0, 1.0], 0.0))
    assert img.shape == (8, 2, 48, 48)


def test_elastic_field_moves_pixels_without_intensity_changes(rng):
    """With only the elastic deformation on, patches of the same place differ, and each is a
    smooth rearrangement of the image (its values stay in the image's range)."""
    s = _slice(rng)
    cfg = AugmentConfig(flips=False, rot90=False, rotation_degrees=0, scale_range=0, intensity=0, noise=0,
                        elastic_sigma=10)
    aug = PatchAugmenter([s], 48, cfg, torch.device("cpu"))
    img, _, _ = aug.batch(np.array([[0, 40, 45]] * 4), torch.Generator().manual_seed(1))
    still = s.image[:, 16:64, 21:69]
    for i in range(4):
        assert not np.allclose(img[i].numpy(), still, atol=1e-3)  # the field moved the pixels
    assert not torch.allclose(img[0], img[1])
    assert img.min() >= s.image.min() - 1e-4 and img.max() <= s.image.max() + 1e-4  # no intensity change
    off = PatchAugmenter([s], 48, AugmentConfig(**{**cfg.to_dict(), "elastic_sigma": 0}), torch.device("cpu"))
    plain, _, _ = off.batch(np.array([[0, 40, 45]] * 2), torch.Generator().manual_seed(1))
    np.testing.assert_allclose(plain[0].numpy(), still, atol=1e-5)  # without it: the patch itself


def test_pixels_from_outside_the_image_become_ignore(rng):
    s = _slice(rng, 40, 40)
    s.target[:] = 1
    s.weight[:] = 1
    cfg = AugmentConfig(flips=False, rot90=False, rotation_degrees=0, elastic_sigma=0, scale_range=0)
    aug = PatchAugmenter([s], 32, cfg, torch.device("cpu"))
    _, target, weight = aug.batch(np.array([[0, 0, 0]]), torch.Generator(), identity=True)
    t = target[0].numpy()
    assert (t[:16, :] == IGNORE).all() and (t[:, :16] == IGNORE).all()
    assert (t[16:, 16:] == 1).all()
    assert (weight[0].numpy()[:16] == 0).all()
