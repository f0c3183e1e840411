"""Does an exported bioimage.io package compute what napari-unet computes, on new images?

    python -m benchmarks.bioimageio_agreement [--models nuclei em-membranes] [--seeds 10 11 12]

Exports each model (bioimageio.core's test included), then on synthetic 400 x 352 cell scenes
compares (1) bioimageio.core's pipeline on the image as it is (its scale_range preprocessing,
the torchscript network and its softmax) with napari-unet's normalisation and network on the
same input (the package's test output is made that way), and (2) ``bioimageio predict``'s default
path (input padded by the halo, mirrored, then cropped) with napari-unet's prediction. Needs the
[bioimageio] extra.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["nuclei", "em-membranes"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[10, 11, 12])
    args = parser.parse_args()

    from bioimageio.core import create_prediction_pipeline, load_description
    from bioimageio.core import predict as bmz_predict
    from bioimageio.core.digest_spec import create_sample_for_model

    from napari_unet.core.samples import make_sample
    from napari_unet.bioimageio.export import export_bioimageio, reference_output
    from napari_unet.core.config import PredictConfig
    from napari_unet.models.load import load_model
    from napari_unet.predict.pipeline import predict_labels

    folder = Path(tempfile.mkdtemp())
    for name in args.models:
        model = load_model(name)
        package = export_bioimageio(model, folder / f"{name}.zip").path
        descr = load_description(package)
        for seed in args.seeds:
            image = make_sample(416, seed=seed).image[:400, :352].astype(np.float32)
            as_is_ours = reference_output(model, image[None, None])
            tiled = predict_labels(model, image, PredictConfig(precision="fp32"), probabilities=True).probabilities
            with create_prediction_pipeline(descr, weight_format="torchscript", devices=["cpu"]) as pipeline:
                sample = create_sample_for_model(descr, inputs=image[None, None])
                out = pipeline.predict_sample_without_blocking(sample, skip_input_padding=True,
                                                               skip_output_cropping=True)
            as_is = next(iter(out.members.values())).data.to_numpy()
            halo = next(iter(bmz_predict(model=package, inputs=image[None, None]).members.values())).data.to_numpy()
            print(f"{name} seed {seed}: pipeline vs napari-unet's network, max |diff| {np.abs(as_is - as_is_ours).max():.1e}; "
                  f"bioimageio predict vs napari-unet predict: labels same {100 * (halo.argmax(1) == tiled.argmax(1)).mean():.3f} %, "
                  f"max |diff| {np.abs(halo - tiled).max():.3f}")


if __name__ == "__main__":
    main()
