"""The typed model record (napari_unet.core.record): what a model is and how it was trained, read
from model files of every version and written back without losing anything."""

import io

import pytest
import torch

from napari_unet.core.config import ModelConfig, NormConfig
from napari_unet.core.model import SegmentationModel
from napari_unet.core.record import ModelInfo, TrainingHistory
from napari_unet.models.checkpoint import model_from_bytes, model_from_payload, model_payload, model_to_bytes
from napari_unet.models.load import load_model
from napari_unet.models.named import shipped_dir

# as version 0.x wrote them: string keys, label values as strings, keys this version does not know
OLD_INFO = {"name": "nuclei", "base": "nuclei", "description": "Nuclei.", "class_names": {"1": "background", "2": "nucleus"},
            "training_data": "DSB2018", "licence": "CC0-1.0", "citation": "Caicedo et al. 2019",
            "method_citation": "Ronneberger et al. 2015", "recipe": "python scripts/train_base_models.py",
            "object_diameter": 16.04, "fingerprint": {"version": 1, "descriptors": [[0.5, 0.25]]},
            "colour_to_grey": "luminance", "reviewer": "A. Biologist", "extra": {"kept": [1, 2]}}
OLD_HISTORY = {"steps": 7000, "runs": 1, "start_steps": 0, "loss": 0.2, "thin_classes": [],
               "train_config": {"steps": 7000, "retired_setting": 3, "augment": {"flips": True}},
               "painted_pixels": {"1": 10, "2": 5}, "sparse": False, "optimizer": "sgd"}


def old_payload(info=OLD_INFO, history=OLD_HISTORY) -> dict:
    config = ModelConfig(in_channels=1, n_classes=2, depth=2, base_channels=4)
    state = SegmentationModel(config, (1, 2)).net.state_dict()
    return {"format": "napari-unet-model", "format_version": 1, "model_config": config.to_dict(),
            "class_values": [1, 2], "normalization": NormConfig().to_dict(), "mode": "instance",
            "history": history, "info": info, "state_dict": state}


def saved(payload: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    model = model_from_bytes(buffer.getvalue())
    return model, torch.load(io.BytesIO(model_to_bytes(model)), weights_only=True)


def test_an_old_payload_loads_typed_and_saves_back_with_nothing_lost():
    model, again = saved(old_payload())
    info, h = model.info, model.history
    assert info.name == "nuclei" and info.class_names == {1: "background", 2: "nucleus"}
    assert info.object_diameter == 16.04 and info.small_object_area is None and info.line_classes == []
    assert info.colour_to_grey == "luminance" and info.fingerprint["version"] == 1
    assert info.extra == {"reviewer": "A. Biologist", "extra": {"kept": [1, 2]}}
    assert model.class_name(2) == "nucleus" and model.steps_trained == 7000
    assert h.painted_pixels == {1: 10, 2: 5} and h.sparse is False and h.train_config["retired_setting"] == 3
    assert h.extra == {"optimizer": "sgd"}
    # every key comes back with its value; what is added is only an empty default
    for name, old in (("info", OLD_INFO), ("history", OLD_HISTORY)):
        assert again[name].items() >= old.items(), name
        assert all(v in ([], {}) for k, v in again[name].items() if k not in old), name
    assert model_from_bytes(model_to_bytes(model)).info == info


def test_a_payload_without_records_or_with_unrecorded_fields_loads():
    model, again = saved(old_payload(info={}, history={"steps": 3}))
    assert model.info == ModelInfo() and model.history == TrainingHistory(steps=3)
    assert model.history.sparse is None and model.history.loss is None  # files from before the flag: not recorded
    assert "sparse" not in again["history"] and "name" not in again["info"]  # None is left out, as before


def test_a_bioimageio_config_payload_loads_into_the_record():
    """An exported package carries the payload without weights in its config (napari_unet.models.packages)."""
    payload = old_payload()
    state = payload.pop("state_dict")
    model = model_from_payload({**payload, "exported_by": "napari-unet 0.1"}, state, "package.zip")
    assert model.info.citation == "Caicedo et al. 2019" and model.history.runs == 1
    assert model_payload(model, fingerprint=False)["info"].keys() == model_payload(model)["info"].keys() - {"fingerprint"}


@pytest.mark.parametrize("name, expect", [
    ("nuclei", {"object_diameter": 16.04, "small_object_area": None, "line_classes": [], "base": "nuclei"}),
    ("em-membranes", {"object_diameter": None, "line_classes": [1], "base": "em-membranes"}),
    ("cells", {"object_diameter": 99.66, "small_object_area": 2695.3, "line_classes": [], "base": "cells"}),
])
def test_the_shipped_base_models_load_into_the_record(name, expect):
    model = load_model(name)
    info = model.info
    assert info.name == name and info.fine_tuned_from is None and info.extra == {}
    assert {k: getattr(info, k) for k in expect} == expect
    assert info.fingerprint["version"] >= 1 and info.recipe.startswith("python scripts/train_base_models.py")
    assert info.description and info.licence and info.citation and info.training_data and info.method_citation
    h = model.history
    assert h.steps >= 3000 and h.runs == 1 and h.thin_classes == [] and h.extra == {}
    assert h.train_config["patch_size"] == 256 and h.sparse in (None, False)  # dense labels
    raw = torch.load(shipped_dir() / f"{name}.pt", weights_only=True)
    assert model_payload(model)["info"].items() >= raw["info"].items()
    assert model_payload(model)["history"].items() >= raw["history"].items()


def test_fine_tuning_renames_and_drops_the_fingerprint():
    info = ModelInfo(name="nuclei", fingerprint={"version": 1})
    assert info.lineage == "nuclei"
    info.start_fine_tuning()
    assert info.name is None and info.fine_tuned_from == "nuclei" and info.fingerprint is None
    assert info.lineage == "nuclei"
    info.start_fine_tuning()  # a model fine-tuned again keeps where it came from
    assert info.fine_tuned_from == "nuclei"
