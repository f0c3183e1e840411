"""Base models shipped with the package, and models saved under a name."""

import subprocess
import sys
import zipfile

import numpy as np
import pytest

from napari_unet.core.config import TrainConfig, UserInputError
from napari_unet.models.load import load_model
from napari_unet.models.checkpoint import model_to_bytes, save_model
from napari_unet.models.named import SHIPPED, available, resolve, save_named, shipped_dir

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name, mode, classes", [("nuclei", "instance", {1: "background", 2: "nucleus"}),
                                                 ("em-membranes", "semantic", {1: "membrane", 2: "cell interior"}),
                                                 ("cells", "instance", {1: "background", 2: "cell"})])
def test_base_models_ship_with_classes_licence_and_record(name, mode, classes):
    import torch

    path = shipped_dir() / f"{name}.pt"
    assert path.stat().st_size < 10 * 2**20
    raw = torch.load(path, weights_only=True)  # plain containers only
    assert {v.dtype for v in raw["state_dict"].values() if v.is_floating_point()} == {torch.float16}
    model = load_model(name)
    assert model.mode == mode and model.info.class_names == classes and model.class_values == (1, 2)
    assert model.info.licence and model.info.citation and model.info.training_data
    assert model.steps_trained >= 1000 and model.history.train_config["augment"]["scale_range"] > 0.1
    assert next(model.net.parameters()).dtype == torch.float32


def test_nuclei_base_model_finds_the_cells_without_training():
    """On a scene whose uneven background defeats Otsu's threshold, and whose touching cells merge
    into one component: the base model finds the cells and splits them into nuclei."""
    from napari_unet.core.samples import make_sample
    from napari_unet.predict.pipeline import predict_labels
    from scores import f1, iou, otsu_foreground, otsu_objects

    scene = make_sample(256, seed=0)
    labels = predict_labels(load_model("nuclei"), scene.image).labels
    score, otsu = iou(labels > 0, scene.truth == 2), iou(otsu_foreground(scene.image), scene.truth == 2)
    assert score >= max(0.85, otsu + 0.1), (score, otsu)  # Otsu: 0.705
    score, otsu = f1(labels, scene.instances), f1(otsu_objects(scene.image), scene.instances)
    assert score >= max(0.8, otsu + 0.3), (score, otsu)  # F1 at IoU 0.5; Otsu + connected components: 0.08


def test_half_precision_file_predicts_like_the_model(trained, sample, tmp_path):
    from napari_unet.core.config import PredictConfig
    from napari_unet.predict.pipeline import predict_labels

    path = save_model(trained, tmp_path / "half.pt", half=True)
    assert path.stat().st_size < 0.6 * len(model_to_bytes(trained))
    fp32 = PredictConfig(precision="fp32", device="cpu")
    a = predict_labels(trained, sample.image, fp32, probabilities=True)
    b = predict_labels(load_model(path), sample.image, fp32, probabilities=True)
    assert np.abs(a.probabilities - b.probabilities).max() < 0.02
    assert (a.labels == b.labels).mean() > 0.999


def test_a_model_saved_under_a_name_is_listed_and_loads_by_name(trained, user_models):
    path = save_named(trained, "my-cells")
    assert path.parent == user_models
    assert [(e.name, e.shipped) for e in available()] == [*((n, True) for n in SHIPPED), ("my-cells", False)]
    assert resolve("my-cells") == path and load_model("my-cells").class_values == trained.class_values


@pytest.mark.parametrize("name, problem", [("nuclei", "shipped base model"), ("../x", "cannot name a model"),
                                           ("", "cannot name a model")])
def test_bad_names_are_refused(trained, name, problem):
    with pytest.raises(UserInputError, match=problem):
        save_named(trained, name)


def test_an_unknown_name_lists_the_names_there_are():
    with pytest.raises(UserInputError, match="named models: nuclei, em-membranes"):
        load_model("nucleii")


def test_strokes_the_base_model_does_not_know_name_its_classes(sample):
    from napari_unet.core.train import train

    strokes = sample.strokes.copy()
    strokes[:4, :4] = 3
    cfg = TrainConfig(steps=1, patch_size=32, device="cpu")
    with pytest.raises(UserInputError, match=r"\[3\].*'em-membranes'.*1 = membrane, 2 = cell interior"):
        train(sample.image, strokes, cfg, model=load_model("em-membranes"))
    with pytest.raises(UserInputError, match="'em-membranes' was trained in semantic mode.*membrane"):
        train(sample.image, sample.strokes, TrainConfig(steps=1, mode="instance", device="cpu"),
              model=load_model("em-membranes"))


def test_cli_lists_models_and_predicts_with_a_base_model_without_training(sample, tmp_path, capsys):
    import tifffile

    from napari_unet.cli import main

    assert main(["models", "--add", "mine", str(shipped_dir() / "em-membranes.pt")]) == 0
    out = capsys.readouterr().out
    assert ("nuclei: base model for nuclei in fluorescence and bright-field images (colour ones, such as H&E, "
            "converted to grey); instance, paint 1 = background, 2, 3, 4, … = one whole nucleus each") in out
    assert ("em-membranes: base model for cell membranes in serial-section electron microscopy; semantic, paint "
            "1 = membrane, 2 = cell interior; closes the lines of membrane") in out
    assert ("cells: base model for whole cells in phase contrast and DIC light microscopy (cell bodies, not nuclei); "
            "instance, paint 1 = background, 2, 3, 4, … = one whole cell each; learned objects about") in out
    assert "mine: your model, " in out and "; semantic, paint 1 = membrane" in out
    tifffile.imwrite(tmp_path / "cells.tif", sample.image)
    assert main(["predict", "--model", "nuclei", "--images", str(tmp_path / "cells.tif"), "--out-dir",
                 str(tmp_path / "out")]) == 0
    assert tifffile.imread(tmp_path / "out" / "cells_labels.tif").max() > 5


@pytest.mark.slow
def test_the_wheel_carries_the_base_models_and_they_load_from_the_installed_package(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(ROOT)], check=True)
    (wheel,) = tmp_path.glob("napari_unet-*.whl")
    assert wheel.stat().st_size < 20 * 2**20  # three base models and all
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"napari_unet/models/base_models/{n}.pt" for n in SHIPPED} <= set(names)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True)
    code = ("import napari_unet.models.named as n; from napari_unet.models.load import load_model; "
            "print(n.shipped_dir()); print(load_model('em-membranes').info.name)")
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(site), "PATH": "/usr/bin"},
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0].startswith(str(site)) and out[1] == "em-membranes"


@pytest.mark.slow
def test_the_base_model_recipe_is_bit_for_bit_reproducible_on_a_cpu(tmp_path):
    from conftest import data_dir

    data = data_dir("isbi2012").parent
    sys.path.insert(0, str(ROOT / "scripts"))
    import train_base_models

    for run in ("a", "b"):
        assert train_base_models.main(["--data", str(data), "--out", str(tmp_path / run), "--only", "em-membranes",
                                       "--steps-scale", "0.001", "--device", "cpu"]) == 0
    first, second = (tmp_path / run / "em-membranes.pt" for run in ("a", "b"))
    assert first.read_bytes() == second.read_bytes()
    assert load_model(first).info.class_names == {1: "membrane", 2: "cell interior"}
    assert load_model(first).info.line_classes == load_model("em-membranes").info.line_classes == [1]


def test_cli_fine_tunes_a_base_model_and_refuses_a_class_it_does_not_know(sample, tmp_path, capsys):
    import tifffile

    from napari_unet.cli import main

    tifffile.imwrite(tmp_path / "cells.tif", sample.image)
    strokes = sample.strokes.copy()
    tifffile.imwrite(tmp_path / "strokes.tif", strokes)
    args = ["train", "--init", "em-membranes", "--images", str(tmp_path / "cells.tif"), "--labels",
            str(tmp_path / "strokes.tif"), "--steps", "2", "--patch-size", "32", "--device", "cpu"]
    assert main([*args, "--out", str(tmp_path / "tuned.pt")]) == 0
    tuned = load_model(tmp_path / "tuned.pt")
    assert tuned.steps_trained == load_model("em-membranes").steps_trained + 2
    assert tuned.info.fine_tuned_from == "em-membranes" and tuned.class_name(1) == "membrane"
    strokes[:4, :4] = 3
    tifffile.imwrite(tmp_path / "strokes.tif", strokes)
    assert main([*args, "--out", str(tmp_path / "other.pt")]) == 2
    assert "1 = membrane, 2 = cell interior" in capsys.readouterr().err
    assert not (tmp_path / "other.pt").exists()


def test_cli_fine_tuning_nuclei_starts_from_its_weights(sample, tmp_path):
    """--init nuclei: one step later the model predicts as the base model does, while a new
    network of the same architecture after one step does not."""
    import tifffile

    from napari_unet.core.samples import simulate_instance_strokes
    from napari_unet.cli import main
    from scores import prediction_change

    tifffile.imwrite(tmp_path / "cells.tif", sample.image)
    tifffile.imwrite(tmp_path / "objects.tif", simulate_instance_strokes(sample.instances, seed=0).astype(np.uint16))
    args = ["train", "--images", str(tmp_path / "cells.tif"), "--labels", str(tmp_path / "objects.tif"),
            "--steps", "1", "--patch-size", "64", "--device", "cpu"]
    assert main([*args, "--init", "nuclei", "--out", str(tmp_path / "tuned.pt")]) == 0
    assert main([*args, "--mode", "instance", "--out", str(tmp_path / "new.pt")]) == 0
    nuclei, new = load_model("nuclei"), load_model(tmp_path / "new.pt")
    assert new.config == nuclei.config
    same, change = prediction_change(nuclei, load_model(tmp_path / "tuned.pt"), sample.image)
    assert same > 0.95 and change < 0.02, (same, change)
    same, change = prediction_change(nuclei, new, sample.image)
    assert same < 0.6 and change > 0.2, (same, change)


def test_cli_predicts_and_fine_tunes_from_the_cells_base_model(sample, tmp_path):
    """--model cells predicts without training; --init cells fine-tunes from its weights (one step
    later it predicts as the base model does) and records where it came from."""
    import tifffile

    from napari_unet.core.samples import simulate_instance_strokes
    from napari_unet.cli import main
    from scores import prediction_change

    tifffile.imwrite(tmp_path / "cells.tif", sample.image)
    tifffile.imwrite(tmp_path / "objects.tif", simulate_instance_strokes(sample.instances, seed=0).astype(np.uint16))
    assert main(["predict", "--model", "cells", "--images", str(tmp_path / "cells.tif"),
                 "--out-dir", str(tmp_path / "out")]) == 0
    assert tifffile.imread(tmp_path / "out" / "cells_labels.tif").shape == sample.image.shape
    assert main(["train", "--images", str(tmp_path / "cells.tif"), "--labels", str(tmp_path / "objects.tif"),
                 "--steps", "1", "--patch-size", "64", "--device", "cpu", "--init", "cells",
                 "--out", str(tmp_path / "tuned.pt")]) == 0
    tuned = load_model(tmp_path / "tuned.pt")
    assert tuned.info.fine_tuned_from == "cells" and tuned.mode == "instance"
    same, change = prediction_change(load_model("cells"), tuned, sample.image)
    assert same > 0.95 and change < 0.02, (same, change)
