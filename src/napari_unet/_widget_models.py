"""The model panel's actions: new, save, load, and restore the autosaved model."""

from __future__ import annotations

from qtpy.QtWidgets import QFileDialog


class ModelFiles:
    def __init__(self, widget):
        self.widget = widget
        self.restored = None  # (path, model) of an autosaved model restored in this session

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
        # the user's own copy replaces the autosaved one it came from
        if w.controller.autosaved:
            discard(w.controller.recovery)
        if self.restored is not None and self.restored[1] is w.model:
            discard(self.restored[0])
        self.offer_restore()
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
        path = w.controller.restore_path()
        text = None if self.restored is not None and self.restored[0] == path else describe(path)
        w.restore_btn.setVisible(text is not None)
        if text is not None:
            w.restore_btn.setToolTip(f"Load {text} (kept after a crash; saving it yourself removes it)")

    def restore(self):
        w = self.widget
        path = w.controller.restore_path()
        if path is None:
            w.restore_btn.setVisible(False)
            return w._error("The autosaved model is gone (saved or replaced since).")
        if self.load(str(path), what="Restored the autosaved model from") is not None:
            self.restored = (path, w.model)
            w.restore_btn.setVisible(False)
        return w.model
