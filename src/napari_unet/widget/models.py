"""The model panel's actions: start from (scratch, a base or named model, a file), new, save,
save under a name, load, and restore the autosaved model."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFileDialog, QInputDialog

SCRATCH, FILE = "", "\0file"  # item data of the 'Start from' entries that are not named models


class ModelFiles:
    """The model panel (``panel``) and 'Start from' (``start_from``, a combo box of the data
    panel). ``replaced`` is called when a model is loaded or forgotten, ``forgotten`` then too."""

    def __init__(self, ctx, panel, start_from, replaced, forgotten):
        self.ctx, self.panel, self.combo = ctx, panel, start_from
        self.replaced, self.forgotten = replaced, forgotten
        self.restored = None  # (path, model) of an autosaved model restored in this session
        self.chosen = SCRATCH  # the 'Start from' entry shown (restored when a choice fails)

    def fill_start_from(self, select: str | None = None) -> None:
        """Scratch, the base models, the user's named models, a file; ``select`` names the entry to show."""
        from napari_unet.models.named import available, summary

        combo = self.combo
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
        choice = self.combo.itemData(index)
        if choice == SCRATCH:
            done = self.forget()
        else:
            done = self.load(None if choice == FILE else choice, what="Started from", entry=choice) is not None
        if not done:
            self.fill_start_from(select=self.chosen)

    def forget(self) -> bool:
        if not self.ctx.controller.forget_model():
            return False
        self.replaced()
        self.ctx.refresh()
        self.fill_start_from(select=SCRATCH)
        self.forgotten()
        return True

    def save_named(self, name: str | None = None):
        """Save the current model as a named user model (it joins 'Start from' and 'napari-unet models')."""
        from napari_unet.core.config import UserInputError
        from napari_unet.models.named import save_named

        ctx = self.ctx
        if ctx.model is None:
            return ctx.error("No model to name yet: train one first, or start from a base model.")
        if name is None:
            name, ok = QInputDialog.getText(ctx.window, "Add to list", "Name of the model (letters, digits, - _ .):")
            if not ok or not name:
                return None
        try:
            saved = save_named(ctx.model, name.strip())
        except (OSError, UserInputError) as err:
            return ctx.error(f"Could not save the model as {name!r}: {err}")
        self.fill_start_from()
        ctx.status(f"Saved as '{name.strip()}' ({saved}): choose it in 'Start from' in any session.")
        return saved

    def save(self, path: str | None = None):
        from napari_unet.core.config import UserInputError
        from napari_unet.models.checkpoint import save_model
        from napari_unet.trainer.recovery import discard

        ctx = self.ctx
        if ctx.model is None:
            return ctx.error("No model to save yet: train one first.")
        if path is None:
            path, _ = QFileDialog.getSaveFileName(ctx.window, "Save model", "unet-model.pt", "napari-unet model (*.pt)")
            if not path:
                return None
        try:
            saved = save_model(ctx.model, path)
        except (OSError, UserInputError) as err:
            return ctx.error(f"Could not save the model to {path}: {err}. It is still here; choose another place.")
        # the user's own copy replaces the autosaved one it came from
        if ctx.controller.autosaved:
            discard(ctx.controller.recovery)
        if self.restored is not None and self.restored[1] is ctx.model:
            discard(self.restored[0])
        self.offer_restore()
        ctx.status(f"Model saved to {saved}")
        return saved

    def load(self, path: str | None = None, what: str = "Loaded", entry: str | None = FILE):
        """Load a model file (asked for when ``path`` is None) or a named model; ``entry`` is
        the 'Start from' entry to show then (None: leave it)."""
        from napari_unet.core.config import UserInputError
        from napari_unet.models.load import load_model

        ctx = self.ctx
        if ctx.busy:
            return None
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                ctx.window, "Load model", "", "napari-unet model (*.pt);;bioimage.io package from napari-unet (*.zip);;All files (*)")
            if not path:
                return None
        try:
            ctx.controller.set_model(load_model(path))
        except UserInputError as err:
            return ctx.error(str(err))
        self.replaced()
        self.fill_start_from(select=entry)
        ctx.status(f"{what} {path}. Predict now, or paint strokes ({ctx.model.paint_guide()}) and Train more to "
                   "fine-tune it.")
        ctx.refresh()
        return ctx.model

    def offer_restore(self) -> None:
        """Show the Restore button when an autosaved model exists (e.g. after a crash)."""
        from napari_unet.trainer.recovery import describe

        path = self.ctx.controller.restore_path()
        text = None if self.restored is not None and self.restored[0] == path else describe(path)
        self.panel.restore_btn.setVisible(text is not None)
        if text is not None:
            self.panel.restore_btn.setToolTip(f"Load {text} (kept after a crash; saving it yourself removes it)")

    def restore(self):
        path = self.ctx.controller.restore_path()
        if path is None:
            self.panel.restore_btn.setVisible(False)
            return self.ctx.error("The autosaved model is gone (saved or replaced since).")
        if self.load(str(path), what="Restored the autosaved model from", entry=None) is not None:
            self.restored = (path, self.ctx.model)
            self.panel.restore_btn.setVisible(False)
        return self.ctx.model
