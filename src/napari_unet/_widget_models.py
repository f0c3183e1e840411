"""The model panel's actions: new, save, load, and restore the autosaved model."""

from __future__ import annotations

from qtpy.QtWidgets import QFileDialog


class ModelFiles:
    def __init__(self, widget):
        self.widget = widget

    def forget(self) -> None:
        w = self.widget
        if w.controller.forget_model():
            w.loss_plot.clear()
            w._show_model_info()
            w._update_buttons()

    def save(self, path: str | None = None):
        from .config import UserInputError
        from .io import save_model
        from .recovery import discard

        w = self.widget
        if w.model is None:
            return w._error("No model to save yet: train one first.")
        if path is None:
            path, _ = QFileDialog.getSaveFileName(w, "Save model", "unet-model.pt", "napari-unet model (*.pt)")
            if not path:
                return None
        try:
            saved = save_model(w.model, path)
        except (OSError, UserInputError) as err:
            return w._error(f"Could not save the model to {path}: {err}. It is still here; choose another place.")
        discard(w.controller.recovery)  # the user's own copy replaces the autosaved one
        w.restore_btn.setVisible(False)
        w.status.setText(f"Model saved to {saved}")
        return saved

    def load(self, path: str | None = None, what: str = "Loaded"):
        from .config import UserInputError
        from .io import load_model

        w = self.widget
        if w.controller.busy:
            return None
        if path is None:
            path, _ = QFileDialog.getOpenFileName(w, "Load model", "", "napari-unet model (*.pt);;All files (*)")
            if not path:
                return None
        try:
            w.controller.set_model(load_model(path))
        except UserInputError as err:
            return w._error(str(err))
        w.loss_plot.clear()
        w.status.setText(f"{what} {path}. Predict, or paint strokes and Train to fine-tune it.")
        w._show_model_info()
        w._update_buttons()
        return w.model

    def offer_restore(self) -> None:
        """Show the Restore button when an autosaved model exists (e.g. after a crash)."""
        from .recovery import describe

        w = self.widget
        text = describe(w.controller.recovery)
        w.restore_btn.setVisible(text is not None)
        if text is not None:
            w.restore_btn.setToolTip(f"Load {text}; saving a model yourself removes the autosaved copy")

    def restore(self):
        w = self.widget
        if self.load(str(w.controller.recovery), what="Restored the autosaved model from") is not None:
            w.restore_btn.setVisible(False)
        return w.model
