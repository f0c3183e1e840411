"""Scores of a segmentation against the truth, and what a method that learns nothing scores on
the same image: the bars of the quality tests sit clearly above the latter."""

import numpy as np


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return float((a & b).sum() / max((a | b).sum(), 1))


def otsu_foreground(image: np.ndarray) -> np.ndarray:
    """Foreground by Otsu's global threshold: no learning, no strokes."""
    from skimage.filters import threshold_otsu

    image = np.asarray(image, np.float64)
    return image > threshold_otsu(image)


def otsu_objects(image: np.ndarray) -> np.ndarray:
    """Objects as the connected components of Otsu's foreground."""
    from skimage.measure import label

    return label(otsu_foreground(image), connectivity=1)


def matched(pred: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> tuple[int, int, int]:
    """``(matched, true, predicted)`` objects: a true object is matched when the predicted object
    covering most of it overlaps it with IoU above ``threshold`` (0.5 makes matches one to one)."""
    pred, truth = np.asarray(pred), np.asarray(truth)
    ids_t, ids_p = np.unique(truth[truth > 0]), np.unique(pred[pred > 0])
    hits = 0
    for i in ids_t:
        m = truth == i
        j = np.bincount(pred[m]).argmax()
        if j and (m & (pred == j)).sum() / (m | (pred == j)).sum() > threshold:
            hits += 1
    return hits, len(ids_t), len(ids_p)


def f1(pred: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> float:
    """F1 of object matching at IoU ``threshold`` (1 only when every object is found, and nothing else)."""
    hits, true, found = matched(pred, truth, threshold)
    return 2 * hits / max(true + found, 1)


def prediction_change(start, model, image) -> tuple[float, float]:
    """How far ``model`` predicts from ``start`` on ``image``: the IoU of the regions each calls
    class 2 (cells, nuclei), and the mean absolute difference of their probabilities. The networks
    as they are: no object margin, no rescaling, fp32."""
    from napari_unet.core.config import PredictConfig
    from napari_unet.predict.pipeline import predict_labels

    config = PredictConfig(device="cpu", precision="fp32", object_margin=0, rescale=False)
    a, b = (predict_labels(m, image, config, probabilities=True).probabilities[0] for m in (start, model))
    return iou(a[1] > a[0], b[1] > b[0]), float(np.abs(a - b).mean())
