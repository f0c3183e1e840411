"""The segmentation model: the U-Net of :mod:`napari_unet.core.unet` with its settings, class
values and normalisation, and a faster copy of the network for prediction."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from napari_unet.core import unet
from napari_unet.core.config import ModelConfig
from napari_unet.core.record import ModelInfo, TrainingHistory


class UNet(unet.UNet):
    """The U-Net built from a :class:`~napari_unet.core.config.ModelConfig` (kept as ``config``)."""

    def __init__(self, config: ModelConfig):
        super().__init__(**config.to_dict())
        self.config = config


def inference_copy(net: UNet, dtype: torch.dtype = torch.float32) -> UNet:
    """A copy of ``net`` for prediction only: the same function up to rounding, faster.

    BatchNorm is folded into the convolution before it, weights are cast once to ``dtype``
    and stored channels_last, and the copy is in eval mode. On a CPU with oneDNN each
    convolution's ReLU runs inside the convolution, and pooling and skip concatenation use
    channels_last copies; docs/benchmarks.md has the timings.
    """
    from dataclasses import replace

    from torch.nn.utils.fusion import fuse_conv_bn_weights

    folded = []  # (weight, bias) of every Conv2d in module order, BatchNorm folded in
    modules = list(net.modules())  # read only: ``net`` may be training on
    for i, m in enumerate(modules):
        if isinstance(m, nn.Conv2d):
            bn = modules[i + 1] if i + 1 < len(modules) else None
            if isinstance(bn, nn.BatchNorm2d):
                folded.append(fuse_conv_bn_weights(
                    m.weight, m.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias
                ))
            else:
                folded.append((m.weight, m.bias))
    fast = _PredictionUNet(replace(net.config, batch_norm=False))
    convs = [m for m in fast.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == len(folded)
    with torch.no_grad():
        for conv, (weight, bias) in zip(convs, folded):
            conv.weight.copy_(weight)
            conv.bias.copy_(bias if bias is not None else torch.zeros_like(conv.bias))
        ups = [m for m in fast.modules() if isinstance(m, nn.ConvTranspose2d)]
        for mine, theirs in zip(ups, [m for m in modules if isinstance(m, nn.ConvTranspose2d)]):
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
    fast = fast.eval().requires_grad_(False).to(device=next(net.parameters()).device)
    return fast.to(dtype=dtype, memory_format=torch.channels_last)


class _PredictionUNet(UNet):
    """A U-Net without BatchNorm whose ``forward`` takes faster routes where it can (see
    :func:`inference_copy`). Not for training: the fused route has no backward."""

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.onednn = _onednn_fusion()

    def _fused(self, x: torch.Tensor) -> bool:
        return self.onednn and x.device.type == "cpu" and not torch.is_grad_enabled()

    def _block(self, block, x):
        if not self._fused(x):
            return block(x)
        for conv in block:
            if isinstance(conv, nn.Conv2d):
                x = torch.ops.mkldnn._convolution_pointwise(
                    x, conv.weight, conv.bias, [1, 1], [1, 1], [1, 1], 1, "relu", [], ""
                )
        return x

    def _pool(self, x):
        # 2x2 max as two elementwise maxima over a channels_last view: on a CPU about twice
        # as fast as max_pool2d, which also computes indices
        n, c, h, w = x.shape
        if x.device.type != "cpu" or h % 2 or w % 2:  # measured on CPUs only
            return super()._pool(x)
        v = x.permute(0, 2, 3, 1).reshape(n, h // 2, 2, w // 2, 2 * c)
        rows = torch.maximum(v[:, :, 0], v[:, :, 1]).view(n, h // 2, w // 2, 2, c)
        return torch.maximum(rows[..., 0, :], rows[..., 1, :]).permute(0, 3, 1, 2)

    def _cat(self, a, b):
        # channels_last: one row of channels per pixel, so the concatenation is a 2D one
        if a.device.type != "cpu":
            return super()._cat(a, b)
        n, _, h, w = a.shape
        rows = [t.permute(0, 2, 3, 1).reshape(n * h * w, t.shape[1]) for t in (a, b)]
        return torch.cat(rows, dim=1).view(n, h, w, -1).permute(0, 3, 1, 2)


def _onednn_fusion() -> bool:
    """Whether this torch build runs a convolution with its ReLU fused on the CPU (oneDNN)."""
    op = getattr(torch.ops.mkldnn, "_convolution_pointwise", None) if torch.backends.mkldnn.is_available() else None
    if op is None:
        return False
    try:
        x, w = torch.ones(1, 1, 4, 4), torch.ones(1, 1, 3, 3)
        y = op(x, w, None, [1, 1], [1, 1], [1, 1], 1, "relu", [], "")
        return torch.equal(y, F.relu(F.conv2d(x, w, padding=1)))
    except (RuntimeError, NotImplementedError):
        return False


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def conv_flops_per_pixel(config: ModelConfig) -> float:
    """Forward multiply-adds x2 per input pixel (convolutions only), for throughput reports."""
    flops = 0.0
    widths = [config.base_channels * 2**i for i in range(config.depth + 1)]
    cin = config.in_channels
    for level, w in enumerate(widths):
        scale = 4.0**-level
        flops += 2 * 9 * (cin * w + w * w) * scale
        cin = w
    for level in range(config.depth - 1, -1, -1):
        w = widths[level]
        scale = 4.0**-level
        flops += 2 * 4 * widths[level + 1] * w * scale / 4  # up-convolution on the coarse grid
        flops += 2 * 9 * (2 * w * w + w * w) * scale
    flops += 2 * widths[0] * config.n_classes
    return flops


class SegmentationModel:
    """A trained (or fresh) U-Net with everything needed to apply it to new images.

    Attributes
    ----------
    net
        The :class:`UNet`.
    class_values
        Label value of each output class, in order (what the user painted).
    norm
        Percentile normalisation applied to every image.
    mode
        ``"semantic"`` (one label value per class).
    history
        How it was trained (:class:`~napari_unet.core.record.TrainingHistory`): steps, last
        loss, the training settings used.
    info
        What it is (:class:`~napari_unet.core.record.ModelInfo`): its name, class names,
        training data, licence and citation, what training measured (empty for a new model).
    """

    def __init__(self, config: ModelConfig, class_values, norm=None, mode: str = "semantic",
                 history: TrainingHistory | dict | None = None, info: ModelInfo | dict | None = None):
        from dataclasses import replace

        from napari_unet.core.config import NormConfig

        if len(class_values) != config.n_classes:
            raise ValueError(f"{len(class_values)} class values for {config.n_classes} classes.")
        self.config = config
        self.class_values = tuple(int(v) for v in class_values)
        self.norm = norm if norm is not None else NormConfig()
        self.mode = mode
        self.history = replace(history) if isinstance(history, TrainingHistory) else TrainingHistory.from_dict(history)
        self.info = replace(info) if isinstance(info, ModelInfo) else ModelInfo.from_dict(info)
        self.net = UNet(config)

    def class_name(self, value: int) -> str:
        """The name of the class painted with ``value`` ("class 3" when the model names none)."""
        default = {1: "background", 2: "object"}.get(int(value)) if self.mode == "instance" else None
        return str(self.info.class_names.get(int(value), default or f"class {int(value)}"))

    def paint_items(self) -> list[tuple[int, str]]:
        """What to paint, one ``(label value, text)`` per class: ``(1, "1 = membrane")``, or in
        instance mode ``(2, "2, 3, 4, … = one whole nucleus each")`` for the objects."""
        if self.mode == "instance":
            return [(1, f"1 = {self.class_name(1)}"), (2, f"2, 3, 4, … = one whole {self.class_name(2)} each")]
        return [(v, f"{v} = {self.class_name(v)}") for v in self.class_values]

    def paint_guide(self) -> str:
        """What to paint for this model: '1 = membrane, 2 = cell interior', or in instance mode
        '1 = background, 2, 3, 4, … = one whole nucleus each'."""
        return ", ".join(text for _, text in self.paint_items())

    @property
    def steps_trained(self) -> int:
        return int(self.history.steps)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"SegmentationModel(channels={c.in_channels}, classes={self.class_values}, depth={c.depth}, "
            f"base_channels={c.base_channels}, steps_trained={self.steps_trained})"
        )
