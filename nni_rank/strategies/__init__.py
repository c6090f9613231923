"""Search strategies by name: NNI's built-ins here; the project's own strategies register themselves."""
from __future__ import annotations

from typing import Callable

from nni.nas.strategy import Strategy

from .alpha_nas import alpha_nas
from .nar import nar_strategy_factory
from .nni_builtin import SeededTPE, TunerStrategy, policy_based_rl, random_search, regularized_evolution, reinforce, tpe
from .zero_cost import ZeroCostEvolution, ZeroCostRandom, zero_cost_evolution, zero_cost_random

#: name -> factory(seed=..., **options) returning an NNI ``Strategy``.
STRATEGIES: dict[str, Callable[..., Strategy]] = {
    'random': random_search,
    'rea': regularized_evolution,
    'tpe': tpe,
    'rl': policy_based_rl,
    'reinforce': reinforce,
    'nar': nar_strategy_factory,
    'zc-random': zero_cost_random,
    'zc-rea': zero_cost_evolution,
    'alpha-nas': alpha_nas,
}


def make_strategy(name: str, seed: int | None = None, **options) -> Strategy:
    """Build a strategy by name (see :data:`STRATEGIES`); unknown names get the list of known ones."""
    if name not in STRATEGIES:
        raise ValueError(f'unknown strategy {name!r}; available: {", ".join(sorted(STRATEGIES))}')
    return STRATEGIES[name](seed=seed, **options)


__all__ = ['STRATEGIES', 'SeededTPE', 'TunerStrategy', 'ZeroCostEvolution', 'ZeroCostRandom', 'make_strategy']
