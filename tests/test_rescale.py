"""Objects much larger than a model learned are predicted on a shrunken copy of the image."""

import numpy as np
import pytest

from napari_unet.core.config import PredictConfig, UserInputError
from napari_unet.predict.finish import instance_classes, objects_from_classes
from napari_unet.predict.pipeline import predict, predict_labels
from napari_unet.predict.rescale import LARGEST, size_factor
from napari_unet.predict.resize import resize
from napari_unet.core.instances import object_diameter

CPU = dict(device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def nuclei():
    from napari_unet.models.load import load_model

    return load_model("nuclei")


def big_nuclei(factor: int = 3, size: int = 96, seed: int = 3):
    """The sample scene enlarged: nuclei ``factor`` times as wide as those of the sample, and their truth."""
    from napari_unet.core.samples import make_sample

    s = make_sample(size, seed=seed)
    return np.kron(s.image, np.ones((factor, factor), s.image.dtype)), np.kron(s.instances, np.ones((factor, factor), int))


def test_object_diameter_is_the_median_diameter_of_equal_area_discs():
    from skimage.draw import disk

    lab = np.zeros((80, 80), int)
    for i, (c, r) in enumerate([((15, 15), 5), ((15, 50), 5), ((55, 40), 12)], start=1):
        lab[disk(c, r)] = i
    area = (lab == 1).sum()
    assert object_diameter(lab) == pytest.approx(2 * np.sqrt(area / np.pi))
    assert object_diameter(np.stack([lab, lab]), lab) == pytest.approx(object_diameter(lab))
    assert object_diameter(np.zeros((5, 5), int)) is None


def test_only_objects_much_larger_than_the_models_are_shrunk():
    assert size_factor(14, None) == size_factor(14, 5) == size_factor(14, 14 * LARGEST) == 1.0  # never enlarged
    assert size_factor(14, 14 * LARGEST * 2) == pytest.approx(0.5)
    assert size_factor(14, 10_000) == 0.25  # at most to a quarter


def test_large_nuclei_are_predicted_on_a_shrunken_copy_and_come_back_at_full_size(nuclei):
    """A given diameter: the image is shrunk, predicted as any image, and the probabilities are
    resized back before the objects are split."""
    image, _ = big_nuclei()
    d = 3 * LARGEST * nuclei.info.object_diameter
    result = predict_labels(nuclei, image, PredictConfig(diameter=d, **CPU), probabilities=True)
    assert result.scale == pytest.approx(1 / 3)
    assert result.labels.shape == image.shape and result.probabilities.shape == (1, 2, *image.shape)

    from napari_unet.core.data import percentiles, to_zcyx

    small = resize(image.astype(np.float32), (96, 96))  # normalised as the whole image is
    direct = predict_labels(nuclei, small, PredictConfig(**CPU), probabilities=True,
                            intensity_range=percentiles(to_zcyx(image), nuclei.norm))
    back = resize(direct.probabilities[0], image.shape)
    np.testing.assert_allclose(result.probabilities[0], back, rtol=0, atol=1e-5)
    import torch

    classes = instance_classes(torch.from_numpy(back), nuclei.class_values, 0.9).numpy()
    np.testing.assert_array_equal(result.labels, objects_from_classes(classes, sizes={"diameter": 3 * nuclei.info.object_diameter}))

    off = predict_labels(nuclei, image, PredictConfig(rescale=False, **CPU))
    assert off.scale == 1.0 and not np.array_equal(off.labels, result.labels)


def test_shrinking_finds_large_nuclei_better(nuclei):
    """Nuclei about five times the model's size: on a shrunken copy more of them come out whole
    (F1 of matching at IoU 0.5 against the scene's true nuclei) than predicted as they are."""
    from scores import f1

    image, truth = big_nuclei(4, 256, seed=1)
    shrunk = predict_labels(nuclei, image, PredictConfig(diameter=object_diameter(truth), **CPU))
    plain = predict_labels(nuclei, image, PredictConfig(rescale=False, **CPU))
    assert shrunk.scale < 0.5
    on, off = f1(shrunk.labels, truth), f1(plain.labels, truth)
    assert on >= max(0.85, off + 0.15), (on, off)  # measured: 0.94 and 0.68


def test_auto_measures_the_objects_of_a_first_pass(nuclei):
    """'auto' is the diameter the first pass measures; progress counts both passes once."""
    image, _ = big_nuclei(4)
    plain = predict_labels(nuclei, image, PredictConfig(rescale=False, **CPU))
    measured = object_diameter(plain.labels)
    gen = predict(nuclei, image, PredictConfig(**CPU))
    fractions = []
    while True:
        try:
            fractions.append(next(gen).fraction)
        except StopIteration as end:
            result = end.value
            break
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert result.scale == pytest.approx(size_factor(nuclei.info.object_diameter, measured)) and result.scale < 1
    given = predict_labels(nuclei, image, PredictConfig(diameter=measured, **CPU))
    np.testing.assert_array_equal(result.labels, given.labels)


def test_streamed_outputs_and_lazy_images_are_shrunk_like_in_memory_crops_and_semantic_models_not(nuclei, trained,
                                                                                                  sample):
    import dask.array as da

    from napari_unet.core.data import percentiles, to_zcyx

    image, _ = big_nuclei()
    for cfg in (PredictConfig(diameter=200.0, **CPU), PredictConfig(**CPU)):  # given, and measured by a first pass
        memory = predict_labels(nuclei, image, cfg)
        assert memory.scale < 1
        streamed = predict_labels(nuclei, image, cfg, out=np.zeros(image.shape, np.int32))
        lazy = predict_labels(nuclei, da.from_array(image, chunks=128), cfg)
        for result in (streamed, lazy):
            assert result.scale == memory.scale
            np.testing.assert_array_equal(np.asarray(result.labels), memory.labels)
    # a crop with the whole image's normalisation is predicted as it is (regions: napari_unet.predict.region)
    plain = predict_labels(nuclei, image, PredictConfig(rescale=False, **CPU)).labels
    crop = predict_labels(nuclei, image, cfg, intensity_range=percentiles(to_zcyx(image), nuclei.norm))
    assert crop.scale == 1.0
    np.testing.assert_array_equal(crop.labels, plain)
    assert predict_labels(trained, sample.image, cfg).scale == 1.0


def test_progress_ends_at_one_when_nothing_needs_shrinking(nuclei, sample):
    gen = predict(nuclei, sample.image, PredictConfig(**CPU))  # the sample's nuclei: the model's size
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as end:
            assert end.value.scale == 1.0
            break
    assert events[-1].fraction == 1.0


def test_one_slice_of_a_stack_is_shrunk_like_the_image_alone(nuclei):
    image, _ = big_nuclei()
    stack = np.stack([image[::-1], image])
    cfg = PredictConfig(diameter=3 * LARGEST * nuclei.info.object_diameter, **CPU)
    result = predict_labels(nuclei, stack, cfg, z_slices=[1], probabilities=True)
    alone = predict_labels(nuclei, image, cfg, probabilities=True)
    assert result.scale == alone.scale < 1 and not result.labels[0].any()
    np.testing.assert_array_equal(result.labels[1], alone.labels)
    np.testing.assert_allclose(result.probabilities[1], alone.probabilities[0], rtol=0, atol=1e-5)


def test_training_on_whole_nuclei_records_their_size(tiny_model_config, tiny_train_config):
    from dataclasses import replace

    from napari_unet.core.samples import make_sample, simulate_instance_strokes
    from napari_unet.core.train import fit

    s = make_sample(128, seed=4)
    strokes = simulate_instance_strokes(s.instances, object_fraction=0.5, seed=0)
    model = fit(s.image, strokes, replace(tiny_train_config, steps=2, mode="instance"),
                model_config=tiny_model_config).model
    assert model.info.object_diameter == pytest.approx(object_diameter(np.where(strokes >= 2, strokes, 0)), abs=0.01)
    assert 10 < model.info.object_diameter < 30  # the sample's ellipses have semi-axes of 6 to 14 px


def test_a_bad_diameter_is_refused_with_what_to_give(capsys):
    from napari_unet.cli import EXIT_USAGE, main

    with pytest.raises(UserInputError, match="diameter"):
        PredictConfig(diameter=-3)
    assert main(["predict", "--model", "nuclei", "--images", "x.tif", "--out-dir", "o", "--diameter", "big"]) == EXIT_USAGE
    assert "--diameter must be 'auto', 'off' or a size in pixels" in capsys.readouterr().err
