"""The block-feature pass: AZ-NAS components and ``zc_ensemble`` from one forward of the minibatch.

One forward (train mode; hooks on the blocks, and, for ``zc_ensemble``'s components, on ReLUs and
Conv/Linear layers), then only what is asked: one backward of the summed logits to the input
(``jacob_cov`` and the live ReLUs of ``naswot``), the block-wise backward of AZ-NAS's trainability and
``synflow``'s own small float64 pass (batch of one all-ones input).
Called by :func:`~nni_rank.proxies.compute.compute_proxies` for the proxies of the ``features`` group;
the components are the same functions as the proxies of the same names.
"""
from __future__ import annotations

import contextlib
from typing import Callable, ContextManager

import torch
import torch.nn as nn

from .activation import ActivationKernel, naswot_score
from .aznas import expressivity_progressivity, trainability
from .blocks import BlockRecorder
from .cost import MacCounter, count_params
from .flow import synflow_score
from .ensemble import ENSEMBLE_COMPONENTS, ensemble_from
from .jacobian import jacob_cov_score

#: Proxies computed by :func:`feature_pass`.
FEATURE_PROXIES = ('az_expressivity', 'az_progressivity', 'az_trainability', 'zc_ensemble')


def feature_pass(model: nn.Module, x: torch.Tensor, names, put: Callable[..., None],
                 guard: Callable[[], ContextManager] = contextlib.nullcontext) -> None:
    """Compute the requested :data:`FEATURE_PROXIES` of ``model`` on inputs ``x`` and ``put`` them;
    ``guard()`` wraps the forward (the caller's translation of input errors)."""
    want = set(names)
    need = set(want)
    if 'zc_ensemble' in want:
        need |= set(ENSEMBLE_COMPONENTS)
    x = x.detach()
    input_grad = bool(need & {'jacob_cov', 'naswot'})
    if input_grad:
        x = x.clone().requires_grad_(True)
    recorder = BlockRecorder(model)
    hooks = [recorder]
    macs = MacCounter(model) if 'flops' in need else None
    acts = ActivationKernel(model) if 'naswot' in need else None
    hooks += [h for h in (macs, acts) if h is not None]
    with torch.enable_grad():
        for h in hooks:
            h.__enter__()
        try:
            recorder.watch_input(x)
            with guard():
                out = model(x)
        finally:
            for h in hooks:
                h.__exit__(None, None, None)
        logits = out[0] if isinstance(out, (tuple, list)) else out
        values: dict[str, tuple[float, str | None]] = {}
        feats = recorder.features
        if need & {'az_expressivity', 'az_progressivity'}:
            values['az_expressivity'], values['az_progressivity'] = expressivity_progressivity(feats)
        if input_grad:
            jac = None
            if isinstance(logits, torch.Tensor) and logits.requires_grad:
                if acts is not None:
                    acts.tracking_liveness = True
                (jac,) = torch.autograd.grad(logits.sum(), x, retain_graph=True, allow_unused=True)
            values['jacob_cov'] = jacob_cov_score(jac)
            if acts is not None:
                values['naswot'] = _naswot(acts, jac)
        if 'az_trainability' in need:
            values['az_trainability'] = trainability(feats)
        del feats, out, logits
    if macs is not None:
        values['flops'] = (macs.mflops, None)
    if 'params' in need:
        values['params'] = (count_params(model), None)
    if 'synflow' in need:
        values['synflow'] = synflow_score(model, tuple(x.shape[1:]), x.device)
    if 'zc_ensemble' in want:
        values['zc_ensemble'] = ensemble_from(values)
    for n in want | values.keys():  # the components too: ``put`` keeps those the caller asked for
        put(n, *values[n])


def _naswot(acts: ActivationKernel, jac) -> tuple[float, str | None]:
    if acts.num_calls == 0:
        return float('nan'), 'no nn.ReLU module was called in the forward pass'
    if jac is None or not bool(jac.ne(0).any()):
        return float('nan'), 'the output does not depend on the input (no path from input to output)'
    K, _ = acts.kernel(live_only=True)
    return naswot_score(K)
