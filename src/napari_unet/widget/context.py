"""What the dock widget's jobs (training, prediction, live preview, inspecting, model files,
export, suggestions) use of it: :class:`JobContext`. A job gets this and its own panel, never
the widget."""

from __future__ import annotations

from collections.abc import Callable


class JobContext:
    """The viewer, the controller (the one place that knows what runs), the chosen layers, the
    settings, the status line and progress bar, and ``refresh`` to show a new state.

    ``window`` is the parent of dialogs and timers; ``data`` the panel with the layer choices."""

    def __init__(self, window, viewer, controller, controls, data, status_label, progress_bar,
                 refresh: Callable[[], None]):
        self.window, self.viewer, self.controller, self.controls = window, viewer, controller, controls
        self._data, self._status, self._progress, self._refresh = data, status_label, progress_bar, refresh

    @property
    def model(self):
        return self.controller.model

    @property
    def busy(self) -> bool:
        return self.controller.busy

    def _layer(self, name: str):
        return self.viewer.layers[name] if name and name in self.viewer.layers else None

    def image_layer(self):
        return self._layer(self._data.image_combo.currentText())

    def labels_layer(self):
        return self._layer(self._data.labels_combo.currentText())

    def setting(self, name: str):
        """What the user chose for ``name`` (an option or another remembered control)."""
        return self.controls.value(name)

    def train_config(self):
        from napari_unet.core.config import TrainConfig

        return self.controls.config(TrainConfig)

    def predict_config(self):
        from napari_unet.core.config import PredictConfig

        return self.controls.config(PredictConfig)

    def save_settings(self) -> None:
        from napari_unet.widget.settings import save_settings

        save_settings(self.controls)

    def status(self, text: str) -> None:
        self._status.setText(text)

    def progress(self, fraction: float, text: str | None = None) -> None:
        """The progress bar at ``fraction`` (0-1), with ``text`` as its format when given."""
        if text is not None:
            self._progress.setFormat(text)
        self._progress.setValue(int(1000 * fraction))

    def error(self, message: str) -> None:
        """Show ``message`` in the status line and as a napari notification; returns None."""
        from napari.utils.notifications import show_error

        self._status.setText(message)
        show_error(message)

    def failed(self, err: Exception) -> None:
        """A job's exception, told as what to do about it."""
        from napari_unet.core.config import UserInputError

        if isinstance(err, UserInputError):
            message = str(err)
        elif "out of memory" in str(err).lower():
            message = ("The device ran out of memory. Lower the batch size, patch size or tile size, "
                       "or choose the CPU as device.")
        else:
            message = f"{type(err).__name__}: {err}"
        self.error(message)

    def refresh(self) -> None:
        """Show the current state: which buttons work, the model and what to paint."""
        self._refresh()
