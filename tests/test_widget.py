"""The plugin inside a real napari window (run under Xvfb)."""

import numpy as np
import pytest

napari = pytest.importorskip("napari")


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer()


def test_widget_and_sample_open_through_the_manifest(viewer):
    dock, widget = viewer.window.add_plugin_dock_widget("napari-unet", "U-Net from strokes")
    assert dock.widget() is widget or widget in dock.findChildren(type(widget))
    viewer.open_sample("napari-unet", "cells")
    names = [layer.name for layer in viewer.layers]
    assert names == ["cells", "cells strokes"]
    strokes = viewer.layers["cells strokes"].data
    assert set(np.unique(strokes)) == {0, 1, 2}
