"""``zc_ensemble`` calibrated on the space it scores, without labels.

``zc_ensemble`` sums ``log F_k(x_k)``, ``F_k`` the empirical CDF of component ``k`` over a reference population
(:mod:`nni_rank.proxies.ensemble`). The packaged tables come from NAS-Bench-201 cells; on another space a
component whose values lie outside NB201's range saturates (``F = 1`` or the floor) and stops discriminating.
So, unless the space's adapter provides its own tables (:meth:`SpaceAdapter.ensemble_calibration
<nni_rank.spaces.adapter.SpaceAdapter.ensemble_calibration>`; NB201 returns the packaged ones, which were made
the same way from 1,000 NB201 cells), :class:`CalibratedEnsemble` draws ``calibration_size`` seeded distinct
samples of the space, computes their components (no label is read) and makes the tables from them.

Storage: the components of every scored sample (calibration sample and searched ones) are raw proxy values in
the score source's own cache (by sample), so ensemble values can be recomputed under any calibration; the
tables are kept in ``zc-calibration-<space fingerprint>-<setting>.json`` beside it (the setting names the
minibatch, seed, calibration size and seed, and the quantile levels), computed once and reused by every
strategy and seed.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..files import short_hash
from .ensemble import BROKEN_IF_NAN, CALIBRATION, CDF_FLOOR, ENSEMBLE_COMPONENTS, LEVELS, calibrate

__all__ = ['CalibratedEnsemble', 'ensemble_scores', 'space_ensemble', 'DEFAULT_CALIBRATION_SIZE']

#: Samples of the space whose components make its tables (``ProxyScorer(calibration_size=...)``).
DEFAULT_CALIBRATION_SIZE = 200

_SHARED: dict[tuple, dict[str, tuple[float, ...]]] = {}  # calibrations made in this process


def ensemble_scores(components: Mapping[str, np.ndarray], calibration: Mapping[str, Sequence[float]]) -> np.ndarray:
    """``zc_ensemble`` of many models at once: ``components[k]`` holds component ``k`` of each model.

    The vectorised form of :func:`~nni_rank.proxies.ensemble.ensemble_from` (linear interpolation between the
    quantiles, ties at their highest level, floored at :data:`CDF_FLOOR`); NaN where a component of
    :data:`BROKEN_IF_NAN` is undefined.
    """
    levels = np.asarray(LEVELS)
    total, broken = None, None
    for name, table in calibration.items():
        v = np.asarray(components[name], dtype=np.float64)
        q = np.asarray(table, dtype=np.float64)
        hi = np.searchsorted(q, np.where(np.isfinite(v), v, -np.inf), side='right')
        lo = np.clip(hi - 1, 0, len(q) - 1)
        hic = np.clip(hi, 0, len(q) - 1)
        gap = q[hic] - q[lo]
        frac = np.where(gap > 0, (v - q[lo]) / np.where(gap > 0, gap, 1.0), 0.0)
        level = np.where(hi >= len(q), 1.0, levels[lo] + frac * (levels[hic] - levels[lo]))
        level = np.where((hi == 0) | ~np.isfinite(v), CDF_FLOOR, level)
        part = np.log(np.maximum(level, CDF_FLOOR))
        total = part if total is None else total + part
        if name in BROKEN_IF_NAN:
            bad = ~np.isfinite(v)
            broken = bad if broken is None else broken | bad
    if total is None:
        raise ValueError('zc_ensemble calibration has no component')
    return np.where(broken, np.nan, total) if broken is not None else total


class CalibratedEnsemble:
    """A score source whose ``zc_ensemble`` column comes from the components under the space's own tables.

    Parameters
    ----------
    adapter
        The space's adapter (its ``fingerprint`` names the tables file; ``distinct_samples`` draws the sample).
    names
        The proxies asked for (``zc_ensemble`` among them).
    make_source
        ``make_source(names) -> source`` with ``scores(samples) -> (n, len(names))`` raw values (the scorer's
        usual source for the space, asked for the components as well).
    calibration_size, calibration_seed
        Size and seed of the space's sample the tables come from.
    cache_dir
        Folder of the tables file (``None``: kept in this process only).
    setting
        Text naming the components' setting (minibatch, seed): tables of another setting are not reused.
    calibration
        Tables given by the space (:meth:`SpaceAdapter.ensemble_calibration`): used as they are, nothing is drawn.
    """

    def __init__(self, adapter, names: Sequence[str], make_source: Callable[[list[str]], Any], *,
                 calibration_size: int = DEFAULT_CALIBRATION_SIZE, calibration_seed: int = 0,
                 cache_dir=None, setting: str = '', calibration: Mapping[str, Sequence[float]] | None = None):
        if int(calibration_size) < 2:
            raise ValueError(f'calibration_size must be >= 2 samples of the space, got {calibration_size}')
        self.adapter, self.names = adapter, list(names)
        self.calibration_size, self.calibration_seed = int(calibration_size), int(calibration_seed)
        inner = [n for n in self.names if n != 'zc_ensemble']
        inner += [n for n in ('zc_ensemble', *ENSEMBLE_COMPONENTS) if n not in inner]
        self.inner_names = inner
        self.source = make_source(inner)
        digest = short_hash(f'{setting}|{self.calibration_size}|{self.calibration_seed}|{LEVELS}')
        self.key = f'{adapter.population_fingerprint()}-{digest}'
        self.file = None if cache_dir is None else Path(cache_dir) / f'zc-calibration-{self.key}.json'
        self._calibration = None if calibration is None else {k: tuple(v) for k, v in calibration.items()}

    def __repr__(self) -> str:
        return f'CalibratedEnsemble({self.adapter!r}, size={self.calibration_size}, seed={self.calibration_seed})'

    @property
    def calibration(self) -> dict[str, tuple[float, ...]]:
        """``{component: quantiles at LEVELS}`` over the space's calibration sample (made once, then read)."""
        if self.stored_calibration() is None:
            self._calibration = _SHARED[self.key] = self._make()
        return self._calibration

    def stored_calibration(self) -> dict[str, tuple[float, ...]] | None:
        """The tables when they need no scoring (given by the space, made in this process or read from the
        file); None when :attr:`calibration` will score :meth:`calibration_samples` to make them."""
        if self._calibration is None:
            self._calibration = _SHARED.get(self.key) or self._read()
            if self._calibration is not None:
                _SHARED[self.key] = self._calibration
        return self._calibration

    def calibration_samples(self) -> list[dict[str, Any]]:
        """The seeded distinct samples of the space whose components make the tables."""
        size = min(self.calibration_size, self.adapter.population_size())
        return self.adapter.distinct_samples(size, self.calibration_seed)

    def _read(self) -> dict[str, tuple[float, ...]] | None:
        if self.file is None or not self.file.is_file():
            return None
        try:
            saved = json.loads(self.file.read_text())
            if tuple(saved['levels']) != LEVELS or set(saved['quantiles']) != set(ENSEMBLE_COMPONENTS):
                return None
            return {k: tuple(float(x) for x in saved['quantiles'][k]) for k in ENSEMBLE_COMPONENTS}
        except (ValueError, KeyError, TypeError):
            return None  # unreadable: made again

    def _make(self) -> dict[str, tuple[float, ...]]:
        from ..files import write_json
        samples = self.calibration_samples()
        raw = self._components(samples)
        for name, col in raw.items():
            finite = int(np.isfinite(col).sum())
            if finite < 2:
                raise ValueError(f'zc_ensemble calibration: component {name} is finite for {finite} of the '
                                 f'{len(samples)} calibration samples of the space (needs at least 2)')
        tables = calibrate(raw)
        if self.file is not None:
            write_json(self.file, {'space_fingerprint': self.adapter.fingerprint(), 'samples': len(samples),
                                   'calibration_seed': self.calibration_seed, 'levels': list(LEVELS),
                                   'finite': {k: int(np.isfinite(v).sum()) for k, v in raw.items()},
                                   'quantiles': {k: list(v) for k, v in tables.items()}})
        return tables

    def _components(self, samples) -> dict[str, np.ndarray]:
        raw = np.asarray(self.source.scores(list(samples)), dtype=np.float64).reshape(len(samples), -1)
        return {n: raw[:, self.inner_names.index(n)] for n in ENSEMBLE_COMPONENTS}

    def scores(self, samples: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """``(n, len(names))`` raw values; ``zc_ensemble`` under the space's calibration."""
        samples = list(samples)
        raw = np.asarray(self.source.scores(samples), dtype=np.float64).reshape(len(samples), -1)
        columns = {n: raw[:, i] for i, n in enumerate(self.inner_names)}
        columns['zc_ensemble'] = ensemble_scores({n: columns[n] for n in ENSEMBLE_COMPONENTS}, self.calibration)
        return np.stack([columns[n] for n in self.names], axis=1)

    def known(self, keys):
        """Samples (by ``adapter.describe`` text) whose components are all known, with their calibrated values."""
        found = self.source.known(keys)
        out = {}
        for k, vals in found.items():
            columns = dict(zip(self.inner_names, vals))
            columns['zc_ensemble'] = float(ensemble_scores({n: np.array([columns[n]]) for n in ENSEMBLE_COMPONENTS},
                                                           self.calibration)[0])
            out[k] = [columns[n] for n in self.names]
        return out


def space_ensemble(adapter, names: Sequence[str], make_source: Callable[[list[str]], Any], *, data, batch_size: int,
                   seed: int, cache_dir=None, calibration_size: int = DEFAULT_CALIBRATION_SIZE,
                   calibration_seed: int = 0) -> CalibratedEnsemble | None:
    """The :class:`CalibratedEnsemble` that scores ``names`` of ``adapter``'s space, or None where none is needed
    (``zc_ensemble`` not asked for, or the space scores it under the packaged NB201 tables).

    One place decides, for a search (:class:`~nni_rank.proxies.ProxyScorer`) and ``nni-rank proxies`` (``--sample``;
    ``--all``: :func:`~nni_rank.proxies.exhaustive.score_all`) alike, so all use the same tables file for one
    setting (``data``, ``batch_size``, ``seed``: the components' minibatch and initialisation).
    """
    if 'zc_ensemble' not in names:
        return None
    tables = adapter.ensemble_calibration()
    if tables is CALIBRATION:
        return None
    return CalibratedEnsemble(adapter, names, make_source, calibration=tables, calibration_size=calibration_size,
                              calibration_seed=calibration_seed, cache_dir=cache_dir,
                              setting=f'{data}|{batch_size}|{seed}')
