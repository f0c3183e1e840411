"""Prediction as a dask graph, for a dask.distributed cluster (or any dask scheduler).

Each output tile is one task. Its input window (the tile plus the network's receptive field,
mirrored at the image border, exactly as :func:`napari_unet.predict.pipeline.predict` reads it) is a
lazy slice of the image, or, for a zarr array, read by the task itself, so workers read only
what their tiles need; the tiles go through the
same :class:`~napari_unet.predict.pipeline.TilePredictor`, so the labels equal the single-process ones.
The model enters the graph once, as one task whose result each worker fetches once.

Slices are finished as in one process (:class:`~napari_unet.predict.finish.SliceFinish`), one task per
slice: instance mode splits the exact class map of the tiles (background, object, sure object)
into objects, so object labels are consistent across tiles, and a semantic model closes its line
classes on the tiles' probabilities of them. Both equal the single-process labels.
"""

from __future__ import annotations

import numpy as np

from napari_unet.core.config import PredictConfig, UserInputError


def require_distributed():
    """``distributed``'s Client and LocalCluster, or a clear error naming the extra to install."""
    from napari_unet.core.extras import require

    require("distributed")
    from distributed import Client, LocalCluster

    return Client, LocalCluster


def predict_dask(model, image, config: PredictConfig | None = None, *, probabilities: bool = False):
    """Lazy labels (and, with ``probabilities``, class probabilities) of ``image``, as dask arrays.

    ``image`` is anything :func:`~napari_unet.core.data.to_zcyx` accepts, typically a dask array over
    zarr (``dask.array.from_zarr``). The result has :func:`~napari_unet.predict.pipeline.predict`'s shapes,
    ``(Y, X)`` or ``(Z, Y, X)`` labels chunked in output tiles (``config.tile_size``), and
    ``(Z, K, Y, X)`` probabilities. Nothing is computed until the result is (``.compute()``,
    ``.to_zarr(...)``), on the active dask scheduler: a ``distributed.Client`` if one exists.
    The intensity percentiles are computed here, from a subsample of the whole image.
    """
    import dask
    import dask.array as da

    from napari_unet.core.data import is_single_plane, percentiles
    from napari_unet.models.checkpoint import model_from_bytes, model_to_bytes
    from napari_unet.core.lines import line_classes
    from napari_unet.predict.finish import object_sizes
    from napari_unet.predict.pipeline import label_dtype
    from napari_unet.core.data import model_input
    from napari_unet.predict.tiling import context_margins, core_tile, reflect_index, take

    config = config or PredictConfig()
    raw, img = model_input(model, image, config.colour_to_grey)
    if not isinstance(img, da.Array):
        img = da.from_array(img, chunks=(1, img.shape[1], 1024, 1024))
    norm = percentiles(img, model.norm)
    z, _, h, w = img.shape
    k = model.config.n_classes
    th, tw = core_tile(config, model.config.multiple, (h, w))
    before, after = context_margins(model.config, config.tta)
    instance = model.mode == "instance"
    ltype = np.dtype(np.uint8) if instance else label_dtype(model)
    close = line_classes(model) if config.close_lines else ()
    lines = [model.class_values.index(v) for v in close]
    # one task makes the model; each worker fetches its result once and all its tiles share it
    shared = dask.delayed(model_from_bytes, pure=True)(model_to_bytes(model))
    direct = _zarr_planes(raw, img)  # a zarr array of planes: each task reads its own window from it
    grid, probs, line_probs = [], [], []
    for zi in range(z):
        label_rows, prob_rows, line_rows = [], [], []
        for y in range(0, h, th):
            rows = reflect_index(np.arange(y - before, y + th + after), h)
            band = take(img[zi], rows, axis=1) if direct is None else None
            label_row, prob_row, line_row = [], [], []
            for x in range(0, w, tw):
                n, m = min(th, h - y), min(tw, w - x)
                cols = reflect_index(np.arange(x - before, x + tw + after), w)
                window = take(band, cols, axis=2) if direct is None else (direct, zi, rows, cols)
                tile = dask.delayed(_predict_tile, pure=True, nout=3)(shared, window, norm, config, (n, m), ltype,
                                                                       probabilities, lines)
                label_row.append(da.from_delayed(tile[0], (1, n, m), ltype))
                if probabilities:
                    prob_row.append(da.from_delayed(tile[1], (1, k, n, m), np.float32))
                if lines:
                    line_row.append(da.from_delayed(tile[2], (1, len(lines), n, m), np.float32))
            label_rows.append(label_row)
            prob_rows.append(prob_row)
            line_rows.append(line_row)
        grid.append(label_rows)
        probs.append(prob_rows)
        line_probs.append(line_rows)
    labels = da.block(grid)
    if instance or lines:  # one task per slice, finished as in one process
        extra = [_block_probs(line_probs).rechunk((1, len(lines), h, w)), "zlyx"] if lines else []
        labels = da.blockwise(_finish, "zyx", labels.rechunk((1, h, w)), "zyx", *extra, config=config, close=close,
                              instance=instance, sizes=object_sizes(model, config), concatenate=True,
                              dtype=np.int32 if instance else ltype)
    if is_single_plane(raw, img):
        labels = labels[0]
    return (labels, _block_probs(probs)) if probabilities else labels


def _block_probs(probs):
    """Assemble ``(Z, K, Y, X)`` from per-slice grids of ``(1, K, n, m)`` tiles."""
    import dask.array as da

    return da.concatenate([da.block([list(row) for row in rows]) for rows in probs], axis=0)


def _zarr_planes(raw, img):
    """``raw`` if it is a zarr array of ``(Y, X)`` or ``(Z, Y, X)`` greyscale planes (as ``img``,
    its ``(Z, C, Y, X)`` reading, says; not colour), else None."""
    planes = (1, *raw.shape) if raw.ndim == 2 else tuple(raw.shape)
    if type(raw).__module__.split(".")[0] == "zarr" and raw.ndim in (2, 3) and hasattr(raw, "store") \
            and img.shape[1] == 1 and (img.shape[0], *img.shape[2:]) == planes:
        return raw
    return None


def _read_window(array, zi: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """A window ``(1, rows, cols)`` of plane ``zi`` of a zarr array, mirrored where it leaves the image."""
    r0, c0 = int(rows.min()), int(cols.min())
    key = (slice(r0, int(rows.max()) + 1), slice(c0, int(cols.max()) + 1))
    block = np.asarray(array[(zi, *key) if array.ndim == 3 else key])
    return block[np.ix_(rows - r0, cols - c0)][None]


def _predict_tile(model, window, norm, config, size, ltype, probabilities, lines=()):
    """One output tile from its window ``(C, rows, columns)``, or from ``(zarr array, plane,
    rows, columns)`` to read it from (runs on a worker): its labels, its probabilities (or None)
    and the network's own probabilities of the classes ``lines`` (indices; or None)."""
    from napari_unet.core.device import resolve_device
    from napari_unet.predict.pipeline import TilePredictor

    if isinstance(window, tuple):
        window = _read_window(*window)
    # the model is one object per worker, shared by its tiles: so is its prediction copy
    copies = model.__dict__.setdefault("prediction_copies", {})
    tiles = TilePredictor(model, norm, config, resolve_device(config.device), ltype, copies)
    n, m = size
    p = tiles.probabilities(np.asarray(window)[None], n, m)[0]
    labels = tiles.labels(p)[None].astype(ltype, copy=False)
    line_p = tiles.line_probabilities(p, lines)[None] if lines else None
    return labels, (p.cpu().numpy()[None] if probabilities else None), line_p


def _finish(plane: np.ndarray, line_p: np.ndarray | None = None, *, config, close, instance, sizes) -> np.ndarray:
    """One slice ``(1, Y, X)`` finished as in one process (objects split, lines closed)."""
    from napari_unet.predict.finish import finish_slice

    done = finish_slice(plane[0].copy(), None if line_p is None else line_p[0], close, config, instance, sizes)
    return done[None].astype(np.int32 if instance else plane.dtype, copy=False)


def connect(workers: int | None = None, scheduler: str | None = None):
    """A ``distributed.Client``: to the scheduler at ``scheduler``, or to a new local cluster of
    ``workers`` processes that share this machine's cores (torch threads per worker = cores / workers).
    Close it (and its cluster) with ``client.close(); client.cluster and client.cluster.close()``."""
    import os

    client_cls, cluster_cls = require_distributed()
    if scheduler:
        try:
            return client_cls(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError, TypeError) as err:
            raise UserInputError(f"cannot reach a dask scheduler at {scheduler!r} ({type(err).__name__}: "
                                 f"{str(err).splitlines()[0][:160] if str(err) else 'no answer'}); check the address "
                                 "(e.g. tcp://host:8786), or use --workers N for a cluster on this machine.") from None
    if workers is None or workers < 1:
        raise UserInputError(f"--workers must be at least 1, got {workers}.")
    import dask

    environ = worker_environment(max(1, (os.cpu_count() or 1) // workers))
    # the nanny lets this process's own variables win over the config, and leaves the ones it
    # set behind in os.environ: clear them for the start, put this process's back after it
    saved = {k: os.environ.pop(k, None) for k in environ}
    try:
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
            cluster = cluster_cls(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None)
            if v is not None:
                os.environ[k] = v
    return client_cls(cluster)


def worker_environment(threads: int) -> dict:
    """What a worker process starts with: dask's defaults, ``threads`` torch threads, and
    ``MALLOC_MMAP_THRESHOLD_``. dask sets ``MALLOC_TRIM_THRESHOLD_``, which turns off glibc's
    adaptive mmap threshold, so each of the network's large activations would be fresh pages:
    the network ran 1.6x slower until large blocks were kept in the heap (docs/benchmarks.md).
    For a cluster started elsewhere, put these variables in its workers' environment."""
    import dask

    base = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {})
    return {**base, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "MALLOC_MMAP_THRESHOLD_": 64 << 20}


def predict_to_zarr(model, image, path, config: PredictConfig | None = None, probabilities_path=None) -> None:
    """Predict ``image`` on the active scheduler, the workers writing the labels (and the class
    probabilities) into zarr arrays at ``path`` (and ``probabilities_path``), one output tile per
    zarr chunk, so no two tasks write the same chunk."""
    import dask.array as da

    from napari_unet.core.imageio import create_zarr
    from napari_unet.predict.tiling import core_tile

    config = config or PredictConfig()
    result = predict_dask(model, image, config, probabilities=probabilities_path is not None)
    labels, probs = result if probabilities_path is not None else (result, None)
    tile = core_tile(config, model.config.multiple, labels.shape[-2:])
    labels = labels.rechunk((1,) * (labels.ndim - 2) + tile)  # instance labels come per slice
    sources, targets = [labels], [create_zarr(path, labels.shape, labels.dtype, chunk=tile)]
    if probs is not None:
        sources.append(probs.rechunk((1, probs.shape[1], *tile)))
        targets.append(create_zarr(probabilities_path, probs.shape, probs.dtype, chunk=tile))
    da.store(sources, targets, lock=False)


def predict_files(model, images: dict, out_dir, config: PredictConfig, workers=None, scheduler=None,
                  probabilities: bool = False):
    """Predict each ``{path: image}`` on a cluster (see :func:`connect`) into
    ``out_dir/<stem>_labels.zarr`` (and ``_probabilities.zarr``); yields a line of news per step."""
    import time
    from pathlib import Path

    client = connect(workers, scheduler)
    try:
        yield f"dask cluster: {len(client.scheduler_info()['workers'])} worker(s) at {client.scheduler.address}"
        for path, image in images.items():
            stem = Path(path).stem
            labels = Path(out_dir) / f"{stem}_labels.zarr"
            probs = Path(out_dir) / f"{stem}_probabilities.zarr" if probabilities else None
            t0 = time.perf_counter()
            predict_to_zarr(model, image, labels, config, probs)
            yield f"wrote {labels}" + (f" and {probs}" if probs else "") + f" ({time.perf_counter() - t0:.1f} s)"
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None:
            cluster.close()
