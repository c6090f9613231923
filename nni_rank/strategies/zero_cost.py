"""Zero-cost-enhanced search (Abdelfattah et al. 2021): proxies steer which models get evaluated.

Proxy scores are free (no benchmark query, no training); only models submitted to the engine count.

* **warm-up**: score a pool of random candidates and start from the best of them;
* **move proposal** (evolution): mutate the parent into every one-edit child and evaluate the one
  the proxy ranks highest (a random child with probability ``random_move_prob``);
* **learned weights** (``learn``, both strategies): once ``learn_after`` candidates are evaluated, candidates
  are ranked by the ``learn`` proxies weighted by a ridge fit to the labels received so far
  (:class:`~nni_rank.strategies.proxy_guide.ProxyGuide`), so a proxy that ranks the space backwards or weakly
  is outweighed by one that ranks it well, with no query beyond the search's own.

:class:`ZeroCostRandom` evaluates a warm-up pool in proxy order; :class:`ZeroCostEvolution` is
NNI's regularized evolution with the warm-up as its initial population and move proposal as its
mutation. Both take any NNI model space with categorical choices; the scorer asks the space's adapter
how to score its samples (NAS-Bench-201 cells on the fast cached path, other spaces by building the
user's networks, cached by sample).
"""
from __future__ import annotations

import copy
import logging
from typing import Callable, Iterable

from nni.mutable import Categorical, Sample, SampleValidationError
from nni.nas.execution import ExecutionEngine, ModelEventType, TrainingEndEvent
from nni.nas.space import ExecutableModelSpace
from nni.nas.strategy import Strategy
from nni.nas.strategy.evolution import RegularizedEvolution
from numpy.random import RandomState

from ..proxies.scorer import ProxyScorer
from ..spaces.adapter import adapter_for
from .proxy_guide import ProxyGuide, sample_key as _key

_logger = logging.getLogger(__name__)

__all__ = ['ZeroCostRandom', 'ZeroCostEvolution', 'zero_cost_random', 'zero_cost_evolution']


def _choices(model_space: ExecutableModelSpace) -> dict[str, Categorical]:
    """The space's categorical choices; a clear error naming a label that is not one."""
    try:
        return adapter_for(model_space).choices()
    except ValueError as err:
        raise ValueError(f'zero-cost search: {err}') from None


def _random_pool(model_space, size: int, rng: RandomState, seen: set[str]) -> list[Sample]:
    """Up to ``size`` distinct valid random samples not in ``seen`` (gives up after many repeats); in a search
    restricted to a table, ``size`` rows not queried yet (all of them when no more are left)."""
    rows = adapter_for(model_space).open_rows()
    if rows is not None:
        rows = [r for r in rows if _key(r) not in seen]
        if len(rows) > size:
            rows = [rows[int(i)] for i in sorted(rng.choice(len(rows), size, replace=False))]
        return rows
    pool, keys, tries = [], set(seen), 0
    while len(pool) < size and tries < 20 * size + 100:
        tries += 1
        sample: Sample = {}
        try:
            model_space.random(memo=sample, random_state=rng)
        except SampleValidationError:
            continue
        k = _key(sample)
        if k not in keys:
            keys.add(k)
            pool.append(sample)
    return pool


def _warm_up(guide: ProxyGuide, model_space, pool_size: int, rng: RandomState,
             seen: set[str]) -> list[Sample]:
    """A random pool of ``pool_size`` samples sorted by the guide, best first."""
    pool = _random_pool(model_space, pool_size, rng, seen)
    if not pool:
        return []
    order = guide.order(pool, model_space)
    _logger.info('Warm-up: scored %d candidates with %s', len(pool), guide)
    return [pool[i] for i in order]


def _metric(event: TrainingEndEvent) -> float | None:
    """The scalar a model reported (NNI's ``default`` of a dict), or None."""
    metric = event.model.metric
    if isinstance(metric, dict):
        metric = metric.get('default')
    return metric if isinstance(metric, (int, float)) else None


class ZeroCostRandom(Strategy):
    """Random search whose candidates are evaluated in order of a zero-cost proxy.

    Draws ``pool_size`` distinct random samples, scores them all (free), and submits them best first;
    when the pool runs out, another pool is drawn. With ``pool_size=1`` it is plain random search.
    With ``learn``, the rest of the pool is re-ranked by the learned weights after every label
    (``learn_after``, ``learn_alpha``: see :class:`~nni_rank.strategies.proxy_guide.ProxyGuide`).
    """

    def __init__(self, proxy: str | Iterable[str] = 'synflow', pool_size: int = 1000, seed: int | None = None,
                 scorer: ProxyScorer | None = None, learn: str | Iterable[str] | None = None, learn_after: int = 3,
                 learn_alpha: float = 0.1, **scorer_options):
        super().__init__()
        if pool_size < 1:
            raise ValueError(f'pool_size must be >= 1, got {pool_size}')
        self.scorer = scorer or ProxyScorer(proxy, **scorer_options)
        self.guide = ProxyGuide(self.scorer, learn, learn_after, learn_alpha)
        self.pool_size = pool_size
        self._rng = RandomState(seed)
        self._queue: list[Sample] = []
        self._seen: set[str] = set()

    def extra_repr(self) -> str:
        return f'scorer={self.guide}, pool_size={self.pool_size}'

    def _initialize(self, model_space: ExecutableModelSpace, engine: ExecutionEngine) -> ExecutableModelSpace:
        _choices(model_space)
        engine.register_model_event_callback(ModelEventType.TrainingEnd, self._training_end_callback)
        return model_space

    def _cleanup(self) -> None:
        self.engine.unregister_model_event_callback(ModelEventType.TrainingEnd, self._training_end_callback)

    def _training_end_callback(self, event: TrainingEndEvent) -> None:
        self.guide.observe(event.model.sample, _metric(event))

    def _run(self) -> None:
        submitted = []
        while self.wait_for_resource():
            if not self._queue:
                self._queue = _warm_up(self.guide, self.model_space, self.pool_size, self._rng, self._seen)
                if not self._queue:
                    _logger.info('Search space exhausted.')
                    break
            elif self.guide.learning:
                self._queue = [self._queue[i] for i in self.guide.order(self._queue, self.model_space)]
            sample = self._queue.pop(0)
            self._seen.add(_key(sample))
            model = self.model_space.freeze(sample)
            submitted.append(model)  # the training-service engine keeps weak references only
            self.engine.submit_models(model)
        self.engine.wait_models()

    def state_dict(self) -> dict:
        return {'queue': list(self._queue), 'seen': sorted(self._seen), 'random_state': self._rng.get_state(),
                'guide': self.guide.state_dict()}

    def load_state_dict(self, state_dict: dict) -> None:
        self._queue = list(state_dict['queue'])
        self._seen = set(state_dict['seen'])
        self._rng.set_state(state_dict['random_state'])
        self.guide.load_state_dict(state_dict.get('guide', {}))


class ZeroCostEvolution(RegularizedEvolution):
    """Regularized evolution with zero-cost warm-up and move proposal.

    Parameters
    ----------
    proxy
        Proxy name(s) (several: mean rank), or give a ready ``scorer``.
    pool_size
        Warm-up pool: the initial population is the best ``population_size`` of ``pool_size`` random
        candidates by proxy (0: a random initial population, as NNI's evolution).
    move_proposal
        Mutate by scoring every one-edit child of the parent and evaluating the best one;
        ``False``: NNI's per-dimension random mutation (``mutation_prob``).
    random_move_prob
        Probability of taking a random one-edit child instead (the paper uses 25% for diversity).
    population_size, sample_size, mutation_prob, seed
        As in NNI's ``RegularizedEvolution``. Defaults: population 5, tournament 2, no random moves,
        chosen on NB201 CIFAR-10 with tuning seeds 100-119 (budget 300, median queries to the optimum):
        population 20 / tournament 5 / 25% random moves 25; 5 / 2 / 10% 12; 5 / 2 / 0% 8.5
        (CIFAR-100, not used for tuning: 24 -> 7; bench/bench_defaults.py). When every child of the
        parent has been tried, the child comes from NNI's random mutation, so the search does not stall.
    learn, learn_after, learn_alpha
        Proxies whose weights are fitted to the labels received once ``learn_after`` models are evaluated
        (ridge penalty ``learn_alpha``); they then rank the children instead of ``proxy``
        (:class:`~nni_rank.strategies.proxy_guide.ProxyGuide`). None: ``proxy`` throughout.
    scorer_options
        ``data``, ``batch_size``, ``cache_dir``, ``device``, ``table`` (read NB201 scores from a proxy
        table) for :class:`ProxyScorer`.
    """

    def __init__(self, proxy: str | Iterable[str] = 'synflow', pool_size: int = 1000, move_proposal: bool = True,
                 random_move_prob: float = 0.0, population_size: int = 5, sample_size: int = 2,
                 mutation_prob: float = 1 / 6, seed: int | None = None, scorer: ProxyScorer | None = None,
                 learn: str | Iterable[str] | None = None, learn_after: int = 3, learn_alpha: float = 0.1,
                 **scorer_options):
        super().__init__(population_size=population_size, sample_size=sample_size, mutation_prob=mutation_prob,
                         dedup=True, seed=seed)
        if pool_size < 0:
            raise ValueError(f'pool_size must be >= 0, got {pool_size}')
        if not 0.0 <= random_move_prob <= 1.0:
            raise ValueError(f'random_move_prob must be in [0, 1], got {random_move_prob}')
        self.scorer = scorer or ProxyScorer(proxy, **scorer_options)
        self.guide = ProxyGuide(self.scorer, learn, learn_after, learn_alpha)
        self.pool_size, self.move_proposal, self.random_move_prob = pool_size, move_proposal, random_move_prob
        self._warm: list[Sample] | None = None
        self._seen: set[str] = set()
        self._choices: dict[str, Categorical] = {}
        self._project: Callable[[Sample], Sample] | None = None  # the space adapter's projection

    def extra_repr(self) -> str:
        return (super().extra_repr() + f', scorer={self.guide}, pool_size={self.pool_size}, '
                f'move_proposal={self.move_proposal}, random_move_prob={self.random_move_prob}')

    def _initialize(self, model_space: ExecutableModelSpace, engine: ExecutionEngine) -> ExecutableModelSpace:
        self._choices = _choices(model_space)
        self._project = adapter_for(model_space).project
        return super()._initialize(model_space, engine)

    def _submit(self, sample: Sample) -> ExecutableModelSpace:
        self._dedup_helper.dedup(sample)  # raises on a duplicate: NNI's retry helper tries again
        self._seen.add(_key(sample))
        self._individual_counter += 1
        return self.model_space.freeze(sample)

    def random(self) -> ExecutableModelSpace:
        """The next warm-up candidate (best proxy first), or a random sample without warm-up."""
        if self.pool_size == 0:
            model = super().random()
            self._seen.add(_key(model.sample))
            return model
        if self._warm is None:
            self._warm = _warm_up(self.guide, self.model_space, self.pool_size, self._random_state, self._seen)
        while self._warm:
            sample = self._warm.pop(0)
            if _key(sample) not in self._seen:
                return self._submit(sample)
        model = super().random()  # pool used up (tiny space or pool): fall back to random
        self._seen.add(_key(model.sample))
        return model

    def neighbours(self, parent: Sample) -> list[Sample]:
        """Every valid one-edit child of ``parent`` not evaluated yet (in a search restricted to a table, the
        rows nearest to those children)."""
        project = self._project or adapter_for(self.model_space).project
        children, keys = [], set(self._seen)
        for label, choice in self._choices.items():
            for value in choice.values:
                if value == parent[label]:
                    continue
                child = copy.copy(parent)
                child[label] = value
                child = project(child)
                if _key(child) not in keys:
                    keys.add(_key(child))
                    children.append(child)
        return children

    def new_individual(self) -> ExecutableModelSpace:
        if not self.move_proposal:
            model = super().new_individual()
            self._seen.add(_key(model.sample))
            return model
        parent = self.best_parent()
        children = self.neighbours(parent)
        if not children:
            return super().new_individual()  # every neighbour seen: NNI's random mutation
        if self._random_state.uniform() < self.random_move_prob:
            child = children[self._random_state.randint(len(children))]
        else:
            child = children[int(self.guide.order(children, self.model_space)[0])]
        return self._submit(child)

    def _training_end_callback(self, event: TrainingEndEvent) -> None:
        super()._training_end_callback(event)
        self.guide.observe(event.model.sample, _metric(event))

    def state_dict(self) -> dict:
        return {**super().state_dict(), 'warm': self._warm, 'seen': sorted(self._seen), 'guide': self.guide.state_dict()}

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self._warm = state_dict.get('warm')
        self._seen = set(state_dict.get('seen', []))
        self.guide.load_state_dict(state_dict.get('guide', {}))


def _table_option(scorer_options: dict) -> dict:
    """``proxy_table=PATH`` (the option name NAR and the tuners use) is the scorer's ``table``."""
    if 'proxy_table' in scorer_options:
        scorer_options['table'] = scorer_options.pop('proxy_table')
    return scorer_options


def zero_cost_random(seed: int | None = None, proxy: str = 'synflow', pool_size: int = 1000,
                     learn: str | None = None, learn_after: int = 3, learn_alpha: float = 0.1,
                     **scorer_options) -> ZeroCostRandom:
    """``zc-random``: random candidates evaluated in proxy order (``proxy_table=PATH`` reads the scores)."""
    return ZeroCostRandom(proxy=proxy, pool_size=pool_size, seed=seed, learn=learn, learn_after=learn_after,
                          learn_alpha=learn_alpha, **_table_option(scorer_options))


def zero_cost_evolution(seed: int | None = None, proxy: str = 'synflow', pool_size: int = 1000,
                        move_proposal: bool = True, random_move_prob: float = 0.0, population_size: int = 5,
                        sample_size: int = 2, learn: str | None = None, learn_after: int = 3,
                        learn_alpha: float = 0.1, **scorer_options) -> ZeroCostEvolution:
    """``zc-rea``: regularized evolution with proxy warm-up and move proposal (``proxy_table=PATH`` reads
    the scores)."""
    return ZeroCostEvolution(proxy=proxy, pool_size=pool_size, move_proposal=move_proposal,
                             random_move_prob=random_move_prob, population_size=population_size,
                             sample_size=sample_size, seed=seed, learn=learn, learn_after=learn_after,
                             learn_alpha=learn_alpha, **_table_option(scorer_options))
