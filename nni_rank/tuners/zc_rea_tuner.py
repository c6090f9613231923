"""Zero-cost regularized evolution (``zc-rea``) as an ``nnictl`` tuner, for NAS-Bench-201 or the user's own space.

The search space is the six ``choice`` edges ``0_1`` ... ``2_3`` of ``config_yaml/nb201_search_space.json``
(``space: nb201``, the default), or the choices of the user's own ``ModelSpace`` named by the ``space``
classArg (``/abs/path/file.py:CLASS``; see :mod:`nni_rank.tuners.space`), whose networks the proxies score.
Proxy scores are free; only trials count:

* **warm-up**: ``pool_size`` random cells are scored with the proxy (synflow by default) and the best
  ``population_size`` of them are the first trials;
* **move proposal**: afterwards a tournament of ``sample_size`` from the population (the last
  ``population_size`` results) picks a parent; of its untried one-edit children, the proxy's best is
  proposed (a random child with probability ``random_move_prob``).

Registered as ``ZcREA`` by ``nni-rank register``::

    tuner:
      name: ZcREA
      classArgs: {optimize_mode: maximize, seed: 0, cache_dir: /path/to/proxy/cache}

State is keyed on the parameters each result comes with (not on parameter ids: NNI issue 5726, and ids
restart on resume); ``import_data`` rebuilds population and history after ``nnictl resume``. Torch and the
proxies are imported when the search space arrives, never at import (NNI gives the tuner 10 s to connect).
"""
from __future__ import annotations

import logging
import math
import random
from collections import deque
from typing import Any

import nni
from nni.tuner import Tuner
from nni.utils import ClassArgsValidator, extract_scalar_reward

from .args import ClassArgs, init_args, use_threads
from .space import check_space_arg

__all__ = ['ZcREATuner', 'ZcREAClassArgsValidator', 'validate_class_args']

_logger = logging.getLogger(__name__)


class ZcREATuner(Tuner):
    """Regularized evolution with zero-cost warm-up and move proposal, one parameter set per trial.

    Parameters
    ----------
    optimize_mode
        ``'maximize'`` (accuracy) or ``'minimize'``.
    population_size, sample_size
        Regularized evolution: population (the newest results) and tournament size (defaults as
        :class:`~nni_rank.strategies.zero_cost.ZeroCostEvolution`, which says how they were chosen).
    pool_size
        Random cells scored by the proxy for the warm-up (0: random initial population).
    random_move_prob
        Probability of a random one-edit child instead of the proxy's best.
    proxy
        Proxy name(s), comma-separated (several: mean rank); see ``nni_rank.proxies``.
    learn, learn_after, learn_alpha
        Proxies (comma-separated) whose weights are fitted to the trials' results once ``learn_after`` have
        finished, and then rank the children (:class:`~nni_rank.strategies.proxy_guide.ProxyGuide`; e.g.
        ``synflow,params,flops``); null: ``proxy`` throughout.
    data, batch_size, cache_dir, device
        For :class:`~nni_rank.proxies.ProxyScorer` (``data`` only matters for data-dependent proxies;
        ``cache_dir`` keeps scores on disk across experiments).
    max_trials
        Raise ``NoMoreTrialError`` after this many parameter sets (None: until the space is used up).
    proxy_seed
        Seeds the proxy's network initialisation and minibatch; the same for every search seed, so
        experiments share one ``cache_dir`` (as the ``zc-rea`` strategy does).
    seed
        Seeds the pool and the tournaments.
    space
        ``'nb201'`` or the user's ``ModelSpace`` (``/abs/path/file.py:CLASS`` or ``PACKAGE.MODULE:CLASS``) whose
        labels the search space has; its networks are built for the proxies.
    threads
        torch threads of the tuner process (default 1: proxy scoring is several times faster with one
        thread when other processes share the cores; None: leave torch's setting).
    """

    def __init__(self, optimize_mode: str = 'maximize', population_size: int = 5, sample_size: int = 2,
                 pool_size: int = 1000, random_move_prob: float = 0.0, proxy: str = 'synflow',
                 data: str = 'digits', batch_size: int = 64, cache_dir: str | None = None, device: str = 'cpu',
                 max_trials: int | None = None, proxy_seed: int = 0, threads: int | None = 1,
                 seed: int | None = None, space: str = 'nb201', learn: str | None = None, learn_after: int = 3,
                 learn_alpha: float = 0.1):
        validate_class_args(**init_args(locals()))
        self.space = space
        self.optimize_mode = optimize_mode
        self.population_size, self.sample_size = population_size, sample_size
        self.pool_size, self.random_move_prob, self.max_trials = pool_size, random_move_prob, max_trials
        self.threads = threads
        self._scorer_args = dict(proxies=proxy, data=data, batch_size=batch_size, seed=proxy_seed,
                                 cache_dir=cache_dir, device=device)
        self.scorer = None  # ProxyScorer, built with the search space
        self._learn = (learn, learn_after, learn_alpha)
        self.guide = None  # ProxyGuide: the scorer, then weights learned from the results
        self._rng = random.Random(seed)
        self.choices: dict[str, list] | None = None  # label -> values
        self.population: deque[tuple[dict, float]] = deque(maxlen=population_size)
        self.history: dict[tuple, float | None] = {}  # every finished (None: failed) parameter set
        self._seen: set[tuple] = set()  # proposed or finished: never proposed again
        self._pending: dict[int, dict] = {}
        self._warm: list[dict] | None = None
        self._generated = 0
        self._imported: list[dict] = []  # import_data before the search space arrived

    # ------------------------------------------------------------------ NNI tuner API
    def update_search_space(self, search_space: dict) -> None:
        if self.space == 'nb201':
            choices = _nb201_choices(search_space)
        else:
            from .space import space_choices
            choices = space_choices('ZcREATuner', search_space, self.space)[1]
            self._scorer_args['space'] = self.space
        from ..proxies import ProxyScorer  # heavy (torch): only once the dispatcher is connected
        use_threads(self.threads)
        self.choices = choices
        if self.scorer is None:
            from ..strategies.proxy_guide import ProxyGuide
            self.scorer = ProxyScorer(**self._scorer_args)
            self.guide = ProxyGuide(self.scorer, *self._learn)
        self._warm = None
        for record in self._imported:
            self._import_one(record)
        self._imported = []

    def generate_parameters(self, parameter_id: int, **kwargs) -> dict:
        if self.choices is None:
            raise RuntimeError('ZcREATuner: update_search_space must be called before generate_parameters')
        if self.max_trials is not None and self._generated >= self.max_trials:
            raise nni.NoMoreTrialError(f'ZcREATuner: max_trials={self.max_trials} reached')
        params = self._propose()
        if params is None:
            raise nni.NoMoreTrialError('ZcREATuner: every architecture of the space has been proposed')
        self._seen.add(self._key(params))
        self._pending[parameter_id] = params
        self._generated += 1
        return dict(params)

    def receive_trial_result(self, parameter_id: int, parameters: dict, value: Any, **kwargs) -> None:
        params = parameters or self._pending.get(parameter_id)
        self._pending.pop(parameter_id, None)
        if not params:
            _logger.warning('ZcREATuner: result for unknown parameter id %s ignored', parameter_id)
            return
        self._record(dict(params), self._signed(extract_scalar_reward(value)))

    def trial_end(self, parameter_id: int, success: bool, **kwargs) -> None:
        params = self._pending.pop(parameter_id, None)
        if not success and params is not None:
            self.history.setdefault(self._key(params), None)  # failed (or early-stopped): never retried
            _logger.info('ZcREATuner: trial %s of %s failed; it stays out of the population', parameter_id, params)

    def import_data(self, data: list[dict]) -> None:
        """Replay finished trials (``nnictl resume``, ``experiment.import_data``): ``{parameter, value}`` each."""
        for record in data:
            if self.choices is None:
                self._imported.append(record)
            else:
                self._import_one(record)

    # ------------------------------------------------------------------ search
    def _propose(self) -> dict | None:
        initial = sum(v is not None for v in self.history.values()) + len(self._pending)
        if initial < self.population_size or not self.population:
            params = self._next_warm()
            if params is not None:
                return params
        if not self.population:
            return self._random_unseen()
        tournament = self._rng.sample(list(self.population), min(self.sample_size, len(self.population)))
        parent = max(tournament, key=lambda t: t[1])[0]
        children = self._children(parent)
        if not children:
            return self._random_unseen()
        if self._rng.random() < self.random_move_prob:
            return self._rng.choice(children)
        return children[int(self.guide.order(children)[0])]

    def _next_warm(self) -> dict | None:
        if self.pool_size == 0:
            return self._random_unseen()
        if self._warm is None:
            pool = self._random_pool(self.pool_size)
            self._warm = [pool[i] for i in self.guide.order(pool)] if pool else []
            _logger.info('ZcREATuner: warm-up pool of %d scored with %s', len(pool), self.guide)
        while self._warm:
            params = self._warm.pop(0)
            if self._key(params) not in self._seen:
                return params
        return None

    def _children(self, parent: dict) -> list[dict]:
        out = []
        for label, values in self.choices.items():
            for value in values:
                if value != parent.get(label):
                    child = {**parent, label: value}
                    if self._key(child) not in self._seen:
                        out.append(child)
        return out

    def _random_pool(self, size: int) -> list[dict]:
        total = math.prod(len(v) for v in self.choices.values())
        size = min(size, total - len(self._seen))
        pool, keys, tries = [], set(), 0
        while len(pool) < size and tries < 50 * size + 1000:
            tries += 1
            params = {label: self._rng.choice(values) for label, values in self.choices.items()}
            k = self._key(params)
            if k not in self._seen and k not in keys:
                keys.add(k)
                pool.append(params)
        return pool

    def _random_unseen(self) -> dict | None:
        pool = self._random_pool(1)
        if pool:
            return pool[0]
        import itertools  # nearly exhausted: enumerate what is left
        labels = list(self.choices)
        for combo in itertools.product(*(self.choices[label] for label in labels)):
            params = dict(zip(labels, combo))
            if self._key(params) not in self._seen:
                return params
        return None

    # ------------------------------------------------------------------ state
    def _key(self, params: dict) -> tuple:
        labels = self.choices if self.choices is not None else params
        return tuple(params.get(label) for label in sorted(labels))

    def _record(self, params: dict, reward: float | None) -> None:
        key = self._key(params)
        self._seen.add(key)
        self.history[key] = reward
        if reward is not None and not math.isnan(reward):
            self.population.append((params, reward))
            if self.guide is not None:
                self.guide.observe(params, reward)

    def _import_one(self, record: dict) -> None:
        params, value = record.get('parameter'), record.get('value')
        if not isinstance(params, dict) or set(params) != set(self.choices) or any(
                params[k] not in self.choices[k] for k in params):
            _logger.warning('ZcREATuner: imported record %r does not fit the search space; skipped', record)
            return
        self._record(dict(params), None if value is None else self._signed(extract_scalar_reward(value)))

    def _signed(self, reward: float) -> float:
        reward = float(reward)
        return reward if self.optimize_mode == 'maximize' else -reward


def _nb201_choices(search_space: dict) -> dict[str, list]:
    from ..spaces.nb201 import EDGE_LABELS, NNI_OPS, OPS
    if not isinstance(search_space, dict) or not search_space:
        raise ValueError(f'ZcREATuner needs a search space dict, got {search_space!r}')
    choices = {}
    for label, spec in search_space.items():
        if not isinstance(spec, dict) or spec.get('_type') != 'choice':
            raise ValueError(f'ZcREATuner needs a NAS-Bench-201 space of six "choice" edges; {label!r} is {spec!r} '
                             '(your own space: classArg space)')
        values = list(spec['_value'])
        if str(label).rsplit('/', 1)[-1] not in EDGE_LABELS or not set(values) <= set(OPS) | set(NNI_OPS):
            raise ValueError(f'ZcREATuner: {label!r}: {values} is not a NAS-Bench-201 edge (labels {EDGE_LABELS}, '
                             f'ops {NNI_OPS}); for your own space give classArg space')
        choices[label] = values
    if len({str(k).rsplit('/', 1)[-1] for k in choices}) != len(EDGE_LABELS):
        raise ValueError(f'ZcREATuner: the space must have the six NAS-Bench-201 edges {EDGE_LABELS}, '
                         f'got {sorted(choices)}')
    return choices


def validate_class_args(**class_args) -> dict:
    """:class:`ZcREATuner`'s arguments, defaults filled in; :class:`ValueError` for the first bad one."""
    args = ClassArgs(ZcREATuner, class_args)
    args.check_common()
    args.check_sizes()
    args.check_int('pool_size', low=0)
    args.check_number('random_move_prob', 0, 1)
    args.check_proxies('proxy', data='data')
    args.check_int('batch_size', low=1)
    args.check_str('cache_dir', optional=True)
    args.check_str('device')
    args.check_int('proxy_seed')
    if args['learn'] is not None:
        args.check_proxies('learn', data='data')
    args.check_int('learn_after', low=2)
    args.check_number('learn_alpha', 0, low_open=True)
    check_space_arg('ZcREATuner', args['space'])
    return args


class ZcREAClassArgsValidator(ClassArgsValidator):
    """What ``nnictl`` runs on ``tuner: {name: ZcREA, classArgs: ...}`` (registered by ``nni-rank register``)."""

    def validate_class_args(self, **kwargs) -> None:
        validate_class_args(**kwargs)
