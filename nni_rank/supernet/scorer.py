"""A trained supernet as a candidate ranker inside search (zc-random / zc-rea's ``scorer``).

:class:`SupernetScorer` has the :class:`~nni_rank.proxies.scorer.ProxyScorer` interface that the
zero-cost strategies call (``scores`` / ``order`` of NNI samples, higher is better): each candidate is
scored by its inherited-weight accuracy (or minus its loss) after BatchNorm recalibration, cached by
cell.  With ``base`` (a proxy scorer) the supernet only re-ranks the base's ``rerank`` best candidates
of each call, so a 1,000-cell warm-up pool costs ``rerank`` subnet evaluations, not 1,000.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch.nn as nn

from ..spaces.nb201 import NB201Arch
from .evaluate import evaluate_subnet

__all__ = ['SupernetScorer']


class SupernetScorer:
    """Rank NNI samples of the NB201 space with a trained :class:`NB201Supernet`.

    Parameters
    ----------
    net
        The trained supernet.
    calib, held_out
        BatchNorm calibration batches and scoring batches (:func:`calibration_batches`, :func:`held_out_batches`).
    by
        ``'accuracy'`` (held-out accuracy) or ``'loss'`` (minus held-out cross-entropy).
    base, rerank
        Optional proxy scorer; when given, only its ``rerank`` best candidates are re-ordered by the supernet.
    """

    def __init__(self, net: nn.Module, calib: Sequence[tuple], held_out: Sequence[tuple], by: str = 'accuracy',
                 base=None, rerank: int = 10, device: str = 'cpu'):
        if by not in ('accuracy', 'loss'):
            raise ValueError(f"by must be 'accuracy' or 'loss', got {by!r}")
        if rerank < 1:
            raise ValueError(f'rerank must be >= 1, got {rerank}')
        self.net, self.calib, self.held_out, self.by = net, list(calib), list(held_out), by
        self.base, self.rerank, self.device = base, int(rerank), device
        self.cache: dict[str, float] = {}

    def __repr__(self) -> str:
        base = f', base={self.base}, rerank={self.rerank}' if self.base is not None else ''
        return f'SupernetScorer(by={self.by}{base})'

    def score_arch(self, arch) -> float:
        """Supernet score of one cell (cached; higher is better)."""
        key = NB201Arch.parse(arch).to_str()
        if key not in self.cache:
            result = evaluate_subnet(self.net, key, self.calib, self.held_out, self.device)
            self.cache[key] = result['accuracy'] if self.by == 'accuracy' else -result['loss']
        return self.cache[key]

    def _archs(self, samples: Sequence[dict], model_space) -> list[NB201Arch]:
        if model_space is None:
            return [NB201Arch.from_sample(s) for s in samples]
        from ..spaces.adapter import adapter_for
        adapter = adapter_for(model_space)
        return [NB201Arch.parse(adapter.arch(s)) for s in samples]

    def scores(self, samples: Sequence[dict], model_space=None) -> np.ndarray:
        """Supernet score of every sample (without ``base``), else a score consistent with :meth:`order`."""
        if self.base is None:
            return np.array([self.score_arch(a) for a in self._archs(samples, model_space)], dtype=float)
        order = self.order(samples, model_space)
        out = np.empty(len(samples))
        out[order] = -np.arange(len(samples), dtype=float)
        return out

    def order(self, samples: Sequence[dict], model_space=None) -> np.ndarray:
        """Indices of ``samples`` best first (ties in input order)."""
        if self.base is None:
            return np.argsort(-self.scores(samples, model_space), kind='stable')
        base_order = np.asarray(self.base.order(samples, model_space))
        head = base_order[:self.rerank]
        archs = self._archs([samples[i] for i in head], model_space)
        head_scores = np.array([self.score_arch(a) for a in archs])
        return np.concatenate([head[np.argsort(-head_scores, kind='stable')], base_order[self.rerank:]])
