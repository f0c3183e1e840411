"""Training losses: partial cross-entropy on the strokes, and an edge-aware Potts term on every pixel.

Strokes say what a pixel is; they rarely say where a region ends, because people paint down
the middle of things. The edge-aware Potts term (a local form of the gated CRF loss of
Obukhov et al. 2019 and the regularised losses of Tang et al. 2018) supplies that: for pairs of
nearby pixels it penalises different predicted classes, weighted by how alike the two pixels
look, so the predicted label may change only where the image changes. It acts on annotated and
unannotated pixels alike, at full resolution, with shifted slices only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# pixel offsets (dy, dx) of the pairs: 4 directions at distances 1, 2 and 4
PAIR_OFFSETS = tuple((d * dy, d * dx) for d in (1, 2, 4) for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)))


def weighted_cross_entropy(logits, target, weight):
    """Cross-entropy weighted per pixel, averaged over annotated pixels (target >= 0)."""
    per_pixel = F.cross_entropy(logits, target.clamp(min=0), reduction="none")
    w = weight * (target >= 0)
    return (per_pixel * w).sum() / w.sum().clamp(min=1e-6)


def keep_loss(logits, base_probs, target):
    """KL(base || model), averaged over the pixels without strokes (target < 0): fine-tuning
    keeps what the starting model predicted wherever nothing says otherwise."""
    logp = F.log_softmax(logits, dim=1)
    kl = (base_probs * (torch.log(base_probs.clamp(min=1e-8)) - logp)).sum(1)
    m = (target < 0).to(kl.dtype)
    return (kl * m).sum() / m.sum().clamp(min=1.0)


def _pair(t: torch.Tensor, dy: int, dx: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Views of ``t`` (..., H, W) such that ``a[..., i, j]`` and ``b[..., i, j]`` are pixels
    ``(y, x)`` and ``(y + dy, x + dx)``; ``dy >= 0``."""
    h, w = t.shape[-2:]
    xa, xb = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    return t[..., : h - dy, xa], t[..., dy:, xb]


def _binomial3(x: torch.Tensor) -> torch.Tensor:
    """Each channel filtered by [1, 2, 1] / 4 along both axes, edges replicated."""
    k = x.new_tensor([0.25, 0.5, 0.25])
    c = x.shape[1]
    x = F.pad(x, (1, 1, 1, 1), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, 3).expand(c, 1, 1, 3), groups=c)
    return F.conv2d(x, k.view(1, 1, 3, 1).expand(c, 1, 3, 1), groups=c)


def pair_affinities(image: torch.Tensor, sigma: float, offsets=PAIR_OFFSETS) -> list[torch.Tensor]:
    """How alike each pixel is to its partner at every offset: ``exp(-d^2 / (2 s^2))``.

    ``d`` is the colour distance on the image smoothed by a 3x3 binomial filter (noise should
    not count as an edge; the filter keeps a step's largest difference where the step is), and
    ``s^2`` is ``sigma^2`` times the image's mean ``d^2`` between direct neighbours, so the scale
    follows each patch's contrast. No gradient.
    """
    with torch.no_grad():
        g = _binomial3(image.float())
        d2 = []
        for dy, dx in offsets:
            a, b = _pair(g, dy, dx)
            d2.append((a - b).square().sum(1))
        near = [d for (dy, dx), d in zip(offsets, d2) if abs(dy) + abs(dx) == 1]
        scale = torch.stack([d.mean(dim=(1, 2)) for d in near]).mean(0).clamp(min=1e-8)
        denom = (-0.5 / (sigma**2 * scale)).view(-1, 1, 1)
        return [torch.exp(d * denom) for d in d2]


def edge_potts_loss(probs: torch.Tensor, affinities: list[torch.Tensor], offsets=PAIR_OFFSETS) -> torch.Tensor:
    """Mean over pixel pairs of ``affinity * P(the two pixels get different classes)``.

    ``probs`` are softmax outputs ``(B, K, H, W)``; the probability that two pixels differ is
    ``1 - sum_k p_k(i) p_k(j)``.
    """
    total = probs.new_zeros(())
    count = 0
    for (dy, dx), w in zip(offsets, affinities):
        a, b = _pair(probs, dy, dx)
        total = total + (w * (1 - (a * b).sum(1))).sum()
        count += w.numel()
    return total / max(count, 1)
