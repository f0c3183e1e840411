from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def sample():
    from napari_unet._sample_data import make_sample

    return make_sample(128, seed=1)


@pytest.fixture
def tiny_model_config():
    from napari_unet.config import ModelConfig

    return ModelConfig(depth=2, base_channels=8, dropout=0.0)


@pytest.fixture
def tiny_train_config():
    from napari_unet.config import TrainConfig

    return TrainConfig(steps=30, batch_size=4, patch_size=64, seed=0, device="cpu")


@pytest.fixture(scope="session")
def trained(sample):
    """A tiny model trained briefly on the sample (shared by tests that only read it)."""
    from napari_unet.config import ModelConfig, TrainConfig
    from napari_unet.train import fit

    cfg = TrainConfig(steps=300, batch_size=4, patch_size=64, seed=0, device="cpu")
    return fit(sample.image, sample.strokes, cfg, model_config=ModelConfig(depth=2, base_channels=8, dropout=0.0)).model


def isbi_dir() -> Path:
    path = DATA / "isbi2012"
    if not path.is_dir():
        pytest.skip(f"ISBI 2012 data not found at {path}")
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def recovery_file(tmp_path, monkeypatch):
    """Each test autosaves into its own recovery file, never the user's."""
    path = tmp_path / "recovery" / "recovery-model.pt"
    monkeypatch.setenv("NAPARI_UNET_RECOVERY", str(path))
    return path


@pytest.fixture(autouse=True)
def user_models(tmp_path, monkeypatch):
    """Named models saved by a test go to its own folder, never the user's."""
    path = tmp_path / "user-models"
    monkeypatch.setenv("NAPARI_UNET_MODELS", str(path))
    return path


@pytest.fixture
def image_is_probability(monkeypatch):
    """A stand-in network whose probability of the first class is the normalised image, so a
    test knows where each class is and how sure the network is of it."""
    import torch

    def probabilities(net, x, tta=False, rows=slice(None), cols=slice(None)):
        p = x[:, :1, rows, cols].float().clamp(0, 1)
        return torch.cat([p, 1 - p], dim=1)

    monkeypatch.setattr("napari_unet.predict.class_probabilities", probabilities)
