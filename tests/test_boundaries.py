"""Boundaries where the image has them: the edge-aware Potts term, strokes down the middle, TTA."""

import numpy as np
import pytest
import torch


def _step_image(h=32, w=32, edge=16):
    """(1, 1, H, W) image: dark left of column ``edge``, bright right of it, a little noise."""
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(1, 1, h, w)
    x[..., edge:] = 1.0
    return x + 0.02 * torch.randn(x.shape, generator=g)


def _hard_probs(boundary: int, h=32, w=32) -> torch.Tensor:
    """Two-class probabilities that switch from class 0 to class 1 at column ``boundary``."""
    p = torch.zeros(1, 2, h, w)
    p[:, 0, :, :boundary] = 1
    p[:, 1, :, boundary:] = 1
    return p


def test_affinities_are_low_across_an_edge_and_high_along_it():
    from napari_unet.core.losses import PAIR_OFFSETS, pair_affinities

    aff = pair_affinities(_step_image(), sigma=1.0)
    right = aff[PAIR_OFFSETS.index((0, 1))]  # pairs (x, x + 1)
    down = aff[PAIR_OFFSETS.index((1, 0))]
    assert right[0, 16, 15] < 0.05  # straddles the edge
    assert right[0, 16, 5] > 0.9 and down[0, 10, 15] > 0.9  # flat region, and along the edge


def test_label_change_costs_less_at_the_image_edge_than_in_a_flat_region():
    from napari_unet.core.losses import edge_potts_loss, pair_affinities

    aff = pair_affinities(_step_image(), sigma=1.0)
    at_edge = edge_potts_loss(_hard_probs(16), aff)
    off_edge = edge_potts_loss(_hard_probs(8), aff)
    uniform = edge_potts_loss(_hard_probs(0), aff)
    assert float(uniform) == 0.0
    assert float(at_edge) < 0.2 * float(off_edge)


def test_edge_term_moves_a_soft_boundary_onto_the_image_edge():
    """Gradient descent on the term alone pulls a soft boundary (first class-1 column: 19) onto
    the image's edge at column 16, within the pixel its smoothing blurs. In a flat region a
    straight boundary costs the same anywhere; only the edge is cheaper."""
    from napari_unet.core.losses import edge_potts_loss, pair_affinities

    x = _step_image()
    aff = pair_affinities(x, sigma=1.0)
    logits = (0.5 * (torch.arange(32.0) - 18.5)).expand(1, 32, 32).clone()  # class 1 right of 18.5
    logits[:, :, :4] = -20.0  # "strokes": far left is class 0 ...
    logits[:, :, -4:] = 20.0  # ... far right class 1
    logits.requires_grad_(True)
    opt = torch.optim.Adam([logits], lr=0.5)
    for _ in range(300):
        p1 = torch.sigmoid(logits)
        loss = edge_potts_loss(torch.stack([1 - p1, p1], dim=1), aff)
        opt.zero_grad()
        loss.backward()
        logits.grad[:, :, :4] = 0
        logits.grad[:, :, -4:] = 0
        opt.step()
    column = (torch.sigmoid(logits.detach())[0] > 0.5).float().mean(0)
    assert int((column > 0.5).nonzero()[0]) in (16, 17)  # the first bright column, within the blur


def test_edge_term_setting_is_checked_and_stored_with_the_model(tmp_path, sample, tiny_model_config):
    from napari_unet.core.config import TrainConfig, UserInputError
    from napari_unet.models.load import load_model
    from napari_unet.models.checkpoint import save_model
    from napari_unet.core.train import fit

    with pytest.raises(UserInputError, match="edge term"):
        TrainConfig(edge_weight=-1)
    cfg = TrainConfig(steps=3, batch_size=2, patch_size=32, device="cpu", edge_weight=2.5, edge_warmup=1)
    model = fit(sample.image, sample.strokes, cfg, model_config=tiny_model_config).model
    save_model(model, tmp_path / "m.pt")
    stored = load_model(tmp_path / "m.pt").history.train_config
    assert stored["edge_weight"] == 2.5 and stored["edge_warmup"] == 1


def test_edge_factor_warms_up_then_ramps():
    from napari_unet.core.config import TrainConfig
    from napari_unet.core.loop import edge_factor

    cfg = TrainConfig(edge_weight=2.0, edge_warmup=10)
    assert [edge_factor(cfg, s) for s in (0, 10, 15, 20, 500)] == [0.0, 0.0, 1.0, 2.0, 2.0]
    assert edge_factor(TrainConfig(edge_weight=0.0), 500) == 0.0


def test_strokes_keep_away_from_edges_and_paint_thin_regions_down_the_middle():
    from scipy import ndimage as ndi

    from napari_unet.core.samples import simulate_strokes

    truth = np.ones((96, 96), np.uint8)
    truth[20:70, 20:70] = 2  # a thick square
    truth[:, 84:87] = 3  # a 3-px "membrane"
    strokes = simulate_strokes(truth, fraction=0.05, seed=0, margin=3)
    for v in (1, 2):
        painted = strokes == v
        assert painted.any()
        assert ndi.distance_transform_edt(truth == v)[painted].min() > 3
    assert np.all(np.nonzero(strokes == 3)[1] == 85)  # only the membrane's middle column
    assert not np.any((strokes > 0) & (strokes != truth))


def test_instance_background_strokes_keep_away_from_objects():
    from scipy import ndimage as ndi

    from napari_unet.core.samples import make_sample, simulate_instance_strokes

    s = make_sample(128, seed=3)
    strokes = simulate_instance_strokes(s.instances, seed=0)
    distance = ndi.distance_transform_edt(s.instances == 0)
    assert (strokes == 1).any() and distance[strokes == 1].min() > 3


def test_tta_prediction_is_equivariant_to_flips_and_rotations(trained, sample):
    """With test-time augmentation, predicting a rotated or mirrored image gives the rotated or
    mirrored prediction (up to float rounding in the tile blending)."""
    from napari_unet.core.config import PredictConfig
    from napari_unet.predict.pipeline import predict_labels

    image = sample.image[:96, :96]
    cfg = PredictConfig(tta=True, tile_size=96, device="cpu", precision="fp32")
    base = predict_labels(trained, image, cfg, probabilities=True).probabilities[0]
    rot = predict_labels(trained, np.rot90(image).copy(), cfg, probabilities=True).probabilities[0]
    flip = predict_labels(trained, image[:, ::-1].copy(), cfg, probabilities=True).probabilities[0]
    np.testing.assert_allclose(np.rot90(base, axes=(1, 2)), rot, atol=1e-4)
    np.testing.assert_allclose(base[:, :, ::-1], flip, atol=1e-4)
    plain = predict_labels(trained, np.rot90(image).copy(), PredictConfig(tile_size=96, device="cpu",
                                                                        precision="fp32"), probabilities=True)
    assert np.abs(np.rot90(base, axes=(1, 2)) - plain.probabilities[0]).max() > 1e-3  # TTA is not a no-op


def test_classes_painted_as_thin_lines_are_found():
    from napari_unet.core.data import Slice2D, thin_classes

    target = np.full((40, 40), -1)
    target[5:8, 2:38] = 0  # a 3-px wide stroke
    target[20, 2:38] = 1  # a 1-px line (a membrane painted down its middle)
    idx = np.arange(2, 30)
    target[idx + 8, idx] = 2  # a 1-px diagonal line
    target[30:32, 2:38] = 3  # 2 px wide
    assert thin_classes([Slice2D(None, target, None)], 4) == (1, 2, 3)


def test_edge_term_stays_off_when_a_class_is_painted_as_thin_lines(tiny_model_config, monkeypatch):
    """A Potts term would erase faint stretches of thin structures: with a class painted only as
    one-pixel lines the edge term is not applied, and the model file says which class caused it."""
    import napari_unet.core.losses as losses
    from napari_unet.core.samples import make_sample
    from napari_unet.core.config import TrainConfig
    from napari_unet.core.train import fit

    s = make_sample(64, seed=0)
    strokes = np.zeros_like(s.strokes)
    strokes[10:13, 5:60] = 1
    strokes[40, 5:60] = 2  # a one-pixel line
    calls = []
    real = losses.edge_potts_loss
    monkeypatch.setattr(losses, "edge_potts_loss", lambda *a, **k: calls.append(1) or real(*a, **k))
    cfg = TrainConfig(steps=2, batch_size=2, patch_size=32, device="cpu", edge_warmup=0)
    model = fit(s.image, strokes, cfg, model_config=tiny_model_config).model
    assert model.history.thin_classes == [2] and not calls
    strokes[39:42, 5:60] = 2  # the same class painted 3 px wide: the term acts
    model = fit(s.image, strokes, cfg, model_config=tiny_model_config).model
    assert model.history.thin_classes == [] and len(calls) == 2


def _cells_in_membranes(size=192, cells=30, width=2.5, seed=0):
    """Class map of cells (1) parted by membranes (0) about ``2 * width`` px wide."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, size, (cells, 2))
    yy, xx = np.mgrid[:size, :size]
    nearest = np.sort(np.stack([np.hypot(yy - y, xx - x) for y, x in centres]), axis=0)
    return np.where(nearest[1] - nearest[0] < width, 0, 1)


def _blobs(size=192, n=30, radius=9, seed=0):
    """Class map of round blobs (1) on background (0)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    out = np.zeros((size, size), int)
    for y, x in rng.uniform(0, size, (n, 2)):
        out[np.hypot(yy - y, xx - x) <= radius] = 1
    return out


def test_a_network_of_thin_lines_is_a_line_class_and_blobs_are_not():
    """What the network predicts decides, not how wide the strokes were: membranes around cells
    are lines; blobs of any size, their background, cells and wide walls are not; specks of
    noise do not change that."""
    from napari_unet.core.lines import lines_in_prediction

    noise = np.random.default_rng(1).random((192, 192)) < 0.01
    membranes = _cells_in_membranes()
    assert lines_in_prediction([membranes], 2) == (0,)
    assert lines_in_prediction([np.where(noise, 1 - membranes, membranes)], 2) == (0,)  # with specks
    assert lines_in_prediction([_cells_in_membranes(width=7)], 2) == ()  # walls 14 px wide
    for radius in (3, 6, 12):  # small blobs are thin, but enclose nothing
        assert lines_in_prediction([_blobs(radius=radius)], 2) == ()
    three = np.where(_blobs(radius=5) == 1, 2, membranes)  # membranes, cells and blobs in them
    assert lines_in_prediction([three], 3) == (0,)


def test_a_class_predicted_as_lines_after_the_warm_up_turns_the_edge_term_off(tiny_model_config, monkeypatch):
    """Painted with a wide brush, membranes are judged on the prediction at the end of the warm-up:
    from then on the edge term stays off, and the model records them as lines to close."""
    import napari_unet.core.lines as lines
    import napari_unet.core.losses as losses
    from napari_unet.core.config import TrainConfig
    from napari_unet.core.train import fit

    image = np.where(_cells_in_membranes(size=96) == 0, 0.2, 0.8).astype(np.float32)
    strokes = np.zeros((96, 96), np.uint8)
    strokes[10:20, 10:80] = 2  # wide strokes of both classes: nothing says "line" in the strokes
    strokes[50:60, 10:80] = 1
    judged, calls = [], []
    monkeypatch.setattr(lines, "lines_in_prediction", lambda maps, n, *a: judged.append(len(maps)) or (0,))
    real = losses.edge_potts_loss
    monkeypatch.setattr(losses, "edge_potts_loss", lambda *a, **k: calls.append(1) or real(*a, **k))
    cfg = TrainConfig(steps=6, batch_size=2, patch_size=32, device="cpu", edge_warmup=2)
    model = fit(image, strokes, cfg, model_config=tiny_model_config).model
    assert judged == [1]  # once, at step 2, on the one training slice
    assert not calls and model.history.thin_classes == [1] and model.info.line_classes == [1]
    monkeypatch.setattr(lines, "lines_in_prediction", lambda maps, n, *a: ())
    model = fit(image, strokes, cfg, model_config=tiny_model_config).model
    assert len(calls) == 3 and model.history.thin_classes == [] and not model.info.line_classes


def test_a_network_still_predicting_membranes_in_pieces_is_judged_again(tiny_model_config, monkeypatch):
    """Early in training membranes come in pieces that enclose nothing; the loop looks again at
    every doubling of the warm-up until it sees lines, and from then on the edge term is off."""
    import napari_unet.core.lines as lines
    import napari_unet.core.losses as losses
    from napari_unet.core.config import TrainConfig
    from napari_unet.core.train import fit

    image = np.where(_cells_in_membranes(size=96) == 0, 0.2, 0.8).astype(np.float32)
    strokes = np.zeros((96, 96), np.uint8)
    strokes[10:20, 10:80], strokes[50:60, 10:80] = 2, 1
    answers = iter([(), (0,)])  # pieces at step 2, lines at step 4
    monkeypatch.setattr(lines, "lines_in_prediction", lambda maps, n, *a: next(answers))
    calls = []
    real = losses.edge_potts_loss
    monkeypatch.setattr(losses, "edge_potts_loss", lambda *a, **k: calls.append(1) or real(*a, **k))
    cfg = TrainConfig(steps=12, batch_size=2, patch_size=32, device="cpu", edge_warmup=2)
    model = fit(image, strokes, cfg, model_config=tiny_model_config).model
    assert len(calls) == 1  # step 3 (the ramp starts at zero at step 2), none from step 4 on
    assert model.history.thin_classes == [1] and model.info.line_classes == [1]


def test_the_loop_looks_for_lines_at_the_warm_ups_end_and_each_doubling_until_found():
    from napari_unet.core.loop import judging_step

    looks = [s for s in range(1, 2000) if judging_step(s, 100, ())]
    assert looks == [100, 200, 400, 800, 1600]
    assert not judging_step(400, 100, (0,)) and not judging_step(100, 0, ())


def test_lines_found_only_at_the_end_are_still_closed(tiny_model_config, monkeypatch):
    """A run too short for a second look still looks once more when it ends: prediction closes
    what it finds (the edge term was on throughout, so it is not recorded as off)."""
    import napari_unet.core.lines as lines
    from napari_unet.core.config import TrainConfig
    from napari_unet.core.train import fit

    image = np.where(_cells_in_membranes(size=96) == 0, 0.2, 0.8).astype(np.float32)
    strokes = np.zeros((96, 96), np.uint8)
    strokes[10:20, 10:80], strokes[50:60, 10:80] = 2, 1
    answers = iter([(), (0,)])  # at step 2, then at the end (step 3)
    monkeypatch.setattr(lines, "lines_in_prediction", lambda maps, n, *a: next(answers))
    cfg = TrainConfig(steps=3, batch_size=2, patch_size=32, device="cpu", edge_warmup=2)
    model = fit(image, strokes, cfg, model_config=tiny_model_config).model
    assert model.info.line_classes == [1] and model.history.thin_classes == []
    assert set(model.info.line_odds) == {1} and model.info.line_odds[1] > 0


def test_a_line_class_share_is_measured_from_probabilities_trained_at_another_share():
    """Probabilities of a calibrated classifier trained with membranes as half the pixels, on an
    image where they are a fifth: reweighing until the share settles finds the fifth."""
    from napari_unet.core.lines import image_share

    rng = np.random.default_rng(0)
    is_line = rng.random(200_000) < 0.2
    x = rng.normal(np.where(is_line, 1.0, -1.0), 1.0)
    p = 1 / (1 + np.exp(-2 * x))  # the posterior at equal shares
    assert p.mean() > 0.3  # taken as they are, a third of the pixels
    assert image_share(p, 0.5) == pytest.approx(0.2, abs=0.01)
    p_third = 1 / (1 + 2 * np.exp(-2 * x))  # trained with lines a third of the pixels
    assert image_share(p_third, 1 / 3) == pytest.approx(0.2, abs=0.01)


def test_instance_models_are_not_weighed_by_a_measured_share(tiny_model_config, sample, monkeypatch):
    """Only a semantic model trained from scratch on strokes looks for lines and measures their
    share: instance training (nuclei, cells) never predicts on the probe images."""
    import napari_unet.core.lines as lines
    from napari_unet.core.config import TrainConfig
    from napari_unet.core.samples import simulate_instance_strokes
    from napari_unet.core.train import fit

    def never(*a, **k):
        raise AssertionError("instance training looked for lines")

    monkeypatch.setattr(lines, "probe_probabilities", never)
    strokes = simulate_instance_strokes(sample.instances, seed=0)
    cfg = TrainConfig(steps=6, batch_size=2, patch_size=32, device="cpu", edge_warmup=2, mode="instance")
    model = fit(sample.image, strokes, cfg, model_config=tiny_model_config).model
    assert model.info.line_odds == {} and model.info.line_classes == []


def test_a_fine_tuned_named_model_measures_no_share(tiny_model_config, monkeypatch):
    """A model fine-tuned from a named (base) model keeps the margin and the seeds below
    ``line_seed``: its membranes come from dense labels, which already have their share."""
    import napari_unet.core.loop as loop
    from napari_unet.core.config import TrainConfig
    from napari_unet.core.train import fit

    image = np.where(_cells_in_membranes(size=96) == 0, 0.2, 0.8).astype(np.float32)
    strokes = np.zeros((96, 96), np.uint8)
    strokes[10:20, 10:80], strokes[50:60, 10:80] = 2, 1
    cfg = TrainConfig(steps=3, batch_size=2, patch_size=32, device="cpu", edge_warmup=2)
    base = fit(image, strokes, cfg, model_config=tiny_model_config).model
    base.info.name, base.info.line_classes, base.info.line_odds = "membranes-base", [1], {}

    def never(*a, **k):
        raise AssertionError("a fine-tune measured a share")

    monkeypatch.setattr(loop, "finish_lines", never)
    model = fit(image, strokes, cfg, model=base).model
    assert model.info.fine_tuned_from == "membranes-base" and model.info.line_odds == {}
