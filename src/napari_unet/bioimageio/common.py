"""What the bioimage.io package's description, README and files share."""

from __future__ import annotations

INPUT, OUTPUT = "raw", "probabilities"  # the package's tensor ids


UNET_CITATION = ("Ronneberger, Fischer, Brox 2015, U-Net: Convolutional Networks for Biomedical Image Segmentation",
                 "10.1007/978-3-319-24574-4_28")


KNOWN_DOIS = {
    "Caicedo et al. 2019": "10.1038/s41592-019-0612-7",
    "Cardona et al. 2010": "10.1371/journal.pbio.1000502",
    "Arganda-Carreras et al. 2015": "10.3389/fnana.2015.00142",
}


def halo(model) -> int:
    """Pixels at each tile edge that a consumer tiling large images discards: the network's
    receptive field (:func:`~napari_unet.predict.tiling.context_margin`), so its tiles join exactly."""
    from napari_unet.predict.tiling import context_margin

    return context_margin(model.config)


def min_size(model) -> int:
    """The smallest input side the package accepts: a multiple of ``2**depth`` larger than both halos."""
    m = model.config.multiple
    return (2 * halo(model) // m + 1) * m
