"""Proxy scores of samples of any space, keyed by the sample's text and cached on disk.

The counterpart of :class:`~nni_rank.proxies.ProxyStore` for spaces without a fast path: a network is
built by the space's adapter (``adapter.network(sample, seed)``), scored once on the shared seeded
minibatch, and the values are kept in memory for the whole process (every strategy and seed that asks
for the same setting gets the same store: :meth:`SampleProxyStore.shared`) and, with ``cache_dir``, in
a CSV named by the space's fingerprint and the setting, appended to as samples are scored.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .compute import compute_proxies
from .registry import PROXIES, resolve_names
from .store import setting_key
from .store import NB201_INPUT_SHAPE, KnownScores, proxy_batch

__all__ = ['SampleProxyStore']

_SHARED: dict[tuple, 'SampleProxyStore'] = {}


class SampleProxyStore(KnownScores):
    """Raw proxy values of samples of one space (``scores(samples) -> (n, len(names))``, NaN where undefined)."""

    def __init__(self, adapter, names: str | Iterable[str], data: str | os.PathLike | None = 'digits',
                 batch_size: int = 64, seed: int = 0, cache_dir: str | os.PathLike | None = None,
                 device: str = 'cpu', batch=None):
        self.adapter = adapter
        self._batch = batch  # an explicit (inputs, labels) minibatch instead of one drawn from ``data``
        self.names = resolve_names(names)
        self.data, self.batch_size, self.seed, self.device = data, int(batch_size), int(seed), device
        self.needs_data = any(PROXIES[n].data_dependent for n in self.names)
        self._values: dict[str, dict[str, float]] = {}
        self.built = 0  # networks built by this store (the rest came from memory or the disk cache)
        self.cache_file = None
        if cache_dir is not None:
            self.cache_file = Path(cache_dir) / f'proxies-{adapter.fingerprint()}-{self._setting()}.csv'
            self._load_cache()

    @classmethod
    def shared(cls, adapter, names, **setting: Any) -> 'SampleProxyStore':
        """The process-wide store of this space and setting (scores computed once for every caller)."""
        key = (type(adapter).__name__, adapter.fingerprint(), tuple(resolve_names(names)),
               *sorted((k, str(v)) for k, v in setting.items()))
        store = _SHARED.get(key)
        if store is None or store.adapter.network_space is None and adapter.network_space is not None:
            store = _SHARED[key] = cls(adapter, names, **setting)
        return store

    def _setting(self) -> str:
        return setting_key(self.names, self.data if self.needs_data else None, self.batch_size, self.seed)

    def _load_cache(self) -> None:
        """Read the cache; unreadable or torn lines are skipped (those samples are scored again)."""
        if not self.cache_file.is_file():
            return
        with open(self.cache_file, newline='', encoding='utf-8', errors='replace') as f:
            text = f.read()
        if not text.endswith('\n'):
            text = text[:text.rfind('\n') + 1]  # a torn last line: a write was interrupted
        rows = csv.reader(io.StringIO(text))
        header = next(rows, [])
        if header[:1] != ['sample']:
            return
        for fields in rows:
            if len(fields) != len(header):
                continue
            try:
                vals = {k: float(v) for k, v in zip(header[1:], fields[1:]) if k in PROXIES and v != ''}
            except ValueError:
                continue
            self._values.setdefault(fields[0], {}).update(vals)

    def _append_cache(self, rows: list[tuple[str, dict[str, float]]]) -> None:
        if self.cache_file is None or not rows:
            return
        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        text = io.StringIO()
        writer = csv.writer(text, lineterminator='\n')
        if not self.cache_file.is_file() or self.cache_file.stat().st_size == 0:
            writer.writerow(['sample', *PROXIES])
        for key, vals in rows:
            writer.writerow([key, *('' if n not in vals else repr(vals[n]) for n in PROXIES)])
        with open(self.cache_file, 'ab', buffering=0) as f:  # one write: concurrent processes never mix lines
            f.write(text.getvalue().encode('utf-8'))

    @property
    def batch(self):
        """The minibatch data-dependent proxies use (read once per process)."""
        if self._batch is None and self.needs_data:
            return proxy_batch(self.data, self.batch_size, self.seed)[0]
        return self._batch

    @property
    def description(self) -> str:
        if self._batch is not None:
            return 'the given minibatch'
        return proxy_batch(self.data, self.batch_size, self.seed)[1] if self.needs_data else 'no data'

    def scores(self, samples: Sequence[Mapping[str, Any]], progress: bool = False) -> np.ndarray:
        keys = [self.adapter.describe(s) for s in samples]
        todo = {}
        for key, sample in zip(keys, samples):
            if key not in todo and any(n not in self._values.get(key, {}) for n in self.names):
                todo[key] = sample
        if todo:
            self._compute(todo, progress)
        return np.array([[self._values[k][n] for n in self.names] for k in keys],
                        dtype=np.float64).reshape(len(keys), len(self.names))

    def _compute(self, todo: dict[str, Mapping[str, Any]], progress: bool = False) -> None:
        batch, num_classes = self._batch, 10
        if batch is None and self.needs_data:
            batch, _, num_classes = proxy_batch(self.data, self.batch_size, self.seed)
        rows, items = [], list(todo.items())
        if progress:
            from ..runtime import progress as progress_bar
            items = progress_bar(items, desc='proxies', unit='arch')
        for key, sample in items:
            missing = [n for n in self.names if n not in self._values.get(key, {})]
            model = self.adapter.network(sample, seed=self.seed, num_classes=num_classes)
            self.built += 1
            vals = compute_proxies(model, batch, missing, seed=self.seed, device=self.device, warn=False,
                                   input_shape=None if batch is not None else NB201_INPUT_SHAPE)
            vals = {n: float(vals[n]) for n in missing}
            self._values.setdefault(key, {}).update(vals)
            rows.append((key, vals))
        self._append_cache(rows)
