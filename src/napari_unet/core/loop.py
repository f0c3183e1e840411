"""The optimizer steps of a training run: the loss terms, the learning-rate schedule, the time or
step budget, and what a run records in its model. Used by :func:`napari_unet.core.train.train` and by
the trainer's child process."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from napari_unet.core.config import TrainConfig
from napari_unet.core.events import TrainEvent, TrainResult
from napari_unet.core.lines import finish_lines, judge_lines


def _progress(config: TrainConfig, step: int, elapsed: float) -> float:
    """Fraction of the run done: by steps or by time, whichever is further along."""
    return max(
        step / config.steps if config.steps else 0.0,
        elapsed / config.time_budget if config.time_budget else 0.0,
    )


def _lr(config: TrainConfig, step: int, frac: float) -> float:
    warm = min(1.0, (step + 1) / max(config.warmup_steps, 1))
    return config.learning_rate * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


def run_steps(model, data: TrainingData, config: TrainConfig, device, bf16: bool, should_stop, clock=time.perf_counter):
    """Train until the budget is spent or ``should_stop``; ``clock`` measures the time budget
    (a paused trainer passes one that stands still while paused). A run that starts from a
    base model ends with its weights mixed with the starting ones (``config.base_share``); the
    events before the end carry the network as trained so far."""
    import torch

    from napari_unet.core.device import autocast
    from napari_unet.core.losses import edge_potts_loss, keep_loss, pair_affinities, weighted_cross_entropy

    gen = torch.Generator(device=device)
    gen.manual_seed(config.seed)
    net = model.net.to(device).to(memory_format=torch.channels_last)
    keep = keep_weight(config, model)
    base = _frozen_copy(net) if keep > 0 else None
    start = weights_copy(net) if config.base_share > 0 and from_base_model(model) else None
    net.train()
    opt = make_optimizer(net, config, device)
    pixels_per_step = config.batch_size * data.augmenter.patch**2
    step, loss_value, stopped = 0, float("nan"), False
    t0 = clock()
    try:
        while True:
            frac = _progress(config, step, clock() - t0)
            if frac >= 1.0:
                break
            if should_stop is not None and should_stop():
                stopped = True
                break
            lr = _lr(config, step, frac)
            for group in opt.param_groups:
                group["lr"] = lr
            x, target, weight = data.augmenter.batch(data.sampler.sample(config.batch_size), gen)
            x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, bf16):
                logits = net(x).float()
            loss = weighted_cross_entropy(logits, target, weight)
            if base is not None:
                with torch.no_grad(), autocast(device, bf16):
                    base_probs = torch.softmax(base(x).float(), dim=1)
                loss = loss + keep * keep_loss(logits, base_probs, target)
            if data.probe and judging_step(step, config.edge_warmup, data.predicted_thin):
                data.predicted_thin = judge_lines(model, net, data.probe, device, data.predicted_thin)
            edge = 0.0 if base is not None else edge_factor(config, step, data.lines)
            if edge > 0:
                aff = pair_affinities(x, config.edge_sigma)
                loss = loss + edge * edge_potts_loss(torch.softmax(logits, dim=1), aff)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            loss_value = float(loss.detach())
            elapsed = clock() - t0
            progress = _progress(config, step, elapsed)
            _record(model, config, step, loss_value, data)
            yield TrainEvent(
                step=step,
                total_steps=config.steps,
                loss=loss_value,
                elapsed=elapsed,
                steps_per_s=step / elapsed,
                pixels_per_s=step * pixels_per_step / elapsed,
                progress=min(progress, 1.0),
                learning_rate=lr,
                model=model,
            )
    finally:
        net.eval()
        if start is not None and step > 0:
            mix_weights(net, start, config.base_share)
    if data.probe and step >= config.edge_warmup and not from_base_model(model):
        finish_lines(model, net, data.probe, device, trained_shares(config, data))  # napari_unet.core.lines
    return TrainResult(model, step, loss_value, clock() - t0, stopped)


def trained_shares(config: TrainConfig, data: TrainingData) -> list[float]:
    """Each class's share in training: the same for all with class balancing, else as painted."""
    counts = [max(int(n), 1) for n in data.sampler.counts()]
    if config.class_balance:
        return [1 / len(counts)] * len(counts)
    return [n / sum(counts) for n in counts]


def keep_weight(config: TrainConfig, model) -> float:
    """Weight of the term keeping a base model's predictions on unpainted pixels: as set, else 1
    when training starts from a base model with line classes (membranes; or from a model
    fine-tuned from one), else 0. Fine-tuned on a few strokes without it, the EM twin lost its
    membranes; on nuclei it cost steps and F1 (docs/benchmarks.md, the annotation loop). While
    it is on, the edge term is off (both regularise the unpainted pixels, and the base model
    knows the boundaries better than the image's edges do)."""
    if not from_base_model(model):
        return 0.0
    if config.keep_weight is not None:
        return float(config.keep_weight)
    return 1.0 if model.info.line_classes else 0.0


def from_base_model(model) -> bool:
    """Whether training starts from a base (named) model, or one fine-tuned from it."""
    return bool(model.info.lineage)


def _frozen_copy(net):
    """The starting network in inference mode, its weights fixed: the reference of the keep term."""
    import copy

    base = copy.deepcopy(net).eval()
    for p in base.parameters():
        p.requires_grad_(False)
    return base


def weights_copy(net) -> dict:
    """A copy of the network's weights and buffers."""
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def mix_weights(net, start: dict, share: float) -> None:
    """Blend the trained weights with the starting ones, ``(1 - share) * trained + share * start``
    (WiSE-FT, Wortsman et al. 2022): a base model fine-tuned on a few strokes forgets less of
    what it knew where nothing was painted. Made for short runs: after thousands of steps the
    weights are too far apart for the blend to stay good (docs/benchmarks.md). Integer buffers
    (BatchNorm's counter) stay."""
    import torch

    with torch.no_grad():
        for k, v in net.state_dict().items():
            if v.is_floating_point():
                v.lerp_(start[k].to(v.device, v.dtype), share)


def judging_step(step: int, warmup: int, found: tuple[int, ...]) -> bool:
    """Whether the loop judges at ``step`` which classes the network predicts as lines: at the
    end of the warm-up, then at every doubling of it (200, 400, 800, ... steps), until it finds
    some. A network still learning fast predicts membranes in pieces that enclose nothing (on
    ISBI from strokes of a 1-8 px brush, 6 runs of 15 at step 100), so one look is not enough."""
    if warmup <= 0 or found or step < warmup or step % warmup:
        return False
    doublings = step // warmup
    return doublings & (doublings - 1) == 0


def edge_factor(config: TrainConfig, step: int, thin: tuple[int, ...] = ()) -> float:
    """Weight of the edge term: zero during the warm-up, then a linear ramp over as many steps;
    zero throughout when a class is thin (see :func:`train`)."""
    if config.edge_weight <= 0 or thin:
        return 0.0
    w = config.edge_warmup
    return config.edge_weight * (1.0 if w == 0 else min(max(step - w, 0) / w, 1.0))


def make_optimizer(net, config: TrainConfig, device):
    """AdamW, fused into one kernel per step where torch has it for the device (CPU: torch >= 2.4)."""
    import torch

    kwargs = {"lr": config.learning_rate, "weight_decay": config.weight_decay}
    if device.type in ("cpu", "cuda"):
        try:
            return torch.optim.AdamW(net.parameters(), fused=True, **kwargs)
        except (RuntimeError, ValueError, TypeError):
            pass
    return torch.optim.AdamW(net.parameters(), **kwargs)


def _record(model, config: TrainConfig, step: int, loss: float, data: TrainingData) -> None:
    h = model.history
    if step == 1:
        h.runs += 1
        h.start_steps = h.steps
        model.info.start_fine_tuning()  # a named (base) model, now fine-tuned: no longer the model of that name
    h.steps = h.start_steps + step
    h.loss = loss
    h.train_config = config.to_dict()
    h.thin_classes = [int(model.class_values[k]) for k in data.lines]  # the edge term was off for them
    h.sparse = data.sparse  # trained on strokes: prediction keeps the object margin
    # annotated pixels per class value (instance mode: of the derived background/object targets)
    h.painted_pixels = {int(v): n for v, n in zip(model.class_values, data.sampler.counts())}


@dataclass
class TrainingData:
    """What the loop draws its batches from. A live trainer swaps it between steps when the
    strokes change (see :mod:`napari_unet.trainer.client`)."""

    sampler: object  # PatchSampler
    augmenter: object  # PatchAugmenter
    thin: tuple[int, ...] = ()  # classes painted only as thin lines: the edge term stays off
    sparse: bool = True  # strokes, not dense labels: prediction keeps an object margin (napari_unet.predict.margin)
    probe: tuple = ()  # normalised images (C, Y, X) on which the loop judges which classes are lines
    predicted_thin: tuple[int, ...] = ()  # classes the network predicts as thin lines (judged after the warm-up)

    @property
    def lines(self) -> tuple[int, ...]:
        """Classes treated as thin lines: painted as such, or predicted as such."""
        return tuple(sorted(set(self.thin) | set(self.predicted_thin)))

    def replace_with(self, other: TrainingData) -> None:
        """New strokes (live training); what the network was judged to predict as lines stays."""
        self.sampler, self.augmenter, self.probe = other.sampler, other.augmenter, other.probe
        self.thin, self.sparse = other.thin, other.sparse
