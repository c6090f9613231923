"""NAR search: sample candidates from top-tier statistics, rank them with NAR, evaluate the best few.

One round (after a small random initial sample has been evaluated):

1. train :class:`~nni_rank.predictors.NARPredictor` on every evaluated architecture (tiers = rank quintiles);
2. the *top tier* = evaluated architectures in tier 0, plus uniformly drawn unseen ones the predictor
   classifies into tier 0 (weighted by their tier-0 probability);
3. estimate the per-position choice distributions of the top tier (:class:`~nni_rank.predictors.TierStatistics`)
   and sample candidates from them, plus as many uniform ones;
4. rank the unseen, deduplicated candidates and submit the ``batch_size`` best.

No RL and no evolution. :class:`NARSearch` is the ask/tell core shared by :class:`NARStrategy` (NNI
``Strategy``) and :class:`~nni_rank.tuners.NARTuner` (``nnictl``). It works on any space through
:func:`~nni_rank.spaces.adapter.adapter_for`: each space kind gives its candidate codec (NAS-Bench-201 cells the
graph encoding and isomorphism dedupe, any other space :class:`~nni_rank.spaces.SpaceEncoder`'s encoding).
"""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from nni.nas.execution import ExecutionEngine
from nni.nas.execution.event import ModelEvent, ModelEventType
from nni.nas.space import ExecutableModelSpace
from nni.nas.strategy import Strategy

from ..predictors import NARPredictor, TierStatistics, with_extra_features
from ..proxies.common import rank_with_nan_last
from ..spaces.adapter import SampleCandidates, adapter_for

__all__ = ['NARSearch', 'NARStrategy', 'nar_strategy_factory', 'proxy_features', 'make_adapter', 'NB201Adapter',
           'GenericAdapter', 'ProxyFeatures']

_logger = logging.getLogger(__name__)

#: feature_fn(list of samples) -> (n, m) array of extra predictor inputs (e.g. zero-cost proxy scores).
FeatureFn = Callable[[list], np.ndarray]


# ---------------------------------------------------------------------------------------------- space adapters
#: NAR's candidate codecs live with their space kinds; the old names are kept.
GenericAdapter = SampleCandidates


def __getattr__(name: str) -> Any:
    if name == 'NB201Adapter':
        from ..spaces.nb201_adapter import NB201Candidates
        return NB201Candidates
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def make_adapter(space: Any, fast_path: bool = True, paths: bool = True) -> Any:
    """NAR's candidate codec of ``space`` (a model space or its ``simplify()`` dict), from the space's adapter;
    ``fast_path=False`` forces the generic sample codec.

    ``paths`` keeps the path features of the NB201 encoding (see :class:`~nni_rank.predictors.NB201Encoder`).
    """
    if not fast_path:
        return SampleCandidates(dict(space) if isinstance(space, Mapping) else space.simplify())
    return adapter_for(space).candidates(paths=paths)


# ---------------------------------------------------------------------------------------------- ask/tell core
class NARSearch:
    """Ask/tell NAR search over a space adapter (see the module docstring for one round).

    Parameters
    ----------
    adapter
        :class:`NB201Adapter` or :class:`GenericAdapter` (see :func:`make_adapter`).
    init_samples
        Uniformly random architectures evaluated before the first predictor is trained.
    batch_size
        Top-ranked candidates evaluated per round (one retraining per round).
    pool_size
        Uniform candidates per round (scored to find predicted top-tier members, and ranked).
    stats_samples
        Candidates sampled from the top-tier statistics per round.
    smoothing
        Pseudo-count per choice in the tier statistics.
    num_tiers
        ``K`` of the predictor.
    local_slots
        Slots of each batch given to the best-ranked unseen one-edit neighbour of the best evaluated
        architecture (the top tier's best member with all positions but one kept). Without it the search can
        lock onto a family whose statistics never propose the missing op (0: pure tier-statistics sampling).
    feature_fn
        Optional ``f(list of samples) -> (n, m)`` extra features (e.g. zero-cost proxies), log-scaled.
    warm_up
        With ``feature_fn``: draw this many random architectures, and take the initial samples in the
        order of their extra features (mean rank, higher is better, as for zero-cost proxies) instead of
        at random (0: random initial samples).
    compact_view
        With ``feature_fn``: also train NAR on FLOPs, params and the extra features alone and average the
        two (:attr:`NARPredictor.compact_columns`); better global ranking from few labels, but in our
        NB201 runs it found the optimum later, so off by default.
    proxy_bins
        With ``feature_fn``: give the network each extra feature as a piecewise-linear encoding over this many
        training-quantile bins (:attr:`NARPredictor.bin_columns`); 0 (default) keeps the raw (signed-log) values.
    predictor_args
        Keyword arguments of :class:`~nni_rank.predictors.NARPredictor` (``epochs``, ``hidden``, ``device`` ...).
    seed
        Seeds sampling and the predictor.
    """

    def __init__(self, adapter, *, init_samples: int = 16, batch_size: int = 4, pool_size: int = 1000,
                 stats_samples: int = 1000, smoothing: float = 0.5, num_tiers: int = 5,
                 local_slots: int = 1, feature_fn: FeatureFn | None = None, compact_view: bool = False,
                 warm_up: int = 0, proxy_bins: int = 0, predictor_args: Mapping[str, Any] | None = None,
                 seed: int | None = None):
        if init_samples < 2:
            raise ValueError(f'init_samples must be >= 2 (NAR ranks pairs), got {init_samples}')
        if batch_size < 1 or pool_size < 1 or stats_samples < 0:
            raise ValueError('batch_size and pool_size must be positive and stats_samples >= 0')
        if not 0 <= local_slots <= batch_size:
            raise ValueError(f'local_slots must lie in 0..batch_size={batch_size}, got {local_slots}')
        if warm_up < 0 or (warm_up and feature_fn is None):
            raise ValueError(f'warm_up must be >= 0 and needs feature_fn (zero-cost proxies), got {warm_up}')
        if isinstance(proxy_bins, bool) or not isinstance(proxy_bins, (int, np.integer)) or proxy_bins < 0 \
                or proxy_bins == 1:
            raise ValueError(f'proxy_bins must be 0 (off) or an integer >= 2, got {proxy_bins!r}')
        if proxy_bins and feature_fn is None:
            raise ValueError(f'proxy_bins={proxy_bins} needs feature_fn (zero-cost proxies, e.g. proxies=synflow,naswot)')
        self.adapter = adapter
        self.init_samples, self.batch_size = init_samples, batch_size
        self.pool_size, self.stats_samples, self.local_slots = pool_size, stats_samples, local_slots
        self.num_tiers, self.feature_fn, self.compact_view = num_tiers, feature_fn, compact_view
        self.warm_up, self.proxy_bins = warm_up, int(proxy_bins)
        self._warm: list[Any] | None = None  # warm-up candidates, best extra features first
        self.predictor_args = dict(predictor_args or {})
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.stats = TierStatistics(adapter.cardinalities, smoothing)
        self.history: list[tuple[Any, float]] = []  # (candidate, accuracy) of finished evaluations
        self.failed: list[Any] = []
        self._seen: set = set()  # keys asked (finished, failed or pending)
        self._queue: list[Any] = []
        self._feature_cache: dict = {}
        self.rounds = 0
        self.round_seconds: list[float] = []
        self.predictor: NARPredictor | None = None

    # ------------------------------------------------------------------ tell
    def tell(self, cand: Any, value: float | None) -> None:
        """Record a finished evaluation (``value=None`` or NaN: failed, never proposed again)."""
        self._seen.add(self.adapter.key(cand))
        if value is None or not np.isfinite(value):
            self.failed.append(cand)
        else:
            self.history.append((cand, float(value)))

    # ------------------------------------------------------------------ ask
    def ask(self) -> Any | None:
        """The next candidate to evaluate, or None when no unseen valid candidate can be found."""
        while self._queue:
            cand = self._queue.pop(0)
            if self.adapter.key(cand) not in self._seen:
                self._seen.add(self.adapter.key(cand))
                return cand
        if len(self.history) < self.init_samples and self.warm_up:
            fresh = self._next_warm()
        elif len(self.history) < self.init_samples:
            fresh = self._unseen(self.adapter.random(max(64, self.init_samples), self.rng), limit=1)
        else:
            self._queue = self._propose()
            fresh = self._queue[:1]
            self._queue = self._queue[1:]
        if not fresh:
            fresh = self._unseen(self.adapter.random(4096, self.rng), limit=1)  # last resort before giving up
        if not fresh:
            return None
        self._seen.add(self.adapter.key(fresh[0]))
        return fresh[0]

    def predicted_tier(self, cand: Any) -> int | None:
        """The tier (0 = top) the current predictor puts ``cand`` in; None before the first round."""
        if self.predictor is None:
            return None
        return int(self.predictor.predict_tier(self.features([cand]))[0])

    def _next_warm(self) -> list[Any]:
        """The best unseen warm-up candidate by mean rank of the extra features (a list of at most one)."""
        if self._warm is None:
            pool = self._unseen(self.adapter.random(self.warm_up, self.rng))
            self.features(pool)  # fills the cache of raw extra features
            extra = np.array([self._feature_cache[self.adapter.key(c)] for c in pool], dtype=float)
            ranks = np.mean([rank_with_nan_last(col) for col in extra.reshape(len(pool), -1).T], axis=0)
            self._warm = [pool[i] for i in np.argsort(ranks, kind='stable')]  # best mean rank first
        return self._unseen(self._warm, limit=1)

    def _unseen(self, cands: Sequence[Any], limit: int | None = None) -> list[Any]:
        out, keys = [], set()
        for c in cands:
            k = self.adapter.key(c)
            if k in self._seen or k in keys or not self.adapter.valid(c):
                continue
            keys.add(k)
            out.append(c)
            if limit is not None and len(out) >= limit:
                break
        return out

    def features(self, cands: Sequence[Any]) -> np.ndarray:
        X = self.adapter.features(cands)
        if self.feature_fn is None:
            return X
        keys = [self.adapter.key(c) for c in cands]
        todo = [i for i, k in enumerate(keys) if k not in self._feature_cache]
        if todo:
            extra = np.asarray(self.feature_fn([self.adapter.to_sample(cands[i]) for i in todo]), dtype=float)
            if extra.ndim == 1:
                extra = extra[:, None]
            if extra.shape[0] != len(todo):
                raise ValueError(f'feature_fn returned {extra.shape[0]} rows for {len(todo)} samples')
            for i, row in zip(todo, extra):
                self._feature_cache[keys[i]] = row
        return with_extra_features(X, np.stack([self._feature_cache[k] for k in keys]))

    def fit(self) -> NARPredictor:
        """Train a fresh predictor on every finished evaluation."""
        cands = [c for c, _ in self.history]
        y = np.array([v for _, v in self.history])
        args = {'num_tiers': self.num_tiers, 'seed': (self.seed or 0) + self.rounds, **self.predictor_args}
        X = self.features(cands)
        base = self.adapter.encoder.dim
        if self.compact_view and X.shape[1] > base and 'compact_columns' not in args:
            names = self.adapter.encoder.feature_names
            cost = [names.index(n) for n in ('mflops', 'mparams') if n in names]
            args['compact_columns'] = cost + list(range(base, X.shape[1]))
        if self.proxy_bins and X.shape[1] > base and 'bin_columns' not in args:
            args.update(bin_columns=list(range(base, X.shape[1])), bins=self.proxy_bins)
        self.predictor = NARPredictor(**args).fit(X, y)
        return self.predictor

    def _propose(self) -> list[Any]:
        start = time.perf_counter()
        predictor = self.fit()
        labelled = [c for c, _ in self.history]
        pool = self._unseen(self.adapter.random(self.pool_size, self.rng))
        # the top tier: known members plus pool members predicted into tier 0
        top = [c for c, t in zip(labelled, predictor.train_tiers) if t == 0]
        weights = [1.0] * len(top)
        if pool:
            p0 = predictor.predict_proba(self.features(pool))[:, 0]
            for c, p in zip(pool, p0):
                if p >= 0.5:
                    top.append(c)
                    weights.append(float(p))
        self.stats.estimate(self.adapter.indices(top), np.array(weights))
        rows = self.stats.sample(self.stats_samples, self.rng)
        sampled = self.adapter.from_indices(rows, self.rng, donors=top)
        cands = self._unseen(list(sampled) + pool)
        chosen = self._best_distinct(predictor, cands, self.batch_size - self.local_slots, [])
        if self.local_slots:
            chosen = self._best_distinct(predictor, self._local_candidates(), len(chosen) + self.local_slots, chosen)
        if len(chosen) < self.batch_size:
            chosen = self._best_distinct(predictor, cands, self.batch_size, chosen)
        self.rounds += 1
        self.round_seconds.append(time.perf_counter() - start)
        return chosen

    def _local_candidates(self) -> list[Any]:
        """Unseen one-edit neighbours of the best evaluated architecture that still has some."""
        for cand, _ in sorted(self.history, key=lambda t: -t[1]):
            near = self._unseen(self.adapter.neighbours(cand))
            if near:
                return near
        return []

    def _best_distinct(self, predictor: NARPredictor, cands: list[Any], total: int, chosen: list[Any]) -> list[Any]:
        """``chosen`` extended to ``total`` with the best-ranked ``cands``, distinct choice patterns first."""
        chosen = list(chosen)
        taken = {self.adapter.key(c) for c in chosen}
        cands = [c for c in cands if self.adapter.key(c) not in taken]
        if not cands or len(chosen) >= total:
            return chosen
        order = np.argsort(-predictor.rank_score(self.features(cands)), kind='stable')
        rows = self.adapter.indices(cands)
        patterns = {tuple(r) for r in self.adapter.indices(chosen)} if chosen else set()
        # continuous labels alone do not make a new pattern: prefer new patterns, then fill
        for i in order:
            if len(chosen) >= total:
                break
            if tuple(rows[i]) not in patterns:
                chosen.append(cands[i])
                patterns.add(tuple(rows[i]))
        for i in order:
            if len(chosen) >= total:
                break
            if not any(cands[i] is c for c in chosen):
                chosen.append(cands[i])
        return chosen

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        return {'history': [(self.adapter.to_sample(c), v) for c, v in self.history],
                'failed': [self.adapter.to_sample(c) for c in self.failed],
                'rng': self.rng.bit_generator.state, 'rounds': self.rounds}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.history, self.failed, self._seen, self._queue = [], [], set(), []
        for sample, value in state.get('history', []):
            self.tell(self.adapter.from_sample(sample), value)
        for sample in state.get('failed', []):
            self.tell(self.adapter.from_sample(sample), None)
        if 'rng' in state:
            self.rng.bit_generator.state = state['rng']
        self.rounds = int(state.get('rounds', 0))


# ---------------------------------------------------------------------------------------------- NNI strategy
class NARStrategy(Strategy):
    """NAR as an NNI multi-trial strategy: tier-statistics sampling ranked by a NAR predictor.

    Works on any model space (generic encoding through :class:`SpaceEncoder`; NAS-Bench-201 cells are
    recognised and get the graph encoding and isomorphism dedupe) and any evaluator reporting a metric
    where higher is better. ``NasExperiment(space, evaluator, NARStrategy(seed=0))``.

    Parameters are those of :class:`NARSearch` (``init_samples``, ``batch_size``, ``pool_size``,
    ``stats_samples``, ``smoothing``, ``num_tiers``, ``local_slots``, ``feature_fn``, ``compact_view``,
    ``warm_up``, ``proxy_bins``), plus
    ``predictor_args`` for :class:`~nni_rank.predictors.NARPredictor`, ``device`` for it,
    ``fast_path=False`` to force the generic encoding, ``paths=False`` to drop the path features of the
    NB201 encoding, and ``stop_at`` to stop once a finished model's metric reaches that value.
    """

    def __init__(self, *, init_samples: int = 16, batch_size: int = 4, pool_size: int = 1000,
                 stats_samples: int = 1000, smoothing: float = 0.5, num_tiers: int = 5, local_slots: int = 1,
                 feature_fn: FeatureFn | None = None, compact_view: bool = False, warm_up: int = 0,
                 proxy_bins: int = 0, predictor_args: Mapping[str, Any] | None = None,
                 device: str = 'cpu', fast_path: bool = True, paths: bool = True, stop_at: float | None = None,
                 seed: int | None = None):
        super().__init__()
        self._search_args = dict(init_samples=init_samples, batch_size=batch_size, pool_size=pool_size,
                                 stats_samples=stats_samples, smoothing=smoothing, num_tiers=num_tiers,
                                 local_slots=local_slots, feature_fn=feature_fn, compact_view=compact_view,
                                 warm_up=warm_up, proxy_bins=proxy_bins,
                                 predictor_args={'device': device, **(predictor_args or {})},
                                 seed=seed)
        NARSearch(_DummyAdapter(), **self._search_args)  # validate arguments now, not at run time
        self.fast_path, self.paths = fast_path, paths
        self.stop_at = stop_at
        self.search: NARSearch | None = None
        self._running: dict[Any, Any] = {}  # model -> candidate
        self._pending_state: dict | None = None

    def extra_repr(self) -> str:
        a = self._search_args
        return (f'init_samples={a["init_samples"]}, batch_size={a["batch_size"]}, pool_size={a["pool_size"]}, '
                f'stats_samples={a["stats_samples"]}, num_tiers={a["num_tiers"]}')

    def _initialize(self, model_space: ExecutableModelSpace, engine: ExecutionEngine) -> ExecutableModelSpace:
        feature_fn = self._search_args['feature_fn']
        if hasattr(feature_fn, 'bind'):
            feature_fn.bind(model_space)  # proxy scores of this space's samples
        self.search = NARSearch(make_adapter(model_space, self.fast_path, self.paths), **self._search_args)
        if self._pending_state is not None:
            self.search.load_state_dict(self._pending_state)
            self._pending_state = None
        engine.register_model_event_callback(ModelEventType.TrainingEnd, self._on_training_end)
        return model_space

    def _cleanup(self) -> None:
        self.engine.unregister_model_event_callback(ModelEventType.TrainingEnd, self._on_training_end)

    def _run(self) -> None:
        from nni.mutable import SampleValidationError
        from ..spaces.restricted import TableExhausted
        assert self.search is not None
        while self.wait_for_resource():
            if self.stop_at is not None and any(v >= self.stop_at for _, v in self.search.history):
                _logger.info('NAR reached the target metric %s; stopping.', self.stop_at)
                break
            try:
                cand = self.search.ask()
                if cand is None:
                    _logger.warning('NAR found no new architecture to evaluate; stopping.')
                    break
                model = self.model_space.freeze(self.search.adapter.to_sample(cand))
            except TableExhausted as err:
                _logger.info('%s; stopping.', err)
                break
            except SampleValidationError as err:
                _logger.debug('invalid sample skipped: %s', err)
                self.search.tell(cand, None)
                continue
            self._running[model] = cand
            self.engine.submit_models(model)
        self.engine.wait_models()

    def _on_training_end(self, event: ModelEvent) -> None:
        cand = self._running.pop(event.model, None)
        if cand is None or self.search is None:
            return
        metric = event.model.metric
        self.search.tell(cand, None if metric is None else float(metric))

    def state_dict(self) -> dict:
        return self.search.state_dict() if self.search is not None else dict(self._pending_state or {})

    def load_state_dict(self, state_dict: dict) -> None:
        if self.search is not None:
            self.search.load_state_dict(state_dict)
        else:
            self._pending_state = dict(state_dict)


class _DummyAdapter:
    cardinalities = [1]


def nar_strategy_factory(seed: int | None = None, proxies: str | Sequence[str] | None = None,
                         proxy_table: str | None = None, proxy_data: str = 'digits', proxy_cache: str | None = None,
                         **options) -> NARStrategy:
    """``make_strategy('nar', seed=..., **options)``: see :class:`NARStrategy`.

    ``proxies`` (``'synflow,naswot'`` or a list) adds zero-cost proxy scores as extra predictor inputs: for
    NAS-Bench-201 cells read from ``proxy_table`` (a CSV such as the NAS-Bench-Suite-Zero reference), else
    computed on ``proxy_data`` for the samples of the searched space (cached in ``proxy_cache``;
    about 0.1-1 s per new NB201 cell on a CPU, so lower ``pool_size``/``stats_samples`` then). With proxies the
    defaults become ``warm_up=1000, init_samples=8``: the initial samples are the proxies' best of 1,000
    random cells (NB201 C10, synflow+naswot, tuning seeds 100-111, median queries to the optimum: 36 with
    16 random initial samples, 25 with 16 warm-up ones, 21 with 8; bench/bench_defaults.py). With ``proxy_table``
    a proxy name may be any column of the table (``epe_nas``, ``zen``, ...), and ``proxy_bins=8`` gives NAR each
    proxy as 8 quantile bins (see :class:`NARSearch`).
    """
    if proxies and 'feature_fn' in options:
        raise ValueError('give either proxies=... or feature_fn=..., not both')
    feature_fn = proxy_features(proxies, proxy_table, proxy_data, proxy_cache, seed=seed or 0)
    if feature_fn is not None:
        options.update(feature_fn=feature_fn, **{k: v for k, v in PROXY_DEFAULTS.items() if k not in options})
    return NARStrategy(seed=seed, **options)


#: NAR's defaults when zero-cost proxies are given (see :func:`nar_strategy_factory`)
PROXY_DEFAULTS = {'warm_up': 1000, 'init_samples': 8}


class ProxyFeatures:
    """A ``feature_fn`` of raw zero-cost scores of samples; :class:`NARStrategy` binds it to its model space
    (unbound, samples are NAS-Bench-201 cells, as the ``nnictl`` tuner sends them)."""

    def __init__(self, names: Sequence[str], table: str | None = None, data: str = 'digits',
                 cache_dir: str | None = None, seed: int = 0):
        from ..proxies.scorer import ProxyScorer
        self.names = list(names)
        self.scorer = ProxyScorer(self.names, data=data, seed=seed, cache_dir=cache_dir, table=table, exact_table=False,
                                  table_columns=True)
        self.space: Any = None

    def bind(self, model_space: Any) -> 'ProxyFeatures':
        self.space = model_space
        return self

    def __call__(self, samples: list) -> np.ndarray:
        return self.scorer.raw_scores(samples, self.space)


def proxy_features(proxies: str | Sequence[str] | None, proxy_table: str | None = None, proxy_data: str = 'digits',
                   proxy_cache: str | None = None, seed: int = 0) -> ProxyFeatures | None:
    """A ``feature_fn`` of zero-cost scores: read from ``proxy_table`` (NAS-Bench-201 cells; any of its columns),
    else computed for the samples of any space (None without ``proxies``)."""
    if not proxies:
        if proxy_table:
            raise ValueError('proxy_table needs proxies=NAMES (the columns to read)')
        return None
    names = [n.strip() for n in proxies.split(',')] if isinstance(proxies, str) else list(proxies)
    return ProxyFeatures(names, proxy_table, proxy_data, proxy_cache, seed)
