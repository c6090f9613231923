"""Score NNI samples with zero-cost proxies: the bridge between a strategy and :mod:`nni_rank.proxies`.

A :class:`ProxyScorer` takes samples of any NNI model space. NAS-Bench-201 samples (any label scope)
take the fast path: the fast builder and the cached :class:`~nni_rank.proxies.store.ProxyStore`.
Other spaces are frozen with NNI (``model_space.freeze(sample).executable_model()``) and scored as
plain ``torch.nn.Module``\\ s on the same seeded minibatch.

Several proxies are combined without labels by their mean rank among the candidates compared
(:func:`~nni_rank.proxies.common.combine_ranks`); undefined (NaN) scores rank last.
"""
from __future__ import annotations

import os
from typing import Iterable, Sequence

import numpy as np
import torch

from .common import combine_ranks, rank_with_nan_last
from .compute import compute_proxies
from .registry import PROXIES, resolve_names
from .store import ProxyStore, proxy_batch

__all__ = ['ProxyScorer']


class ProxyScorer:
    """Zero-cost scores of NNI samples (higher = predicted better).

    Parameters
    ----------
    proxies
        A proxy name, or several (comma-separated or a list) combined by mean rank.
    data
        ``'digits'`` (embedded) or a local CIFAR path, for the data-dependent proxies.
    batch_size, seed
        Minibatch size; seed of the minibatch and of every network's initialisation.
    cache_dir
        On-disk cache of NB201 scores (see :class:`ProxyStore`).
    batch
        An explicit ``(inputs, labels)`` minibatch for non-NB201 spaces (overrides ``data``).
    device
        Where networks are scored.
    """

    def __init__(self, proxies: str | Iterable[str] = 'synflow', data: str | os.PathLike | None = 'digits',
                 batch_size: int = 64, seed: int = 0, cache_dir: str | os.PathLike | None = None,
                 batch: tuple[torch.Tensor, torch.Tensor] | None = None, device: str = 'cpu'):
        if isinstance(proxies, str):
            proxies = [p for p in proxies.split(',') if p.strip()]
        self.names = resolve_names(proxies)
        self.data, self.batch_size, self.seed, self.device = data, batch_size, seed, device
        self.store = ProxyStore(self.names, data=data, batch_size=batch_size, seed=seed,
                                cache_dir=cache_dir, device=device)
        self._batch = batch
        self._generic: dict[str, np.ndarray] = {}

    def __repr__(self) -> str:
        return f'ProxyScorer({",".join(self.names)}, data={self.data!r}, seed={self.seed})'

    def raw_scores(self, samples: Sequence[dict], model_space=None) -> np.ndarray:
        """``(n, len(proxies))`` raw proxy values of the samples (NaN where undefined)."""
        from nni_rank.spaces import NB201Arch
        from nni_rank.spaces.nb201 import InvalidArchitecture
        try:
            archs = [NB201Arch.from_sample(s) for s in samples]
        except (InvalidArchitecture, KeyError, ValueError, TypeError):
            archs = None
        if archs is not None:
            return self.store.scores(archs)
        if model_space is None:
            raise ValueError('samples are not NAS-Bench-201 cells: give model_space so they can be built')
        return np.array([self._score_generic(s, model_space) for s in samples]).reshape(len(samples), len(self.names))

    def _score_generic(self, sample: dict, model_space) -> np.ndarray:
        key = repr(sorted(sample.items()))
        if key not in self._generic:
            if self._batch is None:  # also gives synflow/flops their input shape
                self._batch, _, _ = proxy_batch(self.data, self.batch_size, self.seed)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                model = model_space.freeze(sample).executable_model()
            vals = compute_proxies(model, self._batch, self.names, seed=self.seed, device=self.device, warn=False)
            self._generic[key] = np.array([vals[n] for n in self.names], dtype=np.float64)
        return self._generic[key]

    def scores(self, samples: Sequence[dict], model_space=None) -> np.ndarray:
        """One score per sample, higher is better; the samples are compared with each other.

        With one proxy: its value (NaN replaced by -inf, so it ranks last); with several: minus the
        mean rank among ``samples``.
        """
        raw = self.raw_scores(samples, model_space)
        if len(self.names) == 1:
            col = raw[:, 0]
            sign = 1.0 if PROXIES[self.names[0]].higher_is_better else -1.0
            return np.where(np.isfinite(col), sign * col, -np.inf)
        return combine_ranks({n: raw[:, i] for i, n in enumerate(self.names)}, self.names)

    def order(self, samples: Sequence[dict], model_space=None) -> np.ndarray:
        """Indices of ``samples`` best first (undefined scores last, ties in input order)."""
        s = self.scores(samples, model_space)
        return np.argsort(rank_with_nan_last(np.where(np.isfinite(s), s, np.nan)), kind='stable')
