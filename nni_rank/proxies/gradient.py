"""Gradient-based proxies of the zero-cost paper (Abdelfattah et al. 2021), per scored layer, summed.

All use the cross-entropy ``L`` of one real training minibatch, the network in train mode, and the
weights ``W`` of Conv2d/Linear layers only (no biases, no BatchNorm parameters):

* ``grad_norm`` = sum of ``||dL/dW||_2``;
* ``snip``      = sum of ``|W * dL/dW|``;
* ``grasp``     = sum of ``-W * (H g)``, ``g = dL/dW``, ``H`` the Hessian of ``L`` in ``W`` (signed);
* ``fisher``    = per output channel, ``0.5 * mean over images of (sum over space of a * dL/da)^2``
  with ``a`` the layer's output, counted once per weight of the channel (times the channel's fan-in
  ``C_in * k * k``, as the reference code broadcasts the channel value to its weights before summing),
  summed over channels and layers.

These functions take tensors from a pass that :func:`nni_rank.proxies.compute_proxies` runs once
for all of them.
"""
from __future__ import annotations

from typing import Sequence

import torch


def grad_norm_score(grads: Sequence[torch.Tensor | None]) -> float:
    return float(sum(g.detach().norm().double() for g in grads if g is not None) or 0.0)


def snip_score(weights: Sequence[torch.Tensor], grads: Sequence[torch.Tensor | None]) -> float:
    return float(sum((w.detach() * g.detach()).abs().sum().double()
                     for w, g in zip(weights, grads) if g is not None) or 0.0)


def grasp_score(weights: Sequence[torch.Tensor], hg: Sequence[torch.Tensor | None]) -> float:
    return float(sum((-w.detach() * h.detach()).sum().double()
                     for w, h in zip(weights, hg) if h is not None) or 0.0)


def fisher_layer(act: torch.Tensor, grad: torch.Tensor | None) -> torch.Tensor:
    """Fisher saliency per output channel of one layer call (``act``/``grad``: ``(B, C, ...)``)."""
    if grad is None:
        return act.new_zeros(())
    prod = act.detach() * grad.detach()
    g_nk = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod
    return g_nk.pow(2).mean(0).mul(0.5)


def fisher_score(acts: Sequence[torch.Tensor], grads: Sequence[torch.Tensor | None],
                 fan_ins: Sequence[int]) -> float:
    """Sum of the channel saliencies, each counted ``fan_in`` times (the weights of one output channel)."""
    return float(sum(fisher_layer(a, g).sum().double() * n for a, g, n in zip(acts, grads, fan_ins)) or 0.0)


class OutputRecorder:
    """Forward hooks keeping the outputs of Conv2d/Linear layers, their module, fan-in (for ``fisher``)
    and version counter (``grasp`` checks that no in-place operation changed them afterwards)."""

    def __init__(self, layers):
        self.layers = list(layers)
        self.outputs: list[torch.Tensor] = []
        self.modules: list[torch.nn.Module] = []
        self.fan_ins: list[int] = []
        self.versions: list[int] = []
        self._handles = []

    def __enter__(self) -> 'OutputRecorder':
        self.outputs, self.modules, self.fan_ins, self.versions = [], [], [], []
        self._handles = [m.register_forward_hook(self._hook) for m in self.layers]
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def _hook(self, module, inputs, output) -> None:
        if isinstance(output, torch.Tensor) and output.requires_grad:
            self.outputs.append(output)
            self.modules.append(module)
            self.versions.append(output._version)
            self.fan_ins.append(module.weight.numel() // max(module.weight.shape[0], 1))
