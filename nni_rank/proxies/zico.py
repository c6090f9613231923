"""ZiCo (Li et al. 2023, "Zero-Shot NAS via Inverse Coefficient of Variation on Gradients").

Per scored layer (Conv2d/Linear weight), with ``g_s`` the gradient of the loss of minibatch part ``s``:
``log(sum over weights of mean_s |g_s| / std_s(g_s))`` (weights whose std is 0 left out, a layer whose sum
is 0 left out), summed over layers. The paper takes the parts from separate minibatches; here the one
minibatch is split into :data:`ZICO_SPLITS` equal parts of the same forward pass (BatchNorm statistics over
the whole batch), each part's loss back-propagated on its own.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

#: Parts the minibatch is split into (the gradient statistics are taken over them).
ZICO_SPLITS = 2


def zico_split_gradients(logits: torch.Tensor, y: torch.Tensor, loss_fn: Callable,
                         weights: Sequence[torch.Tensor], splits: int = ZICO_SPLITS
                         ) -> list[tuple[torch.Tensor | None, ...]]:
    """Weight gradients of the loss of each of ``splits`` parts of the batch (the graph is kept)."""
    parts = torch.arange(logits.shape[0], device=logits.device).tensor_split(splits)
    return [torch.autograd.grad(loss_fn(logits[p], y[p]), list(weights), retain_graph=True, allow_unused=True)
            for p in parts]


def zico_from_pass(logits: torch.Tensor, y: torch.Tensor, loss_fn: Callable, weights: Sequence[torch.Tensor],
                   splits: int = ZICO_SPLITS) -> tuple[float, str | None]:
    """ZiCo of one forward pass (``logits`` still attached to its graph)."""
    if logits.shape[0] < splits:
        return float('nan'), f'zico needs a batch of at least {splits} images (one per part)'
    return zico_score(zico_split_gradients(logits, y, loss_fn, weights, splits))


def zico_score(split_grads: Sequence[Sequence[torch.Tensor | None]]) -> tuple[float, str | None]:
    """ZiCo from per-part gradients ``split_grads[part][layer]``; ``(nan, reason)`` when undefined."""
    if len(split_grads) < 2:
        return float('nan'), 'zico needs the batch split into at least 2 parts'
    total, layers = 0.0, 0
    for per_layer in zip(*split_grads):
        grads = [g for g in per_layer if g is not None]
        if len(grads) < 2:
            continue
        G = torch.stack([g.detach().reshape(-1) for g in grads]).double()
        std = G.std(0, correction=0)
        keep = std != 0
        ratio = float((G.abs().mean(0)[keep] / std[keep]).sum())
        if ratio != 0:
            total += math.log(ratio)
            layers += 1
    if layers == 0:
        return float('nan'), 'no weight gradient varies between the batch parts'
    return total, None
