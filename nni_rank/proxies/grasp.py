"""GraSP (optional fast form) without the Hessian of the whole network: scale-invariant layers give their term.

GraSP is ``-W . (H g)`` over the scored weights. A layer whose weight ``W_l`` only feeds a train-mode
BatchNorm (batch statistics) is *scale invariant*: ``L(c W_l) = L(W_l)`` for ``c > 0``. Differentiating
``g(c W_l)`` at ``c = 1`` gives ``H[:, l] W_l = -g_l`` on block ``l`` and 0 elsewhere, so, ``H`` being
symmetric, that layer's term ``-W_l . (H g)_l`` is ``||g_l||^2``. The other layers ``S`` (a classifier, a
convolution not followed by BatchNorm) need one Hessian-vector product along ``W_S`` only:

    grasp = ||g||^2 - g . grad_W psi,    psi = sum over calls of S layers of <dL/da, a - b>

with ``a`` the layer's output and ``b`` its bias (``grad_W psi = H W_S + g_S``); ``dL/da`` comes from the
shared backward (``create_graph``), and ``grad_W psi`` is a double backward that only runs through the part
of the network after the first ``S`` layer (none for a classifier: one extra backward).

BatchNorm's ``eps`` breaks the invariance (``L(c W_l)`` sees ``eps / c^2``), and GraSP's sum cancels terms of
size ``||g||^2`` down to a much smaller value, so a layer counts as invariant only while its BatchNorm's
``eps / (var + eps)`` is below :data:`MAX_EPS_RATIO` in every channel. Even so the value is not the exact one:
over 60 NAS-Bench-201 cells (bench/results/proxy_speed_grasp.json) the relative difference has median 2e-4 and
maximum 6.5e-3 (at most 6e-4 of ``||g||^2``), the same in float64 (so it is eps, not rounding), Kendall 0.999
(one pair of near-equal cells swapped), for a 1.4x faster GraSP. In float64 with ``eps`` at 1e-12 the two agree
to 1e-7. It is therefore an option (``grasp_method='scale_invariant'`` of
:func:`~nni_rank.proxies.compute_proxies`); the exact double backward stays the default.

No double backward at all does not rank like GraSP: with the head exact and the other non-invariant layers
(NB201's 1x1 shortcut convolutions) counted as invariant or dropped, Spearman with the exact value is -0.16 /
-0.14 over 60 NB201 cells (``no_double_backward_variants`` in that file): those layers' Hessian terms dominate.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

#: Autograd nodes of a batch normalisation (their ``_saved_training`` says batch statistics).
_BATCH_NORM_NODES = frozenset({'NativeBatchNormBackward0', 'CudnnBatchNormBackward0', 'MiopenBatchNormBackward0'})
#: How a weight enters its layer: node name -> input slot of the weight (Linear's weight goes through ``t()``).
_WEIGHT_SLOTS = {'ConvolutionBackward0': 1, 'AddmmBackward0': 2, 'MmBackward0': 1}

GRASP_METHODS = ('scale_invariant', 'double_backward')

#: A layer counts as scale invariant only if its BatchNorm's ``eps / (var + eps)`` stays below this in every
#: channel (MobileNetV2 at 32x32 has depthwise layers at up to 0.1: as invariant, GraSP moved from -129 to -52).
MAX_EPS_RATIO = 1e-3


def _consumers(root) -> dict:
    """``node -> [(consumer node, input slot), ...]`` over the autograd graph below ``root``."""
    consumers: dict = {}
    seen, stack = {root}, [root]
    while stack:
        node = stack.pop()
        for slot, (child, _) in enumerate(node.next_functions):
            if child is None:
                continue
            consumers.setdefault(child, []).append((node, slot))
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return consumers


def _feeds_only_batch_norm(node, consumers: dict, max_eps_ratio: float) -> bool:
    users = consumers.get(node, [])
    if len(users) != 1:
        return False
    user, slot = users[0]
    if user.name() not in _BATCH_NORM_NODES or slot != 0 or not getattr(user, '_saved_training', False):
        return False
    invstd = getattr(user, '_saved_result2', None)  # 1 / sqrt(var + eps) per channel
    if not isinstance(invstd, torch.Tensor) or invstd.numel() == 0:
        return False
    return float(invstd.detach().double().pow(2).max()) * float(user._saved_eps) <= max_eps_ratio


def _layer_nodes(accumulator, consumers: dict) -> list | None:
    """The layer nodes using a weight (through ``t()`` for Linear), or None if it is used any other way."""
    nodes = []
    for user, slot in consumers.get(accumulator, []):
        if user.name() == 'TBackward0':
            inner = consumers.get(user, [])
            if len(inner) != 1:
                return None
            user, slot = inner[0]
        if _WEIGHT_SLOTS.get(user.name()) != slot:
            return None
        nodes.append(user)
    return nodes or None


def scale_invariant(loss: torch.Tensor, weights: Sequence[torch.Tensor],
                    max_eps_ratio: float = MAX_EPS_RATIO) -> list[bool]:
    """For each weight, whether ``loss`` is invariant to scaling it: every use of the weight is a
    convolution or matrix product whose output goes, and only goes, into a train-mode batch norm whose
    ``eps / (var + eps)`` is at most ``max_eps_ratio`` in every channel."""
    if loss.grad_fn is None:
        return [False] * len(weights)
    consumers = _consumers(loss.grad_fn)
    accumulators = {id(node.variable): node for node in consumers if hasattr(node, 'variable')}
    flags = []
    for w in weights:
        nodes = _layer_nodes(accumulators[id(w)], consumers) if id(w) in accumulators else None
        flags.append(nodes is not None and all(_feeds_only_batch_norm(n, consumers, max_eps_ratio) for n in nodes))
    return flags


def output_term(module: nn.Module, output: torch.Tensor) -> torch.Tensor:
    """``a - b``: a Conv/Linear output without its bias (the part that scales with the weight)."""
    bias = getattr(module, 'bias', None)
    if bias is None:
        return output
    return output - bias.detach().reshape(-1, *([1] * (output.dim() - 2)))


def grasp_scale_invariant(weights: Sequence[torch.Tensor], grads: Sequence[torch.Tensor | None],
                          terms: Sequence[torch.Tensor], deltas: Sequence[torch.Tensor | None],
                          retain_graph: bool = False) -> float:
    """GraSP from the gradients ``grads`` (with graph) of ``weights``, the outputs-without-bias ``terms``
    of the calls of non-invariant layers and the loss gradients ``deltas`` to those outputs (with graph);
    ``retain_graph`` keeps the forward graph for a later backward."""
    total = sum(g.detach().double().pow(2).sum() for g in grads if g is not None)
    psi = None
    for t, d in zip(terms, deltas):
        if d is not None and d.requires_grad:
            part = (d * t).sum()
            psi = part if psi is None else psi + part
    if psi is not None:
        hp = torch.autograd.grad(psi, list(weights), retain_graph=retain_graph, allow_unused=True)
        total = total - sum((g.detach() * h).sum().double() for g, h in zip(grads, hp)
                            if g is not None and h is not None)
    return float(total)
