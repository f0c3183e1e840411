
import numpy as np
import pytest
import torch

from napari_unet.config import PredictConfig, UserInputError
from napari_unet.io import load_model, save_model
from napari_unet.predict import predict_labels


def test_model_file_round_trip(trained, sample, tmp_path):
    path = save_model(trained, tmp_path / "m.pt")
    loaded = load_model(path)
    assert loaded.class_values == trained.class_values
    assert loaded.config == trained.config
    assert loaded.norm == trained.norm
    assert loaded.history["steps"] == trained.history["steps"] == 150
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
