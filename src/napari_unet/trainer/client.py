"""Training in a child process, driven by commands.

>>> trainer = Trainer([image], [strokes], TrainConfig(time_budget=60))
>>> trainer.start()
>>> while trainer.running:
...     for event in trainer.poll(timeout=0.5):
...         print(event)
>>> model = trainer.model  # the newest weights

The child is a spawned process that holds the model and trains from the moment it starts;
napari (or a script) keeps
its own interpreter, and whatever the child held, GPU memory included, goes when it exits.
Images and strokes cross once, as memory-mapped files in a temporary folder; later stroke
edits are written into the strokes file and announced as a changed region. The child sends
progress after every step, the weights every few seconds and on request, predictions of
regions on request, and its final weights when it stops. If it dies (killed, out of memory,
crashed), :meth:`Trainer.poll` reports it in one line and :attr:`Trainer.model` keeps the
last weights that arrived.
"""

from __future__ import annotations

import itertools
import queue
import signal
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from napari_unet.core.config import ModelConfig, PredictConfig, TrainConfig, UserInputError
from napari_unet.core.events import TrainEvent
from napari_unet.trainer import protocol
from napari_unet.trainer.protocol import Died, Failed, Finished, Notice, RegionPrediction, Snapshot, Weights

_EOF = object()  # put in the queue when the child's end of the pipe closes


class Trainer:
    """A U-Net trained in a spawned child process (see the module docstring).

    Parameters
    ----------
    images, strokes
        As for :func:`napari_unet.core.train.train` (lists, one strokes array per image).
    config
        Training settings; ``steps=None`` with ``time_budget=None`` is not allowed by
        :class:`TrainConfig`, so a live session passes a long budget and stops the trainer.
    model
        A model to continue training; a new one is built from ``model_config`` otherwise.
    snapshot_every
        Seconds between weight snapshots sent by the child.
    """

    def __init__(self, images, strokes, config: TrainConfig, model=None, model_config: ModelConfig | None = None,
                 snapshot_every: float = 5.0):
        from napari_unet.core.train import as_list

        self.images, self.strokes = as_list(images), as_list(strokes)
        if len(self.images) != len(self.strokes):
            raise UserInputError(f"got {len(self.images)} image(s) but {len(self.strokes)} strokes array(s); "
                                 "give one strokes array per image.")
        self.config, self.model_config, self.snapshot_every = config, model_config, snapshot_every
        self._model, self._weights, self._weights_step = model, None, model.steps_trained if model else 0
        self._process = self._commands = self._folder = None
        self._events: queue.Queue = queue.Queue()
        self._stroke_files: list[np.memmap] = []
        self._requests = itertools.count(1)
        self._ended: object | None = None
        self.step = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Trainer:
        """Write the data to memory-mapped files and start the child (returns at once)."""
        import multiprocessing

        from napari_unet.models.checkpoint import model_to_bytes
        from napari_unet.trainer.child import main

        if self._process is not None:
            raise RuntimeError("this trainer was already started; make a new one to train again.")
        self._folder = tempfile.TemporaryDirectory(prefix="napari-unet-")
        folder = Path(self._folder.name)
        images = [folder / f"image{i}.npy" for i in range(len(self.images))]
        strokes = [folder / f"strokes{i}.npy" for i in range(len(self.strokes))]
        for image, path in zip(self.images, images):
            np.save(path, np.asarray(image))
        self._stroke_files = [_to_file(np.asarray(s), p) for s, p in zip(self.strokes, strokes)]
        spec = protocol.Start(
            images=[str(p) for p in images],
            strokes=[str(p) for p in strokes],
            config=self.config.to_dict(),
            model_config=self.model_config.to_dict() if self.model_config else None,
            model=model_to_bytes(self._model) if self._model is not None else None,
            snapshot_every=self.snapshot_every,
        )
        ctx = multiprocessing.get_context("spawn")  # fork after torch or Qt threads is unsafe
        commands_in, self._commands = ctx.Pipe(duplex=False)
        events_out, events_in = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=main, args=(spec, commands_in, events_in), daemon=True,
                                    name="napari-unet trainer")
        self._process.start()
        commands_in.close()  # only the child reads commands, and only it writes events:
        events_in.close()  # so a dead child shows as end-of-file, never as a hang
        threading.Thread(target=self._read, args=(events_out,), daemon=True, name="napari-unet events").start()
        return self

    @property
    def running(self) -> bool:
        """Started and not yet ended (an end is only known once :meth:`poll` has reported it)."""
        return self._process is not None and self._ended is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def close(self, timeout: float = 10.0) -> None:
        """Stop the child (waiting up to ``timeout`` s for its final weights), then clean up."""
        if self._process is not None and self._process.is_alive():
            self._send(protocol.Stop())
            deadline = time.monotonic() + timeout
            while self._ended is None and time.monotonic() < deadline:
                self.poll(timeout=0.1)
            self._process.join(max(0.0, deadline - time.monotonic()))
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)
        if self._commands is not None:
            self._commands.close()
            self._commands = None
        for f in self._stroke_files:
            f._mmap.close()  # noqa: SLF001 (memmap has no public close)
        self._stroke_files = []
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def __enter__(self) -> Trainer:
        return self if self._process is not None else self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ commands
    def stop(self) -> None:
        """Ask the child to stop after the current step and send its final weights."""
        self._send(protocol.Stop())

    def pause(self) -> None:
        self._send(protocol.Pause())

    def resume(self) -> None:
        self._send(protocol.Resume())

    def request_snapshot(self) -> None:
        """Ask for the current weights now (a :class:`Snapshot` event follows)."""
        self._send(protocol.SendWeights())

    def update_strokes(self, index: int, region: tuple[slice, ...], values: np.ndarray) -> None:
        """Write ``values`` into image ``index``'s strokes at ``region``; training uses them from
        its next step on (without restarting)."""
        target = self._stroke_files[index]
        target[region] = values
        self._send(protocol.StrokesChanged(index))

    def add_image(self, image: np.ndarray, strokes: np.ndarray) -> int:
        """Train on one more image and its strokes from the next step on; returns its index
        (for :meth:`update_strokes` and :meth:`predict_region`)."""
        if self._folder is None:
            raise RuntimeError("start the trainer before adding images to it.")
        index = len(self.images)
        folder = Path(self._folder.name)
        np.save(folder / f"image{index}.npy", np.asarray(image))
        self._stroke_files.append(_to_file(np.asarray(strokes), folder / f"strokes{index}.npy"))
        self.images.append(image)
        self.strokes.append(strokes)
        self._send(protocol.AddImage(str(folder / f"image{index}.npy"), str(folder / f"strokes{index}.npy")))
        return index

    def predict_region(self, index: int, z: int, box: tuple[int, int, int, int],
                       config: PredictConfig | None = None, uncertainty: bool = False) -> int:
        """Ask the child for labels of ``box`` = (y0, y1, x0, x1) in slice ``z`` of image ``index``
        (and, with ``uncertainty``, their uncertainty), predicted with its newest weights;
        returns the request number of the :class:`RegionPrediction` that answers it. A newer
        request for the same image replaces one still waiting in the child."""
        request = next(self._requests)
        self._send(protocol.PredictRegion(request, index, int(z), tuple(int(v) for v in box),
                                          (config or PredictConfig()).to_dict(), bool(uncertainty)))
        return request

    def _send(self, command: protocol.Command) -> None:
        if self._commands is None or self._ended is not None:
            return
        try:
            self._commands.send(command)
        except (BrokenPipeError, OSError):
            pass  # the child is gone: poll() reports how

    # ------------------------------------------------------------------ events
    def poll(self, timeout: float = 0.0) -> list[protocol.Event]:
        """Events that arrived (waiting up to ``timeout`` s for the first): :class:`TrainEvent`
        (without the model), :class:`Snapshot`, :class:`RegionPrediction`, :class:`Notice`, and one of
        :class:`Finished`, :class:`Failed` or :class:`Died` at the end."""
        out = []
        try:
            item = self._events.get(timeout=timeout) if timeout > 0 else self._events.get_nowait()
            while True:
                event = self._handle(item)
                if event is not None:
                    out.append(event)
                item = self._events.get_nowait()
        except queue.Empty:
            pass
        return out

    def wait(self, timeout: float | None = None, on_event=None):
        """Poll until training ends (or ``timeout`` s); returns the final event or None."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._ended is None and (deadline is None or time.monotonic() < deadline):
            for event in self.poll(timeout=0.2):
                if on_event is not None:
                    on_event(event)
        return self._ended

    @property
    def model(self):
        """The newest weights that arrived (or the model training started from), as a
        :class:`~napari_unet.core.model.SegmentationModel`; None before any exist."""
        if self._weights is not None:
            from napari_unet.models.checkpoint import model_from_bytes

            self._model, self._weights = model_from_bytes(self._weights, "the trainer's snapshot"), None
        return self._model

    @property
    def model_step(self) -> int:
        """Training steps of :attr:`model` (0 for a new model before its first snapshot)."""
        return self._weights_step

    def _read(self, connection) -> None:
        """Thread: move the child's messages into a queue, so reading never blocks the caller."""
        try:
            # the weights that come back need torch here too: import it now, while the child
            # starts up, rather than on the caller's thread when the first model is asked for
            import torch  # noqa: F401

            while True:
                self._events.put(connection.recv())
        except BaseException:  # noqa: BLE001 (end of file, or a message that cannot be read)
            pass
        finally:
            self._events.put(_EOF)  # always: the caller then learns how the child ended
            connection.close()

    def _handle(self, message):
        if isinstance(message, TrainEvent):
            self.step = message.step
            return message
        if isinstance(message, Weights):
            self._weights, self._weights_step = message.data, message.step
            return Snapshot(message.step)
        if isinstance(message, (RegionPrediction, Notice)):
            return message
        if self._ended is not None:
            return None
        if isinstance(message, (Finished, Failed)):
            self._ended = message
        elif message is _EOF:
            self._process.join(5)
            code = self._process.exitcode
            self._ended = Died(_death_message(code, self._weights_step), code)
        return self._ended


def _to_file(array: np.ndarray, path: Path) -> np.memmap:
    """``array`` as a memory-mapped ``.npy`` file (read and write)."""
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=array.dtype, shape=array.shape)
    mm[...] = array
    mm.flush()
    return mm


def _death_message(code: int | None, step: int) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        how = f"was killed ({name}{', often the system running out of memory' if -code == signal.SIGKILL else ''})"
    else:
        how = f"ended unexpectedly (exit code {code})"
    kept = f"the model from step {step} is kept" if step else "no trained weights had arrived yet"
    return f"The training process {how}; {kept}. Your layers and strokes are unchanged."

