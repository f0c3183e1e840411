"""Prediction as a dask graph, for a dask.distributed cluster (or any dask scheduler).

Each output tile is one task. Its input window (the tile plus the network's receptive field,
mirrored at the image border, exactly as :func:`napari_unet.predict.pipeline.predict` reads it) is a
lazy slice of the image, or, for a zarr array, read by the task itself, so workers read only
what their tiles need; the tiles go through the
same :class:`~napari_unet.predict.pipeline.TilePredictor`, so the labels equal the single-process ones.
The model enters the graph once, as one task whose result each worker fetches once.

Slices are finished as in one process (:mod:`napari_unet.predict.finish`), one task per slice:
instance mode splits the exact class map of the tiles (background, object, sure object) into
objects, so object labels are consistent across tiles; a semantic model closes its line classes
on the tiles' probabilities of them; an instance model that rescales predicts on a shrunk copy
built band by band and enlarges each slice's probabilities before splitting. All equal the
single-process labels (tests/test_front_doors.py).
"""

from __future__ import annotations

import numpy as np

from napari_unet.core.config import PredictConfig, UserInputError
from napari_unet.core.data import is_single_plane, model_input
from napari_unet.core.lines import closing_config, line_classes
from napari_unet.predict.finish import object_sizes
from napari_unet.predict.pipeline import label_dtype
from napari_unet.predict.rescale import applies, factor_for, shrunk_size
from napari_unet.predict.tiling import TilePlan, core_tile, take


def require_distributed():
    """``distributed``'s Client and LocalCluster, or a clear error naming the extra to install."""
    from napari_unet.core.extras import require

    require("distributed")
    from distributed import Client, LocalCluster

    return Client, LocalCluster


def predict_dask(model, image, config: PredictConfig | None = None, *, probabilities: bool = False,
                 scale: float | None = None):
    """Lazy labels (and, with ``probabilities``, class probabilities) of ``image``, as dask arrays.

    ``image`` is anything :func:`~napari_unet.core.data.to_zcyx` accepts, typically a dask array over
    zarr (``dask.array.from_zarr``). The result has :func:`~napari_unet.predict.pipeline.predict`'s shapes,
    ``(Y, X)`` or ``(Z, Y, X)`` labels chunked in output tiles (``config.tile_size``), and
    ``(Z, K, Y, X)`` probabilities. Nothing is computed until the result is (``.compute()``,
    ``.to_zarr(...)``), on the active dask scheduler: a ``distributed.Client`` if one exists.
    The intensity percentiles are computed here, from a subsample of the whole image.

    An instance model that rescales (:mod:`napari_unet.predict.rescale`) predicts at ``scale``, else
    at the factor for ``config.diameter``, else at the factor measured by a first pass, which is
    computed here. The shrunk image is a graph of bands, each read from the rows it needs.
    """
    import dask.array as da

    from napari_unet.core.data import percentiles

    config = closing_config(model, config or PredictConfig())  # napari_unet.core.lines
    raw, img = model_input(model, image, config.colour_to_grey)
    if not isinstance(img, da.Array):
        img = da.from_array(img, chunks=(1, img.shape[1], 1024, 1024))
    norm = percentiles(img, model.norm)
    if applies(model, config) and scale is None:
        diameter = config.diameter or _diameter(predict_dask(model, image, config, scale=1.0))
        scale = factor_for(model, diameter)
    if applies(model, config) and scale != 1.0:
        labels, probs = _shrunk(model, raw, img, norm, config, scale, probabilities)
    else:
        labels, probs = _as_it_is(model, raw, img, norm, config, probabilities)
    if is_single_plane(raw, img):
        labels = labels[0]
    return (labels, probs) if probabilities else labels


def _as_it_is(model, raw, img, norm, config, probabilities):
    """Labels and probabilities (or None) of ``img`` ``(Z, C, Y, X)`` at its own size."""
    import dask.array as da

    z, _, h, w = img.shape
    instance = model.mode == "instance"
    ltype = np.dtype(np.uint8) if instance else label_dtype(model)
    close = line_classes(model) if config.close_lines else ()
    lines = [model.class_values.index(v) for v in close]
    labels, probs, line_probs = _tiles(model, raw, img, norm, config, ltype, probabilities, lines)
    if instance or lines:  # one task per slice, finished as in one process
        extra = [line_probs.rechunk((1, len(lines), h, w)), "zlyx"] if lines else []
        labels = da.blockwise(_finish, "zyx", labels.rechunk((1, h, w)), "zyx", *extra, config=config, close=close,
                              instance=instance, sizes=object_sizes(model, config), concatenate=True,
                              dtype=np.int32 if instance else ltype)
    return labels, probs


def _shrunk(model, raw, img, norm, config, scale: float, probabilities: bool):
    """Labels and probabilities (or None) of ``img`` predicted on a copy shrunk by ``scale``: one
    task per slice enlarges the shrunk probabilities and splits the objects, as in one process."""
    import dask.array as da

    z, c, h, w = img.shape
    size = shrunk_size((h, w), scale)
    small = _resized(img, size)
    _, p, _ = _tiles(model, raw, small, norm, config, np.dtype(np.uint8), True, [])
    p = p.rechunk((1, p.shape[1], *size))
    k = p.shape[1]
    labels = da.map_blocks(_enlarged_objects, p, size=(h, w), values=model.class_values, config=config,
                           sizes=object_sizes(model, config, scale), drop_axis=1, chunks=((1,) * z, (h,), (w,)),
                           dtype=np.int32)
    probs = da.map_blocks(_enlarged, p, size=(h, w), chunks=((1,) * z, (k,), (h,), (w,)),
                          dtype=np.float32) if probabilities else None
    return labels, probs


def _resized(img, size):
    """``img`` ``(Z, C, Y, X)`` (dask) resized to ``size``, as a graph of bands of rows each computed
    from the input rows it reads (exactly as :class:`~napari_unet.predict.resize.Resized`)."""
    import dask
    import dask.array as da

    from napari_unet.predict.resize import ROWS, taps

    z, c, h, w = img.shape
    ty = taps(h, size[0])
    planes = []
    for zi in range(z):
        bands = []
        for a in range(0, size[0], ROWS):
            b = min(a + ROWS, size[0])
            lo, hi = ty.inputs(a, b)
            band = dask.delayed(_resize_band, pure=True)(img[zi, :, lo:hi], lo, (h, w), size, a, b)
            bands.append(da.from_delayed(band, (c, b - a, size[1]), np.float32))
        planes.append(da.concatenate(bands, axis=1))
    return da.stack(planes)


def _resize_band(rows: np.ndarray, lo: int, size_in, size_out, a: int, b: int) -> np.ndarray:
    from napari_unet.predict.resize import resize_rows

    return resize_rows(lambda r0, r1: rows[:, r0 - lo : r1 - lo], size_in, size_out, a, b)


def _enlarged_objects(p: np.ndarray, *, size, values, config, sizes) -> np.ndarray:
    """One slice's objects ``(1, Y, X)`` from its shrunk probabilities ``(1, K, y, x)``."""
    from napari_unet.predict.finish import enlarged_slice

    return enlarged_slice(p[0], size, values, config, sizes)[None]


def _enlarged(p: np.ndarray, *, size) -> np.ndarray:
    from napari_unet.predict.resize import resize

    return resize(p[0], size)[None]


def _diameter(labels) -> float | None:
    """The objects' median diameter in lazy ``labels`` (``(Y, X)`` or ``(Z, Y, X)``), their areas
    counted by one task per slice."""
    import dask

    from napari_unet.core.instances import diameter_from_areas, object_areas

    planes = [labels] if labels.ndim == 2 else [labels[zi] for zi in range(labels.shape[0])]
    areas = dask.compute(*[dask.delayed(object_areas)(plane) for plane in planes])
    return diameter_from_areas(np.concatenate(areas))


def _tiles(model, raw, img, norm, config, ltype, probabilities, lines):
    """The output tiles of ``img`` as dask arrays: labels ``(Z, Y, X)``, probabilities
    ``(Z, K, Y, X)`` (or None) and the network's probabilities of the classes ``lines`` (or None)."""
    import dask
    import dask.array as da

    from napari_unet.models.checkpoint import model_from_bytes, model_to_bytes

    z, _, h, w = img.shape
    k = model.config.n_classes
    plan = TilePlan.of(config, model.config, (h, w))
    # one task makes the model; each worker fetches its result once and all its tiles share it
    shared = dask.delayed(model_from_bytes, pure=True)(model_to_bytes(model))
    direct = _zarr_planes(raw, img)  # a zarr array of planes: each task reads its own window from it
    grid, probs, line_probs = [], [], []
    for zi in range(z):
        label_rows, prob_rows, line_rows = [], [], []
        for y in plan.ys:
            rows = plan.rows(y)
            band = take(img[zi], rows, axis=1) if direct is None else None
            label_row, prob_row, line_row = [], [], []
            for x in plan.xs:
                n, m = plan.extent(y, x)
                cols = plan.cols(x)
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
    return da.block(grid), _block_probs(probs) if probabilities else None, _block_probs(line_probs) if lines else None


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
    zarr chunk, so no two tasks write the same chunk. An instance model that measures its objects
    before rescaling writes its first pass there too, and measures it from there."""
    import dask.array as da

    config = config or PredictConfig()
    scale = None
    if applies(model, config) and not config.diameter:
        first = _store(model, image, path, config, probabilities_path, 1.0)
        scale = factor_for(model, _diameter(da.from_zarr(first)))
        if scale == 1.0:
            return
    _store(model, image, path, config, probabilities_path, scale)


def _store(model, image, path, config: PredictConfig, probabilities_path, scale):
    """:func:`predict_dask` at ``scale`` stored into zarr; returns the labels' zarr array."""
    import dask.array as da

    from napari_unet.core.imageio import create_zarr

    result = predict_dask(model, image, config, probabilities=probabilities_path is not None, scale=scale)
    labels, probs = result if probabilities_path is not None else (result, None)
    tile = core_tile(config, model.config.multiple, labels.shape[-2:])
    labels = labels.rechunk((1,) * (labels.ndim - 2) + tile)  # instance labels come per slice
    sources, targets = [labels], [create_zarr(path, labels.shape, labels.dtype, chunk=tile)]
    if probs is not None:
        sources.append(probs.rechunk((1, probs.shape[1], *tile)))
        targets.append(create_zarr(probabilities_path, probs.shape, probs.dtype, chunk=tile))
    da.store(sources, targets, lock=False)
    return targets[0]


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
