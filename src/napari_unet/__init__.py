"""Train a U-Net from sparse brush strokes and predict tile by tile.

Importing the package is cheap: it imports neither torch nor Qt. The engine lives in
:mod:`napari_unet.train`, :mod:`napari_unet.predict` and :mod:`napari_unet.io`.
"""

__version__ = "0.1.0"
