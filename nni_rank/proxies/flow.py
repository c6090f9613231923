"""``synflow`` (Tanaka et al. 2020, as the zero-cost NB201 reference code computes it).

Data-independent: every parameter and buffer replaced by its absolute value, BatchNorm removed
(its forward replaced by the identity, as the reference does for NAS-Bench-201), the network in
float64 (so the product of many weights does not overflow), an all-ones input of batch 1;
``score = sum over Conv2d/Linear weights of |W * d(sum of outputs)/dW|``.

The model itself is never modified: the absolute float64 parameters are passed through
:func:`torch.func.functional_call`, BatchNorm forwards are patched per instance for the duration of
the call and restored, and the network runs in eval mode (dropout off; BatchNorm is gone anyway).
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterator, Sequence

import torch
import torch.nn as nn
from torch.func import functional_call
from torch.nn.modules.batchnorm import _BatchNorm

from .common import scored_layers


def _identity(x, *args, **kwargs):
    return x


@contextlib.contextmanager
def batchnorm_removed(model: nn.Module) -> Iterator[None]:
    """Every BatchNorm module of ``model`` acts as the identity inside the block."""
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    saved = [m.__dict__.get('forward', None) for m in bns]
    try:
        for m in bns:
            m.forward = _identity
        yield
    finally:
        for m, f in zip(bns, saved):
            if f is None:
                del m.forward
            else:
                m.forward = f


def synflow_score(model: nn.Module, input_shape: Sequence[int], device: str | torch.device = 'cpu'
                  ) -> tuple[float, str | None]:
    """Synflow of ``model`` for inputs of per-sample shape ``input_shape`` (e.g. ``(3, 32, 32)``)."""
    layers = scored_layers(model)
    weight_ids = {id(m.weight) for m in layers}
    state, by_id = {}, {}  # a tensor shared by several modules is one tensor under each of its names
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) not in by_id:
            by_id[id(p)] = p.detach().to(device=device, dtype=torch.float64).abs()
            if id(p) in weight_ids:
                by_id[id(p)].requires_grad_(True)
        state[name] = by_id[id(p)]
    for name, b in model.named_buffers(remove_duplicate=False):
        if id(b) not in by_id:
            by_id[id(b)] = b.detach().to(device=device, dtype=torch.float64).abs() if b.is_floating_point() else b
        state[name] = by_id[id(b)]
    weights = [by_id[id(m.weight)] for m in layers]
    x = torch.ones((1, *input_shape), dtype=torch.float64, device=device)
    modes = {m: m.training for m in model.modules()}
    # functional_call can leave the float64 copies in some modules (seen with nasbench_pytorch's cells): put back
    # every module's own tensors afterwards, so the model is scored by the next proxy as it was built
    owned = [(m, kind, dict(getattr(m, kind))) for m in model.modules() for kind in ('_parameters', '_buffers')]
    try:
        model.eval()
        with batchnorm_removed(model), torch.enable_grad():
            out = functional_call(model, state, (x,), tie_weights=True, strict=False)
            if isinstance(out, (tuple, list)):
                out = out[0]
            grads = torch.autograd.grad(out.sum(), weights, allow_unused=True)
    finally:
        for m, t in modes.items():
            m.training = t
        for m, kind, tensors in owned:
            getattr(m, kind).update(tensors)
    total = 0.0
    for w, g in zip(weights, grads):
        if g is not None:
            total += float((w.detach() * g).abs().sum())
    if not math.isfinite(total):
        return float('nan'), 'synflow overflowed even in float64'
    return total, None
