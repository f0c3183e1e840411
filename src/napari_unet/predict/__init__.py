"""Prediction: the tile plan (:mod:`.tiling`), the network step and the front doors (in memory and
streamed to an array, :mod:`.pipeline`; a dask graph, :mod:`.distributed`), and the one
post-processing step every front door runs (:mod:`.finish`, :mod:`.margin`, :mod:`.rescale`).
Imports :mod:`napari_unet.core` and :mod:`napari_unet.models`."""
