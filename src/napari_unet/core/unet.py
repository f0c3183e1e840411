"""The U-Net of Ronneberger, Fischer and Brox (2015), in plain torch.

This file imports nothing but torch, so it can travel on its own: bioimage.io model packages
exported by napari-unet carry it as the architecture of their ``pytorch_state_dict`` weights.

Contracting path: two 3x3 convolutions with ReLU per level, then 2x2 max-pooling, channels
doubling. Expanding path: 2x2 up-convolution, concatenation with the skip connection of the
same level, two 3x3 convolutions. A 1x1 convolution gives class logits. Convolutions are
zero-padded ("same"), so skips need no cropping and the output has the input's size.
"""

import torch
import torch.nn.functional as F
from torch import nn


def _block(cin: int, cout: int, batch_norm: bool) -> nn.Sequential:
    layers = []
    for c in (cin, cout):
        layers.append(nn.Conv2d(c, cout, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(cout))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """U-Net for 2D images with any number of input channels; returns class logits.

    Inputs of any height and width are accepted: sizes that are not multiples of
    ``2**depth`` are mirror-padded inside :meth:`forward` and the logits cropped back.
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 2, depth: int = 4, base_channels: int = 16,
                 dropout: float = 0.2, batch_norm: bool = True):
        super().__init__()
        self.in_channels = in_channels
        self.multiple = 2**depth
        widths = [base_channels * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList()
        cin = in_channels
        for w in widths[:-1]:
            self.down.append(_block(cin, w, batch_norm))
            cin = w
        self.bottom = _block(widths[-2], widths[-1], batch_norm)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.up = nn.ModuleList()
        self.up_blocks = nn.ModuleList()
        for w_low, w in zip(widths[:0:-1], widths[-2::-1]):
            self.up.append(nn.ConvTranspose2d(w_low, w, 2, stride=2))
            self.up_blocks.append(_block(2 * w, w, batch_norm))
        self.head = nn.Conv2d(widths[0], n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"UNet expects a (batch, channels, height, width) tensor, got {tuple(x.shape)}.")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"this model was built for {self.in_channels} input channel(s), got {x.shape[1]}.")
        h, w = x.shape[-2:]
        m = self.multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = mirror_pad(x, ph, pw)
        skips = []
        for block in self.down:
            x = self._block(block, x)
            skips.append(x)
            x = self._pool(x)
        x = self.dropout(self._block(self.bottom, x))
        for up, block in zip(self.up, self.up_blocks):  # popping frees each skip once used
            x = self._block(block, self._cat(self._up(up, x), skips.pop()))
        x = self.head(x)
        return x[..., :h, :w]

    # the steps of ``forward``, replaced by faster ones in napari-unet's prediction copy
    def _block(self, block: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
        return block(x)

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, 2)

    def _cat(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.cat([a, b], dim=1)

    def _up(self, up: nn.ConvTranspose2d, x: torch.Tensor) -> torch.Tensor:
        return up(x)


def mirror_pad(x: torch.Tensor, ph: int, pw: int) -> torch.Tensor:
    """Pad bottom/right by mirroring; falls back to edge replication for tiny inputs."""
    h, w = x.shape[-2:]
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)
