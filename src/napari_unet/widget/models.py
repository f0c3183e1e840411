"""The model panel's actions: start from (scratch, a base or named model, a file), new, save,
save under a name, load, and restore the autosaved model."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFileDialog, QInputDialog

SCRATCH, FILE = "", "\0file"  # item data of the 'Start from' entries that are not named models


class ModelFiles:
    def __init__(self, widget):
        self.widget = widget
        self.restored = None  # (path, model) of an autosaved model restored in this session
        self.chosen = SCRATCH  # the 'Start from' entry shown (restored when a choice fails)

    def fill_start_from(self, select: str | None = None) -> None:
        """Scratch, the base models, the user's named models, a file; ``select`` names the entry to show."""
        from napari_unet.models.named import available, summary

        combo = self.widget.start_from
        current = combo.currentData() if select is None else select
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("scratch", SCRATCH)
        for entry in available():
            combo.addItem(f"{entry.name} (base model)" if entry.shipped else entry.name, entry.name)
            combo.setItemData(combo.count() - 1, summary(entry), Qt.ItemDataRole.ToolTipRole)
        combo.addItem("file…", FILE)
        index = combo.findData(current)
        combo.setCurrentIndex(index if index >= 0 else 0)
        combo.blockSignals(False)
        self.chosen = combo.currentData()

    def start_from(self, index: int):
        """The user picked an entry: forget the model (scratch), or load a named model or a file."""
        choice = self.widget.start_from.itemData(index)
        if choice == SCRATCH:
            done = self.forget()
        else:
            done = self.load(None if choice == FILE else choice, what="Started from", entry=choice) is not None
        if not done:
            self.fill_start_from(select=self.chosen)

    def forget(self) -> bool:
        w = self.widget
        if not w.controller.forget_model():
            return False
        w.loss_plot.clear()
        w._show_model_info()
        w._update_buttons()
        self.fill_start_from(select=SCRATCH)
        w.model_hint.forget()
        return True

    def save_named(self, name: str | None = None):
        """Save the current model as a named user model (it joins 'Start from' and 'napari-unet models')."""
        from napari_unet.core.config import UserInputError
        from napari_unet.models.named import save_named

        w = self.widget
        if w.model is None:
            return w._error("No model to name yet: train one first, or start from a base model.")
        if name is None:
            name, ok = QInputDialog.getText(w, "Add to list", "Name of the model (letters, digits, - _ .):")
            if not ok or not name:
                return None
        try:
            saved = save_named(w.model, name.strip())
        except (OSError, UserInputError) as err:
            return w._error(f"Could not save the model as {name!r}: {err}")
        self.fill_start_from()
        w.status.setText(f"Saved as '{name.strip()}' ({saved}): choose it in 'Start from' in any session.")
        return saved

    def save(self, path: str | None = None):
        from napari_unet.core.config import UserInputError
        from napari_unet.models.checkpoint import save_model
        from napari_unet.trainer.recovery import discard

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

    def load(self, path: str | None = None, what: str = "Loaded", entry: str | None = FILE):
        """Load a model file (asked for when ``path`` is None) or a named model; ``entry`` is
        the 'Start from' entry to show then (None: leave it)."""
        from napari_unet.core.config import UserInputError
        from napari_unet.models.load import load_model

        w = self.widget
        if w.controller.busy:
            return None
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                w, "Load model", "", "napari-unet model (*.pt);;bioimage.io package from napari-unet (*.zip);;All files (*)")
            if not path:
                return None
        try:
            w.controller.set_model(load_model(path))
        except UserInputError as err:
            return w._error(str(err))
        w.loss_plot.clear()
        self.fill_start_from(select=entry)
        w.status.setText(f"{what} {path}. Predict now, or paint strokes ({w.model.paint_guide()}) and Train more to "
                         "fine-tune it.")
        w._show_model_info()
        w._update_buttons()
        return w.model

    def offer_restore(self) -> None:
        """Show the Restore button when an autosaved model exists (e.g. after a crash)."""
        from napari_unet.trainer.recovery import describe

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
        if self.load(str(path), what="Restored the autosaved model from", entry=None) is not None:
            self.restored = (path, w.model)
            w.restore_btn.setVisible(False)
        return w.model
