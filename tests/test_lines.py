"""Classes painted as thin lines (membranes) come out closed, so the regions they separate do not merge."""

import copy
import dataclasses

import numpy as np
import pytest

from napari_unet.core.config import PredictConfig
from napari_unet.core.lines import close_lines, closing_config, line_classes
from napari_unet.predict.pipeline import predict_labels

CPU = dict(device="cpu", precision="fp32")
SEED = PredictConfig().line_seed  # the default seed level


def two_cells(gap_p: float):
    """P(membrane) of two cells side by side; the membrane between them fades to ``gap_p`` over
    rows 10-14. Labels as argmax: 1 membrane, 2 interior."""
    p = np.full((24, 21), 0.05, np.float32)
    p[:, 10] = 0.9
    p[10:15, 10] = gap_p
    p[[0, -1], :] = p[:, [0, -1]] = 0.9  # the cells' outer membranes
    return p, np.where(p >= 0.5, 1, 2).astype(np.uint8)


def cells(labels):
    from skimage.measure import label

    return label(labels == 2, connectivity=1).max()


def test_a_faint_stretch_of_membrane_is_closed_and_the_cells_stay_apart():
    p, labels = two_cells(gap_p=0.3)
    assert cells(labels) == 1  # the argmax merges the two cells through the gap
    changed = close_lines(labels, p, 1, SEED)
    assert cells(labels) == 2
    assert changed == 5 and (labels[10:15, 10] == 1).all()
    assert (labels[p >= 0.5] == 1).all()  # what was membrane stays membrane


def test_no_line_where_the_network_is_sure_there_is_none():
    p, labels = two_cells(gap_p=0.1)  # below the seed level: one region, nothing to separate
    before = labels.copy()
    assert close_lines(labels, p, 1, SEED) == 0
    assert (labels == before).all()


def test_training_records_the_classes_painted_as_thin_lines(tiny_model_config, tiny_train_config):
    from napari_unet.core.train import fit

    image = np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32)
    strokes = np.zeros((64, 64), np.uint8)
    strokes[32, 4:60] = 1  # a membrane down its middle: one pixel wide
    strokes[10:15, 4:60] = strokes[45:50, 4:60] = 2  # interiors: thick strokes
    cfg = dataclasses.replace(tiny_train_config, steps=1)
    model = fit(image, strokes, cfg, model_config=tiny_model_config).model
    assert model.info.line_classes == [1] and line_classes(model) == (1,)
    strokes[31:34, 4:60] = 1  # now painted 3 px wide
    assert not fit(image, strokes, cfg, model_config=tiny_model_config).model.info.line_classes


def two_cells_image():
    """Two cells (0) in membranes (1) whose middle stretch is faint (0.35)."""
    image = np.zeros((64, 64), np.float32)
    image[:, 32] = image[[0, -1], :] = image[:, [0, -1]] = 1.0
    image[28:36, 32] = 0.35
    return image


def test_prediction_closes_line_classes_into_memory_an_output_array_and_a_region(trained, image_is_probability):
    """Closed = the open prediction closed by hand with its own probabilities, whether the labels
    stay in memory, go to an output array or come from a region (``intensity_range``);
    ``close_lines=False`` leaves them open."""
    image = two_cells_image()
    model = copy.deepcopy(trained)
    model.info.line_classes = [1]
    model.history.sparse = False  # no object margin here (tests/test_margin.py): the closing alone
    plain = predict_labels(model, image, PredictConfig(close_lines=False, **CPU), probabilities=True)
    assert cells(plain.labels) == 1
    closed = predict_labels(model, image, PredictConfig(**CPU))
    assert cells(closed.labels) == 2
    by_hand = plain.labels.copy()
    cfg = closing_config(model, PredictConfig())
    close_lines(by_hand, plain.probabilities[0, 0], 1, cfg.line_seed, cfg.line_depth, cfg.line_reach)
    assert (closed.labels == by_hand).all()
    out = np.zeros(image.shape, np.uint8)
    assert predict_labels(model, image, PredictConfig(**CPU), out=out).labels is out
    assert (out == by_hand).all()
    region = predict_labels(model, image, PredictConfig(**CPU), intensity_range=(np.zeros(1), np.ones(1)))
    assert (region.labels == by_hand).all()
    assert line_classes(trained) == ()  # its strokes are thick: nothing to close


def test_cli_closes_lines_unless_told_not_to(trained, image_is_probability, tmp_path):
    import tifffile

    from napari_unet.cli import main
    from napari_unet.models.checkpoint import save_model

    image = two_cells_image()
    tifffile.imwrite(tmp_path / "em.tif", image)
    model = copy.deepcopy(trained)
    model.info.line_classes = [1]
    save_model(model, tmp_path / "m.pt")
    for flag, n_cells in (([], 2), (["--open-lines"], 1)):
        out = tmp_path / f"out{len(flag)}"
        assert main(["predict", "--model", str(tmp_path / "m.pt"), "--images", str(tmp_path / "em.tif"),
                     "--out-dir", str(out), "--device", "cpu"] + flag) == 0
        assert cells(tifffile.imread(out / "em_labels.tif")) == n_cells


def test_a_bad_line_seed_is_refused():
    from napari_unet.core.config import UserInputError

    with pytest.raises(UserInputError, match="line_seed"):
        PredictConfig(line_seed=0.7)


def two_wide_cells(gap_p: float):
    """Like :func:`two_cells`, but the membrane is 6 px wide, as a network draws EM membranes
    (and the right cell a little surer of itself than the left: no two basins are equally deep)."""
    p = np.full((64, 64), 0.05, np.float32)
    p[:, 32:] = 0.04
    p[:, 29:35] = 0.9
    p[24:40, 29:35] = gap_p
    p[:4, :] = p[-4:, :] = p[:, :4] = p[:, -4:] = 0.9
    return p, np.where(p >= 0.5, 1, 2).astype(np.uint8)


def test_a_faint_membrane_parts_two_cells_where_it_rises_above_both():
    """The default seeds are the basins of the line probability: a stretch of membrane the
    network gives only 0.18 still parts the cells, as it rises more than ``line_depth`` above
    both; seeded by the regions below 0.2 (``line_depth=0``), the cells joined through it."""
    depth = PredictConfig().line_depth
    p, labels = two_wide_cells(gap_p=0.18)
    old = labels.copy()
    assert close_lines(old, p, 1, SEED) == 0 and cells(old) == 1
    assert close_lines(labels, p, 1, SEED, depth) > 0 and cells(labels) == 2
    assert (labels[p >= 0.5] == 1).all()
    p, labels = two_wide_cells(gap_p=0.08)  # barely above the cells: no membrane there
    assert close_lines(labels, p, 1, SEED, depth) == 0 and cells(labels) == 1


def test_a_bad_line_depth_is_refused():
    from napari_unet.core.config import UserInputError

    with pytest.raises(UserInputError, match="line_depth"):
        PredictConfig(line_depth=-0.1)
    with pytest.raises(UserInputError, match="line_reach"):
        PredictConfig(line_reach=-1)


def test_line_pixels_that_part_nothing_go_to_the_cell_around_them():
    """A dark organelle drawn as membrane inside a cell, and a bulge sticking out of a membrane,
    part no two cells: they take the cell's label. The membrane between the cells stays, and so
    does its closed faint stretch. ``line_reach=0`` keeps every line pixel."""
    config = PredictConfig()
    p, labels = two_wide_cells(gap_p=0.18)
    p[:, :4], p[:, -4:] = 0.05, 0.04  # no outer membranes: the cells reach the image's edges
    p[[*range(4), *range(60, 64)], :29], p[[*range(4), *range(60, 64)], 35:] = 0.05, 0.04
    p[10:18, 10:18] = 0.9  # the organelle, inside the left cell
    p[44:48, 35:43] = 0.9  # the bulge: 8 px out of the membrane's right side
    labels = np.where(p >= 0.5, 1, 2).astype(np.uint8)
    kept = labels.copy()
    close_lines(kept, p, 1, SEED, config.line_depth, 0)
    assert (kept[10:18, 10:18] == 1).all() and (kept[44:48, 35:43] == 1).all()
    close_lines(labels, p, 1, SEED, config.line_depth, config.line_reach)
    assert (labels[10:18, 10:18] == 2).all()  # the organelle is cell
    assert (labels[44:48, 39:43] == 2).all()  # the bulge's far end too
    assert (labels[:, 31] == 1).all()  # the membrane between the cells stays, faint stretch included
    assert (labels[4:24, 30:33] == 1).all()
    assert cells(labels) == 2
    assert ((labels != kept) <= (kept == 1)).all()  # only line pixels changed
    blobs = np.where(p >= 0.5, 1, 2).astype(np.uint8)
    blobs[20:44, 8:24] = 1  # a large blob of the class: more of it parts nothing than parts cells
    before = blobs.copy()
    close_lines(blobs, p, 1, SEED, config.line_depth, config.line_reach)
    assert (blobs[20:44, 8:24] == 1).all() and ((blobs != before) <= (blobs == 1)).all()  # left as it is


def test_basins_close_the_lines_of_models_trained_from_scratch_on_strokes(trained):
    """A model that measured its line share (trained from scratch on strokes) closes between
    basins; a base model as shipped, or fine-tuned from one, keeps the seeds below ``line_seed``."""
    from napari_unet.core.lines import closing_config

    model = copy.deepcopy(trained)
    model.info.line_classes, model.info.line_odds = [1], {1: 0.3}
    config = PredictConfig()
    assert closing_config(model, config).line_depth == config.line_depth > 0
    model.info.line_odds = {}
    assert closing_config(model, config).line_depth == 0
    assert closing_config(model, dataclasses.replace(config, line_depth=0)).line_depth == 0
