"""The engine's core: settings (:mod:`.config`; how users set them, :mod:`.options`), the
network (:mod:`.unet`, :mod:`.model`), images and strokes (:mod:`.data`, :mod:`.colour`,
:mod:`.imageio`), training targets and augmentation (:mod:`.instances`, :mod:`.lines`,
:mod:`.losses`, :mod:`.augment`), the training loop (:mod:`.train`) and the seeded synthetic
samples (:mod:`.samples`). Imports nothing else of napari-unet."""
