"""The U-Net of Ronneberger, Fischer and Brox (2015), in torch.

Contracting path: two 3x3 convolutions with ReLU per level, then 2x2 max-pooling, channels
doubling. Expanding path: 2x2 up-convolution, concatenation with the skip connection of the
same level, two 3x3 convolutions. A 1x1 convolution gives class logits. Convolutions are
zero-padded ("same"), so skips need no cropping and the output has the input's size; the
overlap-tile strategy of :mod:`napari_unet.predict` supplies the context at tile borders.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig


def _block(cin: int, cout: int, batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for c in (cin, cout):
        layers.append(nn.Conv2d(c, cout, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(cout))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """U-Net for 2D images with any number of input channels.

    Inputs of any height and width are accepted: sizes that are not multiples of
    ``2**depth`` are mirror-padded inside :meth:`forward` and the logits cropped back.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        widths = [config.base_channels * 2**i for i in range(config.depth + 1)]
        self.down = nn.ModuleList()
        cin = config.in_channels
        for w in widths[:-1]:
            self.down.append(_block(cin, w, config.batch_norm))
            cin = w
        self.bottom = _block(widths[-2], widths[-1], config.batch_norm)
        self.dropout = nn.Dropout2d(config.dropout) if config.dropout > 0 else nn.Identity()
        self.up = nn.ModuleList()
        self.up_blocks = nn.ModuleList()
        for w_low, w in zip(widths[:0:-1], widths[-2::-1]):
            self.up.append(nn.ConvTranspose2d(w_low, w, 2, stride=2))
            self.up_blocks.append(_block(2 * w, w, config.batch_norm))
        self.head = nn.Conv2d(widths[0], config.n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"UNet expects a (batch, channels, height, width) tensor, got {tuple(x.shape)}.")
        if x.shape[1] != self.config.in_channels:
            raise ValueError(
                f"this model was built for {self.config.in_channels} input channel(s), "
                f"got {x.shape[1]}."
            )
        h, w = x.shape[-2:]
        m = self.config.multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = _mirror_pad(x, ph, pw)
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.dropout(self.bottom(x))
        for up, block, skip in zip(self.up, self.up_blocks, reversed(skips)):
            x = block(torch.cat([up(x), skip], dim=1))
        x = self.head(x)
        return x[..., :h, :w]


def _mirror_pad(x: torch.Tensor, ph: int, pw: int) -> torch.Tensor:
    """Pad bottom/right by mirroring; falls back to edge replication for tiny inputs."""
    h, w = x.shape[-2:]
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def inference_copy(net: UNet, dtype: torch.dtype = torch.float32) -> UNet:
    """A copy of ``net`` for prediction only: BatchNorm folded into the convolution before it,
    weights cast once to ``dtype``, channels_last, eval mode. Same function up to rounding;
    on a CPU with bf16 units about 1.5x faster than running ``net`` under autocast."""
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval

    fast = copy.deepcopy(net).eval()
    for seq in fast.modules():
        if isinstance(seq, nn.Sequential):
            for i in range(len(seq) - 1):
                if isinstance(seq[i], nn.Conv2d) and isinstance(seq[i + 1], nn.BatchNorm2d):
                    seq[i], seq[i + 1] = fuse_conv_bn_eval(seq[i], seq[i + 1]), nn.Identity()
    for p in fast.parameters():
        p.requires_grad_(False)
    return fast.to(dtype=dtype, memory_format=torch.channels_last)


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
        Training record: total steps, last loss, the training settings used.
    """

    def __init__(self, config: ModelConfig, class_values, norm=None, mode: str = "semantic", history=None):
        from .config import NormConfig

        if len(class_values) != config.n_classes:
            raise ValueError(f"{len(class_values)} class values for {config.n_classes} classes.")
        self.config = config
        self.class_values = tuple(int(v) for v in class_values)
        self.norm = norm if norm is not None else NormConfig()
        self.mode = mode
        self.history = dict(history or {"steps": 0})
        self.net = UNet(config)

    @property
    def steps_trained(self) -> int:
        return int(self.history.get("steps", 0))

    def __repr__(self) -> str:
        c = self.config
        return (
            f"SegmentationModel(channels={c.in_channels}, classes={self.class_values}, depth={c.depth}, "
            f"base_channels={c.base_channels}, steps_trained={self.steps_trained})"
        )
