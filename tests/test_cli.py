"""The command line on real files: the contract scripts and users rely on."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import need
import tifffile

from napari_unet.cli import main

FAST = ["--steps", "20", "--patch-size", "64", "--depth", "2", "--base-channels", "8", "--device", "cpu"]


@pytest.fixture
def files(sample, tmp_path):
    img, lab = tmp_path / "cells.tif", tmp_path / "strokes.tif"
    tifffile.imwrite(img, sample.image)
    tifffile.imwrite(lab, sample.strokes)
    return img, lab


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("napari-unet: error:") and "Traceback" not in err
    return err


def test_train_then_predict(files, tmp_path, capsys, sample):
    img, lab = files
    model = tmp_path / "out" / "model.pt"
    assert main(["train", "--images", str(img), "--labels", str(lab), "--out", str(model), *FAST]) == 0
    out = capsys.readouterr().out
    assert "final loss" in out and model.is_file()
    assert main(["predict", "--model", str(model), "--images", str(img), "--out-dir", str(tmp_path / "pred"),
                 "--tile-size", "64", "--probabilities"]) == 0
    from napari_unet.core.config import PredictConfig
    from napari_unet.models.load import load_model
    from napari_unet.predict.pipeline import predict_labels

    # the files hold the saved model's prediction (how good it is: test_predict.py)
    expected = predict_labels(load_model(model), sample.image, PredictConfig(tile_size=64), probabilities=True)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "pred" / "cells_labels.tif"), expected.labels)
    np.testing.assert_allclose(tifffile.imread(tmp_path / "pred" / "cells_probabilities.tif"),
                               expected.probabilities, atol=1e-6)
    # fine-tune from the saved model: its steps carry on, and the weights moved on from it
    again = tmp_path / "again.pt"
    assert main(["train", "--images", str(img), "--labels", str(lab), "--out", str(again), "--init", str(model),
                 "--steps", "5", "--patch-size", "64", "--device", "cpu"]) == 0
    before, after = load_model(model), load_model(again)
    assert (before.steps_trained, after.steps_trained) == (20, 25)
    assert after.config == before.config  # the architecture came from --init, not from the defaults


def test_train_init_carries_on_from_the_model(files, tmp_path, trained, sample):
    """--init fine-tunes the model's weights: one step later it predicts as before, while a new
    network after one step does not."""
    from napari_unet.models.load import load_model
    from napari_unet.models.checkpoint import save_model
    from scores import prediction_change

    img, lab = files
    args = ["train", "--images", str(img), "--labels", str(lab), "--steps", "1", "--patch-size", "64", "--device", "cpu"]
    start = save_model(trained, tmp_path / "start.pt")
    assert main([*args, "--init", str(start), "--out", str(tmp_path / "tuned.pt")]) == 0
    assert main([*args, "--depth", "2", "--base-channels", "8", "--out", str(tmp_path / "new.pt")]) == 0
    same, change = prediction_change(trained, load_model(tmp_path / "tuned.pt"), sample.image)
    assert same > 0.95 and change < 0.02, (same, change)
    same, change = prediction_change(trained, load_model(tmp_path / "new.pt"), sample.image)
    assert same < 0.6 and change > 0.2, (same, change)


def test_png_input_and_small_image(sample, tmp_path, capsys):
    import skimage.io

    small = (sample.image[:20, :30] // 256).astype(np.uint8)
    skimage.io.imsave(tmp_path / "small.png", small, check_contrast=False)
    strokes = np.zeros((20, 30), np.uint8)
    strokes[1, 2:20], strokes[10, 10:14] = 1, 2
    tifffile.imwrite(tmp_path / "s.tif", strokes)
    model = tmp_path / "m.pt"
    assert main(["train", "--images", str(tmp_path / "small.png"), "--labels", str(tmp_path / "s.tif"),
                 "--out", str(model), *FAST]) == 0
    assert main(["predict", "--model", str(model), "--images", str(tmp_path / "small.png"),
                 "--out-dir", str(tmp_path)]) == 0
    assert tifffile.imread(tmp_path / "small_labels.tif").shape == (20, 30)


def test_no_strokes(files, tmp_path, capsys):
    img, _ = files
    empty = tmp_path / "empty.tif"
    tifffile.imwrite(empty, np.zeros((128, 128), np.uint8))
    err = _error(capsys, ["train", "--images", str(img), "--labels", str(empty), "--out", str(tmp_path / "m.pt"), *FAST])
    assert "no strokes" in err
    assert not (tmp_path / "m.pt").exists()


def test_one_class(files, tmp_path, capsys, sample):
    img, _ = files
    one = tmp_path / "one.tif"
    tifffile.imwrite(one, (sample.strokes == 2).astype(np.uint8) * 2)
    assert "only one class" in _error(capsys, ["train", "--images", str(img), "--labels", str(one),
                                               "--out", str(tmp_path / "m.pt"), *FAST])


def test_shape_mismatch(files, tmp_path, capsys, sample):
    img, _ = files
    bad = tmp_path / "bad.tif"
    tifffile.imwrite(bad, sample.strokes[:100])
    assert "shape" in _error(capsys, ["train", "--images", str(img), "--labels", str(bad),
                                      "--out", str(tmp_path / "m.pt"), *FAST])


def test_nan_image(files, tmp_path, capsys, sample):
    _, lab = files
    nan = tmp_path / "nan.tif"
    data = sample.image.astype(np.float32)
    data[5, 5] = np.nan
    tifffile.imwrite(nan, data)
    assert "NaN" in _error(capsys, ["train", "--images", str(nan), "--labels", str(lab),
                                    "--out", str(tmp_path / "m.pt"), *FAST])


def test_wrong_channel_count(files, tmp_path, capsys, sample, trained):
    from napari_unet.models.checkpoint import save_model

    model = save_model(trained, tmp_path / "m.pt")
    two = tmp_path / "two.tif"  # two channels (a colour image would be converted: test_colour.py)
    tifffile.imwrite(two, np.stack([sample.image] * 2, axis=-1)[None])
    err = _error(capsys, ["predict", "--model", str(model), "--images", str(two), "--out-dir", str(tmp_path)])
    assert "1 channel" in err and "has 2" in err


def test_missing_and_corrupt_model(files, tmp_path, capsys):
    img, _ = files
    assert "not found" in _error(capsys, ["predict", "--model", str(tmp_path / "none.pt"), "--images", str(img),
                                          "--out-dir", str(tmp_path)])
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a model")
    assert "corrupt" in _error(capsys, ["predict", "--model", str(junk), "--images", str(img),
                                        "--out-dir", str(tmp_path)])


def test_missing_image_file(tmp_path, capsys):
    assert "not found" in _error(capsys, ["train", "--images", str(tmp_path / "x.tif"), "--labels",
                                          str(tmp_path / "y.tif"), "--out", str(tmp_path / "m.pt")])


def test_demo_runs_and_reports_iou(tmp_path):
    """The README's first command, shortened: a real subprocess through the console script's module.
    The IoU it prints is the one of the files it writes, and the model found the cells."""
    import re

    fast = [a if a != "20" else "200" for a in FAST]
    proc = subprocess.run(
        [sys.executable, "-m", "napari_unet.cli", "demo", "--out-dir", str(tmp_path), *fast],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    printed = float(re.search(r"foreground IoU against the sample's truth: ([0-9.]+)", proc.stdout).group(1))
    pred, truth = (tifffile.imread(tmp_path / f"{name}.tif") == 2 for name in ("prediction", "truth"))
    assert printed == pytest.approx((pred & truth).sum() / (pred | truth).sum(), abs=1e-3)
    from scores import iou, otsu_foreground

    otsu = iou(otsu_foreground(tifffile.imread(tmp_path / "image.tif")), truth)  # 0.705: uneven background
    assert printed >= otsu + 0.1, (printed, otsu)
    for name in ("image", "strokes"):
        assert (tmp_path / f"{name}.tif").is_file()


def test_ctrl_c_stops_training_and_still_saves_the_model(files, tmp_path):
    import os
    import select
    import signal
    import time

    img, lab = files
    model = tmp_path / "m.pt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "napari_unet.cli", "train", "--images", str(img), "--labels", str(lab),
         "--out", str(model), "--steps", "1000000", "--patch-size", "64", "--depth", "2", "--base-channels", "8",
         "--device", "cpu"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE,
        # a suite started in the background inherits an ignored SIGINT; a user's terminal does not
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    import re

    err = b""
    deadline = time.monotonic() + 120
    # the progress bar counts a few finished steps (on a busy machine the first one takes a while)
    while not re.search(rb"\| *([3-9]|\d\d+)/1000000", err) and time.monotonic() < deadline:
        if select.select([proc.stderr], [], [], 1.0)[0]:
            err += os.read(proc.stderr.fileno(), 4096)
    proc.send_signal(signal.SIGINT)
    out, rest = proc.communicate(timeout=60)
    err += rest
    assert proc.returncode == 0, err.decode()
    assert b"stopped by user" in err and b"Traceback" not in err
    assert model.is_file()
    from napari_unet.models.load import load_model

    assert 0 < load_model(model).steps_trained < 1_000_000


def test_ctrl_c_before_the_first_step_saves_nothing_and_says_so(files, tmp_path, capsys, monkeypatch):
    import napari_unet.core.train

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
        yield  # a generator, like train()

    monkeypatch.setattr(napari_unet.core.train, "train", interrupted)
    img, lab = files
    model = tmp_path / "m.pt"
    assert main(["train", "--images", str(img), "--labels", str(lab), "--out", str(model), *FAST]) == 130
    assert "interrupted; nothing was saved" in capsys.readouterr().err
    assert not model.exists()


def test_zarr_image_in_zarr_labels_out(files, tmp_path, capsys, sample, trained):
    """A zarr image is predicted into zarr labels and probabilities that equal the TIFF results."""
    import zarr

    from napari_unet.models.checkpoint import save_model

    img, _ = files
    model = save_model(trained, tmp_path / "m.pt")
    big = np.tile(sample.image, (2, 2))
    tifffile.imwrite(tmp_path / "big.tif", big)
    src = zarr.open_array(str(tmp_path / "big.zarr"), mode="w", shape=big.shape, chunks=(100, 100), dtype=big.dtype)
    src[:] = big
    common = ["--model", str(model), "--out-dir", str(tmp_path / "pred"), "--tile-size", "64", "--probabilities"]
    assert main(["predict", "--images", str(tmp_path / "big.tif"), *common]) == 0
    assert main(["predict", "--images", str(tmp_path / "big.zarr"), *common]) == 0
    assert "big_labels.zarr" in capsys.readouterr().out
    labels = zarr.open_array(str(tmp_path / "pred" / "big_labels.zarr"), mode="r")
    assert labels.shape == big.shape and labels.chunks == big.shape  # chunk: min(1024, size)
    np.testing.assert_array_equal(labels[:], tifffile.imread(tmp_path / "pred" / "big_labels.tif"))
    probs = zarr.open_array(str(tmp_path / "pred" / "big_probabilities.zarr"), mode="r")
    np.testing.assert_array_equal(probs[:], tifffile.imread(tmp_path / "pred" / "big_probabilities.tif"))
    # a TIFF can be written as zarr too, and a zarr group with several arrays is a clear error
    assert main(["predict", "--images", str(img), "--format", "zarr", *common]) == 0
    assert zarr.open_array(str(tmp_path / "pred" / "cells_labels.zarr"), mode="r").shape == sample.image.shape
    group = zarr.open_group(str(tmp_path / "two.zarr"), mode="w")
    group.create_array("a", shape=(8, 8), dtype="uint8")
    group.create_array("b", shape=(8, 8), dtype="uint8")
    capsys.readouterr()
    err = _error(capsys, ["predict", "--images", str(tmp_path / "two.zarr"), *common])
    assert "2 arrays" in err and "two.zarr/a" in err
    group["a"][:] = sample.image[:8, :8]
    assert main(["predict", "--images", str(tmp_path / "two.zarr" / "a"), *common]) == 0  # as the error advises


def test_edge_weight_and_tta_options(files, tmp_path, capsys, trained, sample):
    """--edge-weight and --base-share reach the model file; --tta predicts other pixels, but the same
    cells, as well found."""
    from napari_unet.models.load import load_model
    from napari_unet.models.checkpoint import save_model
    from scores import iou, otsu_foreground

    img, lab = files
    model = tmp_path / "m.pt"
    assert main(["train", "--images", str(img), "--labels", str(lab), "--out", str(model), *FAST,
                 "--edge-weight", "0", "--base-share", "0.25"]) == 0
    stored = load_model(model).history.train_config
    assert stored["edge_weight"] == 0.0 and stored["base_share"] == 0.25
    for flag, out in (([], "plain"), (["--tta"], "tta")):
        assert main(["predict", "--model", str(save_model(trained, tmp_path / "cells.pt")), "--images", str(img),
                     "--out-dir", str(tmp_path / out), "--tile-size", "64", *flag]) == 0
    plain, tta = (tifffile.imread(tmp_path / d / "cells_labels.tif") for d in ("plain", "tta"))
    assert plain.shape == tta.shape and set(np.unique(tta)) <= {1, 2} and not np.array_equal(plain, tta)
    truth = sample.truth == 2
    assert iou(plain == 2, tta == 2) > 0.9  # all background would score 0
    assert iou(tta == 2, truth) >= max(0.9, iou(otsu_foreground(sample.image), truth) + 0.05)  # Otsu: 0.865
    capsys.readouterr()
    assert "edge term" in _error(capsys, ["train", "--images", str(img), "--labels", str(lab), "--out",
                                            str(model), *FAST, "--edge-weight", "-1"])
    assert "--base-share" in _error(capsys, ["train", "--images", str(img), "--labels", str(lab), "--out",
                                           str(model), *FAST, "--base-share", "1"])


def test_instance_mode_from_the_command_line(sample, tmp_path, capsys):
    from napari_unet.core.samples import simulate_instance_strokes
    from napari_unet.models.load import load_model

    tifffile.imwrite(tmp_path / "cells.tif", sample.image)
    tifffile.imwrite(tmp_path / "objects.tif", simulate_instance_strokes(sample.instances, seed=0).astype(np.uint16))
    model = tmp_path / "m.pt"
    assert main(["train", "--images", str(tmp_path / "cells.tif"), "--labels", str(tmp_path / "objects.tif"),
                 "--out", str(model), "--mode", "instance", *FAST, "--steps", "80"]) == 0
    assert load_model(model).mode == "instance"
    assert main(["predict", "--model", str(model), "--images", str(tmp_path / "cells.tif"),
                 "--out-dir", str(tmp_path)]) == 0
    objects = tifffile.imread(tmp_path / "cells_labels.tif")
    assert objects.dtype == np.int32 and len(np.unique(objects)) == objects.max() + 1  # 0 and 1..n
    # a briefly trained model is unsure of some cells: a lower --min-confidence keeps more of them
    # (after 20 steps it found only a 16-px speck, which is now dropped as far smaller than the painted cells)
    assert main(["predict", "--model", str(model), "--images", str(tmp_path / "cells.tif"),
                 "--out-dir", str(tmp_path / "all"), "--min-confidence", "0.5"]) == 0
    assert tifffile.imread(tmp_path / "all" / "cells_labels.tif").max() > objects.max()
    # --measure: one row per object of the labels written next to it
    assert main(["predict", "--model", str(model), "--images", str(tmp_path / "cells.tif"), "--out-dir",
                 str(tmp_path / "m"), "--min-confidence", "0.5", "--measure", "--pixel-size", "0.5,0.25"]) == 0
    import csv

    rows = list(csv.DictReader(open(tmp_path / "m" / "cells_objects.csv")))
    labels = tifffile.imread(tmp_path / "m" / "cells_labels.tif")
    assert [int(r["label"]) for r in rows] == list(range(1, labels.max() + 1))
    assert [int(r["area_px"]) for r in rows] == list(np.bincount(labels.ravel())[1:])
    assert float(rows[0]["area"]) == int(rows[0]["area_px"]) * 0.125
    capsys.readouterr()
    assert "--pixel-size takes two numbers" in _error(
        capsys, ["predict", "--model", str(model), "--images", str(tmp_path / "cells.tif"), "--out-dir",
                 str(tmp_path), "--measure", "--pixel-size", "x"])
    assert "min_confidence must be between 0.5 and 1" in _error(
        capsys, ["predict", "--model", str(model), "--images", str(tmp_path / "cells.tif"), "--out-dir",
                 str(tmp_path), "--min-confidence", "2"])


def test_class_weights_and_out_folder_errors(files, tmp_path, capsys):
    img, lab = files
    args = ["train", "--images", str(img), "--labels", str(lab), *FAST]
    assert "numbers separated by commas" in _error(capsys, [*args, "--out", str(tmp_path / "m.pt"),
                                                            "--class-weights", "2;1"])
    assert "3 class weights given for 2 classes" in _error(capsys, [*args, "--out", str(tmp_path / "m.pt"),
                                                                    "--class-weights", "1,2,3"])
    assert "is a folder" in _error(capsys, [*args, "--out", str(tmp_path)])
    assert not (tmp_path / "m.pt").exists()


def test_an_unwritable_out_path_is_refused_before_training(files, tmp_path, capsys, monkeypatch):
    img, lab = files
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    trained = []
    monkeypatch.setattr("napari_unet.cli._run_training", lambda *a, **k: trained.append(1))
    err = _error(capsys, ["train", "--images", str(img), "--labels", str(lab), *FAST,
                          "--out", str(blocker / "m.pt")])
    assert f"cannot write the model to {blocker / 'm.pt'}" in err and "folder you can write to" in err
    assert not trained


def test_a_model_that_cannot_be_saved_is_kept_in_the_recovery_file(files, tmp_path, capsys, monkeypatch,
                                                                    recovery_file):
    import napari_unet.models.checkpoint
    from napari_unet.models.load import load_model

    img, lab = files
    out, save = tmp_path / "m.pt", napari_unet.models.checkpoint.save_model

    def full_disk(model, path):
        if path == out:
            raise OSError(28, "No space left on device")
        return save(model, path)

    monkeypatch.setattr(napari_unet.models.checkpoint, "save_model", full_disk)
    assert main(["train", "--images", str(img), "--labels", str(lab), *FAST, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and f"it is kept in {recovery_file}" in err
    assert load_model(recovery_file).steps_trained == 20 and not out.exists()


def test_measure_needs_an_instance_model(trained, files, tmp_path, capsys):
    from napari_unet.models.checkpoint import save_model

    model = save_model(trained, tmp_path / "semantic.pt")
    err = _error(capsys, ["predict", "--model", str(model), "--images", str(files[0]), "--out-dir", str(tmp_path),
                          "--measure"])
    assert "is a semantic model" in err and "--mode instance" in err
    assert not list(tmp_path.glob("*_labels.tif"))  # refused before predicting anything


def test_export_then_predict_with_the_package(files, tmp_path, capsys, trained, sample):
    need("bioimageio.core", "bioimageio")
    from napari_unet.models.checkpoint import save_model

    model = save_model(trained, tmp_path / "cells.pt")
    package = tmp_path / "cells.zip"
    image = str(files[0])
    assert main(["export", "--model", str(model), "--out", str(package), "--image", image,
                 "--name", "Cells (synthetic)", "--authors", "A. Biologist", "B. Engineer"]) == 0
    out = capsys.readouterr().out
    assert "pytorch_state_dict: passed" in out and "torchscript: passed" in out and f"wrote {package}" in out
    assert main(["predict", "--model", str(package), "--images", image, "--out-dir", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / "cells_labels.tif").is_file()
    capsys.readouterr()
    err = _error(capsys, ["export", "--model", str(model), "--out", str(tmp_path / "x.zip"), "--licence", "mine"])
    assert "SPDX" in err and not (tmp_path / "x.zip").exists()


def test_init_with_an_architecture_is_refused_before_anything_is_read(files, tmp_path, capsys):
    _, lab = files
    args = ["train", "--images", str(tmp_path / "missing.tif"), "--labels", str(lab), "--init", "nuclei",
            "--out", str(tmp_path / "m.pt"), "--steps", "1"]
    err = _error(capsys, [*args, "--depth", "3"])
    assert "--depth cannot be combined with --init: a fine-tuned model keeps the architecture of nuclei" in err
    assert "leave out --depth to fine-tune it, or --init to train a new model" in err and "\n" not in err
    err = _error(capsys, [*args, "--depth", "3", "--base-channels", "8"])
    assert "--depth and --base-channels cannot be combined with --init" in err
    assert not (tmp_path / "m.pt").exists()


def _train_args(files, *options):
    img, lab = files
    return ["train", "--images", str(img), "--labels", str(lab), "--patch-size", "32", "--depth", "2",
            "--base-channels", "4", "--device", "cpu", *options]


def test_training_options_reach_the_engine(files, tmp_path, capsys):
    """What the saved model records having trained with is what was asked for."""
    import re

    from napari_unet.models.load import load_model

    model = tmp_path / "m.pt"
    assert main(_train_args(files, "--time-budget", "1", "--seed", "3", "--learning-rate", "0.005",
                            "--batch-size", "2", "--keep-weight", "2", "--out", str(model))) == 0
    seconds = float(re.search(r"trained \d+ steps in ([0-9.]+) s", capsys.readouterr().out).group(1))
    stored = load_model(model).history.train_config
    assert stored["time_budget"] == 1.0 and stored["steps"] is None and seconds >= 1.0
    assert (stored["seed"], stored["learning_rate"], stored["batch_size"], stored["keep_weight"]) == (3, 0.005, 2, 2.0)


def test_the_seed_decides_the_weights(files, tmp_path):
    import torch

    from napari_unet.models.load import load_model

    weights = {}
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        assert main(_train_args(files, "--steps", "2", "--seed", seed, "--out", str(tmp_path / f"{name}.pt"))) == 0
        weights[name] = load_model(tmp_path / f"{name}.pt").net.state_dict()
    same = [torch.allclose(weights["a"][k].float(), weights["b"][k].float()) for k in weights["a"]]
    other = [torch.allclose(weights["a"][k].float(), weights["c"][k].float()) for k in weights["a"]]
    assert all(same) and not all(other)


def test_instance_options_reach_the_engine(sample, tmp_path):
    """--no-border-weights trains without the border term; --object-margin M weighs the object
    class's odds by exp(-M) (so a nucleus needs more confidence), exactly."""
    from napari_unet.core.samples import simulate_instance_strokes
    from napari_unet.models.load import load_model

    tifffile.imwrite(tmp_path / "cells.tif", sample.image)
    tifffile.imwrite(tmp_path / "objects.tif", simulate_instance_strokes(sample.instances, seed=0).astype(np.uint16))
    files = (tmp_path / "cells.tif", tmp_path / "objects.tif")
    for name, flag in (("plain", []), ("borderless", ["--no-border-weights"])):
        assert main(_train_args(files, "--mode", "instance", "--steps", "2", *flag,
                                "--out", str(tmp_path / f"{name}.pt"))) == 0
    assert load_model(tmp_path / "plain.pt").history.train_config["border_w0"] == 10.0
    assert load_model(tmp_path / "borderless.pt").history.train_config["border_w0"] == 0.0
    probs = {}
    for margin in ("0", "1"):
        assert main(["predict", "--model", str(tmp_path / "plain.pt"), "--images", str(files[0]), "--out-dir",
                     str(tmp_path / margin), "--object-margin", margin, "--diameter", "off", "--probabilities"]) == 0
        probs[margin] = tifffile.imread(tmp_path / margin / "cells_probabilities.tif")[0]
    background, nucleus = probs["0"]
    weighed = nucleus * np.exp(-1) / (background + nucleus * np.exp(-1))
    assert np.abs(nucleus - weighed).max() > 0.05  # the margin matters for this model
    np.testing.assert_allclose(probs["1"][1], weighed, atol=1e-5)


def test_export_without_the_check_writes_the_package_untested(trained, tmp_path, capsys, monkeypatch):
    need("bioimageio.core", "bioimageio")
    import napari_unet.bioimageio.export
    from napari_unet.models.checkpoint import save_model

    def no_test(*args, **kwargs):
        raise AssertionError("the package was tested although --no-check was given")

    monkeypatch.setattr(napari_unet.bioimageio.export, "_test", no_test)
    model = save_model(trained, tmp_path / "cells.pt")
    assert main(["export", "--model", str(model), "--out", str(tmp_path / "cells.zip"), "--no-check"]) == 0
    assert "bioimage.io test" not in capsys.readouterr().out and (tmp_path / "cells.zip").is_file()
