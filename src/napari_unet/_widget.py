"""The napari dock widget (the only Qt module of the package)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

if TYPE_CHECKING:
    import napari


class UNetWidget(QWidget):
    """Dock widget: train a U-Net from strokes and predict."""

    def __init__(self, viewer: napari.viewer.Viewer):
        super().__init__()
        self.viewer = viewer
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("napari-unet: use the command line for now (napari-unet --help)."))
