"""Batched augmentation of training patches on the training device.

Every patch is cut from its slice with one :func:`torch.nn.functional.grid_sample` call that
applies, at once, a random flip / 90-degree rotation, a small rotation and scaling, and the
U-Net paper's elastic deformation (Gaussian displacements on a coarse grid, interpolated
bicubically to a dense field). Image channels are interpolated bilinearly, targets and
weights by nearest neighbour; pixels pulled from outside the image become "ignore".
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from napari_unet.core.config import AugmentConfig
from napari_unet.core.data import Slice2D


class PatchAugmenter:
    """Hold annotated slices on the device and cut augmented patches from them.

    Each slice is stored once, mirror-padded, as ``C + 2`` channels: the image channels, the
    target plus one (0 = ignore, also in the padding) and the loss weight (0 in the padding).
    """

    def __init__(self, slices: list[Slice2D], patch_size: int, config: AugmentConfig, device: torch.device):
        self.config = config
        self.device = device
        self.patch = patch_size + patch_size % 2
        rot = math.sqrt(2.0) if config.rotation_degrees > 0 else 1.0
        reach = self.patch / 2 * rot * (1 + config.scale_range) + 3 * config.elastic_sigma + 2
        self.crop = 2 * math.ceil(reach)
        self.pad = self.crop // 2 + 1
        self.n_channels = slices[0].image.shape[0]
        self.stacks = [self._padded(s) for s in slices]

    def _padded(self, s: Slice2D) -> torch.Tensor:
        p = self.pad
        img = np.pad(s.image, ((0, 0), (p, p), (p, p)), mode="reflect")
        tgt = np.pad((s.target + 1).astype(np.float32), p)
        w = np.pad(s.weight.astype(np.float32), p)
        stack = np.concatenate([img, tgt[None], w[None]])
        return torch.from_numpy(stack).to(self.device)

    def crops(self, centres: np.ndarray) -> torch.Tensor:
        """Cut ``(B, C + 2, crop, crop)`` regions centred on ``(slice, y, x)`` rows."""
        h = self.crop // 2
        out = []
        for s, y, x in centres:
            y0, x0 = int(y) + self.pad - h, int(x) + self.pad - h
            out.append(self.stacks[int(s)][:, y0 : y0 + self.crop, x0 : x0 + self.crop])
        return torch.stack(out)

    def sampling_grid(self, batch: int, generator: torch.Generator, identity: bool = False) -> torch.Tensor:
        """``(B, patch, patch, 2)`` grid in ``grid_sample`` coordinates of a crop."""
        cfg, p, dev = self.config, self.patch, self.device
        offs = torch.arange(p, dtype=torch.float32, device=dev) - (p - 1) / 2
        yy, xx = torch.meshgrid(offs, offs, indexing="ij")
        pts = torch.stack([xx, yy], dim=-1).expand(batch, p, p, 2)  # (x, y) offsets in pixels
        if identity:
            return pts * (2.0 / self.crop)

        def uniform(lo, hi, *shape):
            return torch.rand(*shape, generator=generator, device=dev) * (hi - lo) + lo

        angle = torch.deg2rad(uniform(-cfg.rotation_degrees, cfg.rotation_degrees, batch))
        if cfg.rot90:
            quarter = torch.randint(0, 4, (batch,), generator=generator, device=dev)
            angle = angle + quarter * (math.pi / 2)
        scale = uniform(1 - cfg.scale_range, 1 + cfg.scale_range, batch)
        cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
        flip = torch.ones(batch, device=dev)
        if cfg.flips:
            flip = torch.where(torch.rand(batch, generator=generator, device=dev) < 0.5, -1.0, 1.0)
        mat = torch.stack([torch.stack([cos * flip, -sin], -1), torch.stack([sin * flip, cos], -1)], -2)
        pts = torch.einsum("bij,bhwj->bhwi", mat, pts)
        if cfg.elastic_sigma > 0:
            g = cfg.elastic_grid
            coarse = torch.randn(batch, 2, g, g, generator=generator, device=dev) * cfg.elastic_sigma
            dense = F.interpolate(coarse, size=(p, p), mode="bicubic", align_corners=True)
            pts = pts + dense.permute(0, 2, 3, 1)
        return pts * (2.0 / self.crop)

    def batch(self, centres: np.ndarray, generator: torch.Generator, identity: bool = False):
        """Augmented ``(image, target, weight)`` for the given centres.

        ``image`` is ``(B, C, P, P)`` float32, ``target`` ``(B, P, P)`` int64 with -1 for
        ignore, ``weight`` ``(B, P, P)`` float32.
        """
        crops = self.crops(centres)
        grid = self.sampling_grid(len(centres), generator, identity=identity)
        c = self.n_channels
        img = F.grid_sample(crops[:, :c], grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        lab = F.grid_sample(crops[:, c:], grid, mode="nearest", padding_mode="zeros", align_corners=False)
        target = lab[:, 0].round().long() - 1
        weight = lab[:, 1]
        if not identity:
            img = self._intensity(img, generator)
        return img, target, weight

    def _intensity(self, img: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        cfg = self.config
        b, c = img.shape[:2]
        if cfg.intensity > 0:
            r = torch.rand(2, b, c, 1, 1, generator=generator, device=img.device) * 2 - 1
            mean = img.mean(dim=(2, 3), keepdim=True)
            img = (img - mean) * (1 + cfg.intensity * r[0]) + mean + cfg.intensity * r[1]
        if cfg.noise > 0:
            level = torch.rand(b, 1, 1, 1, generator=generator, device=img.device) * cfg.noise
            img = img + level * torch.randn(img.shape, generator=generator, device=img.device)
        return img
