"""Real data (slow): strokes down the middle of regions on ISBI 2012 EM and DSB2018 nuclei,
a short CPU training, and scores on images the model did not train on. Skipped, with the
reason, when ``../shared/data`` is absent."""

import json

import numpy as np
import pytest

from conftest import data_dir

pytestmark = pytest.mark.slow


def _read(path):
    import skimage.io

    return np.asarray(skimage.io.imread(path))


def test_em_membranes_from_strokes_on_unseen_slices():
    """A short training already ranks membrane pixels above interior ones on an unseen slice
    (a model that learned nothing ranks them at chance: AUC 0.5)."""
    from scipy.stats import rankdata

    from napari_unet._sample_data import simulate_strokes
    from napari_unet.config import PredictConfig, TrainConfig
    from napari_unet.predict import predict_labels
    from napari_unet.train import fit

    root = data_dir("isbi2012")
    images = [_read(root / "images" / f"{i:02d}.png") for i in range(4)]
    truths = [np.where(_read(root / "labels" / f"{i:02d}.png") > 127, 2, 1).astype(np.uint8) for i in range(4)]
    strokes = [simulate_strokes(t, fraction=0.02, seed=i) for i, t in enumerate(truths)]
    model = fit(images, strokes, TrainConfig(steps=600, seed=0, device="cpu")).model
    assert model.history["thin_classes"] == [1]  # membranes are painted as lines
    membrane = _read(root / "labels" / "25.png") <= 127
    result = predict_labels(model, _read(root / "images" / "25.png"), PredictConfig(device="cpu"), probabilities=True)
    p = result.probabilities[0, 0].ravel()  # P(membrane)
    ranks = rankdata(p)
    n_pos = membrane.sum()
    auc = (ranks[membrane.ravel()].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (p.size - n_pos))
    print(f"membrane AUC {auc:.3f}")
    assert auc > 0.85


def test_nuclei_instances_on_other_images():
    from napari_unet._sample_data import simulate_instance_strokes
    from napari_unet.config import PredictConfig, TrainConfig
    from napari_unet.predict import predict_labels
    from napari_unet.train import fit

    root = data_dir("dsb2018")
    rows = json.loads((root / "index.json").read_text())
    names = sorted(r["name"] for r in rows if r["channels"] == 1 and (r["height"], r["width"]) == (256, 256))
    train, test = names[:12], names[12:16]
    images = [_read(root / "images" / f"{n}.png") for n in train]
    strokes = [simulate_instance_strokes(_read(root / "labels" / f"{n}.png"), seed=i) for i, n in enumerate(train)]
    cfg = TrainConfig(steps=600, seed=0, device="cpu", mode="instance")
    model = fit(images, strokes, cfg).model
    found = matched = true = 0
    for n in test:
        truth = _read(root / "labels" / f"{n}.png")
        pred = predict_labels(model, _read(root / "images" / f"{n}.png"), PredictConfig(device="cpu")).labels
        ids_t, ids_p = np.unique(truth)[1:], np.unique(pred)[1:]
        true, found = true + len(ids_t), found + len(ids_p)
        for i in ids_t:  # a true nucleus is matched when one predicted object covers it with IoU > 0.5
            m = truth == i
            j = np.bincount(pred[m]).argmax()
            if j and (m & (pred == j)).sum() / (m | (pred == j)).sum() > 0.5:
                matched += 1
    f1 = 2 * matched / (true + found)
    print(f"F1 {f1:.3f}")
    assert f1 > 0.6, (matched, true, found)
