"""Model storage: the model file (:mod:`.checkpoint`), opening a model by path, name or package
(:mod:`.load`), named and shipped base models (:mod:`.named`, ``base_models/``), reading
bioimage.io packages (:mod:`.packages`) and which base model fits an image (:mod:`.choice`).
Imports only :mod:`napari_unet.core`."""
