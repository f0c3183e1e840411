
import numpy as np
import pytest
import torch

from napari_unet.core.config import PredictConfig, UserInputError
from napari_unet.models.load import load_model
from napari_unet.models.checkpoint import save_model
from napari_unet.predict.pipeline import predict_labels


def test_model_file_round_trip(trained, sample, tmp_path):
    path = save_model(trained, tmp_path / "m.pt")
    loaded = load_model(path)
    assert loaded.class_values == trained.class_values
    assert loaded.config == trained.config
    assert loaded.norm == trained.norm
    assert loaded.history.steps == trained.history.steps == 300
    cfg = PredictConfig(tile_size=64, device="cpu")
    np.testing.assert_array_equal(predict_labels(loaded, sample.image, cfg).labels,
                                  predict_labels(trained, sample.image, cfg).labels)


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_file_carrying_pickled_code_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    torch.save({"format": "napari-unet-model", "state_dict": _Payload(marker)}, path)
    with pytest.raises(UserInputError, match="refused"):
        load_model(path)
    assert not marker.exists()


def test_corrupt_and_missing_files_are_clear_errors(trained, tmp_path):
    path = save_model(trained, tmp_path / "m.pt")
    data = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(UserInputError, match="corrupt"):
        load_model(tmp_path / "cut.pt")
    with pytest.raises(UserInputError, match="not found"):
        load_model(tmp_path / "nothing.pt")
    torch.save({"some": "dict"}, tmp_path / "other.pt")
    with pytest.raises(UserInputError, match="not a napari-unet model"):
        load_model(tmp_path / "other.pt")


@pytest.mark.parametrize(
    ("axes", "shape", "expected"),
    [
        ("cyx", (2, 30, 40), (1, 30, 40, 2)),  # two channels: not a two-slice z-stack
        ("tczyx", (1, 3, 5, 30, 40), (5, 30, 40, 3)),  # not an RGB image of shape (3, 5, 30)
        ("tczyx", (1, 1, 1, 30, 40), (30, 40)),
        ("zyx", (4, 30, 40), (4, 30, 40)),
    ],
)
def test_ome_zarr_axes_decide_the_layout(tmp_path, axes, shape, expected):
    """OME-Zarr says which axis is which: channels, planes and time are read as such, on demand."""
    import zarr

    from napari_unet.core.data import to_zcyx
    from napari_unet.core.imageio import read_image

    data = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
    group = zarr.open_group(str(tmp_path / "img.zarr"), mode="w")
    group.create_array("0", shape=shape, dtype=data.dtype, chunks=shape)[...] = data
    group.attrs["multiscales"] = [{"axes": [{"name": a} for a in axes], "datasets": [{"path": "0"}]}]
    image = read_image(tmp_path / "img.zarr")
    assert image.shape == expected and not isinstance(image, np.ndarray)
    # every value lands where the axis names say: compare in (Z, C, Y, X) order
    order = [axes.index(a) for a in "tzcyx" if a in axes]
    want = data.transpose(order).reshape(-1, shape[axes.index("c")] if "c" in axes else 1, 30, 40)
    assert np.array_equal(np.asarray(to_zcyx(image)), want)


def test_an_ome_zarr_time_series_is_a_clear_error(tmp_path):
    import zarr

    from napari_unet.core.imageio import read_image

    group = zarr.open_group(str(tmp_path / "movie.zarr"), mode="w")
    group.create_array("0", shape=(3, 30, 40), dtype=np.uint8)
    group.attrs["ome"] = {"multiscales": [{"axes": [{"name": "t"}, {"name": "y"}, {"name": "x"}]}]}
    with pytest.raises(UserInputError, match="3 time points"):
        read_image(tmp_path / "movie.zarr")


def test_newer_and_incomplete_model_files_are_clear_errors(trained, tmp_path):
    path = save_model(trained, tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    torch.save({**payload, "format_version": payload["format_version"] + 1}, tmp_path / "newer.pt")
    with pytest.raises(UserInputError, match="newer napari-unet; upgrade"):
        load_model(tmp_path / "newer.pt")
    torch.save({k: v for k, v in payload.items() if k != "state_dict"}, tmp_path / "no_weights.pt")
    with pytest.raises(UserInputError, match="incomplete or corrupt"):
        load_model(tmp_path / "no_weights.pt")
    cut = dict(payload["state_dict"])
    cut.pop(next(iter(cut)))
    torch.save({**payload, "state_dict": cut}, tmp_path / "cut_weights.pt")
    with pytest.raises(UserInputError, match="incomplete or corrupt"):
        load_model(tmp_path / "cut_weights.pt")


def test_zarr_output_replaces_a_zarr_but_never_another_file(tmp_path):
    from napari_unet.core.imageio import create_zarr

    first = create_zarr(tmp_path / "out.zarr", (8, 8), "uint8")
    first[:] = 3
    again = create_zarr(tmp_path / "out.zarr", (4, 6), "uint8")
    assert again.shape == (4, 6) and not again[:].any()
    (tmp_path / "notes.zarr").write_text("a user's file")
    with pytest.raises(UserInputError, match="not a zarr folder"):
        create_zarr(tmp_path / "notes.zarr", (8, 8), "uint8")
    assert (tmp_path / "notes.zarr").read_text() == "a user's file"
    (tmp_path / "folder.zarr").mkdir()
    (tmp_path / "folder.zarr" / "thesis.docx").write_text("precious")
    with pytest.raises(UserInputError, match="not a zarr folder"):
        create_zarr(tmp_path / "folder.zarr", (8, 8), "uint8")
    assert (tmp_path / "folder.zarr" / "thesis.docx").read_text() == "precious"
