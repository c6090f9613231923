"""Proxy scores of every architecture of a space (``nni-rank proxies --all``): each distinct network scored once.

Many architectures compute the same function (NB201: dead edges, commuting sums, skip chains), so the
space's adapter names a representative per sample (:meth:`~nni_rank.spaces.adapter.SpaceAdapter.function_representative`);
only representatives are scored, by worker processes of one torch thread each, and every sample gets its
representative's values. ``params`` and ``flops`` count dead layers too, so they go by
:meth:`~nni_rank.spaces.adapter.SpaceAdapter.cost_representative` instead (same counts, cheap).

Scores are appended to the stores' on-disk cache chunk by chunk, so an interrupted run (Ctrl-C) resumes
where it stopped when started again with the same cache folder.

``zc_ensemble`` of a space without packaged tables is scored as a search scores it
(:func:`~nni_rank.proxies.calibration.space_ensemble`): every sample itself, all proxies and the ensemble's
components in one pass, into the cache a search with the same setting reads, and the column under the space's own
tables (read from ``cache_dir``, or made from the calibration samples, which are scored with the others). ``fisher``
asked for with ``zc_ensemble`` is scored in a pass of its own (:func:`~nni_rank.proxies.store.cache_passes`), into
the cache a ``fisher`` search reads.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import warnings
from typing import Any, Sequence

import numpy as np

from .calibration import DEFAULT_CALIBRATION_SIZE, space_ensemble
from .registry import PROXIES, resolve_names
from .store import cache_passes

__all__ = ['score_all', 'split_names']

#: Representatives per task sent to a worker (each task's scores reach the cache together).
CHUNK = 8


def split_names(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(function proxies, cost proxies)``: cost proxies (``params``, ``flops``) count every layer."""
    names = resolve_names(names)
    return [n for n in names if PROXIES[n].group != 'cost'], [n for n in names if PROXIES[n].group == 'cost']


def score_all(space: str, names: Sequence[str], cache_dir: str | os.PathLike, *, workers: int = 2,
              data: str | os.PathLike | None = 'digits', batch_size: int = 64, seed: int = 0, device: str = 'cpu',
              progress: bool = True, samples: Sequence[dict[str, Any]] | None = None,
              calibration_size: int = DEFAULT_CALIBRATION_SIZE, calibration_seed: int = 0
              ) -> tuple[list[dict[str, Any]], np.ndarray]:
    """``(samples, values)``: every sample of ``space`` (a ``--space`` spec) and its ``(n, len(names))`` scores.

    ``workers`` processes (one torch thread each) score the representatives not yet in ``cache_dir``;
    ``workers=1`` scores in this process. ``samples``: score these instead of the whole space.
    ``calibration_size``, ``calibration_seed``: ``zc_ensemble``'s calibration on a space without packaged tables,
    as :class:`~nni_rank.proxies.ProxyScorer`'s (a search with the same setting and ``cache_dir`` then gets the
    same values).
    """
    from ..spaces.adapter import adapter_for
    if int(workers) < 1:
        raise ValueError(f'workers must be >= 1, got {workers}')
    names = resolve_names(names)
    adapter = adapter_for(space)
    samples = adapter.all_samples() if samples is None else list(samples)
    passes = cache_passes(names)
    if len(passes) > 1:  # each proxy into the cache file a search of it reads
        columns = {}
        for part in passes:
            _, values = score_all(space, part, cache_dir, workers=workers, data=data, batch_size=batch_size, seed=seed,
                                  device=device, progress=progress, samples=samples,
                                  calibration_size=calibration_size, calibration_seed=calibration_seed)
            columns.update(zip(part, values.T))
        return samples, np.stack([columns[n] for n in names], axis=1)
    setting = dict(data=data, batch_size=batch_size, seed=seed, cache_dir=cache_dir, device=device)
    found: dict[str, list[float]] = {}  # the calibrated ensemble's components, once scored below
    ensemble = space_ensemble(adapter, names, lambda inner: _FoundScores(adapter, inner, found), data=data,
                              batch_size=batch_size, seed=seed, cache_dir=cache_dir,
                              calibration_size=calibration_size, calibration_seed=calibration_seed)
    if ensemble is not None:
        todo = {adapter.describe(s): dict(s) for s in samples}
        if ensemble.stored_calibration() is None:  # the tables are made from these: scored with the others
            for s in ensemble.calibration_samples():
                todo.setdefault(adapter.describe(s), s)
        found.update(_score_distinct(space, adapter, ensemble.inner_names, todo, setting, workers, progress))
        return samples, ensemble.scores(samples)
    function_names, cost_names = split_names(names)
    columns = {}
    for group, representative in ((function_names, adapter.function_representative),
                                  (cost_names, adapter.cost_representative)):
        if not group:
            continue
        reps = [representative(s) for s in samples]
        keys = [adapter.describe(r) for r in reps]
        found = _score_distinct(space, adapter, group, dict(zip(keys, reps)), setting,
                                workers if group is function_names else 1, progress)  # cost: cheap, here
        for i, n in enumerate(group):
            columns[n] = np.array([found[k][i] for k in keys], dtype=np.float64)
    return samples, np.stack([columns[n] for n in names], axis=1)


def _score_distinct(space, adapter, names, todo: dict[str, dict], setting, workers: int, progress: bool
                    ) -> dict[str, list[float]]:
    """``{key: values}`` of the distinct samples ``todo`` (key -> sample), from the cache or scored now."""
    found = adapter.proxy_source(names, **setting).known(todo)
    missing = [todo[k] for k in todo if k not in found]
    if not missing:
        return found
    chunks = [missing[i:i + CHUNK] for i in range(0, len(missing), CHUNK)]
    bar = None
    if progress:
        from ..runtime import progress as progress_bar
        bar = progress_bar(total=len(missing), desc=f'{",".join(names)} ({len(todo)} distinct, '
                                                    f'{len(todo) - len(missing)} cached)', unit='net')
    try:
        if workers == 1 or len(chunks) == 1:
            _start_worker(space, names, setting)
            results = map(_score_chunk, chunks)
            _consume(results, found, bar)
        else:
            context = multiprocessing.get_context('spawn')
            with context.Pool(min(workers, len(chunks)), _start_worker, (space, names, setting)) as pool:
                _consume(pool.imap_unordered(_score_chunk, chunks), found, bar)
    finally:
        if bar is not None:
            bar.close()
    return found


class _FoundScores:
    """``found`` (key -> values of ``names``, filled by :func:`score_all`) as a score source of samples."""

    def __init__(self, adapter, names: Sequence[str], found: dict[str, list[float]]):
        self.adapter, self.names, self.found = adapter, list(names), found

    def scores(self, samples: Sequence[dict[str, Any]]) -> np.ndarray:
        rows = [self.found[self.adapter.describe(s)] for s in samples]
        return np.array(rows, dtype=np.float64).reshape(len(rows), len(self.names))


def _consume(results, found: dict, bar) -> None:
    for chunk in results:
        found.update(chunk)
        if bar is not None:
            bar.update(len(chunk))


_WORKER: dict[str, Any] = {}


def _start_worker(space: str, names: Sequence[str], setting: dict) -> None:
    """One scoring process: one torch thread; Ctrl-C is the parent's to handle (it stops the pool)."""
    from ..runtime import set_threads
    from ..spaces.adapter import adapter_for
    if multiprocessing.parent_process() is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        set_threads(1)
    adapter = adapter_for(space)
    _WORKER.update(adapter=adapter, store=adapter.proxy_source(names, **setting))


def _score_chunk(samples: list[dict]) -> dict[str, list[float]]:
    adapter, store = _WORKER['adapter'], _WORKER['store']
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # NaN scores are counted by the caller
        values = store.scores(samples)
    return {adapter.describe(s): [float(v) for v in row] for s, row in zip(samples, values)}
