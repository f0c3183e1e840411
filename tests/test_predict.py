import numpy as np
import pytest

from napari_unet.core.config import PredictConfig, UserInputError
from napari_unet.predict.pipeline import predict, predict_labels
from napari_unet.predict.tiling import context_margin, context_margins, reflect_index


def test_reflect_index_mirrors_without_repeating_the_edge():
    assert reflect_index(np.arange(-3, 8), 5).tolist() == [3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1]
    assert reflect_index(np.arange(-2, 3), 1).tolist() == [0] * 5


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_the_context_margin_covers_the_receptive_field(depth):
    """The gradient of one output pixel reaches no input pixel beyond the margin (weights made
    positive so that no contribution cancels), and the margin is not much wider."""
    import torch

    from napari_unet.core.config import ModelConfig
    from napari_unet.core.model import UNet

    cfg = ModelConfig(depth=depth, base_channels=1, dropout=0.0, batch_norm=False)
    net = UNet(cfg).double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(p.abs() + 0.01)
    n = 4 * context_margin(cfg)
    x = torch.ones(1, 1, n, cfg.multiple, dtype=torch.double, requires_grad=True)
    out = net(x)
    up = down = 0
    for y in range(n // 2, n // 2 + cfg.multiple):  # every position on the pooling grid
        (g,) = torch.autograd.grad(out[0, 1, y, 0], x, retain_graph=True)
        rows = torch.nonzero(g[0, 0].abs().sum(1)).flatten()
        up, down = max(up, y - rows.min().item()), max(down, rows.max().item() - y)
    before, after = context_margins(cfg)
    assert up < before == context_margin(cfg) <= up + 5 and down < after <= down + 4 + depth
    assert context_margins(cfg, tta=True) == (before, before)  # flipped windows: the larger both sides


@pytest.fixture(scope="module")
def nuclei():
    from napari_unet.models.load import load_model

    return load_model("nuclei")  # the default architecture (depth 4), trained


def _exact(a, b):
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_allclose(a.probabilities, b.probabilities, rtol=0, atol=1e-4)


@pytest.mark.parametrize("shape", [(150, 235), (37, 50), (3, 70, 90)], ids=["image", "smaller-than-a-tile", "z-stack"])
def test_tiled_equals_untiled_for_every_tile_size(nuclei, shape):
    """Tiles of 32 to 512 pixels give the one-tile result: labels equal, probabilities within 1e-4 (fp32).
    Sizes that cut this image into the same tiles as the reference would only repeat it, so they are left out."""
    from napari_unet.core.samples import make_sample
    from napari_unet.predict.tiling import core_tile

    planes = [make_sample(256, seed=s).image[: shape[-2], : shape[-1]] for s in range(shape[0] if len(shape) == 3 else 1)]
    image = np.stack(planes) if len(shape) == 3 else planes[0]
    cfg = dict(device="cpu", precision="fp32", batch_size=3)
    untiled = predict_labels(nuclei, image, PredictConfig(tile_size=1024, **cfg), probabilities=True)
    def tiles(size):
        return core_tile(PredictConfig(tile_size=size), nuclei.config.multiple, shape[-2:])

    sizes = [t for t in (32, 48, 64, 128, 256, 512) if tiles(t) != tiles(1024)]
    assert len(sizes) >= 2
    for tile in sizes:
        _exact(predict_labels(nuclei, image, PredictConfig(tile_size=tile, **cfg), probabilities=True), untiled)


def test_a_region_predicted_from_its_window_equals_the_whole_image_prediction():
    """What the live preview does: a region off the pooling grid, predicted from its window
    (a semantic model: instance labels are numbered per prediction)."""
    from napari_unet.core.samples import make_sample
    from napari_unet.core.data import percentiles, to_zcyx
    from napari_unet.models.load import load_model
    from napari_unet.predict.tiling import region_window

    model = load_model("em-membranes")
    image = make_sample(400, seed=3).image
    cfg = PredictConfig(device="cpu", precision="fp32")
    whole = predict_labels(model, image, cfg, probabilities=True)
    box = (133, 171, 205, 262)
    ya, yb, xa, xb = region_window(model.config, box, image.shape)
    assert ya % 16 == 0 and xa % 16 == 0 and ya <= box[0] - 112 and yb >= box[1] + 112
    part = predict_labels(model, image[ya:yb, xa:xb], cfg, probabilities=True,
                          intensity_range=percentiles(to_zcyx(image), model.norm))
    inner = np.s_[box[0] - ya : box[1] - ya, box[2] - xa : box[3] - xa]
    np.testing.assert_array_equal(part.labels[inner], whole.labels[box[0] : box[1], box[2] : box[3]])
    np.testing.assert_allclose(part.probabilities[..., box[0] - ya : box[1] - ya, box[2] - xa : box[3] - xa],
                               whole.probabilities[..., box[0] : box[1], box[2] : box[3]], rtol=0, atol=1e-4)


def test_tiled_equals_untiled_with_test_time_augmentation_and_large_tiles(trained, sample):
    big = np.tile(sample.image, (9, 3))[:1100, :300]
    cfg = dict(device="cpu", precision="fp32", tta=True)
    untiled = predict_labels(trained, big, PredictConfig(tile_size=1104, **cfg), probabilities=True)
    for tile in (64, 1024):  # many small tiles, and one tile wider than the image
        _exact(predict_labels(trained, big, PredictConfig(tile_size=tile, **cfg), probabilities=True), untiled)


def test_prediction_uses_painted_values_and_finds_cells(trained, sample):
    """Cells found clearly better than by Otsu's threshold (no learning). (On another scene, whose
    uneven background defeats a global threshold, this briefly trained model scores 0.63 against
    Otsu's 0.71: test_widget_story.py trains longer on such a scene and clears it.)"""
    from scores import iou, otsu_foreground

    result = predict_labels(trained, sample.image, PredictConfig(tile_size=64, device="cpu"), probabilities=True)
    assert set(np.unique(result.labels)) <= {1, 2}
    assert result.probabilities.shape == (1, 2, *sample.image.shape)
    np.testing.assert_allclose(result.probabilities.sum(1), 1, atol=1e-4)
    # foreground IoU (background is 89 % of the sample: all background scores 0); Otsu: 0.865
    score, otsu = iou(result.labels == 2, sample.truth == 2), iou(otsu_foreground(sample.image), sample.truth == 2)
    assert score >= max(0.9, otsu + 0.05), (score, otsu)


def test_image_smaller_than_a_tile(trained, sample):
    small = sample.image[:13, :21]
    labels = predict_labels(trained, small, PredictConfig(tile_size=256, device="cpu")).labels
    assert labels.shape == (13, 21)


def test_z_stack_is_predicted_slice_by_slice_and_reports_progress(trained, sample):
    stack = np.stack([sample.image] * 3)
    gen = predict(trained, stack, PredictConfig(tile_size=64, batch_size=2, device="cpu"),
                  z_slices=[0, 2])
    events = []
    try:
        while True:
            events.append(next(gen))
    except StopIteration as done:
        labels = done.value.labels
    assert labels.shape == stack.shape
    assert (labels[1] == 0).all() and (labels[0] > 0).all()
    np.testing.assert_array_equal(labels[0], labels[2])
    assert events[-1].done == events[-1].total and len(events) > 2


def test_wrong_channel_count_is_a_clear_error(trained, sample):
    two = np.stack([sample.image] * 2, axis=-1)[None]  # (Z, Y, X, C); colour would be converted (test_colour)
    with pytest.raises(UserInputError, match="trained on 1 channel"):
        predict_labels(trained, two)


def test_nan_in_image_is_a_clear_error(trained):
    img = np.ones((32, 32), np.float32)
    img[0, 0] = np.inf
    with pytest.raises(UserInputError, match="NaN or infinite"):
        predict_labels(trained, img)


def test_bf16_agrees_with_fp32(trained, sample):
    cfg = dict(tile_size=64, device="cpu")
    fp32 = predict_labels(trained, sample.image, PredictConfig(precision="fp32", **cfg)).labels
    bf16 = predict_labels(trained, sample.image, PredictConfig(precision="bf16", **cfg)).labels
    # bf16 keeps 8 bits of mantissa: only pixels on the decision boundary may flip
    assert np.mean(fp32 == bf16) >= 0.99


def test_prediction_streams_into_a_given_array(trained, sample, tmp_path):
    """Labels written into a memory-mapped file equal the in-memory result."""
    from napari_unet.predict.pipeline import label_dtype

    big = np.tile(sample.image, (3, 2))
    cfg = PredictConfig(tile_size=64, device="cpu")
    in_memory = predict_labels(trained, big, cfg).labels
    out = np.lib.format.open_memmap(tmp_path / "labels.npy", mode="w+", dtype=label_dtype(trained),
                                    shape=(1, *big.shape))
    result = predict_labels(trained, big, cfg, out=out)
    assert result.labels is out
    out.flush()
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy")[0], in_memory)
    with pytest.raises(UserInputError, match="output array has shape"):
        predict_labels(trained, big, cfg, out=np.zeros((1, 5, 5), np.uint8))


def test_zarr_input_and_zarr_output_equal_the_in_memory_result(trained, sample, tmp_path):
    """An image on disk is read band by band and labels and probabilities are written into zarr."""
    import zarr

    from napari_unet.predict.pipeline import label_dtype

    big = np.tile(sample.image, (3, 2))
    cfg = PredictConfig(tile_size=64, device="cpu")
    in_memory = predict_labels(trained, big, cfg, probabilities=True)
    src = zarr.open_array(tmp_path / "image.zarr", mode="w", shape=big.shape, chunks=(100, 100), dtype=big.dtype)
    src[:] = big
    out = zarr.open_array(tmp_path / "labels.zarr", mode="w", shape=big.shape, chunks=(64, 64),
                          dtype=label_dtype(trained))
    probs = zarr.open_array(tmp_path / "probs.zarr", mode="w", shape=(1, 2, *big.shape), chunks=(1, 2, 64, 64),
                            dtype="float32")
    result = predict_labels(trained, zarr.open_array(tmp_path / "image.zarr", mode="r"), cfg, out=out,
                            probabilities=probs)
    assert result.labels is out and result.probabilities is probs
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "labels.zarr", mode="r")[:], in_memory.labels)
    np.testing.assert_array_equal(probs[:], in_memory.probabilities)


class Recorded:
    """An on-demand array (like zarr or h5py) that logs every read or write: (kind, z, rows)."""

    def __init__(self, data, log, kind, chunks=None):
        self.data, self.log, self.kind, self.chunks = data, log, kind, chunks
        self.shape, self.dtype, self.ndim = data.shape, data.dtype, data.ndim

    def _note(self, key):
        key = key if isinstance(key, tuple) else (key,)
        z, rows = key[0], key[-2] if len(key) == self.ndim else slice(None)
        self.log.append((self.kind, z.start if isinstance(z, slice) else z, rows))

    def __getitem__(self, key):
        self._note(key)
        return self.data[key]

    def __setitem__(self, key, value):
        self._note(key)
        self.data[key] = value


def test_on_demand_z_stack_is_streamed_band_by_band_and_predicted_like_numpy(trained, sample):
    """Prediction reads a slice a band of rows at a time while it writes finished rows: it never
    loads the slice (or the stack) first. Reads are whole storage chunks."""
    import dask.array as da

    stack = np.stack([sample.image, sample.image[::-1], sample.image[:, ::-1]])
    cfg = PredictConfig(tile_size=64, device="cpu")
    expected = predict_labels(trained, stack, cfg).labels
    log = []
    image = Recorded(stack, log, "read", chunks=(1, 32, 128))
    out = Recorded(np.zeros_like(expected), log, "write")
    predict_labels(trained, image, cfg, out=out)
    np.testing.assert_array_equal(out.data, expected)
    for z in range(len(stack)):
        first_write = next(i for i, (kind, zz, _) in enumerate(log) if kind == "write" and zz == z)
        later_reads = [rows for kind, zz, rows in log[first_write:] if kind == "read" and zz == z]
        assert later_reads, f"slice {z} was read completely before its first rows were written"
        assert all(r.stop - r.start <= 64 for r in later_reads)  # a chunk, or a band of chunks
    lazy = da.from_array(stack, chunks=(1, 32, 128))
    np.testing.assert_array_equal(predict_labels(trained, lazy, cfg).labels, expected)


def test_best_class_values_match_torch_argmax_including_ties():
    import torch

    from napari_unet.predict.finish import best_values

    a = torch.randn(4, 37, 53)
    a[2, :5] = a[1, :5]  # ties pick the first class, as torch.argmax does
    a[:, 10:12] = 0.5
    values = (1, 3, 7, 300)
    lut = torch.tensor(values)
    assert torch.equal(best_values(a, values, torch.int32), lut[a.argmax(0)].int())
    block = a[:2, :, 7:40]  # a strided view, as in prediction
    assert torch.equal(best_values(block, (1, 2), torch.uint8), torch.tensor([1, 2])[block.argmax(0)].to(torch.uint8))


def test_uncertainty_is_zero_when_sure_and_one_when_undecided():
    from napari_unet.predict.pipeline import uncertainty

    p = np.zeros((1, 3, 2, 2), np.float32)
    p[0, 0, 0] = 1  # row 0: sure of class 0
    p[0, :, 1] = 1 / 3  # row 1: all three equally likely
    u = uncertainty(p)
    assert u.shape == (1, 2, 2)
    np.testing.assert_allclose(u[0, 0], 0, atol=1e-5)
    np.testing.assert_allclose(u[0, 1], 1, atol=1e-5)
