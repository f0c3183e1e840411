"""Instance mode: gaps between touching objects, the paper's border weight map, one label per object."""

import numpy as np
import pytest
from skimage.draw import disk

from napari_unet.core.config import NormConfig, PredictConfig, TrainConfig, UserInputError
from napari_unet.core.data import annotated_slices, to_zcyx
from napari_unet.core.instances import BACKGROUND, OBJECT, border_weights, instance_training_data, objects_from_foreground, semantic_targets


def touching_disks(size=64, r=10):
    objects = np.zeros((size, size), np.int32)
    objects[disk((32, 22), r, shape=objects.shape)] = 2
    objects[disk((32, 41), r, shape=objects.shape)] = 3  # overlaps the first: they touch along x = 31..32
    return objects


def test_gaps_separate_touching_objects():
    objects = touching_disks()
    strokes = objects.copy()
    strokes[:5] = 1
    t = semantic_targets(strokes)
    assert t[32, 22] == OBJECT and t[32, 41] == OBJECT
    assert t[32, 31] == BACKGROUND or t[32, 32] == BACKGROUND  # the gap between them
    assert (t[:5] == BACKGROUND).all() and (t[10:20, 55:] == 0).all()
    fg = t == OBJECT
    from skimage.measure import label

    assert label(fg, connectivity=1).max() == 2  # the gap cuts the pair in two


def test_an_object_alone_keeps_all_its_pixels():
    strokes = np.zeros((64, 64), np.int32)
    strokes[disk((32, 32), 10, shape=strokes.shape)] = 7
    t = semantic_targets(strokes)
    assert (t[strokes == 7] == OBJECT).all()  # no "gap" without a second object
    gap = (semantic_targets(touching_disks()) == BACKGROUND) & (touching_disks() > 0)
    assert 0 < gap.sum() < 60 and (np.nonzero(gap)[1] >= 30).all() and (np.nonzero(gap)[1] <= 33).all()


def test_outline_marks_the_ring_outside_a_painted_object_as_background():
    strokes = touching_disks()
    strokes[:3] = 1
    t = semantic_targets(strokes, outline=2)
    from scipy import ndimage as ndi

    d = ndi.distance_transform_edt(touching_disks() == 0)
    assert (t[(d > 0) & (d <= 2)] == BACKGROUND).all()  # the ring, up to 2 px out
    assert (t[(d > 2.5) & (strokes == 0)] == 0).all()  # further out: still unannotated
    assert (t[strokes >= 2] == semantic_targets(strokes)[strokes >= 2]).all()  # objects untouched
    assert (semantic_targets(strokes, outline=0)[(d > 0) & (d <= 2) & (strokes == 0)] == 0).all()


def test_border_weight_peaks_in_the_gap_and_decays():
    objects = touching_disks()
    w = border_weights(objects, w0=10, sigma=5)
    gap = w[32, 31:33].max()
    assert gap == pytest.approx(10, rel=0.05)
    assert w[32, 10] < 0.5  # far side of the left disk's edge... inside it, d2 is large
    assert w[5, 31] < w[20, 31] < gap  # decays with distance from the gap
    single = border_weights(np.where(objects == 2, 2, 0))
    assert single.max() == 0  # one object: no second-nearest object, no border term


def test_weight_map_is_w0_plus_class_weight_in_the_gap_and_zero_where_not_annotated():
    objects = touching_disks()
    strokes = objects.copy()
    strokes[:8] = 1
    strokes[56:, :] = 1
    targets, border = instance_training_data(strokes[None], w0=10, sigma=5)
    img = to_zcyx(np.random.default_rng(0).random((64, 64)).astype(np.float32))
    (s,) = annotated_slices([img], [targets.astype(np.int64)], (1, 2), NormConfig(), pixel_weights=[border])
    gap = (targets[0] == BACKGROUND) & (objects > 0)
    assert gap.any()
    cw_bg = s.weight[:8][s.target[:8] == 0].min()  # background far from objects: class weight only
    # the gap is two pixels wide (each object loses its contact pixels): d1 = 1, d2 = 2 there
    assert s.weight[gap].max() == pytest.approx(cw_bg + 10 * np.exp(-((1 + 2) ** 2) / (2 * 5**2)), rel=0.02)
    assert (s.weight[targets[0] == 0] == 0).all()


def test_windowed_border_weights_equal_the_full_image_computation():
    """The per-object windows (4 sigma) give the same map as whole-image distance transforms."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(0)
    objects = np.zeros((160, 160), np.int32)
    for i in range(25):
        y, x = rng.integers(8, 152, 2)
        objects[disk((y, x), rng.integers(4, 9), shape=objects.shape)] = i + 2
    ids = [v for v in np.unique(objects) if v]
    dists = np.sort(np.stack([ndi.distance_transform_edt(objects != v) for v in ids]), axis=0)
    full = 10 * np.exp(-((dists[0] + dists[1]) ** 2) / (2 * 5**2))
    windowed = border_weights(objects, w0=10, sigma=5)
    assert windowed.max() > 5  # touching or close objects exist in this scene
    np.testing.assert_allclose(windowed, full, atol=10 * np.exp(-8) + 1e-5)


def test_watershed_splits_touching_foreground():
    fg = touching_disks() > 0
    labels = objects_from_foreground(fg)
    assert labels[32, 22] != labels[32, 41] and labels[32, 22] > 0 and labels[32, 41] > 0
    assert objects_from_foreground(fg, split=False).max() == 1


def test_only_background_painted_is_a_clear_error():
    from napari_unet.core.train import train

    img = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    strokes = np.zeros((64, 64), np.uint8)
    strokes[5, 5:40] = 1
    with pytest.raises(UserInputError, match="only background"):
        train(img, strokes, TrainConfig(steps=2, mode="instance", device="cpu"))


def touching_pairs(n=4, cell=48, r=10, seed=0):
    """An image of n x n pairs of touching disks of different brightness, their instances and centres."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    inst = np.zeros((n * cell, n * cell), np.int32)
    img = np.zeros(inst.shape, np.float32)
    centres, k = [], 1
    for i in range(n):
        for j in range(n):
            cy, cx = i * cell + cell // 2, j * cell + cell // 2
            ang = rng.uniform(0, np.pi)
            a = (cy - np.sin(ang) * (r - 0.5), cx - np.cos(ang) * (r - 0.5))
            b = (cy + np.sin(ang) * (r - 0.5), cx + np.cos(ang) * (r - 0.5))
            for c in (a, b):
                rr, cc = disk(c, r, shape=inst.shape)
                free = inst[rr, cc] == 0
                inst[rr[free], cc[free]] = k
                img[rr[free], cc[free]] = rng.uniform(0.6, 1.0)
                k += 1
            centres.append((tuple(map(int, a)), tuple(map(int, b))))
    img = ndi.gaussian_filter(img, 1.0) + rng.normal(0, 0.05, img.shape)
    return (img * 1000).astype(np.float32), inst, centres


def test_touching_cells_come_out_as_separate_objects(tmp_path):
    """Short training on touching blobs, half of the pairs painted whole: every pair comes out as two objects."""
    from scipy import ndimage as ndi

    from napari_unet.core.config import ModelConfig
    from napari_unet.models.load import load_model
    from napari_unet.models.checkpoint import save_model
    from napari_unet.predict.pipeline import predict_labels
    from napari_unet.core.train import fit

    img, inst, centres = touching_pairs()
    strokes = np.where(ndi.binary_dilation(inst > 0, iterations=3), 0, 1).astype(np.int32)
    strokes[::2] = 0  # background strokes: stripes away from the cells
    for pair in range(0, len(centres), 2):  # paint every second pair whole (values >= 2)
        for v in (2 * pair + 1, 2 * pair + 2):
            strokes[inst == v] = v + 1
    cfg = TrainConfig(steps=150, patch_size=64, device="cpu", mode="instance")
    model = fit(img, strokes, cfg, model_config=ModelConfig(depth=3, base_channels=8, dropout=0)).model
    assert model.mode == "instance" and model.class_values == (1, 2)
    model = load_model(save_model(model, tmp_path / "m.pt"))
    assert model.mode == "instance"
    areas = np.bincount(inst[strokes >= 2])[1:]  # what the painted objects cover: specks are under half the small ones
    assert model.info.small_object_area == round(float(np.percentile(areas[areas > 0], 10)), 1)
    labels = predict_labels(model, img, PredictConfig(tile_size=96, device="cpu")).labels
    assert labels.dtype == np.int32 and labels.shape == img.shape
    for a, b in centres:
        assert labels[a] > 0 and labels[b] > 0 and labels[a] != labels[b]
    assert labels.max() == 2 * len(centres)
    # a z-stack, written into a given array: each slice numbered 1..n on its own
    stack = np.stack([img, img[::-1]])
    out = np.full(stack.shape, -1, np.int32)
    cfg = PredictConfig(tile_size=96, device="cpu")
    assert predict_labels(model, stack, cfg, out=out).labels is out
    np.testing.assert_array_equal(out, predict_labels(model, stack, cfg).labels)
    for plane in out:
        assert plane.max() == 2 * len(centres) and len(np.unique(plane)) == plane.max() + 1
    assert np.mean(out[0] == labels) > 0.999  # normalised over the stack: a few edge pixels may differ


def test_objects_without_a_sure_core_are_dropped():
    fg = np.zeros((40, 60), bool)
    fg[5:15, 5:15] = fg[25:35, 30:40] = fg[2:4, 50:53] = True  # two objects and a speck
    core = np.zeros_like(fg)
    core[9:11, 9:11] = core[29, 34] = True  # the speck is nowhere sure
    objects = objects_from_foreground(fg, min_size=4, core=core)
    assert objects.max() == 2 and objects[10, 10] and objects[30, 35] and not objects[3, 51]
    assert sorted(np.unique(objects)) == [0, 1, 2]
    assert objects_from_foreground(fg, min_size=4).max() == 3  # without a core: all three


def test_sure_cores_seed_the_split_of_large_irregular_cells():
    """A dumbbell-shaped cell the network is sure of throughout is one cell with core seeds; the
    distance maxima cut it at its neck. Two cells whose sure cores are apart stay two."""
    fg = np.zeros((80, 140), bool)
    fg[disk((40, 35), 28)] = fg[disk((40, 105), 28)] = True
    fg[34:46, 35:105] = True  # a 12-px neck joins the two lobes
    assert objects_from_foreground(fg, core=fg, seeds="distance").max() == 2
    assert objects_from_foreground(fg, core=fg, seeds="cores").max() == 1
    two_cores = fg.copy()
    two_cores[:, 60:80] = False  # unsure across the neck: two touching cells
    parts = objects_from_foreground(fg, core=two_cores, seeds="cores")
    assert parts.max() == 2 and parts[40, 35] != parts[40, 105]


def test_the_split_and_the_smallest_object_follow_the_size_the_model_learned():
    """Cells of about 60 px, the small ones 2000 px: a lobed cell whose lobes meet in a wide waist
    stays one, two cells that touch along a narrow neck are still two, and a 49-px speck goes;
    with the fixed nuclei settings (2 px depth, 8 px) the lobed cell is cut and the speck stays."""
    from napari_unet.core.instances import sized

    lobed = np.zeros((80, 120), bool)
    lobed[disk((40, 35), 26)] = lobed[disk((40, 65), 24)] = True  # 30 px apart: a waist a few px narrower
    lobed[5:12, 110:117] = True  # a 49-px speck
    assert objects_from_foreground(lobed).max() == 3
    objects = objects_from_foreground(lobed, **sized(60, 2000))
    assert objects.max() == 1 and objects[40, 35] == objects[40, 65] and not objects[8, 113]
    pair = np.zeros((80, 140), bool)
    pair[disk((40, 35), 28)] = pair[disk((40, 105), 28)] = True
    pair[36:44, 35:105] = True  # an 8-px neck between two cells
    assert objects_from_foreground(pair, **sized(60, 2000)).max() == 2
    assert sized() == {} and sized(13, 40) == {"depth": 2.0, "min_size": 20}
