"""Which base model fits an image (napari_unet.models.choice): the one whose training images
look most like it, or none."""

import numpy as np
import pytest

from napari_unet.core.samples import make_sample
from napari_unet.core.config import ModelConfig
from napari_unet.core.model import SegmentationModel
from napari_unet.core.record import ModelInfo
from napari_unet.models.choice import FITS, fingerprint, rank, suggest


def membranes(seed: int, size: int = 256) -> np.ndarray:
    """An EM-like image: dark thin membranes between bright cells of a random Voronoi tiling."""
    from scipy import ndimage as ndi
    from skimage.segmentation import find_boundaries

    rng = np.random.default_rng(seed)
    points = rng.uniform(0, size, (60, 2))
    yy, xx = np.mgrid[:size, :size]
    nearest = np.argmin((yy[..., None] - points[:, 0]) ** 2 + (xx[..., None] - points[:, 1]) ** 2, axis=-1)
    image = np.where(find_boundaries(nearest), 0.15, 0.7) + rng.normal(0, 0.05, (size, size))
    return (ndi.gaussian_filter(image, 1.0) * 255).clip(0, 255).astype(np.uint8)


def tiny(images, channels: int = 1, name: str = "") -> SegmentationModel:
    model = SegmentationModel(ModelConfig(in_channels=channels, depth=2, base_channels=4), (1, 2), mode="semantic")
    model.info = ModelInfo(name=name, fingerprint=fingerprint(images))
    return model


@pytest.fixture(scope="module")
def models():
    return {"blobs": tiny([make_sample(256, seed=s).image for s in range(6)], name="blobs"),
            "lines": tiny([membranes(s) for s in range(6)], name="lines")}


def test_an_image_like_a_models_training_images_gets_that_model(models):
    fit = suggest(make_sample(320, seed=11).image, models)  # another size and scene than in training
    assert fit is not None and fit.name == "blobs" and fit.distance <= FITS
    fit = suggest(membranes(seed=12, size=300), models)
    assert fit is not None and fit.name == "lines"
    order = rank(membranes(seed=13), models)
    assert [f.name for f in order] == ["lines", "blobs"] and order[1].distance > 3 * order[0].distance


def test_an_image_like_no_models_training_images_gets_none(models):
    rng = np.random.default_rng(0)
    smooth = np.add.outer(np.linspace(0, 1, 256), np.linspace(0, 1, 256)) + rng.normal(0, 0.01, (256, 256))
    assert suggest(smooth, models) is None
    assert min(f.distance for f in rank(smooth, models)) > FITS


def test_a_colour_image_is_judged_as_the_grey_model_sees_it(models):
    grey = make_sample(256, seed=20).image
    rgb = np.repeat((grey / 257).astype(np.uint8)[..., None], 3, axis=-1)
    assert suggest(rgb, models).name == "blobs"


def test_models_without_a_fingerprint_or_for_other_channels_are_not_candidates(models):
    bare = SegmentationModel(ModelConfig(depth=2, base_channels=4), (1, 2))
    two = tiny([make_sample(seed=s).image for s in range(3)], channels=2)  # its images as grey planes
    names = [f.name for f in rank(make_sample(seed=3).image, {**models, "bare": bare, "two": two})]
    assert names == ["blobs", "lines"]
    assert suggest(make_sample(seed=3).image, {"bare": bare}) is None


def test_a_fine_tuned_base_model_no_longer_carries_its_fingerprint(models, sample):
    from napari_unet.core.config import TrainConfig
    from napari_unet.core.train import fit

    base = tiny([make_sample(seed=s).image for s in range(3)], name="blobs")
    tuned = fit([sample.image], [sample.strokes], TrainConfig(steps=2, batch_size=2, patch_size=64), model=base).model
    assert tuned.info.fine_tuned_from == "blobs" and tuned.info.fingerprint is None


def test_every_shipped_base_model_has_a_fingerprint_and_the_sample_gets_nuclei():
    from napari_unet.models.load import load_model
    from napari_unet.models.named import available

    shipped = {e.name: load_model(e.path) for e in available() if e.shipped}
    for name, model in shipped.items():
        assert len(model.info.fingerprint["descriptors"]) >= 20, name
    # the package's sample (fluorescent cells) looks like the nuclei model's images, not like EM
    fit = suggest(make_sample(256, seed=0).image)
    assert fit is not None and fit.name == "nuclei"


def test_a_large_lazy_image_is_judged_like_the_same_image_in_memory(models):
    """The check reads only crops (and a subsample for the intensity range) of a dask image."""
    import dask.array as da
    big = np.tile(membranes(seed=14), (12, 12))  # 3072² > the 4 Mpx read whole
    assert rank(da.from_array(big, chunks=512), models) == rank(big, models)
    assert suggest(da.from_array(big, chunks=512), models).name == "lines"
