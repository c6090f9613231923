"""Rank architectures with a trained supernet: inherited weights, BatchNorm recalibrated per subnet.

For every cell, all BatchNorm running statistics are reset and re-estimated (cumulative average) on
the same few seeded training batches with that cell's path active; the subnet is then scored on a
held-out split (accuracy in percent and mean cross-entropy).  :func:`rank_correlation` compares any
such scores with a benchmark; :func:`top_k` exports the best cells.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..spaces.nb201 import NB201Arch

__all__ = ['calibration_batches', 'recalibrate_bn', 'evaluate_subnet', 'rank_archs', 'top_k', 'rank_correlation',
           'SubnetScore']

SubnetScore = dict  # {'arch': str, 'accuracy': float, 'loss': float}


def calibration_batches(dataset, num_batches: int = 4, batch_size: int = 64, seed: int = 0) -> list[tuple]:
    """``num_batches`` seeded random training batches (the same for every subnet)."""
    if num_batches < 1 or batch_size < 1:
        raise ValueError(f'num_batches and batch_size must be positive, got {num_batches}, {batch_size}')
    gen = torch.Generator().manual_seed(seed)
    x, y = dataset.tensors[0], dataset.tensors[1]
    idx = torch.randperm(len(x), generator=gen)
    return [(x[idx[i:i + batch_size]], y[idx[i:i + batch_size]])
            for i in range(0, min(len(x), num_batches * batch_size), batch_size)]


def held_out_batches(dataset, batch_size: int = 500) -> list[tuple]:
    x, y = dataset.tensors[0], dataset.tensors[1]
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]


@torch.no_grad()
def recalibrate_bn(net: nn.Module, arch, batches: Iterable[tuple], device='cpu') -> None:
    """Reset every BatchNorm's running statistics and re-estimate them with ``arch`` active."""
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the calibration batches
    net.train()
    try:
        for x, _ in batches:
            net(x.to(device), arch)
    finally:
        for m, mom in zip(bns, momenta):
            m.momentum = mom
        net.eval()


@torch.no_grad()
def evaluate_subnet(net: nn.Module, arch, calib: Sequence[tuple], held_out: Sequence[tuple], device='cpu') -> SubnetScore:
    """Accuracy (%) and mean cross-entropy of ``arch`` with inherited weights and recalibrated BN."""
    arch = NB201Arch.parse(arch)
    recalibrate_bn(net, arch, calib, device)
    correct, loss, n = 0, 0.0, 0
    for x, y in held_out:
        x, y = x.to(device), y.to(device)
        logits = net(x, arch)
        correct += (logits.argmax(1) == y).sum().item()
        loss += F.cross_entropy(logits, y, reduction='sum').item()
        n += len(y)
    if n == 0:
        raise ValueError('the held-out data is empty')
    return {'arch': arch.to_str(), 'accuracy': 100.0 * correct / n, 'loss': loss / n}


def rank_archs(net: nn.Module, archs: Iterable, calib: Sequence[tuple], held_out: Sequence[tuple],
               device='cpu', progress: bool = False) -> list[SubnetScore]:
    """:func:`evaluate_subnet` for every cell, in input order."""
    from ..runtime import progress as progress_bar
    archs = [NB201Arch.parse(a) for a in archs]
    bar = progress_bar(archs, desc='subnets', unit='subnet', **({} if progress else {'disable': True}))
    return [evaluate_subnet(net, arch, calib, held_out, device) for arch in bar]


def top_k(scores: Sequence[SubnetScore], k: int = 10, by: str = 'accuracy') -> list[SubnetScore]:
    """The ``k`` best subnets by ``accuracy`` (higher is better) or ``loss`` (lower is better)."""
    if by not in ('accuracy', 'loss'):
        raise ValueError(f"by must be 'accuracy' or 'loss', got {by!r}")
    sign = -1.0 if by == 'accuracy' else 1.0
    return sorted(scores, key=lambda s: (sign * s[by], s['arch']))[:max(0, int(k))]


def rank_correlation(predicted: Sequence[float], truth: Sequence[float]) -> dict:
    """Kendall's tau-b and Spearman's rho between two score lists (NaN pairs dropped) and the count."""
    from scipy.stats import kendalltau, spearmanr
    p, t = np.asarray(predicted, dtype=float), np.asarray(truth, dtype=float)
    if p.shape != t.shape:
        raise ValueError(f'predicted and truth differ in length: {len(p)} vs {len(t)}')
    ok = np.isfinite(p) & np.isfinite(t)
    n = int(ok.sum())
    if n < 2:
        return {'kendall': math.nan, 'spearman': math.nan, 'n': n}
    return {'kendall': float(kendalltau(p[ok], t[ok])[0]), 'spearman': float(spearmanr(p[ok], t[ok])[0]), 'n': n}
