"""NNI's built-in multi-trial strategies, configured for benchmark search and seeded.

Two fixes over using them raw: NNI's ``TPE`` strategy wraps ``TpeTuner``, whose default
``optimize_mode`` is *minimize* (it would hunt for the worst accuracy), and its loop sleeps one
second per trial even on the in-process sequential engine; :class:`SeededTPE` maximises and only
waits when no worker is idle (:class:`TunerStrategy`, which also runs the project's REINFORCE tuner).
"""
from __future__ import annotations

import time
from typing import cast

import nni
from nni.nas.strategy import Random, RegularizedEvolution
from nni.nas.strategy.hpo import HPOTunerStrategy
from nni.typehint import SearchSpace

from ..spaces.restricted import TableExhausted


class TunerStrategy(HPOTunerStrategy):
    """An NNI HPO tuner as a NAS strategy (NNI's ``HPOTunerStrategy``) that only waits when no worker is idle."""

    def _run(self) -> None:
        space = {}
        for label, mutable in self.model_space.simplify().items():
            try:
                space[label] = mutable.as_legacy_dict()
            except NotImplementedError:
                raise ValueError(f'{type(self.tuner).__name__} cannot search label {label!r}: a '
                                 f'{type(mutable).__name__}, not in the HPO search-space format NNI\'s tuners take '
                                 '(single choices, ranges); use rea, random or a project strategy') from None
        with self._thread_lock:
            self.tuner.update_search_space(cast(SearchSpace, space))
        while self.engine.budget_available():
            if not self.engine.idle_worker_available():
                time.sleep(0.1)
                continue
            with self._thread_lock:
                try:
                    param = self.tuner.generate_parameters(self._model_count)
                except nni.NoMoreTrialError:
                    break
                try:
                    model = self.model_space.freeze(param)
                except TableExhausted:
                    break
                self._model_to_id[model] = self._model_count
                self._model_count += 1
            self.engine.submit_models(model)
        self.engine.wait_models()


class SeededTPE(TunerStrategy):
    """NNI's TPE tuner as a NAS strategy: maximises, seeded, no idle sleeping."""

    def __init__(self, seed: int | None = None, optimize_mode: str = 'maximize', **tpe_args):
        from nni.algorithms.hpo.tpe_tuner import TpeTuner
        super().__init__(TpeTuner(optimize_mode=optimize_mode, seed=seed, tpe_args=tpe_args or None))


def reinforce(seed: int | None = None, **kwargs) -> TunerStrategy:
    """REINFORCE with an EMA baseline (NAS-Bench-201's RL baseline; :class:`~nni_rank.tuners.ReinforceTuner`)."""
    from ..tuners.reinforce_tuner import ReinforceTuner
    kwargs.setdefault('threads', None)  # in-process: the command's --threads decides, not the tuner's default
    return TunerStrategy(ReinforceTuner(seed=seed, **kwargs))


def policy_based_rl(seed: int | None = None, **kwargs):
    """NNI's ``PolicyBasedRL``; it needs the old tianshou 0.4/gym API, so fail clearly without it."""
    try:
        import tianshou  # noqa: F401
        from nni.nas.strategy import PolicyBasedRL
    except ImportError as err:
        raise RuntimeError(
            "NNI's PolicyBasedRL strategy needs tianshou (0.4-era API) and gym, which are not installed "
            f"or not compatible here ({err}); pick another strategy") from None
    if seed is not None:
        import torch
        torch.manual_seed(seed)
    return PolicyBasedRL(**kwargs)


def random_search(seed: int | None = None, dedup: bool = True) -> Random:
    """NNI's ``Random`` (deduplicated)."""
    return Random(seed=seed, dedup=dedup)


def regularized_evolution(seed: int | None = None, population_size: int = 20, sample_size: int = 5,
                          mutation_prob: float = 1 / 6, crossover: bool = False,
                          dedup: bool = True) -> RegularizedEvolution:
    """NNI's ``RegularizedEvolution`` sized for cell spaces (one edit per child on average on NB201)."""
    return RegularizedEvolution(population_size=population_size, sample_size=sample_size,
                                mutation_prob=mutation_prob, crossover=crossover, seed=seed, dedup=dedup)


def tpe(seed: int | None = None, **kwargs) -> SeededTPE:
    return SeededTPE(seed=seed, **kwargs)
