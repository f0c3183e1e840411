"""Prediction as a dask graph: lazily, on a real LocalCluster, through a killed worker, from the CLI."""

import os
import signal
import sys
import time

import numpy as np
import pytest
from conftest import need

from napari_unet.core.config import PredictConfig, UserInputError

da = need("dask.array", "testing")
need("distributed", "distributed")

FP32 = dict(device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def big(sample):
    return np.tile(sample.image, (16, 16))[:2048, :2048].copy()


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c, \
            Client(c) as client:
        yield client


def test_the_lazy_api_returns_dask_arrays_that_equal_predict(trained, sample):
    from napari_unet.predict.distributed import predict_dask
    from napari_unet.predict.pipeline import predict_labels

    stack = np.stack([np.roll(sample.image, 9 * i, axis=1) for i in range(3)])
    lazy, probs = predict_dask(trained, da.from_array(stack, chunks=(1, 64, 64)), PredictConfig(tile_size=48, **FP32),
                               probabilities=True)
    assert isinstance(lazy, da.Array) and lazy.shape == stack.shape and lazy.chunks[1] == (44, 44, 40)  # 3 tiles
    single = predict_labels(trained, stack, PredictConfig(**FP32), probabilities=True)
    labels, p = da.compute(lazy, probs, scheduler="threads")
    np.testing.assert_array_equal(labels, single.labels)
    np.testing.assert_allclose(p, single.probabilities, rtol=0, atol=1e-6)


def test_a_local_cluster_equals_one_process_on_2048_and_on_a_z_stack(cluster, trained, big, sample, tmp_path):
    """Two worker processes read a zarr image and write zarr labels: the single-process labels, exactly."""
    import zarr

    from napari_unet.predict.distributed import predict_to_zarr
    from napari_unet.predict.pipeline import predict_labels

    stack = np.stack([big[:300, :400], big[300:600, :400]])
    for name, image in (("plane", big), ("stack", stack)):
        src = zarr.open_array(str(tmp_path / f"{name}.zarr"), mode="w", shape=image.shape, dtype=image.dtype,
                              chunks=(1,) * (image.ndim - 2) + (256, 256))
        src[:] = image
        out, probs = tmp_path / f"{name}_labels.zarr", tmp_path / f"{name}_probs.zarr"
        predict_to_zarr(trained, da.from_zarr(src), out, PredictConfig(tile_size=256, **FP32), probs)
        single = predict_labels(trained, image, PredictConfig(**FP32), probabilities=True)
        np.testing.assert_array_equal(zarr.open_array(str(out), mode="r")[:], single.labels)
        np.testing.assert_allclose(zarr.open_array(str(probs), mode="r")[:], single.probabilities, rtol=0, atol=1e-5)


def test_instance_labels_are_consistent_across_tiles(cluster, sample):
    from napari_unet.predict.distributed import predict_dask
    from napari_unet.models.load import load_model
    from napari_unet.predict.pipeline import predict_labels

    nuclei = load_model("nuclei")
    image = np.tile(sample.image, (3, 3))[:300, :330]
    lazy = predict_dask(nuclei, image, PredictConfig(tile_size=64, **FP32))
    np.testing.assert_array_equal(lazy.compute(), predict_labels(nuclei, image, PredictConfig(**FP32)).labels)


def test_a_worker_killed_mid_run_is_replaced_and_the_output_is_still_exact(trained, big):
    from distributed import Client, LocalCluster

    from napari_unet.predict.distributed import predict_dask
    from napari_unet.predict.pipeline import predict_labels

    image = np.concatenate([big, big[::-1]], axis=0)  # 4096 x 2048: enough tiles to be mid-run
    lazy = predict_dask(trained, da.from_array(image, chunks=1024), PredictConfig(tile_size=128, **FP32))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c, \
            Client(c) as client:
        future = client.compute(lazy)
        pids = client.run(os.getpid)

        def waiting():  # tasks not run yet
            return client.run_on_scheduler(lambda dask_scheduler: sum(
                ts.state in ("waiting", "processing", "no-worker", "queued") for ts in dask_scheduler.tasks.values()))

        deadline, start = time.monotonic() + 120, 0
        while start == 0 and time.monotonic() < deadline:  # the graph reaches the scheduler
            start = waiting()
        while waiting() > 0.7 * start and not future.done() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not future.done(), "the run ended before a worker could be killed"
        victim = sorted(pids.values())[0]
        os.kill(victim, signal.SIGKILL)
        labels = future.result(timeout=300)
        assert victim not in client.run(os.getpid).values()  # the nanny started a new worker
    np.testing.assert_array_equal(labels, predict_labels(trained, image, PredictConfig(**FP32)).labels)


def test_the_cli_predicts_on_workers(trained, sample, tmp_path, capsys):
    import zarr

    from napari_unet.cli import main
    from napari_unet.models.checkpoint import save_model
    from napari_unet.predict.pipeline import predict_labels

    model = save_model(trained, tmp_path / "m.pt")
    image = np.tile(sample.image, (2, 3))
    src = zarr.open_array(str(tmp_path / "cells.zarr"), mode="w", shape=image.shape, dtype=image.dtype, chunks=(128, 128))
    src[:] = image
    assert main(["predict", "--model", str(model), "--images", str(tmp_path / "cells.zarr"), "--out-dir",
                 str(tmp_path / "out"), "--workers", "2", "--tile-size", "96", "--precision", "fp32",
                 "--device", "cpu"]) == 0
    assert "wrote" in capsys.readouterr().out
    labels = zarr.open_array(str(tmp_path / "out" / "cells_labels.zarr"), mode="r")[:]
    np.testing.assert_array_equal(labels, predict_labels(trained, image, PredictConfig(**FP32)).labels)


def test_bad_addresses_and_a_missing_package_get_clear_errors(trained, sample, tmp_path, capsys, monkeypatch):
    from napari_unet.cli import main
    from napari_unet.predict.distributed import connect
    from napari_unet.models.checkpoint import save_model

    model = save_model(trained, tmp_path / "m.pt")
    import tifffile

    tifffile.imwrite(tmp_path / "cells.tif", sample.image)
    args = ["predict", "--model", str(model), "--images", str(tmp_path / "cells.tif"), "--out-dir", str(tmp_path / "o")]
    assert main(args + ["--scheduler", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach a dask scheduler at 'tcp://127.0.0.1:9'" in err and "--workers N" in err
    assert main(args + ["--workers", "2", "--format", "tif"]) == 2
    assert "with --workers or --scheduler the workers write zarr" in capsys.readouterr().err
    args[2] = "nuclei"  # an instance model, whose objects --measure could measure without a cluster
    assert main(args + ["--workers", "2", "--measure"]) == 2
    assert "with --workers or --scheduler the workers write zarr" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(UserInputError, match=r"pip install .*\[distributed\]"):
        connect(workers=1)


def test_a_local_cluster_shares_the_cores_and_leaves_this_process_alone():
    from napari_unet.predict.distributed import connect

    before = dict(os.environ)
    client = connect(workers=2)
    try:
        seen = client.run(lambda: (__import__("torch").get_num_threads(), os.environ.get("MALLOC_MMAP_THRESHOLD_")))
    finally:
        client.close()
        client.cluster.close()
    assert sorted(seen.values()) == [(max(1, (os.cpu_count() or 1) // 2), str(64 << 20))] * 2
    assert dict(os.environ) == before
