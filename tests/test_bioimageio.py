"""Export to and import from bioimage.io model packages, checked by bioimageio.core itself, offline."""

import socket
import zipfile

import numpy as np
import pytest
from conftest import need

from napari_unet.core.config import NormConfig, PredictConfig, UserInputError

need("bioimageio.core", "bioimageio")


@pytest.fixture
def offline(monkeypatch):
    """No network at all: any attempt to connect fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(scope="module")
def package(trained, sample, tmp_path_factory):
    """The session's tiny trained model, exported without the built-in check (the tests run it)."""
    from napari_unet.bioimageio.export import export_bioimageio

    path = tmp_path_factory.mktemp("bmz") / "cells.zip"
    result = export_bioimageio(trained, path, sample.image, name="cells", authors=["A. Biologist"],
                               description="Cells in a synthetic scene", validate=False)
    return result


@pytest.mark.parametrize("fmt", ["pytorch_state_dict", "torchscript"])
def test_bioimageio_test_passes_for_each_weight_format(package, fmt, offline):
    from bioimageio.core import test_model

    summary = test_model(package.path, weight_format=fmt, devices=["cpu"])
    assert summary.status == "passed", summary.format()
    assert any(d.name == f"Reproduce test outputs from test inputs ({fmt})" and d.status == "passed"
               for d in summary.details)


def test_package_contents_describe_the_model(package, trained):
    with zipfile.ZipFile(package.path) as z:
        names = set(z.namelist())
        readme = z.read("README.md").decode()
        rdf = z.read("rdf.yaml").decode()
    assert {"rdf.yaml", "README.md", "cover.png", "test_input.npy", "test_output.npy", "weights.pt",
            "weights_torchscript.pt", "unet.py"} <= names
    assert "## Validation" in readme and "Ronneberger" in readme and "painted pixels" in readme
    for value, count in trained.history.painted_pixels.items():
        assert f"| {value} | {trained.class_name(value)} | {count} |" in readme
    assert "A. Biologist" in rdf and "scale_range" in rdf and "step: 4" in rdf and "softmax" in rdf


def test_the_architecture_file_imports_only_torch(package, tmp_path):
    import ast

    with zipfile.ZipFile(package.path) as z:
        tree = ast.parse(z.read("unet.py"))
    imported = {n.module.split(".")[0] if isinstance(n, ast.ImportFrom) else a.name.split(".")[0]
                for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    assert imported == {"torch"}


def test_the_package_computes_what_napari_unets_network_computes(package, trained, offline):
    """bioimageio.core runs the package on a new image of another size, with its own
    normalisation and softmax, and gets napari-unet's probabilities for that input."""
    from bioimageio.core import create_prediction_pipeline, load_description
    from bioimageio.core.digest_spec import create_sample_for_model

    from napari_unet.core.samples import make_sample
    from napari_unet.bioimageio.export import reference_output

    image = make_sample(160, seed=7).image[:100, :132].astype(np.float32)
    ours = reference_output(trained, image[None, None])
    descr = load_description(package.path)
    for fmt in ("pytorch_state_dict", "torchscript"):
        with create_prediction_pipeline(descr, weight_format=fmt, devices=["cpu"]) as pipeline:
            sample = create_sample_for_model(descr, inputs=image[None, None])
            out = pipeline.predict_sample_without_blocking(sample, skip_input_padding=True, skip_output_cropping=True)
        theirs = next(iter(out.members.values())).data.to_numpy()
        np.testing.assert_allclose(theirs, ours, rtol=1e-3, atol=1e-4, err_msg=fmt)


def test_tools_that_tile_with_the_halo_get_napari_unets_labels(package, trained, offline):
    """bioimageio.core's own predict pads the input by the halo (the receptive field, mirrored,
    as the package says) and crops it off again: napari-unet's prediction, up to the percentiles,
    which bioimageio.core takes of the padded image."""
    from bioimageio.core import predict as bmz_predict

    from napari_unet.core.samples import make_sample
    from napari_unet.predict.pipeline import predict_labels

    image = make_sample(160, seed=8).image[:120, :148].astype(np.float32)
    ours = predict_labels(trained, image, PredictConfig(precision="fp32"), probabilities=True).probabilities
    theirs = next(iter(bmz_predict(model=package.path, inputs=image[None, None]).members.values())).data.to_numpy()
    assert theirs.shape == ours.shape
    # measured: labels 99.8 % the same, probabilities within 0.17; zero padding instead: 99.3 %, 0.88
    assert (theirs.argmax(1) == ours.argmax(1)).mean() > 0.995 and np.abs(theirs - ours).max() < 0.4


def test_round_trip_predicts_the_same_labels_and_trains_further(package, trained, sample):
    from napari_unet.core.config import TrainConfig
    from napari_unet.models.load import load_model
    from napari_unet.predict.pipeline import predict_labels
    from napari_unet.core.train import fit

    again = load_model(package.path)
    assert again.class_values == trained.class_values and again.steps_trained == trained.steps_trained
    np.testing.assert_array_equal(predict_labels(again, sample.image).labels, predict_labels(trained, sample.image).labels)
    more = fit(sample.image, sample.strokes, TrainConfig(steps=3, batch_size=2, patch_size=64, device="cpu"), model=again)
    assert more.model.steps_trained == trained.steps_trained + 3


def test_export_checks_the_package_and_says_so(trained, tmp_path, offline):
    import yaml

    from napari_unet.bioimageio.describe import default_description
    from napari_unet.bioimageio.export import export_bioimageio

    result = export_bioimageio(trained, tmp_path / "checked.zip")  # a synthetic scene as test data
    assert result.validation == {"pytorch_state_dict": "passed", "torchscript": "passed"}
    with zipfile.ZipFile(result.path) as z:
        readme, rdf = z.read("README.md").decode(), yaml.safe_load(z.read("rdf.yaml"))
    assert "`torchscript`: bioimageio.core" in readme
    # no name or description given: the rdf and the README say the same
    assert rdf["name"] == "napari-unet model" and readme.startswith(f"# {rdf['name']}\n\n{rdf['description']}\n")
    assert rdf["description"] == default_description(trained)


def test_deeper_networks_get_test_data_of_their_minimum_size():
    from napari_unet.bioimageio.common import min_size
    from napari_unet.bioimageio.export import sample_input
    from napari_unet.core.config import ModelConfig
    from napari_unet.core.model import SegmentationModel

    deep = SegmentationModel(ModelConfig(depth=5, base_channels=4), [1, 2])
    side = min_size(deep)
    assert side > 256
    assert sample_input(deep).shape == (1, 1, side, side)
    assert sample_input(deep, np.zeros((700, 1000), np.float32)).shape == (1, 1, side, side)


@pytest.mark.parametrize("name", ["nuclei", "em-membranes"])
def test_shipped_base_models_export_and_pass(name, tmp_path, offline):
    from napari_unet.bioimageio.export import export_bioimageio
    from napari_unet.models.load import load_model

    result = export_bioimageio(load_model(name), tmp_path / f"{name}.zip")
    assert set(result.validation.values()) == {"passed"}
    assert load_model(result.path).info.name == name


def test_what_cannot_be_expressed_is_refused_and_nothing_is_written(trained, tmp_path):
    import copy

    from napari_unet.bioimageio.export import export_bioimageio

    odd = copy.deepcopy(trained)
    odd.norm = NormConfig(low=0.0, high=0.5)
    with pytest.raises(UserInputError, match="upper percentile above 1"):
        export_bioimageio(odd, tmp_path / "odd.zip")
    with pytest.raises(UserInputError, match=r"\.zip file"):
        export_bioimageio(trained, tmp_path / "model.pt")
    with pytest.raises(UserInputError, match="letters, digits"):
        export_bioimageio(trained, tmp_path / "name.zip", name="cells/v2")
    with pytest.raises(UserInputError, match="licence"):
        export_bioimageio(trained, tmp_path / "licence.zip", licence="my own licence")
    with pytest.raises(UserInputError, match="at least 60x60"):
        export_bioimageio(trained, tmp_path / "small.zip", np.zeros((40, 200), np.float32))
    assert not list(tmp_path.iterdir())


def test_one_weight_format_alone(trained, sample, tmp_path, offline):
    from napari_unet.bioimageio.export import export_bioimageio
    from napari_unet.models.load import load_model

    only = export_bioimageio(trained, tmp_path / "ts.zip", sample.image, weight_formats=("torchscript",))
    assert only.validation == {"torchscript": "passed"}
    with pytest.raises(UserInputError, match="without pytorch_state_dict weights"):
        load_model(only.path)
    with pytest.raises(UserInputError, match="weight formats"):
        export_bioimageio(trained, tmp_path / "onnx.zip", weight_formats=("onnx",))


def test_a_foreign_package_is_refused_clearly(package, tmp_path):
    from bioimageio.spec import load_model_description, save_bioimageio_package
    from bioimageio.spec.model.v0_5 import Config

    from napari_unet.models.load import load_model

    descr = load_model_description(package.path)
    descr.config = Config()
    descr.name = "someone elses network"
    foreign = save_bioimageio_package(descr, output_path=tmp_path / "foreign.zip")
    with pytest.raises(UserInputError, match="napari-unet did not export"):
        load_model(foreign)
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(UserInputError, match="not a valid bioimage.io model package"):
        load_model(tmp_path / "junk.zip")


def test_missing_bioimageio_packages_name_the_extra(trained, tmp_path, monkeypatch):
    import sys

    from napari_unet.bioimageio.export import export_bioimageio

    monkeypatch.setitem(sys.modules, "bioimageio.core", None)
    with pytest.raises(UserInputError, match=r"pip install .*\[bioimageio\]"):
        export_bioimageio(trained, tmp_path / "x.zip")
