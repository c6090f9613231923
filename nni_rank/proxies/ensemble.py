"""``zc_ensemble``: a label-free, per-model combination of zero-cost components.

AZ-NAS (and VKDNW_agg) combine their components over a *population* by the sum of
``log(rank / N)``. A search compares models as they arrive, so ``zc_ensemble`` replaces each rank by a
*fixed* cumulative distribution: ``zc_ensemble = sum_k log F_k(x_k)``, ``F_k`` the empirical CDF of
component ``k`` over a reference population, stored as quantiles (:data:`CALIBRATION`) and linearly
interpolated, floored at :data:`CDF_FLOOR`. The score of a model therefore depends on that model alone,
and its order over a population reproduces the log-rank sum whenever the population resembles the
reference (on NAS-Bench-201 it does by construction).

The reference population is the proxy values -- no accuracy, no label -- of 1,000 seeded uniform
NAS-Bench-201 cells (``bench/bench_label_free.py`` writes the table); which components enter was chosen
on CIFAR-10 *validation* accuracy among the sets costing one forward and one backward (see
``bench/results/label_free.json``): AZ-NAS's expressivity, progressivity and complexity (``flops``),
``jacob_cov``, ``naswot`` and ``synflow``. These tables serve NAS-Bench-201 (its adapter's
``ensemble_calibration``); the scorer calibrates any other space the same way on a seeded sample of that space
(:mod:`nni_rank.proxies.calibration`), so no component saturates at NB201's scale. A component that is undefined
for a model (NaN: e.g. AZ-NAS's trainability of a network with an identity block, which the authors
score ``-inf``) counts as the floor, like a last rank; ``zc_ensemble`` is NaN only when the network's
output does not depend on its input.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

#: Lowest CDF value a component can contribute (a model below the whole reference population).
CDF_FLOOR = 1e-3

#: Quantile levels at which :data:`CALIBRATION` stores each component.
LEVELS = tuple(float(v) for v in np.round(np.linspace(0.0, 1.0, 41), 4))

#: File holding the members and their quantile tables (written by ``bench/bench_label_free.py``).
CALIBRATION_FILE = Path(__file__).resolve().parents[1] / 'resources' / 'zc_ensemble_calibration.json'


def _load_calibration() -> dict[str, tuple[float, ...]]:
    if not CALIBRATION_FILE.is_file():
        return {}
    saved = json.loads(CALIBRATION_FILE.read_text())
    if tuple(saved['levels']) != LEVELS:
        raise ValueError(f'{CALIBRATION_FILE}: quantile levels differ from nni_rank.proxies.ensemble.LEVELS')
    return {k: tuple(v) for k, v in saved['quantiles'].items()}


#: component -> its values at :data:`LEVELS` over the reference population.
CALIBRATION: dict[str, tuple[float, ...]] = _load_calibration()

def calibration_digest() -> str:
    """A short hash of :data:`CALIBRATION`: ``zc_ensemble`` scores cached on disk belong to it."""
    from ..files import short_hash
    return short_hash(json.dumps(CALIBRATION, sort_keys=True))


#: Components of ``zc_ensemble`` (computed in one forward and the backwards they need).
ENSEMBLE_COMPONENTS: tuple[str, ...] = tuple(CALIBRATION)

#: Components whose NaN means the network is broken (output independent of the input).
BROKEN_IF_NAN = ('jacob_cov', 'naswot')


def calibrate(values: Mapping[str, Sequence[float]]) -> dict[str, tuple[float, ...]]:
    """Quantile tables (at :data:`LEVELS`) of each component over a population (finite values only)."""
    out = {}
    for name, v in values.items():
        v = np.asarray(v, dtype=np.float64)
        v = v[np.isfinite(v)]
        if v.size < 2:
            raise ValueError(f'calibrating {name} needs at least two finite values, got {v.size}')
        out[name] = tuple(float(q) for q in np.quantile(v, LEVELS))
    return out


def log_cdf(value: float, table: Sequence[float]) -> float:
    """``log F(value)`` for the empirical CDF given by quantiles ``table`` at :data:`LEVELS` (floored)."""
    if not math.isfinite(value):
        return math.log(CDF_FLOOR)
    q = np.asarray(table, dtype=np.float64)
    if value < q[0]:
        return math.log(CDF_FLOOR)
    # ties in the table (a discrete component) take the highest level they reach, as rankdata's 'max'
    hi = int(np.searchsorted(q, value, side='right'))
    if hi >= len(q):
        return 0.0
    lo = hi - 1
    frac = (value - q[lo]) / (q[hi] - q[lo]) if q[hi] > q[lo] else 0.0
    level = LEVELS[lo] + frac * (LEVELS[hi] - LEVELS[lo])
    return math.log(max(level, CDF_FLOOR))


def ensemble_from(values: Mapping[str, tuple[float, str | None]],
                  calibration: Mapping[str, Sequence[float]] | None = None) -> tuple[float, str | None]:
    """``(score, reason if NaN)`` from each component's ``(value, reason)``."""
    calibration = CALIBRATION if calibration is None else calibration
    if not calibration:
        return float('nan'), 'zc_ensemble is not calibrated'
    total = 0.0
    for name, table in calibration.items():
        v, why = values[name]
        if name in BROKEN_IF_NAN and not math.isfinite(v):
            return float('nan'), f'{name}: {why or "not finite"}'
        total += log_cdf(v, table)
    return total, None
