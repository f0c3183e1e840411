"""The command line's parser. The flags of the settings come from the config fields' option
declarations (:mod:`napari_unet.core.options`); paths and what only the command line does are
written out here."""

from __future__ import annotations

import argparse

from napari_unet import __version__
from napari_unet.core.config import ModelConfig, PredictConfig, TrainConfig
from napari_unet.core.options import (
    UNSET, default_of, flag_of, help_of, one_of_each_group, options, switch_of, value_type,
)

# the demo trains a fixed number of steps (about a minute on a 2-core CPU), not a fixed time: its
# mask must not depend on how busy the machine is
DEMO_STEPS = 1000
TRAIN_STEPS = 1000


def add_options(parser: argparse.ArgumentParser, cls, defaults: dict | None = None, skip: tuple = ()) -> None:
    """A flag for each option of the config ``cls`` that has one. Every flag defaults to None
    (not given): :func:`config_from` then leaves the config's default, or takes ``defaults``."""
    defaults, groups = defaults or {}, {}
    for f, opt in options(cls):
        flag = flag_of(f, opt)
        if not flag or f.name in skip:
            continue
        text = help_of(f, opt, defaults.get(f.name, default_of(f))).replace("%", "%%")
        if opt.exclusive and opt.exclusive not in groups:
            groups[opt.exclusive] = parser.add_mutually_exclusive_group()
        target = groups[opt.exclusive] if opt.exclusive else parser
        switch = switch_of(f, opt)
        if switch is not UNSET:
            target.add_argument(flag, dest=f.name, action="store_const", const=switch, default=None, help=text)
            continue
        kind = str if opt.parse is not None or opt.choices else value_type(f)
        target.add_argument(flag, dest=f.name, type=kind, default=None, choices=opt.choices or None,
                            metavar=opt.metavar, help=text or None)


def given(args, cls) -> dict:
    """The options of ``cls`` set on the command line, as config fields."""
    values = {}
    for f, opt in options(cls):
        value = getattr(args, f.name, None)
        if value is not None:
            values.update(opt.parse(value) if opt.parse is not None else {f.name: value})
    return values


def config_from(args, cls, defaults: dict | None = None):
    """The config ``cls`` with what the command line set; ``defaults`` where it set nothing (and
    nothing of the same ``exclusive`` group)."""
    values = given(args, cls)
    group = {f.name: opt.exclusive for f, opt in options(cls) if opt.exclusive}
    chosen = {group[name] for name in group if values.get(name) is not None}
    for name, value in (defaults or {}).items():
        if values.get(name) is None and group.get(name) not in chosen:
            values[name] = value
    return cls(**one_of_each_group(cls, values))


def _train_parser(p: argparse.ArgumentParser, steps: int, skip: tuple = ()) -> None:
    add_options(p, TrainConfig, {"steps": steps}, skip)
    add_options(p, ModelConfig)


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
    _train_parser(t, TRAIN_STEPS)

    p = sub.add_parser("predict", help="predict labels for images")
    p.add_argument("--model", required=True,
                   help="model file written by 'napari-unet train', or a named model: nuclei, em-membranes, cells, "
                        "or one of yours (see 'napari-unet models')")
    p.add_argument("--images", nargs="+", required=True, metavar="IMG")
    p.add_argument("--out-dir", required=True, metavar="DIR", help="writes DIR/<stem>_labels.tif (or .zarr)")
    p.add_argument("--probabilities", action="store_true", help="also write DIR/<stem>_probabilities.tif (or .zarr)")
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
    add_options(p, PredictConfig)

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
    _train_parser(d, DEMO_STEPS, skip=("mode", "border_w0"))  # the demo's sample is semantic
    return parser
