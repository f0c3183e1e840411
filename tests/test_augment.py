import numpy as np
import torch

from napari_unet.augment import PatchAugmenter
from napari_unet.config import AugmentConfig
from napari_unet.data import IGNORE, Slice2D


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
    s = _slice(rng)
    aug = PatchAugmenter([s], 48, AugmentConfig(elastic_sigma=10), torch.device("cpu"))
    g = torch.Generator().manual_seed(1)
    img, target, weight = aug.batch(np.array([[0, 40, 45]] * 8), g)
    assert set(np.unique(target.numpy())) <= {IGNORE, 0, 1, 2}
    assert ((weight > 0) == (target >= 0)).all()
    assert img.shape == (8, 2, 48, 48)
    # patches differ from each other: the augmentation is random
    assert not torch.allclose(img[0], img[1])


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
