"""Cost baselines: ``params`` and ``flops``.

* ``params``: number of parameter elements, all of them (Conv/Linear weights and biases, BatchNorm
  affine parameters; shared parameters once), in millions; the NAS-Bench-201 and
  NAS-Bench-Suite-Zero convention (it reproduces the reference CSV's ``params`` exactly).
* ``flops``: multiply-accumulates of Conv2d (``out elements * in_channels/groups * kh * kw``) and Linear
  (``out elements * in_features``) layers for one image of the batch's input size, counted with
  forward hooks on the executed modules (a module called twice counts twice; NB201 ``none`` edges
  cost nothing), in millions. Other operations (BatchNorm, ReLU, pooling, additions) are not counted;
  ``nni_rank.spaces.nb201_net.nb201_flops(convention='zc')`` gives the reference CSV's convention.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn


def count_params(model: nn.Module) -> float:
    """All parameter elements of ``model``, in millions."""
    return sum(p.numel() for p in model.parameters()) / 1e6


class MacCounter:
    """Forward hooks counting Conv2d/Linear multiply-accumulates per sample (context manager)."""

    def __init__(self, model: nn.Module):
        self.modules = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        self.macs = 0
        self._handles = []

    def __enter__(self) -> 'MacCounter':
        self.macs = 0
        self._handles = [m.register_forward_hook(self._hook) for m in self.modules]
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def _hook(self, module, inputs, output) -> None:
        if not isinstance(output, torch.Tensor) or output.dim() == 0:
            return
        batch = output.shape[0] if isinstance(module, nn.Conv2d) and output.dim() == 4 else None
        if isinstance(module, nn.Conv2d):
            per_out = (module.in_channels // module.groups) * module.kernel_size[0] * module.kernel_size[1]
            if output.dim() == 3:  # unbatched conv input
                batch = 1
        else:
            per_out = module.in_features
            batch = output.shape[0] if output.dim() >= 2 else 1
        self.macs += (output.numel() // max(batch, 1)) * per_out

    @property
    def mflops(self) -> float:
        return self.macs / 1e6


def count_flops(model: nn.Module, input_shape: Sequence[int], device: str | torch.device = 'cpu',
                dtype: torch.dtype = torch.float32) -> float:
    """Conv2d/Linear MACs in millions for one input of per-sample shape ``input_shape`` (eval mode, no grad)."""
    modes = {m: m.training for m in model.modules()}
    try:
        model.eval()
        with MacCounter(model) as counter, torch.no_grad():
            model(torch.zeros((1, *input_shape), dtype=dtype, device=device))
    finally:
        for m, t in modes.items():
            m.training = t
    return counter.mflops
