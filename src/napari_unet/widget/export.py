"""The "Export to bioimage.io…" button: ask what the package should say and where to write it,
then export and test it in a worker thread (the viewer stays usable)."""

from __future__ import annotations

from qtpy.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QLineEdit

LICENCES = ("CC-BY-4.0", "CC0-1.0", "MIT", "BSD-3-Clause", "Apache-2.0")


class ExportDialog(QDialog):
    """Name, authors, description and licence of the package."""

    def __init__(self, parent, name: str, description: str):
        super().__init__(parent)
        self.setWindowTitle("Export to bioimage.io")
        form = QFormLayout(self)
        self.name = QLineEdit(name)
        self.name.setToolTip("5-128 letters, digits, spaces and _+-()")
        self.authors = QLineEdit()
        self.authors.setPlaceholderText("Ada Lovelace, Alan Turing")
        self.description = QLineEdit(description)
        self.description.setCursorPosition(0)
        self.licence = QComboBox()
        self.licence.setEditable(True)
        self.licence.addItems(LICENCES)
        self.licence.setToolTip("SPDX licence of the weights")
        for label, field in (("Name", self.name), ("Authors", self.authors), ("Description", self.description),
                             ("Licence", self.licence)):
            form.addRow(label, field)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export…")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.setMinimumWidth(520)

    def settings(self):
        from napari_unet.bioimageio.export import ExportSettings

        authors = [a.strip() for a in self.authors.text().split(",") if a.strip()]
        return ExportSettings(name=self.name.text().strip() or None, authors=authors,
                              description=self.description.text().strip() or None,
                              licence=self.licence.currentText().strip())


class Export:
    """The Export button: a worker exports a copy of the model (training may go on meanwhile)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.worker = None

    def start(self, path: str | None = None, settings=None):
        """Export the current model (a copy: training may go on) with the chosen image's central
        crop as test data. Asks for the package's description and file when not given."""
        import copy

        from napari.qt.threading import create_worker

        from napari_unet.core.config import UserInputError

        ctx = self.ctx
        if ctx.model is None:
            return ctx.error("No model to export yet: train one first, or start from a base model.")
        if ctx.controller.exporting:
            return None
        try:
            if settings is None:
                settings = self._ask_settings()
            if settings is None:
                return None
            if path is None:
                path, _ = QFileDialog.getSaveFileName(ctx.window, "Export to bioimage.io", _file_name(settings.name),
                                                      "bioimage.io model package (*.zip)")
                if not path:
                    return None
            sample = self._sample()
        except UserInputError as err:
            return ctx.error(str(err))
        from napari_unet.bioimageio.export import export_bioimageio

        if not ctx.controller.begin_export():
            return None
        worker = create_worker(export_bioimageio, copy.deepcopy(ctx.model), path, sample, settings,
                               _start_thread=False, _ignore_errors=True)
        worker.returned.connect(self._done)
        worker.errored.connect(ctx.failed)
        worker.finished.connect(self._finished)
        self.worker = worker
        ctx.status(f"Exporting to {path} and testing the package with bioimageio.core (takes a few seconds)…")
        ctx.refresh()
        worker.start()
        return worker

    def _ask_settings(self):
        model, image = self.ctx.model, self.ctx.image_layer()
        name = model.info.name or (f"{image.name} model"[:64] if image is not None else "napari-unet model")
        dialog = ExportDialog(self.ctx.window, name, model.info.description or "")
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.settings()  # raises a clear error for a name or licence bioimage.io refuses

    def _sample(self):
        """A central crop of the chosen image (copied here, on the GUI thread), or None."""
        from napari_unet.widget.layers import full_resolution
        from napari_unet.bioimageio.export import sample_image

        layer = self.ctx.image_layer()
        return None if layer is None else sample_image(self.ctx.model, full_resolution(layer))

    def _done(self, result):
        tests = ", ".join(f"{fmt} {outcome}" for fmt, outcome in result.validation.items())
        self.ctx.status(f"Exported {result.path} ({result.size_bytes / 1e6:.1f} MB; bioimage.io test: "
                        f"{tests}). Open it in deepImageJ, ilastik or QuPath, or load it here.")

    def _finished(self):
        self.worker = None
        self.ctx.controller.end_export()
        self.ctx.refresh()


def _file_name(name: str | None) -> str:
    import re

    return (re.sub(r"[^A-Za-z0-9_+-]+", "-", name or "model").strip("-") or "model") + ".zip"
