"""The base model that fits the chosen image, offered under 'Start from' as a button
(:func:`napari_unet.models.choice.suggest`, measured off the GUI thread whenever the chosen image
changes while no model is loaded)."""

from __future__ import annotations

from napari_unet.widget.layers import prediction_input


def _suggest_job(image):
    from napari_unet.models.choice import suggest

    return suggest(image)


class ModelHint:
    """The button under 'Start from' (``button``); ``load(name, what=..., entry=...)`` starts from a model."""

    def __init__(self, ctx, button, load):
        self.ctx, self.button, self.load = ctx, button, load
        self.fit = None  # the suggestion shown (a model_choice.Fit), or None
        self._for = None  # the name of the image the running or last check was for
        self.checked = None  # the name of the image the last finished check was for

    def check(self):
        """Look for a fitting base model for the chosen image (nothing when a model is loaded)."""
        from napari.qt.threading import create_worker

        image = self.ctx.image_layer()
        if self.ctx.model is not None or image is None:
            return self.show(None)
        if image.name == self._for:
            return None  # already checked (or being checked)
        self.show(None)
        self._for = image.name  # by name: the plugin's viewer hands out a new proxy of a layer each time
        worker = create_worker(_suggest_job, prediction_input(image), _start_thread=False, _ignore_errors=True)
        worker.returned.connect(lambda fit, name=image.name: self._returned(name, fit))
        worker.errored.connect(lambda _err: None)  # an image the check cannot read just gets no suggestion
        worker.start()
        return worker

    def _returned(self, name, fit):
        self.checked = name
        try:
            image = self.ctx.image_layer()
        except RuntimeError:  # the widget was closed while the check ran
            return
        if self.ctx.model is None and image is not None and image.name == name:
            self.show(fit)

    def show(self, fit):
        self.fit = fit
        button = self.button
        self.ctx.refresh()  # shows the button when there is a fit and nothing is loaded
        if fit is not None:
            from napari_unet.models.choice import FITS

            button.setText(f"Start from {fit.name}: it fits this image")
            button.setToolTip(f"This image looks like the images the '{fit.name}' base model was trained on "
                              f"(distance {fit.distance:.1f}; {FITS:g} or less fits). Starting from it, predict at once "
                              "or paint a few corrections and Train more.")

    def use(self):
        """Start from the suggested model."""
        if self.fit is not None:
            name = self.fit.name
            if self.load(name, what="Started from the suggested base model", entry=name) is not None:
                self.show(None)

    def forget(self):
        """The model was forgotten (New model, Start from scratch): the chosen image may get a suggestion again."""
        self._for = None
        self.check()
