"""Colour images for models trained on grey ones: converted the way the model was trained, with a
notice, in prediction (in memory, on dask, in a region preview) and in fine-tuning."""

import numpy as np
import pytest

from napari_unet.core.colour import LUMINANCE
from napari_unet.core.config import PredictConfig, TrainConfig, UserInputError
from napari_unet.predict.pipeline import predict_labels


def _rgb(grey: np.ndarray) -> np.ndarray:
    """A colour image whose channels differ (a tint), from a grey one."""
    g = grey.astype(np.float32)
    return np.clip(np.stack([g * 1.1, g * 0.9, g * 0.7 + 20], axis=-1), 0, 255).astype(np.uint8)


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., :3].astype(np.float32) * np.asarray(LUMINANCE, np.float32)).sum(-1)


def test_a_grey_model_predicts_a_colour_image_as_its_luminance(trained, sample):
    rgb = _rgb(sample.image)
    got = predict_labels(trained, rgb, PredictConfig(device="cpu")).labels
    want = predict_labels(trained, _luminance(rgb), PredictConfig(device="cpu")).labels
    assert got.shape == sample.image.shape and np.array_equal(got, want)
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=-1)  # alpha is ignored
    assert np.array_equal(predict_labels(trained, rgba, PredictConfig(device="cpu")).labels, want)
    other = predict_labels(trained, rgb[..., ::-1].copy(), PredictConfig(device="cpu")).labels  # BGR is other grey
    assert not np.array_equal(other, want)


def test_the_hematoxylin_channel_on_request_and_as_the_model_records_it(trained, sample):
    from skimage.color import rgb2hed

    rgb = _rgb(sample.image)
    hema = rgb2hed(rgb)[..., 0]
    cfg = PredictConfig(device="cpu", colour_to_grey="hematoxylin")
    want = predict_labels(trained, hema, PredictConfig(device="cpu")).labels
    assert np.array_equal(predict_labels(trained, rgb, cfg).labels, want)
    trained.info.colour_to_grey = "hematoxylin"
    try:
        assert np.array_equal(predict_labels(trained, rgb, PredictConfig(device="cpu")).labels, want)
    finally:
        trained.info.colour_to_grey = None
    with pytest.raises(UserInputError, match="colour_to_grey must be one of luminance, hematoxylin"):
        PredictConfig(colour_to_grey="red")


def test_dask_converts_the_same_way(trained, sample):
    import dask.array as da

    from napari_unet.predict.distributed import predict_dask

    rgb = _rgb(sample.image)
    want = predict_labels(trained, rgb, PredictConfig(device="cpu")).labels
    lazy = predict_dask(trained, da.from_array(rgb, chunks=(64, 64, 3)), PredictConfig(device="cpu", tile_size=64))
    assert np.array_equal(lazy.compute(), want)
    lazy = predict_dask(trained, da.from_array(rgb, chunks=(64, 64, 3)),
                        PredictConfig(device="cpu", tile_size=64, colour_to_grey="hematoxylin"))
    assert lazy.compute().shape == want.shape  # rgb2hed block by block


def test_fine_tuning_a_grey_model_on_a_colour_image_converts_it_and_records_how(trained, sample):
    import copy

    from napari_unet.core.train import fit

    trained = copy.deepcopy(trained)  # fine-tuning trains the model it is given: keep the shared one

    rgb = _rgb(sample.image)
    cfg = TrainConfig(steps=2, batch_size=2, patch_size=32, device="cpu", learning_rate=1e-6)
    tuned = fit([rgb, sample.image], [sample.strokes, sample.strokes], cfg, model=trained).model
    assert tuned.config.in_channels == 1 and tuned.info.colour_to_grey == "luminance"
    cfg = TrainConfig(steps=2, batch_size=2, patch_size=32, device="cpu", colour_to_grey="hematoxylin")
    assert fit(rgb, sample.strokes, cfg, model=trained).model.info.colour_to_grey == "hematoxylin"
    with pytest.raises(UserInputError, match="trained on 1 channel"):  # two channels are not colour
        fit(np.stack([sample.image] * 2, axis=-1)[None], sample.strokes[None], cfg, model=trained)


def test_the_cli_predicts_and_fine_tunes_the_nuclei_model_on_a_colour_image_with_a_notice(tmp_path, capsys):
    import tifffile

    from napari_unet.core.samples import make_sample, simulate_instance_strokes
    from napari_unet.cli import main
    from napari_unet.models.load import load_model

    scene = make_sample(128, seed=3)
    rgb = _rgb(255 - scene.image.astype(np.float32) * 255 / max(scene.image.max(), 1))  # dark nuclei, as in H&E
    tifffile.imwrite(tmp_path / "he.tif", rgb)
    tifffile.imwrite(tmp_path / "he_strokes.tif", simulate_instance_strokes(scene.instances, seed=0))
    assert main(["predict", "--model", "nuclei", "--images", str(tmp_path / "he.tif"), "--out-dir",
                 str(tmp_path / "out"), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if line.startswith("note: he.tif: ")]
    assert len(notes) == 1 and "'nuclei' was trained on grey images" in notes[0] and "luminance" in notes[0]
    assert tifffile.imread(tmp_path / "out" / "he_labels.tif").shape == rgb.shape[:2]
    assert main(["train", "--init", "nuclei", "--images", str(tmp_path / "he.tif"), "--labels",
                 str(tmp_path / "he_strokes.tif"), "--out", str(tmp_path / "m.pt"), "--steps", "1",
                 "--batch-size", "1", "--patch-size", "64", "--device", "cpu", "--colour-to-grey", "hematoxylin"]) == 0
    assert "hematoxylin channel" in capsys.readouterr().err
    assert load_model(tmp_path / "m.pt").info.colour_to_grey == "hematoxylin"
