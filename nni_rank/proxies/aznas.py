"""AZ-NAS's label-free component scores (Lee & Ham, CVPR 2024), on the feature maps between blocks.

With ``f_0, ..., f_L`` the feature maps between the network's blocks (:mod:`nni_rank.proxies.blocks`;
on NAS-Bench-201 the stem and the 17 cells), each read as ``positions x channels`` (``N*H*W x C``):

* **expressivity** ``sum_l H(f_l)``, ``H`` the entropy of the normalised eigenvalue spectrum of the
  channel covariance of ``f_l`` (how evenly a feature map uses its channels);
* **progressivity** ``min_l H(f_l) - H(f_{l-1})`` (every block should add expressivity);
* **trainability** the mean over blocks of ``2 - s - 1/s``, ``s`` the largest singular value of the
  block's input-output Jacobian estimated with a Rademacher vector ``r`` at the output
  (``g = J^T r``; ``s = sigma_max(E[g r^T])`` over positions, the input space-to-depth rearranged when
  the block downsamples); ``s = 1`` is best. A block that is the identity map scores ``-inf`` in the
  paper's code, so the network's trainability is undefined (NaN here, ranked last);
* **complexity** is the ``flops`` proxy.

The paper combines the four by the sum of ``log(rank / N)`` over a population; see
:mod:`nni_rank.proxies.ensemble` for the per-model combination this package uses.

Deviations from the authors' code: the network keeps the initialisation it is given (they re-initialise
with Kaiming-normal fan-in) and is fed the real training minibatch shared with the other proxies (they
feed Gaussian noise); eigenvalues are computed in float64 and clamped at 0.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

ENTROPY_EPS = 1e-8
SIGMA_EPS = 1e-6


def _positions(feature: torch.Tensor) -> torch.Tensor:
    """``(positions, channels)`` view of an ``(N, C)`` or ``(N, C, H, W)`` feature map."""
    if feature.dim() == 4:
        return feature.permute(0, 2, 3, 1).reshape(-1, feature.shape[1])
    return feature.reshape(feature.shape[0], -1)


def spectral_entropy(feature: torch.Tensor) -> float:
    """Entropy of the normalised eigenvalues of the channel covariance of ``feature`` (NaN if all zero)."""
    X = _positions(feature.detach()).to(torch.float64)
    X = X - X.mean(0, keepdim=True)
    cov = X.t() @ X / X.shape[0]
    s = torch.linalg.eigvalsh(cov).clamp_min(0.0)
    total = float(s.sum())
    if not math.isfinite(total) or total <= 0.0:
        return float('nan')
    p = s / total
    return float(-(p * torch.log(p + ENTROPY_EPS)).sum())


def expressivity_progressivity(features: Sequence[torch.Tensor]) -> tuple[tuple[float, str | None], tuple[float, str | None]]:
    """``((expressivity, reason), (progressivity, reason))`` of the block feature maps."""
    if not features:
        why = 'no block output was recorded (give the model a proxy_blocks attribute)'
        return (float('nan'), why), (float('nan'), why)
    h = [spectral_entropy(f) for f in features]
    if not all(math.isfinite(v) for v in h):
        why = 'a block outputs a constant feature map (zero covariance)'
        return (float('nan'), why), (float('nan'), why)
    expressivity = (float(sum(h)), None)
    if len(h) < 2:
        return expressivity, (float('nan'), 'progressivity needs at least two block outputs')
    return expressivity, (min(b - a for a, b in zip(h[:-1], h[1:])), None)


def _rademacher(like: torch.Tensor) -> torch.Tensor:
    return torch.randint(0, 2, like.shape, dtype=torch.int8, device=like.device).to(like.dtype).mul_(2.0).sub_(1.0)


def _block_sigma(f_in: torch.Tensor, f_out: torch.Tensor, r: torch.Tensor) -> tuple[float | None, str | None]:
    """Largest singular value estimate of one block's Jacobian (``None`` with a reason: identity block)."""
    (g,) = torch.autograd.grad(f_out, f_in, grad_outputs=r, retain_graph=True, allow_unused=True)
    if g is None:
        g = torch.zeros_like(f_in)
    if g.shape == r.shape and torch.equal(g, r):
        return None, 'a block is the identity map (AZ-NAS scores it -inf)'
    if g.dim() != r.dim():
        return float('nan'), f'block input and output ranks differ ({g.dim()} vs {r.dim()})'
    if g.dim() == 4 and g.shape[2:] != r.shape[2:]:
        stride = g.shape[2] // r.shape[2]
        if stride < 1 or g.shape[2] != stride * r.shape[2] or g.shape[3] != stride * r.shape[3]:
            return float('nan'), f'block changes the spatial size {tuple(g.shape[2:])} -> {tuple(r.shape[2:])}'
        g = F.pixel_unshuffle(g, stride)
    gi, go = _positions(g).to(torch.float64), _positions(r).to(torch.float64)
    mat = gi.t() @ go / go.shape[0]
    return float(torch.linalg.matrix_norm(mat, ord=2)), None


def trainability(features: Sequence[torch.Tensor]) -> tuple[float, str | None]:
    """Mean over consecutive feature maps of ``2 - s - 1/s`` (see the module docstring)."""
    pairs = [(a, b) for a, b in zip(features[:-1], features[1:]) if a.requires_grad and b.requires_grad]
    if not pairs:
        return float('nan'), 'trainability needs two block outputs that depend on the weights'
    scores, probes, why = [], {}, None
    for f_in, f_out in reversed(pairs):
        key = (tuple(f_out.shape), f_out.dtype)  # one Rademacher probe per output shape, shared by blocks
        if key not in probes:
            probes[key] = _rademacher(f_out)
        s, why = _block_sigma(f_in, f_out, probes[key])
        if s is None:
            return float('nan'), why
        if math.isfinite(s):  # a pair whose shapes cannot be compared is left out
            scores.append(2.0 - s - 1.0 / (s + SIGMA_EPS))
    if not scores:
        return float('nan'), why
    return float(sum(scores) / len(scores)), None
