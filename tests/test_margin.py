"""A model trained on strokes down the middle draws objects and lines no larger than they are."""

import copy
import dataclasses

import numpy as np
import pytest

from napari_unet.core.config import PredictConfig, UserInputError
from napari_unet.predict.margin import class_odds
from napari_unet.predict.pipeline import predict_labels

CPU = dict(device="cpu", precision="fp32")


def ramp():
    """P(class 1) from 0 to 1 along x; the image's 0 and 1 anchor the normalisation."""
    return np.tile(np.linspace(0, 1, 101, dtype=np.float32), (8, 1))


def line_model(trained, sparse: bool):
    model = copy.deepcopy(trained)
    model.info.line_classes = [1]
    model.history.sparse = sparse
    return model


def test_lines_of_a_model_trained_on_strokes_need_the_margin(trained, image_is_probability):
    image = ramp()
    config = PredictConfig(close_lines=False, **CPU)
    labels = predict_labels(line_model(trained, sparse=True), image, config).labels
    odds = np.exp(-config.object_margin)
    p_edge = 1 / (1 + odds)  # where P(line) * odds = 1 - P(line)
    is_line = labels[0] == 1
    assert p_edge > 0.6
    assert (is_line == (image[0] > p_edge + 1e-3))[np.abs(image[0] - p_edge) > 1e-2].all()
    plain = predict_labels(line_model(trained, sparse=True), image, dataclasses.replace(config, object_margin=0)).labels
    assert ((plain[0] == 1) == (image[0] > 0.5))[np.abs(image[0] - 0.5) > 1e-2].all()
    assert (is_line <= (plain[0] == 1)).all() and is_line.sum() < (plain[0] == 1).sum()


def test_lines_close_where_the_networks_own_regions_meet(trained, image_is_probability):
    """The margin thins a membrane; its gaps still close where the network's own probability
    (not the weighed one) parts two cells. Here the faint stretch has P(membrane) 0.25: above
    the seed level, but weighed by the margin (0.17) it would join the two cells."""
    from skimage.measure import label

    image = np.zeros((64, 64), np.float32)
    image[:, 32] = image[[0, -1], :] = image[:, [0, -1]] = 1.0
    image[28:36, 32] = 0.25
    model = line_model(trained, sparse=True)
    config = PredictConfig(**CPU)
    weighed = 0.25 * np.exp(-config.object_margin) / (0.25 * np.exp(-config.object_margin) + 0.75)
    assert weighed < config.line_seed < 0.25
    labels = predict_labels(model, image, config).labels
    assert label(labels == 2, connectivity=1).max() == 2
    assert (labels[28:36, 32] == 1).all()


def test_a_densely_trained_model_keeps_the_plain_argmax(trained, image_is_probability):
    image = ramp()
    config = PredictConfig(close_lines=False, **CPU)
    dense = predict_labels(line_model(trained, sparse=False), image, config).labels
    plain = predict_labels(line_model(trained, sparse=True), image, dataclasses.replace(config, object_margin=0)).labels
    assert (dense == plain).all()
    assert class_odds(line_model(trained, sparse=False), 0.5) is None


def test_training_records_whether_it_saw_strokes_or_dense_labels(tiny_model_config, tiny_train_config):
    from napari_unet.core.train import fit

    rng = np.random.default_rng(0)
    image = rng.normal(size=(32, 32)).astype(np.float32)
    strokes = np.zeros((32, 32), np.uint8)
    strokes[4:8, 4:28], strokes[20:24, 4:28] = 1, 2
    cfg = dataclasses.replace(tiny_train_config, steps=1, patch_size=32)
    assert fit(image, strokes, cfg, model_config=tiny_model_config).model.history.sparse is True
    dense = np.where(np.arange(32)[:, None] < 16, 1, 2).repeat(32, axis=1).astype(np.uint8)
    assert fit(image, dense, cfg, model_config=tiny_model_config).model.history.sparse is False


def test_a_nucleus_ends_where_the_network_is_sure_enough(trained, image_is_probability):
    """In instance mode the margin applies to the object class (value 2): here P(background)
    rises from 0 at a nucleus's centre to 1 at 20 px, so it ends at 10 px without the margin."""
    model = copy.deepcopy(trained)
    model.mode, model.history.sparse = "instance", True
    yy, xx = np.mgrid[:64, :64]
    image = np.clip(np.hypot(yy - 32, xx - 32) / 20, 0, 1).astype(np.float32)
    radius = {}
    for margin in (0.0, 0.5):
        labels = predict_labels(model, image, PredictConfig(object_margin=margin, **CPU),
                                intensity_range=(np.zeros(1), np.ones(1))).labels  # the image as it is
        assert labels.max() == 1  # one nucleus
        radius[margin] = np.sqrt((labels == 1).sum() / np.pi)
    assert radius[0.0] == pytest.approx(10, abs=0.5)
    assert radius[0.5] == pytest.approx(20 * np.exp(-0.5) / (1 + np.exp(-0.5)), abs=0.5)  # 7.5 px


def test_a_bad_margin_is_refused():
    with pytest.raises(UserInputError, match="object_margin"):
        PredictConfig(object_margin=-1)


def test_a_package_readme_says_where_napari_unets_objects_start(trained, sample):
    """bioimage.io packages hold the network's own probabilities; their README names the margin."""
    from napari_unet.bioimageio.export import ExportSettings
    from napari_unet.bioimageio.readme import readme

    model = copy.deepcopy(trained)
    model.mode, model.history.sparse = "instance", False  # as if trained on dense labels
    x = sample.image[None, None, :64, :64].astype(np.float32)
    settings = ExportSettings(name="nuclei", description="Nuclei", authors=["A. Biologist"])
    assert "0.62" not in readme(model, settings, x, None) and "at 0.50" in readme(model, settings, x, None)
    model.history.sparse = True
    text = readme(model, settings, x, None)
    assert "exp(-0.5)" in text and "Threshold the object probability at 0.62" in text
    model.mode, model.info.line_classes, model.info.line_odds = "semantic", [1], {1: 0.2}
    text = readme(model, settings, x, None)
    assert "by 0.2 (its share of the training images)" in text and "for two classes: 0.83" in text


def test_lines_are_weighed_by_the_share_the_model_measured(trained, image_is_probability):
    """A model that measured its membranes at a sixth of its training images draws a pixel
    membrane from P = 1 / (1 + odds); odds weaker than the margin's leave the margin; and
    ``line_share=False`` gives the margin alone."""
    image = ramp()
    config = PredictConfig(close_lines=False, **CPU)
    model = line_model(trained, sparse=True)

    def edge(m, cfg=config):
        is_line = predict_labels(m, image, cfg).labels[0] == 1
        return image[0][is_line].min()

    model.info.line_odds = {1: 0.2}
    assert edge(model) == pytest.approx(1 / 1.2, abs=0.011)
    assert class_odds(model, 0.5) == (0.2, 1.0)
    assert edge(model, dataclasses.replace(config, line_share=False)) == pytest.approx(0.622, abs=0.011)
    assert class_odds(model, 0.0) is None  # margin 0: the plain argmax, whatever was measured
    model.info.line_odds = {1: 0.9}
    assert edge(model) == pytest.approx(0.622, abs=0.011)
