"""Every way into prediction gives the same labels: in memory, streamed into a zarr array, on a
two-worker dask cluster, and as the live preview's regions, for a membrane model whose lines
prediction closes and for a nuclei model that predicts large nuclei on a shrunken copy."""

import numpy as np
import pytest
from conftest import need

from napari_unet.core.config import PredictConfig

FP32 = dict(device="cpu", precision="fp32", tile_size=128)


def membranes_image(size: int = 256, cells: int = 27, seed: int = 0) -> np.ndarray:
    """EM-like: bright cells parted by dark membranes 5 px wide, faint along some stretches."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, size, (cells, 2))
    yy, xx = np.mgrid[:size, :size]
    nearest = np.sort(np.stack([np.hypot(yy - y, xx - x) for y, x in centres]), axis=0)
    membrane = nearest[1] - nearest[0] < 2.5
    faint = ndi.gaussian_filter(rng.normal(size=(size, size)), 20) > 0.02
    image = 0.7 + 0.05 * rng.normal(size=(size, size))
    image[membrane] = np.where(faint[membrane], 0.64, 0.2)
    return ndi.gaussian_filter(image, 1).astype(np.float32)


@pytest.fixture(scope="module")
def membranes():
    from napari_unet.models.load import load_model

    return load_model("em-membranes")


@pytest.fixture(scope="module")
def closed(membranes):
    """The image, and its labels predicted in memory: closed, and left open."""
    from napari_unet.predict.pipeline import predict_labels

    image = membranes_image()
    shut = predict_labels(membranes, image, PredictConfig(**FP32)).labels
    open_ = predict_labels(membranes, image, PredictConfig(close_lines=False, **FP32)).labels
    return image, shut, open_


def test_closing_changes_the_labels_here(membranes, closed):
    from napari_unet.core.lines import line_classes

    _, shut, open_ = closed
    assert line_classes(membranes) == (1,)
    changed = shut != open_
    assert (changed & (shut == 1)).sum() >= 10  # line pixels added where regions meet
    assert (changed <= ((shut == 1) | (open_ == 1))).all()  # and stray ones given to what surrounds them


def test_streamed_into_zarr_equals_in_memory(membranes, closed, tmp_path):
    from napari_unet.core.imageio import create_zarr
    from napari_unet.predict.pipeline import predict_labels

    image, shut, _ = closed
    out = create_zarr(tmp_path / "labels.zarr", image.shape, shut.dtype)
    predict_labels(membranes, image, PredictConfig(**FP32), out=out)
    np.testing.assert_array_equal(out[:], shut)


@pytest.fixture(scope="module")
def cluster():
    """A two-worker LocalCluster, and a client that makes it the scheduler."""
    need("distributed", "distributed")
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c, \
            Client(c) as client:
        yield client


def test_a_two_worker_cluster_equals_in_memory(membranes, closed, cluster, tmp_path):
    da = need("dask.array", "testing")
    import zarr

    from napari_unet.predict.distributed import predict_to_zarr

    image, shut, _ = closed
    predict_to_zarr(membranes, da.from_array(image, chunks=128), tmp_path / "labels.zarr", PredictConfig(**FP32))
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "labels.zarr"), mode="r")[:], shut)


@pytest.mark.parametrize("box", [(60, 200, 30, 170), (0, 100, 130, 256), (100, 160, 100, 160)])
def test_regions_of_the_live_preview_equal_the_whole_image(membranes, closed, box):
    """Closing a region's window can differ from the whole image's only where a line's ridge runs
    out of the window; on these regions it does not (docs/benchmarks.md: agreement on ISBI)."""
    from napari_unet.predict.region import predict_region

    image, shut, _ = closed
    y0, y1, x0, x1 = box
    region = predict_region(membranes, image, box, PredictConfig(**FP32)).labels
    np.testing.assert_array_equal(region, shut[y0:y1, x0:x1])


@pytest.fixture(scope="module")
def shrunk():
    """The nuclei base model on nuclei 3 times its size: predicted on a copy shrunk to about a
    third, the factor measured by a first pass; the image and its labels in memory."""
    from napari_unet.core.samples import make_sample
    from napari_unet.models.load import load_model
    from napari_unet.predict.pipeline import predict_labels

    nuclei = load_model("nuclei")
    s = make_sample(96, seed=3)
    image = np.kron(s.image, np.ones((3, 3), s.image.dtype))
    memory = predict_labels(nuclei, image, PredictConfig(**FP32), probabilities=True)
    assert memory.scale < 0.5 and memory.labels.max() >= 5
    return nuclei, image, memory


def test_shrunk_nuclei_streamed_into_zarr_equal_in_memory(shrunk, tmp_path):
    from napari_unet.core.imageio import create_zarr
    from napari_unet.predict.pipeline import predict_labels

    nuclei, image, memory = shrunk
    out = create_zarr(tmp_path / "labels.zarr", image.shape, np.int32)
    result = predict_labels(nuclei, image, PredictConfig(**FP32), out=out)
    assert result.scale == memory.scale
    np.testing.assert_array_equal(out[:], memory.labels)


def test_shrunk_nuclei_on_a_two_worker_cluster_equal_in_memory(shrunk, cluster, tmp_path):
    da = need("dask.array", "testing")
    import zarr

    from napari_unet.predict.distributed import predict_dask, predict_to_zarr

    nuclei, image, memory = shrunk
    predict_to_zarr(nuclei, da.from_array(image, chunks=128), tmp_path / "labels.zarr", PredictConfig(**FP32),
                    tmp_path / "probabilities.zarr")
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "labels.zarr"), mode="r")[:], memory.labels)
    # workers run the network on one thread, this process on two: float rounding differs (1e-7)
    np.testing.assert_allclose(zarr.open_array(str(tmp_path / "probabilities.zarr"), mode="r")[:],
                               memory.probabilities, atol=1e-5)
    lazy = predict_dask(nuclei, image, PredictConfig(**FP32), scale=memory.scale)  # the factor given
    np.testing.assert_array_equal(lazy.compute(), memory.labels)


@pytest.mark.parametrize("box", [(60, 200, 30, 170), (0, 100, 130, 288), (100, 160, 100, 160)])
def test_regions_of_shrunk_nuclei_equal_the_whole_image(shrunk, box):
    """A region's probabilities are exact; its objects are split on the region plus a margin, so
    they are the whole image's objects, numbered from 1 (docs/benchmarks.md: agreement)."""
    from benchmarks.front_doors import same_objects
    from napari_unet.predict.region import predict_region

    nuclei, image, memory = shrunk
    y0, y1, x0, x1 = box
    region = predict_region(nuclei, image, box, PredictConfig(**FP32), scale=memory.scale, probabilities=True)
    np.testing.assert_array_equal(region.probabilities[0], memory.probabilities[0, :, y0:y1, x0:x1])
    assert same_objects(region.labels, memory.labels[y0:y1, x0:x1]) == 1.0

