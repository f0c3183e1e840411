"""Closed lines: thin separating classes (membranes) without gaps.

Strokes along the middle of a membrane teach a network where membranes are, but where one is
faint the predicted line breaks, and the cells on either side merge: a one-pixel gap costs a
whole cell. So a semantic model records its line classes (``info.line_classes``): those painted as
one- or two-pixel lines, and those the network predicts as a network of thin lines, whatever the
brush (:func:`lines_in_prediction`; looked for at the end of the warm-up and at every doubling of
it until seen, and once more when training ends); prediction closes them (:func:`close_lines`):
each basin of the line class's probability at least ``PredictConfig.line_depth`` (0.1) deep seeds
a watershed on that probability, and wherever two basins meet, the pixel becomes line. Line
pixels that part nothing go (``PredictConfig.line_reach``): those more than 2 px along the line
from where two regions meet, such as dark organelles inside a cell drawn as membrane; they take
the label around them. At the
end of training from scratch the model also measures each line class's share of its training
images (:func:`finish_lines`), which prediction weighs the class by (:mod:`napari_unet.predict.margin`).

On ISBI 2012 slices 20-29, from strokes of a round brush clipped to the region (docs/benchmarks.md,
"Membranes whatever the brush"), the three together took the adapted Rand error of 300 s from scratch
from the previous default's 0.44-0.64 to 0.19-0.46 across brush radii 1-8 (3 seeds each); removing
the line pixels that part nothing took it from 0.278 to 0.262 on the same networks (all 15 runs
lower; "Line pixels that part nothing go").
"""

from __future__ import annotations

import numpy as np

HALF_WIDTH = 4.5  # px: a class predicted at most about 9 px wide along its middle is a line
SPECK = 50  # px: predicted specks and pinholes below this size are ignored when measuring widths
SMOOTH = 2.0  # px: the line probability's basins that seed the closing are those of it smoothed this much
STRAY_SHARE = 0.5  # a line class of which more than this share parts nothing is left as it is (blobs, not lines)


def line_classes(model) -> tuple[int, ...]:
    """Class values ``model`` draws as closed lines: semantic models whose strokes painted them
    as thin lines, or that declare them (a membrane base model)."""
    declared = set(model.info.line_classes) if model.mode == "semantic" else set()
    return tuple(v for v in model.class_values if v in declared)


def closing_config(model, config):
    """``config`` as it closes ``model``'s lines: between basins ``config.line_depth`` deep for a
    model that measured its line share (trained from scratch on strokes, :func:`finish_lines`),
    else (``line_depth`` 0) from the regions below ``config.line_seed``. A network trained on
    dense labels, or fine-tuned from one, draws sure membranes, and basins split cells where its
    probability dips inside them: on ISBI 20-29 the `em-membranes` twin's Rand error went from
    0.171 to 0.179 zero-shot and from 0.172 to 0.182 fine-tuned 60 s (docs/benchmarks.md)."""
    import dataclasses

    if model.mode != "semantic" or model.info.line_odds or not config.line_depth:
        return config
    return dataclasses.replace(config, line_depth=0.0)


def close_lines(labels: np.ndarray, line_probability: np.ndarray, value: int, seed_below: float,
                depth: float = 0.0, reach: float = 0.0) -> int:
    """Set to ``value`` the pixels of ``labels`` (2D, changed in place) where two basins of
    ``line_probability`` meet (watershed lines of the probability). With ``depth``, each basin
    of the probability (smoothed over :data:`SMOOTH` px) at least ``depth`` deep seeds one region:
    a faint membrane still parts two cells where it rises that much above both; else the
    connected regions below ``seed_below`` seed them, and a membrane parts cells only where it
    stays above that level all along. With ``reach``, line pixels more than that many pixels along
    the line from where two regions meet part nothing, and take the label of the nearest other
    pixel (:func:`stray_lines`). Returns how many pixels changed."""
    from skimage.measure import label
    from skimage.segmentation import watershed

    p = np.asarray(line_probability, np.float32)
    if depth > 0:
        from scipy import ndimage as ndi
        from skimage.morphology import h_minima

        seeds = label(h_minima(ndi.gaussian_filter(p, SMOOTH), depth))
    else:
        seeds = label(p < seed_below, connectivity=1)
    if seeds.max() < 2:  # one region or none: nothing to separate
        return 0
    meet = watershed(p, seeds, watershed_line=True) == 0
    ridge = meet & (labels != value)
    labels[ridge] = value
    changed = int(ridge.sum())
    if reach > 0:
        line = labels == value
        stray = stray_lines(line, meet, reach)
        if stray.any():
            labels[stray] = nearest_other(labels, line)[stray]
            changed += int(stray.sum())
    return changed


def stray_lines(line: np.ndarray, meet: np.ndarray, reach: float) -> np.ndarray:
    """The pixels of the ``line`` mask more than ``reach`` px along the line from a pixel where two
    regions meet (``meet``): blobs that part nothing, such as dark organelles inside a cell drawn
    as membrane, and bulges and stubs that stick out of the membranes. None when more than
    :data:`STRAY_SHARE` of the line pixels would go: the class forms blobs in this image, not
    lines (a class judged a line class early in training can fill out later). A distance in pixels, not
    one measured on the image, so that a region predicted from its window (the live preview)
    gets the labels of the whole image."""
    from scipy import ndimage as ndi

    parting = meet & line
    if not parting.any():
        return np.zeros_like(line)
    near = ndi.binary_dilation(parting, np.ones((3, 3), bool), iterations=max(int(round(reach)), 1), mask=line)
    stray = line & ~near
    if stray.sum() > STRAY_SHARE * line.sum():  # mostly far from any meeting: blobs, not lines, in this image
        return np.zeros_like(line)
    return stray


def nearest_other(labels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``labels`` with each pixel of ``mask`` given the label of the nearest pixel outside it."""
    from scipy import ndimage as ndi

    iy, ix = ndi.distance_transform_edt(mask, return_distances=False, return_indices=True)
    return labels[iy, ix]


def lines_in_prediction(class_maps, n_classes: int, half_width: float = HALF_WIDTH) -> tuple[int, ...]:
    """Classes (indices) that form networks of thin lines in predicted class maps ``(Y, X)`` (indices).

    Measured after specks and pinholes below :data:`SPECK` pixels are removed (a network early
    in training predicts noisy regions), a class is a line class when
    - its width, the median along its middle (skeleton) of the distance to its edge, is at most
      ``half_width`` pixels;
    - it encloses more regions (holes: parts of the other classes it surrounds) than it has
      pieces, as membranes around cells do, and blobs of any size do not;
    - it covers less than half of the pixels.

    Judged on what the network predicts, not on the strokes: a membrane painted with a wide
    brush gives strokes as wide as a cell painted with a narrow one, but the network predicts
    the membrane as a network of lines either way. On ISBI training slices after 100 steps from
    strokes of a 1 or 8 px brush, membranes measured 3.2-4.0 px wide with 1.2-2.8 holes per
    piece, cells 7.0 px with 0.3-0.7; blobs and the sample's cells 6.1-8.1 px and at most 0.1
    holes per piece (docs/benchmarks.md, "Thin classes").
    """
    from scipy import ndimage as ndi
    from skimage.morphology import skeletonize

    width, pieces, holes, area = np.zeros(n_classes), np.zeros(n_classes), np.zeros(n_classes), np.zeros(n_classes)
    for k in range(n_classes):
        dist = []
        for m in class_maps:
            area[k] += (m == k).sum()
            mask = ~_without_small(~_without_small(m == k, SPECK), SPECK)  # specks, then pinholes
            if not mask.any():
                continue
            dist.append(ndi.distance_transform_edt(mask)[skeletonize(mask)])
            pieces[k] += ndi.label(mask, structure=np.ones((3, 3)))[1]
            holes[k] += _enclosed(~mask)
        width[k] = np.median(np.concatenate(dist)) if dist else np.inf
    total = sum(m.size for m in class_maps)
    return tuple(k for k in range(n_classes)
                 if width[k] <= half_width and holes[k] > pieces[k] and area[k] < 0.5 * total)


def _enclosed(mask: np.ndarray) -> int:
    """Connected regions of ``mask`` that do not touch the image's border."""
    from scipy import ndimage as ndi

    lab, n = ndi.label(mask)
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    return n - int(np.count_nonzero(border))


PROBE_SLICES, PROBE_SIZE = 4, 512  # what training judges line classes on: up to 4 slices, 512 px a side


def probe_images(slices) -> tuple[np.ndarray, ...]:
    """The middle ``PROBE_SIZE`` pixels a side of the first ``PROBE_SLICES`` normalised training
    slices (``.image``, ``(C, Y, X)``): what :func:`judge_lines` predicts on."""
    out = []
    for s in slices[:PROBE_SLICES]:
        y0, x0 = (max(0, (n - PROBE_SIZE) // 2) for n in s.image.shape[1:])
        out.append(np.ascontiguousarray(s.image[:, y0 : y0 + PROBE_SIZE, x0 : x0 + PROBE_SIZE], np.float32))
    return tuple(out)


def judge_lines(model, net, probe, device, known: tuple[int, ...] = ()) -> tuple[int, ...]:
    """The classes (indices) the network predicts as lines on the ``probe`` images
    (:func:`lines_in_prediction`), with those ``known`` before: from then on the edge term, which
    would erase their faint stretches, stays off, and prediction closes them (recorded in
    ``model.info.line_classes``). The network runs in inference mode, so BatchNorm's statistics
    and the random state stay as they are."""
    return _judged(model, probe_probabilities(net, probe, device), known)


def finish_lines(model, net, probe, device, trained_share) -> tuple[int, ...]:
    """At the end of training on strokes from scratch: one more look for line classes if the
    model has none yet (prediction closes them; the edge term was on), then each line class's
    share of the ``probe`` images as the network sees them, recorded as the odds prediction
    weighs it by (``model.info.line_odds``, :mod:`napari_unet.predict.margin`). Returns the line
    classes (indices). ``trained_share[k]``: the share class ``k`` had in training (class
    balancing gives every class the same)."""
    probs = probe_probabilities(net, probe, device)
    lines = tuple(model.class_values.index(v) for v in line_classes(model))
    if not lines:
        lines = _judged(model, probs)
    odds = {}
    for k in lines:
        t = float(trained_share[k])
        share = image_share(np.stack([p[k] for p in probs]), t)
        odds[int(model.class_values[k])] = round((share / t) / ((1 - share) / (1 - t)), 4)
    model.info.line_odds = odds
    return lines


def image_share(p: np.ndarray, trained: float, tol: float = 1e-5) -> float:
    """A class's share of the pixels of images, from a network's probabilities ``p`` of it,
    given the share it had in training (Saerens, Latinne & Decaestecker 2002, "Adjusting the
    outputs of a classifier to new a priori probabilities"): reweigh the probabilities by the
    ratio of the shares, average them into a new share, until it settles.

    Strokes give a thin class far more than its share (class balancing weighs membranes as much
    as cells, where membranes cover a fifth of an EM slice), so a network trained on them calls
    a pixel membrane on much weaker evidence than the image's own share warrants: membranes come
    out thick and blobs inside cells join them, and both merge cells in the Rand measure."""
    p = np.asarray(p, np.float64).ravel()
    share = trained
    for _ in range(200):
        a = p * (share / trained)
        new = float(np.mean(a / (a + (1 - p) * ((1 - share) / (1 - trained)))))
        settled, share = abs(new - share) < tol, new
        if settled:
            break
    return min(max(share, 1e-3), 1 - 1e-3)  # odds of 0 or infinity would erase the class or fill the image


def probe_probabilities(net, probe, device) -> list[np.ndarray]:
    """The network's class probabilities ``(K, Y, X)`` on each probe image, in inference mode
    (BatchNorm's statistics and the random state stay as they are)."""
    import torch

    was_training = net.training
    net.eval()
    out = []
    with torch.no_grad():
        for image in probe:
            x = torch.from_numpy(image[None]).to(device).contiguous(memory_format=torch.channels_last)
            out.append(torch.softmax(net(x).float(), 1)[0].cpu().numpy())
    net.train(was_training)
    return out


def _judged(model, probs, known: tuple[int, ...] = ()) -> tuple[int, ...]:
    """The classes (indices) predicted as lines in ``probs`` (``(K, Y, X)`` each) with those
    ``known``, added to the values ``model.info.line_classes`` records."""
    found = lines_in_prediction([p.argmax(0) for p in probs], model.config.n_classes)
    lines = tuple(sorted(set(known) | set(found)))
    if lines:
        values = {int(model.class_values[k]) for k in lines}
        model.info.line_classes = sorted(values.union(model.info.line_classes))
    return lines


def _without_small(mask: np.ndarray, size: int) -> np.ndarray:
    """``mask`` without its connected regions (8-connected) smaller than ``size`` pixels."""
    from scipy import ndimage as ndi

    lab, n = ndi.label(mask, structure=np.ones((3, 3)))
    keep = np.bincount(lab.ravel(), minlength=n + 1) >= size
    keep[0] = False
    return keep[lab]
