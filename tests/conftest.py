import importlib
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
# the real data (../shared/data next to the project, or $NAPARI_UNET_DATA)
DATA = Path(os.environ.get("NAPARI_UNET_DATA") or ROOT.parent / "shared" / "data")
# CI sets NAPARI_UNET_STRICT_SKIPS=1: a test that would skip for want of a package the [testing]
# extra installs, or of real data while the data folder exists, fails instead (a broken install
# or a moved data set must not pass as skipped)
STRICT = os.environ.get("NAPARI_UNET_STRICT_SKIPS") == "1"
MISSING_PACKAGE = ("extra is not installed", "could not import")  # need() and pytest.importorskip


def data_dir(name: str) -> Path:
    """``DATA / name``; skips the test when the real data is absent (fails in strict mode when
    the data folder is there but ``name`` is not)."""
    path = DATA / name
    if not path.is_dir():
        reason = f"real data not found at {path} (set NAPARI_UNET_DATA to the data folder; README, Benchmarks)"
        if STRICT and DATA.is_dir():
            pytest.fail(f"{reason}, although the data folder {DATA} exists", pytrace=False)
        pytest.skip(reason)
    return path


def need(module: str, extra: str):
    """Import ``module`` of an optional extra, or skip the test module (fail in strict mode)."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        reason = f"{module} does not import ({err}): the [{extra}] extra is not installed"
        if STRICT:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason, allow_module_level=True)


def _missing_skips(config) -> list:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    markers = MISSING_PACKAGE + (("real data not found",) if DATA.is_dir() else ())
    return [r for r in skipped if any(m in str(r.longrepr) for m in markers)]


def pytest_sessionfinish(session, exitstatus):
    """In strict mode, a skip for a missing package or missing real data fails the run, however
    the test skipped (``importorskip`` included)."""
    if STRICT and exitstatus == 0 and _missing_skips(session.config):
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    bad = _missing_skips(config) if STRICT else []
    if bad:
        terminalreporter.write_line(f"strict skips: {len(bad)} test(s) skipped for a missing package or missing "
                                    "real data, which fails this run:", red=True)
        for r in bad:
            reason = r.longrepr[-1] if isinstance(r.longrepr, tuple) else r.longrepr
            terminalreporter.write_line(f"  {r.nodeid}: {reason}")


@pytest.fixture(scope="session")
def sample():
    from napari_unet.core.samples import make_sample

    return make_sample(128, seed=1)


@pytest.fixture
def tiny_model_config():
    from napari_unet.core.config import ModelConfig

    return ModelConfig(depth=2, base_channels=8, dropout=0.0)


@pytest.fixture
def tiny_train_config():
    from napari_unet.core.config import TrainConfig

    return TrainConfig(steps=30, batch_size=4, patch_size=64, seed=0, device="cpu")


@pytest.fixture(scope="session")
def trained(sample):
    """A tiny model trained briefly on the sample (shared by tests that only read it)."""
    from napari_unet.core.config import ModelConfig, TrainConfig
    from napari_unet.core.train import fit

    cfg = TrainConfig(steps=300, batch_size=4, patch_size=64, seed=0, device="cpu")
    return fit(sample.image, sample.strokes, cfg, model_config=ModelConfig(depth=2, base_channels=8, dropout=0.0)).model


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

    monkeypatch.setattr("napari_unet.predict.pipeline.class_probabilities", probabilities)
