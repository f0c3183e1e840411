"""``napari-unet``: train and predict on image files with the same engine as the widget.

Bad input ends with one line on stderr naming the problem and the fix, and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from napari_unet import __version__
from napari_unet.core.config import PredictConfig, UserInputError

EXIT_USAGE = 2


def _add_colour(p: argparse.ArgumentParser) -> None:
    p.add_argument("--colour-to-grey", choices=["luminance", "hematoxylin"], default=None,
                   help="colour images for a model trained on grey ones (nuclei): convert by luminance, or take the "
                        "hematoxylin channel of H&E stains (default: as the model was trained, luminance)")


def _add_device(p: argparse.ArgumentParser) -> None:
    _add_colour(p)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                   help="compute device (default: CUDA, then Apple MPS, then CPU)")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                   help="bf16 autocast where the device runs it fast (auto), or force one")


def _add_train_options(p: argparse.ArgumentParser, steps: int | None, budget: float | None) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--steps", type=int, default=None, help=f"optimizer steps (default: {steps or 'none'})")
    g.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help=f"train for this many seconds{f' (default: {budget:g})' if budget else ''}")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--batch-size", type=int, default=None, help="patches per step")
    p.add_argument("--patch-size", type=int, default=None, help="training patch size in pixels")
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--class-weights", default=None, metavar="W1,W2,...",
                   help="extra loss weight per class in label-value order, e.g. 2,1 to favour thin "
                        "structures of class 1 (default: classes balanced by stroke frequency)")
    p.add_argument("--edge-weight", type=float, default=None, metavar="W",
                   help="weight of the edge-aware term that puts boundaries where the image has edges "
                        "(default: 10; 0 turns it off)")
    p.add_argument("--keep-weight", type=float, default=None, metavar="W",
                   help="fine-tuning a base model (--init nuclei, ...): weight of a term that keeps its predictions "
                        "where nothing is painted; while on, the edge term is off (default: 1 from a base "
                        "model with line classes such as em-membranes, else 0)")
    p.add_argument("--base-share", type=float, default=None, metavar="S",
                   help="fine-tuning a base model: the result mixes the weights, (1 - S) x fine-tuned + S x the "
                        "starting model, which forgets less of it where nothing was painted; made for short runs "
                        "(about a minute): after a 300 s run it hurt, use 0 there (default: 0.5; 0: off)")
    p.add_argument("--depth", type=int, default=None, help="U-Net depth (new models only)")
    p.add_argument("--base-channels", type=int, default=None, help="U-Net width (new models only)")
    _add_device(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="napari-unet",
        description="Train a U-Net from sparse brush strokes and predict tile by tile.",
    )
    parser.add_argument("--version", action="version", version=f"napari-unet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train (or fine-tune) a model from images and strokes")
    t.add_argument("--images", nargs="+", required=True, metavar="IMG", help="TIFF or PNG images")
    t.add_argument("--labels", nargs="+", required=True, metavar="STROKES",
                   help="one stroke image per image: 0 = not annotated, 1, 2, ... = classes")
    t.add_argument("--out", required=True, metavar="MODEL", help="model file to write (.pt)")
    t.add_argument("--init", metavar="MODEL",
                   help="start from this model and fine-tune it: a base model (nuclei, em-membranes, cells), a named "
                        "model (see 'napari-unet models') or a model file")
    t.add_argument("--mode", choices=["semantic", "instance"], default=None,
                   help="semantic: 1, 2, ... are classes; instance: 1 = background, each value >= 2 one whole "
                        "object, output one label per object (default: semantic, or the --init model's mode)")
    t.add_argument("--no-border-weights", action="store_true",
                   help="instance mode: leave out the paper's border weight map (for comparison)")
    _add_train_options(t, steps=1000, budget=None)

    p = sub.add_parser("predict", help="predict labels for images")
    p.add_argument("--model", required=True,
                   help="model file written by 'napari-unet train', or a named model: nuclei, em-membranes, cells, "
                        "or one of yours (see 'napari-unet models')")
    p.add_argument("--images", nargs="+", required=True, metavar="IMG")
    p.add_argument("--out-dir", required=True, metavar="DIR", help="writes DIR/<stem>_labels.tif (or .zarr)")
    p.add_argument("--tile-size", type=int, default=PredictConfig.tile_size,
                   help="output tile size in pixels; the result does not depend on it, larger tiles are faster "
                        "and need more memory (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=PredictConfig.batch_size, help="tiles per batch (default: %(default)s)")
    p.add_argument("--probabilities", action="store_true", help="also write DIR/<stem>_probabilities.tif (or .zarr)")
    p.add_argument("--tta", action="store_true",
                   help="test-time augmentation: average the 8 flips and rotations of every tile (8 network passes; "
                        "7-9x the prediction time)")
    p.add_argument("--min-confidence", type=float, default=PredictConfig.min_confidence, metavar="P",
                   help="instance mode: keep an object only if the network is this sure of at least one of its "
                        "pixels (0.5 keeps every object; default: %(default)s)")
    p.add_argument("--object-margin", type=float, default=PredictConfig.object_margin, metavar="M",
                   help="models trained on strokes: draw an object or line pixel only where its odds beat the rest "
                        "by exp(M), so objects stop at their edge (0: plain argmax; default: %(default)s)")
    p.add_argument("--diameter", default="auto", metavar="PX|auto|off",
                   help="instance mode: the objects' diameter in pixels; objects much larger than the model's "
                        "(`napari-unet models` lists it) are predicted on a shrunken copy of the image. 'auto' "
                        "measures them in a first pass, 'off' predicts every image as it is (default: %(default)s)")
    p.add_argument("--open-lines", action="store_true",
                   help="semantic mode: leave the line classes (membranes) as predicted; by default their gaps "
                        "are closed where two regions meet")
    p.add_argument("--measure", action="store_true",
                   help="instance mode: also write DIR/<stem>_objects.csv, one row per object (label, area, centroid, "
                        "mean intensity)")
    p.add_argument("--pixel-size", default=None, metavar="Y,X",
                   help="pixel size for the calibrated columns of --measure (default: 1,1)")
    c = p.add_mutually_exclusive_group()
    c.add_argument("--workers", type=int, default=None, metavar="N",
                   help="predict on a dask cluster of N worker processes on this machine; the workers write "
                        "DIR/<stem>_labels.zarr tile by tile")
    c.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="predict on a running dask.distributed cluster (e.g. tcp://host:8786); the workers read the "
                        "image and write the zarr output, so both must be on storage they all see")
    p.add_argument("--format", choices=["tif", "zarr"], default=None,
                   help="output format; zarr is written tile row by tile row, for images larger than memory "
                        "(default: zarr for zarr images, tif otherwise)")
    _add_device(p)

    m = sub.add_parser("models", help="list the shipped base models and your named models, with their classes")
    m.add_argument("--add", nargs=2, metavar=("NAME", "MODEL"),
                   help="save the model file MODEL as your named model NAME (usable wherever a model is asked for)")

    e = sub.add_parser("export", help="write a model as a bioimage.io model package (.zip) for other tools")
    e.add_argument("--model", required=True, help="model file, named model (nuclei, em-membranes, cells, yours) or package")
    e.add_argument("--out", required=True, metavar="NAME.zip", help="package file to write")
    e.add_argument("--image", default=None, metavar="IMG",
                   help="a typical image: its central crop becomes the package's test data and cover "
                        "(default: a synthetic cell scene)")
    e.add_argument("--name", default=None, help="model name: 5-128 letters, digits, spaces, _+-() "
                                                 "(default: the model's name)")
    e.add_argument("--authors", nargs="+", default=None, metavar="AUTHOR", help="author names")
    e.add_argument("--description", default=None, help="one or two sentences on what the model segments")
    e.add_argument("--licence", default="CC-BY-4.0", help="SPDX licence of the weights (default: %(default)s)")
    e.add_argument("--no-check", action="store_true",
                   help="skip bioimageio.core's test of the package before writing it")

    sub.add_parser("doctor", help="check the install: versions, the device, which optional features work and "
                                  "the command that fixes each that does not")

    d = sub.add_parser("demo", help="train on a synthetic sample, predict, report IoU")
    d.add_argument("--out-dir", default="napari-unet-demo", help="where to write the TIFFs and the model")
    d.add_argument("--napari", action="store_true", help="open the result in napari")
    _add_train_options(d, steps=DEMO_STEPS, budget=None)
    return parser


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


def _train_config(args, default_steps: int | None, default_budget: float | None):
    from napari_unet.core.config import TrainConfig

    steps, budget = args.steps, args.time_budget
    if steps is None and budget is None:
        steps, budget = default_steps, default_budget
    names = ("batch_size", "patch_size", "learning_rate", "edge_weight", "keep_weight", "base_share")
    extra = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    if args.class_weights:
        try:
            extra["class_weights"] = [float(v) for v in args.class_weights.split(",")]
        except ValueError:
            raise UserInputError(f"--class-weights must be numbers separated by commas, got {args.class_weights!r}.") from None
    if getattr(args, "mode", None):
        extra["mode"] = args.mode
    if getattr(args, "no_border_weights", False):
        extra["border_w0"] = 0.0
    return TrainConfig(steps=steps, time_budget=budget, seed=args.seed, device=args.device,
                       precision=args.precision, colour_to_grey=args.colour_to_grey, **extra)


def _model_config(args):
    from napari_unet.core.config import ModelConfig

    extra = {k: getattr(args, k) for k in ("depth", "base_channels") if getattr(args, k) is not None}
    if extra and getattr(args, "init", None):  # a fine-tuned model keeps its architecture
        given = " and ".join(f"--{k.replace('_', '-')}" for k in extra)
        raise UserInputError(f"{given} cannot be combined with --init: a fine-tuned model keeps the architecture of "
                             f"{args.init}; leave out {given} to fine-tune it, or --init to train a new model.")
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
    config = _train_config(args, default_steps=1000, default_budget=None)
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
    config = PredictConfig(tile_size=args.tile_size, batch_size=args.batch_size,
                           tta=args.tta, min_confidence=args.min_confidence, close_lines=not args.open_lines,
                           object_margin=args.object_margin, device=args.device, precision=args.precision,
                           colour_to_grey=args.colour_to_grey,
                           **_diameter(args.diameter))
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


def _diameter(value: str) -> dict:
    """``--diameter auto|off|PX`` as PredictConfig settings."""
    if value in ("auto", "off"):
        return {"rescale": value == "auto"}
    try:
        return {"diameter": float(value)}
    except ValueError:
        raise UserInputError(f"--diameter must be 'auto', 'off' or a size in pixels such as 30, got {value!r}.") from None


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


# the demo trains a fixed number of steps (about a minute on a 2-core CPU), not a fixed time: its
# mask must not depend on how busy the machine is
DEMO_STEPS = 1000


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
    config = _train_config(args, default_steps=DEMO_STEPS, default_budget=None)
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
