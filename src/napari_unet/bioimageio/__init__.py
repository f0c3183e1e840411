"""Export to a bioimage.io model package (:mod:`.export`), with its description (:mod:`.describe`),
README and cover (:mod:`.readme`). Reading packages back is :mod:`napari_unet.models.packages`."""
