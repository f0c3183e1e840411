"""``napari-unet``: train and predict on image files with the same engine as the widget.

Bad input ends with one line on stderr naming the problem and the fix, and exit status 2.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from napari_unet.core.config import PredictConfig, UserInputError
from napari_unet.flags import DEMO_STEPS, TRAIN_STEPS, build_parser, config_from, given

EXIT_USAGE = 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"train": cmd_train, "predict": cmd_predict, "models": cmd_models, "export": cmd_export,
                "demo": cmd_demo, "doctor": cmd_doctor}[args.command](args)
    except UserInputError as err:
        print(f"napari-unet: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # before the first training step, or outside training
        print("napari-unet: interrupted; nothing was saved.", file=sys.stderr)
        return 130
    except MemoryError:
        print("napari-unet: error: out of memory; use a smaller --tile-size, --batch-size or --patch-size.",
              file=sys.stderr)
        return 1
    except RuntimeError as err:
        if "out of memory" in str(err).lower():
            print("napari-unet: error: the device ran out of memory; use a smaller --batch-size, --patch-size "
                  "or --tile-size, or --device cpu.", file=sys.stderr)
            return 1
        raise


def _train_config(args, default_steps: int):
    from napari_unet.core.config import TrainConfig

    return config_from(args, TrainConfig, {"steps": default_steps})


def _model_config(args):
    from napari_unet.core.config import ModelConfig

    extra = given(args, ModelConfig)
    if extra and getattr(args, "init", None):  # a fine-tuned model keeps its architecture
        given_flags = " and ".join(f"--{k.replace('_', '-')}" for k in extra)
        raise UserInputError(f"{given_flags} cannot be combined with --init: a fine-tuned model keeps the architecture "
                             f"of {args.init}; leave out {given_flags} to fine-tune it, or --init to train a new model.")
    return ModelConfig(**extra)


def _bar_interval() -> float:
    """Progress bars redraw often on a terminal, rarely into a log file."""
    return 0.2 if sys.stderr.isatty() else 15.0


def _run_training(images, labels, config, model=None, model_config=None):
    """Train with a progress bar; Ctrl-C stops and keeps the weights."""
    from tqdm import tqdm

    from napari_unet.core.train import drain, train

    gen = train(images, labels, config, model=model, model_config=model_config)  # checks the input first
    total = config.steps if config.time_budget is None else None
    with tqdm(total=total, unit="step", desc="training", file=sys.stderr, dynamic_ncols=True,
              mininterval=_bar_interval()) as bar:
        def on_event(e):
            bar.update(1)
            if e.step % 5 == 0 or e.step == total:
                bar.set_postfix(loss=f"{e.loss:.4f}", left=f"{e.eta:.0f}s", refresh=False)

        result = drain(gen, on_event)
    if result.stopped:
        print(f"stopped by user after {result.steps} steps; keeping the weights trained so far.", file=sys.stderr)
    print(f"trained {result.steps} steps in {result.elapsed:.1f} s, final loss {result.loss:.4f}")
    return result


def cmd_train(args) -> int:
    from napari_unet.models.checkpoint import check_writable, save_model
    from napari_unet.models.load import load_model
    from napari_unet.core.imageio import read_image
    from napari_unet.trainer.recovery import recovery_file, set_aside

    if len(args.images) != len(args.labels):
        raise UserInputError(
            f"got {len(args.images)} image(s) but {len(args.labels)} label file(s); give one --labels file per --images file."
        )
    model_config = _model_config(args)
    images = [read_image(p) for p in args.images]
    labels = [read_image(p) for p in args.labels]
    model = load_model(args.init) if args.init else None
    config = _train_config(args, TRAIN_STEPS)
    for path, image in zip(args.images, images):
        _note_colour(model, image, config.colour_to_grey, path)
    out = check_writable(args.out)  # before training, not after
    result = _run_training(images, labels, config, model=model, model_config=model_config)
    try:
        save_model(result.model, out)
    except OSError as err:
        set_aside(recovery_file())  # a model autosaved by napari, maybe not restored yet
        kept = save_model(result.model, recovery_file())
        print(f"error: could not save the model to {out} ({err.strerror or err}); it is kept in {kept}. "
              f"Copy it from there, or pass it to --init to train on.", file=sys.stderr)
        return 1
    print(f"model saved to {out}")
    return 0


def cmd_predict(args) -> int:
    from tqdm import tqdm

    from napari_unet.core.imageio import create_zarr, is_zarr, read_image, write_image
    from napari_unet.models.load import load_model
    from napari_unet.predict.pipeline import label_dtype, output_shape, predict

    model = load_model(args.model)
    pixel_size = _pixel_size(args) if args.measure else None
    if args.measure and model.mode != "instance":
        raise UserInputError(f"--measure measures objects, but {args.model} is a semantic model; use a model "
                             "trained with --mode instance, or leave out --measure.")
    config = config_from(args, PredictConfig)
    out_dir = Path(args.out_dir)
    if args.workers is not None or args.scheduler:
        return _predict_on_cluster(args, model, config, out_dir)
    for path in args.images:
        image = read_image(path)
        _note_colour(model, image, config.colour_to_grey, path)
        fmt = args.format or ("zarr" if is_zarr(path) else "tif")
        stem = Path(path).stem
        out = probs = None
        if fmt == "zarr":  # streamed to disk: the labels never have to fit in memory
            shape = output_shape(image)
            out = create_zarr(out_dir / f"{stem}_labels.zarr", shape, label_dtype(model))
            if args.probabilities:
                z_shape = (1, *shape) if len(shape) == 2 else shape
                probs = create_zarr(out_dir / f"{stem}_probabilities.zarr",
                                    (z_shape[0], model.config.n_classes, *z_shape[1:]), "float32")
        gen = predict(model, image, config, probabilities=probs if probs is not None else args.probabilities, out=out)
        with tqdm(desc=Path(path).name, unit="tile", file=sys.stderr, dynamic_ncols=True,
                  mininterval=_bar_interval()) as bar:
            while True:
                try:
                    ev = next(gen)
                except StopIteration as done:
                    result = done.value
                    break
                bar.total = ev.total
                bar.update(ev.done - bar.n)
        if args.measure:
            _measure(result.labels, image, pixel_size, out_dir / f"{stem}_objects.csv")
        if fmt == "zarr":
            print(f"wrote {out_dir / f'{stem}_labels.zarr'}")
            if probs is not None:
                print(f"wrote {out_dir / f'{stem}_probabilities.zarr'}")
            continue
        print(f"wrote {write_image(out_dir / f'{stem}_labels.tif', result.labels)}")
        if result.probabilities is not None:
            print(f"wrote {write_image(out_dir / f'{stem}_probabilities.tif', result.probabilities)}")
    return 0


def _note_colour(model, image, method: str | None, path: str) -> None:
    """One line on stderr when a colour image is converted to grey for ``model``."""
    from napari_unet.core.colour import notice
    from napari_unet.core.data import to_zcyx

    text = notice(model, to_zcyx(image, lazy=True).shape[1], method) if model is not None else None
    if text:
        print(f"note: {Path(path).name}: {text}", file=sys.stderr)


def _predict_on_cluster(args, model, config, out_dir: Path) -> int:
    """``predict --workers N`` / ``--scheduler ADDRESS``: a zarr output per image, written by the workers."""
    from napari_unet.predict.distributed import predict_files
    from napari_unet.core.imageio import read_image

    if args.measure or args.format == "tif":
        raise UserInputError("with --workers or --scheduler the workers write zarr; leave out --measure and "
                             "--format tif, or predict without a cluster.")
    images = {path: read_image(path) for path in args.images}  # bad paths fail before a cluster starts
    for path, image in images.items():
        _note_colour(model, image, config.colour_to_grey, path)
    for line in predict_files(model, images, out_dir, config, args.workers, args.scheduler, args.probabilities):
        print(line, file=sys.stderr if line.startswith("dask cluster") else sys.stdout)
    return 0


def _pixel_size(args) -> tuple[float, float]:
    if args.pixel_size is None:
        return (1.0, 1.0)
    try:
        y, x = (float(v) for v in args.pixel_size.split(","))
    except ValueError:
        raise UserInputError(f"--pixel-size takes two numbers Y,X (e.g. 0.5,0.5), got {args.pixel_size!r}.") from None
    return y, x


def _measure(labels, image, pixel_size, path: Path) -> None:
    """Write the objects' table (the image gives mean intensities where its shape matches)."""
    import numpy as np

    from napari_unet.core.data import is_lazy
    from napari_unet.review.measure import measure_objects, write_csv

    labels = np.asarray(labels)
    pixels = None if is_lazy(image) or tuple(image.shape[: labels.ndim]) != labels.shape else np.asarray(image)
    table = measure_objects(labels, pixels, pixel_size)
    print(f"wrote {write_csv(table, path)} ({len(table['label'])} objects)")


def cmd_models(args) -> int:
    from napari_unet.models.load import load_model
    from napari_unet.models.named import available, save_named, summary, user_dir

    if args.add:
        name, path = args.add
        print(f"saved {path} as the named model {name!r}: {save_named(load_model(path), name)}")
    for entry in available():
        print(summary(entry))
    print(f"(your named models live in {user_dir()})")
    return 0


def cmd_export(args) -> int:
    from napari_unet.bioimageio.export import ExportSettings, export_bioimageio
    from napari_unet.models.load import load_model
    from napari_unet.core.imageio import read_image

    settings = ExportSettings(name=args.name, authors=args.authors or [], description=args.description,
                              licence=args.licence, validate=not args.no_check)
    model = load_model(args.model)
    image = read_image(args.image) if args.image else None
    print("exporting and testing the package with bioimageio.core ..." if settings.validate else "exporting ...",
          file=sys.stderr)
    result = export_bioimageio(model, args.out, image, settings)
    for fmt, outcome in result.validation.items():
        print(f"bioimage.io test, {fmt}: {outcome}")
    print(f"wrote {result.path} ({result.size_bytes / 1e6:.1f} MB); open it in deepImageJ, ilastik, QuPath or with "
          f"'bioimageio predict', or load it back with napari-unet")
    return 0


def cmd_doctor(args) -> int:
    """Exit status 0 when every optional feature is usable, 1 when one is not (each with its fix)."""
    from napari_unet.doctor import report

    lines, complete = report()
    print("\n".join(lines))
    return 0 if complete else 1


def cmd_demo(args) -> int:
    import numpy as np

    from napari_unet.core.samples import make_sample
    from napari_unet.models.checkpoint import save_model
    from napari_unet.core.imageio import write_image
    from napari_unet.predict.pipeline import predict_labels

    if args.napari:  # before training, not after
        from napari_unet.core.extras import require

        require("napari")
    sample = make_sample(256, seed=0)
    annotated = (sample.strokes > 0).mean()
    print(f"synthetic sample: 256x256 cells, strokes on {annotated:.1%} of pixels (1 = background, 2 = cells)")
    config = _train_config(args, DEMO_STEPS)
    t0 = time.perf_counter()
    result = _run_training(sample.image, sample.strokes, config, model_config=_model_config(args))
    labels = predict_labels(result.model, sample.image).labels
    pred, truth = labels == 2, sample.truth == 2
    iou = float((pred & truth).sum() / max((pred | truth).sum(), 1))
    out = Path(args.out_dir)
    for name, data in (("image", sample.image), ("strokes", sample.strokes), ("truth", sample.truth),
                       ("prediction", labels)):
        write_image(out / f"{name}.tif", data)
    save_model(result.model, out / "model.pt")
    print(f"foreground IoU against the sample's truth: {iou:.3f} "
          f"(pixel accuracy {np.mean(labels == sample.truth):.3f}, {time.perf_counter() - t0:.0f} s)")
    print(f"wrote image.tif, strokes.tif, truth.tif, prediction.tif and model.pt to {out}/")
    if args.napari:
        from napari_unet.widget.dock import show_demo

        show_demo(sample.image, sample.strokes, labels, result.model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
