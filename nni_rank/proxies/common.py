"""Shared helpers: which layers are scored, the temporary state proxies put a model in, ranking."""
from __future__ import annotations

import contextlib
import math
from typing import Iterator, Mapping, Sequence

import numpy as np
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

#: Layer types whose ``weight`` the per-layer proxies score (as the zero-cost reference code does).
SCORED_TYPES: tuple[type, ...] = (nn.Conv2d, nn.Linear)


class ProxyWarning(RuntimeWarning):
    """A proxy could not be computed for a model (its value is returned as NaN)."""


def scored_layers(model: nn.Module) -> list[nn.Module]:
    """Conv2d and Linear modules of ``model`` (each once), in ``modules()`` order."""
    return [m for m in model.modules() if isinstance(m, SCORED_TYPES) and isinstance(getattr(m, 'weight', None), torch.Tensor)]


def is_finite(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


@contextlib.contextmanager
def proxy_mode(model: nn.Module, weights: Sequence[torch.Tensor], *, train: bool = True) -> Iterator[None]:
    """Put ``model`` in the state proxies need, and restore everything afterwards.

    * ``train`` mode (BatchNorm uses batch statistics, as in the reference implementation);
    * BatchNorm layers temporarily stop tracking running statistics, so the proxy passes leave the
      model's buffers untouched (in train mode the forward value is the same);
    * the scored ``weights`` temporarily require grad.
    """
    was_training = {m: m.training for m in model.modules()}
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    tracking = [m.track_running_stats for m in bns]
    req = [w.requires_grad for w in weights]
    try:
        model.train(train)
        for m in bns:
            m.track_running_stats = False
        for w in weights:
            w.requires_grad_(True)
        yield
    finally:
        for w, r in zip(weights, req):
            w.requires_grad_(r)
        for m, t in zip(bns, tracking):
            m.track_running_stats = t
        for m, t in was_training.items():
            m.training = t


def order_by_score(scores: Sequence[float] | np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Indices of ``scores`` best first; NaN/inf-free order, with every non-finite score placed last.

    Ties keep their input order (stable sort).
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    finite = np.isfinite(s)
    key = np.where(finite, -s if higher_is_better else s, 0.0)
    idx = np.arange(len(s))
    good = idx[finite][np.argsort(key[finite], kind='stable')]
    return np.concatenate([good, idx[~finite]]).astype(np.int64)


def rank_with_nan_last(scores: Sequence[float] | np.ndarray, higher_is_better: bool = True) -> np.ndarray:
    """Rank of each score (1 = best, ties averaged); non-finite scores share the worst ranks.

    With ``k`` non-finite scores among ``n``, they all get rank ``n - (k - 1) / 2`` (their average).
    """
    from scipy.stats import rankdata
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    finite = np.isfinite(s)
    ranks = np.empty(len(s), dtype=np.float64)
    nf = int(finite.sum())
    if nf:
        ranks[finite] = rankdata(-s[finite] if higher_is_better else s[finite], method='average')
    if nf < len(s):
        ranks[~finite] = nf + (len(s) - nf + 1) / 2.0
    return ranks


def combine_ranks(scores: Mapping[str, Sequence[float]], names: Sequence[str] | None = None,
                  weights: Mapping[str, float] | None = None) -> np.ndarray:
    """Label-free ensemble: minus the (weighted) mean rank of several proxies (higher is better).

    ``scores`` maps a proxy name to its values over the same candidates; NaN values rank last for
    that proxy. The sign of each proxy comes from :data:`~nni_rank.proxies.registry.PROXIES`.
    """
    from .registry import PROXIES, resolve_names
    names = resolve_names(list(scores) if names is None else names)
    total, wsum = None, 0.0
    for n in names:
        w = 1.0 if weights is None else float(weights.get(n, 0.0))
        if w == 0.0:
            continue
        r = rank_with_nan_last(scores[n], PROXIES[n].higher_is_better) * w
        total = r if total is None else total + r
        wsum += w
    if total is None:
        raise ValueError('combine_ranks needs at least one proxy with a non-zero weight')
    return -total / wsum
