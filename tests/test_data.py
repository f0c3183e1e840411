import numpy as np
import pytest

from napari_unet.core.config import NormConfig, UserInputError
from napari_unet.core.data import IGNORE, PatchSampler, annotated_slices, class_values_of, class_weights, labels_to_zyx, make_targets, normalize, to_zcyx


def _encoded(shape, names):
    """An array whose every value spells its own index along each named axis (digits z, c, y, x)."""
    scale = {"z": 1000, "c": 100, "y": 10, "x": 1}
    grids = np.indices(shape)
    return sum(g * scale[n] for g, n in zip(grids, names)).astype(np.int32)


@pytest.mark.parametrize(
    "shape, names, kwargs",
    [((3, 4), "yx", {}), ((6, 5, 3), "yxc", {}), ((2, 3, 4), "zyx", {}), ((2, 3, 4, 2), "zyxc", {}),
     ((3, 3, 4), "cyx", {"channel_axis": 0}), ((2, 2, 3, 4), "zcyx", {"channel_axis": 1}),
     ((5, 3, 4), "zyx", {"rgb": False})],
)
def test_axes_move_the_values_not_just_the_shape(shape, names, kwargs):
    a = _encoded(shape, names)
    out = to_zcyx(a, **kwargs)
    z, c, y, x = np.indices(out.shape)
    want = {"z": z * 1000, "c": c * 100, "y": y * 10, "x": x}
    np.testing.assert_array_equal(out, sum(want[n] for n in names))


def test_normalisation_maps_percentiles_to_unit_range(rng):
    img = to_zcyx(rng.integers(100, 4000, (64, 64)).astype(np.uint16))
    out = normalize(img, NormConfig(1, 99))
    assert out.dtype == np.float32
    assert np.isclose(np.percentile(out, 1), 0, atol=1e-3) and np.isclose(np.percentile(out, 99), 1, atol=1e-3)


def test_nan_in_image_is_a_clear_error():
    img = np.ones((16, 16), np.float32)
    img[3, 4] = np.nan
    with pytest.raises(UserInputError, match="NaN"):
        normalize(to_zcyx(img), NormConfig())


def test_no_strokes_and_one_class_are_clear_errors():
    with pytest.raises(UserInputError, match="no strokes"):
        class_values_of([np.zeros((8, 8), int)])
    one = np.zeros((8, 8), int)
    one[2, 2] = 3
    with pytest.raises(UserInputError, match="only one class"):
        class_values_of([one])


def test_shape_mismatch_is_a_clear_error():
    img = to_zcyx(np.zeros((32, 32)))
    with pytest.raises(UserInputError, match="shape"):
        labels_to_zyx(np.zeros((32, 31), int), img)


def test_targets_ignore_unannotated_and_map_values():
    lab = np.array([[0, 2, 5], [5, 0, 2]])
    t = make_targets(lab, (2, 5))
    assert t.tolist() == [[IGNORE, 0, 1], [1, IGNORE, 0]]


def test_class_weights_balance_frequencies():
    t = np.array([0] * 90 + [1] * 10 + [IGNORE] * 50)
    w = class_weights([t], 2)
    assert np.isclose(w[0] * 90, w[1] * 10)  # each class contributes equally
    assert np.isclose((w[0] * 90 + w[1] * 10) / 100, 1.0)


def test_sampler_picks_only_annotated_pixels_and_balances_classes(rng):
    lab = np.zeros((1, 64, 64), np.int64)
    lab[0, 10, 5:60] = 1  # a long stroke of class 1
    lab[0, 40:42, 30] = 2  # two pixels of class 2
    img = to_zcyx(rng.random((64, 64)).astype(np.float32))
    slices = annotated_slices([img], [lab], (1, 2), NormConfig())
    centres = PatchSampler(slices, 2, rng).sample(4000)
    values = lab[0, centres[:, 1], centres[:, 2]]
    assert (values > 0).all()
    frac2 = np.mean(values == 2)
    assert 0.45 < frac2 < 0.55


def test_only_slices_with_strokes_are_used(rng):
    stack = to_zcyx(rng.random((4, 32, 32)).astype(np.float32))
    lab = np.zeros((4, 32, 32), np.int64)
    lab[2, 5, 5], lab[2, 20, 20] = 1, 2
    slices = annotated_slices([stack], [lab], (1, 2), NormConfig())
    assert len(slices) == 1
    assert (slices[0].weight[lab[2] == 0] == 0).all() and (slices[0].weight[lab[2] > 0] > 0).all()


def test_unbalanced_sampling_follows_the_stroke_pixels():
    """Balanced: each painted class is a patch centre equally often; otherwise in proportion to its pixels."""
    from napari_unet.core.data import PatchSampler, Slice2D

    target = np.full((50, 50), -1)
    target[:45, :] = 0  # 2250 pixels of class 0
    target[48, :25] = 1  # 25 pixels of class 1
    slices = [Slice2D(None, target, None)]
    for balanced, share in ((True, 0.5), (False, 25 / 2275)):
        centres = PatchSampler(slices, 2, np.random.default_rng(0), balanced=balanced).sample(4000)
        got = np.mean(target[centres[:, 1], centres[:, 2]] == 1)
        assert abs(got - share) < 0.03
