"""Score NNI samples with zero-cost proxies: the bridge between a strategy and :mod:`nni_rank.proxies`.

A :class:`ProxyScorer` takes samples of any NNI model space and asks the space's adapter
(:func:`~nni_rank.spaces.adapter.adapter_for`) for its score source: NAS-Bench-201 cells use the fast
builder and the cached :class:`~nni_rank.proxies.store.ProxyStore`; any other space builds its networks
from the user's ``ModelSpace`` and caches scores by sample (:class:`~nni_rank.proxies.sample_store.SampleProxyStore`).

Several proxies are combined without labels by their mean rank among the candidates compared
(:func:`~nni_rank.proxies.common.combine_ranks`); undefined (NaN) scores rank last.
"""
from __future__ import annotations

import os
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from .calibration import DEFAULT_CALIBRATION_SIZE, space_ensemble
from .common import combine_ranks, rank_with_nan_last
from .registry import PROXIES, resolve_names, resolve_table_names

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
        On-disk score cache (NB201: :class:`ProxyStore`; other spaces: by sample, :class:`SampleProxyStore`).
    batch
        An explicit ``(inputs, labels)`` minibatch that fits the space's networks (overrides ``data``; not cached).
    device
        Where networks are scored.
    table, exact_table
        A proxy table (CSV: ``arch_str`` and one column per proxy, e.g. written by ``nni-rank proxies
        --all``) to read NAS-Bench-201 scores from instead of computing them; ``exact_table=False`` reads
        each cell's isomorphism-class mean; ``table_columns=True`` also takes any column of ``table`` as a proxy
        name (raw scores only: :meth:`scores` combines the project's proxies).
    space
        The space scored when a call gives no ``model_space``: ``'nb201'`` (default), ``'nb101'`` or a model space.
    calibration_size, calibration_seed
        ``zc_ensemble`` on a space without packaged tables is calibrated on this many seeded samples of the space
        (their components, no labels; :mod:`~nni_rank.proxies.calibration`), computed once and cached in ``cache_dir``.
    """

    def __init__(self, proxies: str | Iterable[str] = 'synflow', data: str | os.PathLike | None = 'digits',
                 batch_size: int = 64, seed: int = 0, cache_dir: str | os.PathLike | None = None,
                 batch: tuple[torch.Tensor, torch.Tensor] | None = None, device: str = 'cpu',
                 table: str | os.PathLike | None = None, exact_table: bool = True, space: Any = 'nb201',
                 calibration_size: int = DEFAULT_CALIBRATION_SIZE, calibration_seed: int = 0,
                 table_columns: bool = False):
        if isinstance(proxies, str):
            proxies = [p for p in proxies.split(',') if p.strip()]
        self.names = resolve_table_names(proxies) if table is not None and table_columns else resolve_names(proxies)
        self.data, self.batch_size, self.seed, self.device = data, batch_size, seed, device
        self.cache_dir, self.table, self.exact_table, self._batch = cache_dir, table, exact_table, batch
        self.table_columns = table_columns
        self.space = space
        if int(calibration_size) < 2:
            raise ValueError(f'calibration_size must be >= 2 samples of the space, got {calibration_size}')
        self.calibration_size, self.calibration_seed = int(calibration_size), int(calibration_seed)
        self._bound: tuple[Any, Any] | None = None  # (space, score source) of the last space scored
        if table is not None:
            self.source()  # a missing or unreadable table fails now, not in the middle of a search

    def __repr__(self) -> str:
        source = f'table={str(self.table)!r}' if self.table is not None else f'data={self.data!r}, seed={self.seed}'
        return f'ProxyScorer({",".join(self.names)}, {source})'

    def source(self, model_space: Any = None):
        """The score source of ``model_space`` (the scorer's ``space``, NAS-Bench-201 by default, when None)."""
        space = self.space if model_space is None else model_space
        if self._bound is None or self._bound[0] is not space:
            from nni_rank.spaces.adapter import adapter_for
            adapter = adapter_for(space)
            found = None if self.table is not None else space_ensemble(
                adapter, self.names, lambda names: self._raw_source(adapter, names), data=self.data,
                batch_size=self.batch_size, seed=self.seed,
                cache_dir=None if self._batch is not None else self.cache_dir,
                calibration_size=self.calibration_size, calibration_seed=self.calibration_seed)
            self._bound = (space, found if found is not None else self._raw_source(adapter, self.names))
        return self._bound[1]

    def _raw_source(self, adapter, names):
        """The adapter's source of raw values of ``names`` (``zc_ensemble`` under the packaged tables)."""
        if self._batch is not None and self.table is None:
            from .sample_store import SampleProxyStore
            return SampleProxyStore(adapter, names, seed=self.seed, device=self.device, batch=self._batch)
        options = {'exact_table': self.exact_table} if self.table is not None else {}
        return adapter.proxy_source(names, data=self.data, batch_size=self.batch_size, seed=self.seed,
                                    cache_dir=self.cache_dir, device=self.device, table=self.table, **options)

    @property
    def store(self):
        """The score source of the scorer's own ``space``."""
        return self.source()

    def raw_scores(self, samples: Sequence[dict], model_space=None) -> np.ndarray:
        """``(n, len(proxies))`` raw proxy values of the samples of ``model_space`` (NaN where undefined)."""
        return np.asarray(self.source(model_space).scores(list(samples)), dtype=float).reshape(len(samples), len(self.names))

    def scores(self, samples: Sequence[dict], model_space=None) -> np.ndarray:
        """One score per sample, higher is better; the samples are compared with each other.

        With one proxy: its value (NaN replaced by -inf, so it ranks last); with several: minus the
        mean rank among ``samples``.
        """
        return self.combine(self.raw_scores(samples, model_space), self.names)

    @staticmethod
    def combine(raw: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """One score per row of ``raw`` (columns: ``names``), as :meth:`scores` combines them."""
        unranked = [n for n in names if n not in PROXIES]
        if unranked:
            raise ValueError(f'{", ".join(map(repr, unranked))}: table columns without a known direction are read '
                             '(raw_scores), not ranked; rank with the project\'s proxies')
        if len(names) == 1:
            col = raw[:, 0]
            sign = 1.0 if PROXIES[names[0]].higher_is_better else -1.0
            return np.where(np.isfinite(col), sign * col, -np.inf)
        return combine_ranks({n: raw[:, i] for i, n in enumerate(names)}, names)

    def with_proxies(self, proxies: str | Iterable[str]) -> 'ProxyScorer':
        """A scorer of other proxies with this one's data, seed, cache, device, table and space."""
        return ProxyScorer(proxies, data=self.data, batch_size=self.batch_size, seed=self.seed, cache_dir=self.cache_dir,
                           batch=self._batch, device=self.device, table=self.table, exact_table=self.exact_table,
                           space=self.space, calibration_size=self.calibration_size,
                           calibration_seed=self.calibration_seed, table_columns=self.table_columns)

    def order(self, samples: Sequence[dict], model_space=None) -> np.ndarray:
        """Indices of ``samples`` best first (undefined scores last, ties in input order)."""
        s = self.scores(samples, model_space)
        return np.argsort(rank_with_nan_last(np.where(np.isfinite(s), s, np.nan)), kind='stable')
