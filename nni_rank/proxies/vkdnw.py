"""VKDNW (Tybl & Neumann, CVPR 2025): entropy of the Fisher information spectrum at initialisation.

The Fisher information of the network's own predictive distribution (no labels),
``F = mean_i J_i^T (diag(p_i) - p_i p_i^T) J_i``, with ``J_i`` the Jacobian of image ``i``'s logits
with respect to a subset of the weights: one scalar (the first element) of each of the first
:data:`VKDNW_TENSORS` parameter tensors in ``named_parameters()`` order, as in the authors' code.
``p_i`` is the softmax smoothed with ``alpha = 0.05`` (``(1 - alpha) p + alpha / C``). With ``q`` the
deciles 0.1..0.9 of the eigenvalues of ``F`` normalised to sum 1, ``vkdnw = -sum q log q`` (higher is
better: the weights' estimation uncertainty is even across directions).

Each image's Jacobian is exact (``torch.func.vmap`` over images of ``jacrev``). Deviations, for cost
and for the shared pass: only the first :data:`VKDNW_IMAGES` images of the minibatch are used (the
authors use 64), and BatchNorm normalises with the statistics of that sub-batch, frozen (the authors
normalise each image with its own statistics).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
from torch.func import functional_call, jacrev, vmap
from torch.nn.modules.batchnorm import _BatchNorm

VKDNW_TENSORS = 128
VKDNW_IMAGES = 16
SMOOTHING = 0.05
DECILES = tuple(k / 10 for k in range(1, 10))


def _frozen_bn_buffers(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Running-statistics buffers replaced by the batch statistics each BatchNorm sees on ``x``."""
    stats: dict[str, torch.Tensor] = {}
    names = {m: n for n, m in model.named_modules()}

    def hook(module, inputs):
        v = inputs[0].detach()
        dims = [d for d in range(v.dim()) if d != 1]
        prefix = names[module] + '.' if names[module] else ''
        stats[prefix + 'running_mean'] = v.mean(dims)
        stats[prefix + 'running_var'] = v.var(dims, unbiased=False)

    handles = [m.register_forward_pre_hook(hook) for m in model.modules()
               if isinstance(m, _BatchNorm) and m.track_running_stats and m.running_mean is not None]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    buffers.update(stats)
    return buffers


def fisher_matrix(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The ``P x P`` Fisher information of the selected weight scalars (float64), model in eval mode."""
    params = {k: v.detach() for k, v in model.named_parameters()}
    chosen = list(params)[:VKDNW_TENSORS]
    buffers = _frozen_bn_buffers(model, x)

    def logits_of(selected, image):
        out = functional_call(model, ({**params, **selected}, buffers), (image.unsqueeze(0),))
        out = out[0] if isinstance(out, (tuple, list)) else out
        return out.reshape(-1)

    selected = {k: params[k] for k in chosen}
    jac = vmap(jacrev(logits_of), in_dims=(None, 0))(selected, x)  # name -> (B, C, *shape)
    J = torch.stack([jac[k].reshape(x.shape[0], -1, params[k].numel())[:, :, 0] for k in chosen], 2)
    J = J.to(torch.float64)                                          # (B, C, P)
    with torch.no_grad():
        logits = torch.stack([logits_of(selected, img) for img in x]).to(torch.float64)
    C = logits.shape[1]
    p = torch.softmax(logits, 1) * (1 - SMOOTHING) + SMOOTHING / C
    cov = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]        # (B, C, C)
    return torch.einsum('bcp,bcd,bdq->pq', J, cov, J) / x.shape[0]


def vkdnw_score(model: nn.Module, x: torch.Tensor) -> tuple[float, str | None]:
    """``(entropy of the normalised eigenvalue deciles of the Fisher matrix, reason if NaN)``."""
    was_training = {m: m.training for m in model.modules()}
    try:
        model.eval()
        F = fisher_matrix(model, x[:VKDNW_IMAGES].detach())
    except (RuntimeError, ValueError) as err:  # an op torch.func cannot batch over images, a bad input...
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        return float('nan'), f'per-image Jacobians failed: {first}'
    finally:
        for m, t in was_training.items():
            m.training = t
    if not torch.isfinite(F).all():
        return float('nan'), 'the Fisher information matrix has non-finite entries'
    lam = torch.linalg.eigvalsh(F).clamp_min(0.0)
    q = torch.quantile(lam, torch.tensor(DECILES, dtype=lam.dtype))
    total = float(q.sum())
    if total <= 0.0 or not math.isfinite(total):
        return float('nan'), 'the Fisher information matrix is zero (the outputs do not depend on the weights)'
    q = q[q > 0] / total
    return float(-(q * torch.log(q)).sum()), None
