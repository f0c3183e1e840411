"""Train a U-Net from sparse brush strokes and predict tile by tile.

Importing the package is cheap: it imports neither torch nor Qt. The engine lives in
:mod:`napari_unet.core.train`, :mod:`napari_unet.predict.pipeline` and :mod:`napari_unet.models.checkpoint`.
"""

__version__ = "0.1.0"
