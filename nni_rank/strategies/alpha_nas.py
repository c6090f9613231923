"""alpha-NAS: regularized evolution whose mutations act on program properties (NB201 here, any space in
:mod:`.alpha_nas_any`).

Each child is made the alpha-NAS way: a tournament picks a parent, :class:`PropertyMutator` changes the
parent's abstract properties (deeper/shallower, more/less mixing, a larger/smaller size bucket ...),
and :func:`~nni_rank.properties.synthesis.synthesize` returns the cell that satisfies the mutated
properties while changing the fewest edges of the parent. Children equal to their parent, or to any
cell queried before up to isomorphism (:meth:`NB201Arch.canonical`), are never proposed, so every
query is a new function.

* :class:`PropertyGuidedEvolution` holds the search (ask/tell, no NNI): the NNI strategy and the
  ``nnictl`` tuner (:mod:`nni_rank.tuners.alpha_nas_tuner`) both drive it.
* :class:`AlphaNas` is the NNI ``Strategy`` (``NasExperiment``, ``run_benchmark_search``,
  ``nni-rank search --strategy alpha-nas``).

About NNI's ``Mutator``: in NNI 3.0, ``nni.nas.space.Mutator`` mutates graph-IR models
(``GraphModelSpace.fork``); python model spaces (``ModelSpace``, ``NasBench201()``) are sampled and
frozen through ``nni.mutable`` with no mutator hook. :class:`PropertyMutator` therefore works on samples:
``mutate(parent_sample) -> child_sample``, the same contract NNI's ``RegularizedEvolution`` applies inline.
"""
from __future__ import annotations

import collections
import logging
from typing import Any, Deque, Mapping

import numpy as np
from nni.nas.execution import ExecutionEngine
from nni.nas.execution.event import ModelEvent, ModelEventType
from nni.nas.space import ExecutableModelSpace
from nni.nas.strategy import Strategy

from ..properties.nb201 import NB201Properties, property_table
from ..properties.synthesis import Unsatisfiable, synthesize
from ..spaces.nb201 import EDGE_LABELS, NNI_OPS, OPS, NB201Arch
from ..spaces.restricted import TableExhausted

__all__ = ['AlphaNas', 'PropertyGuidedEvolution', 'PropertyMutator', 'SearchExhausted', 'alpha_nas', 'nb201_labels']

_logger = logging.getLogger(__name__)

#: Property fields the mutator may move, with their (min, max) ranges on NB201 (buckets: set per table).
_RANGES = {'depth_max': (0, 3), 'depth_min': (0, 3), 'receptive': (0, 3), 'spatial': (0, 1), 'channel': (0, 1)}


class SearchExhausted(RuntimeError):
    """Every equivalence class of the space has been queried."""


def tournament_parent(population, sample_size: int, rng: np.random.RandomState):
    """The best of ``sample_size`` random members of ``population`` (``(candidate, value)`` pairs)."""
    members = list(population)
    picks = rng.permutation(len(members))[:sample_size]
    return max((members[i] for i in picks), key=lambda m: m[1])[0]


class PropertyMutator:
    """Mutate in property space, then synthesise: ``mutate(parent) -> child`` (NB201 cells or NNI samples).

    One step picks a property (``fields``) and moves it: depth and receptive field by +-1 or +-2, the
    mixing flags flipped, a size bucket by +-1. The other properties of the parent stay as lower bounds
    (shape and size must match), as in alpha-NAS; the child is the satisfying cell with the fewest edges
    changed (at most ``max_changes``, ``None`` = any), outside ``exclude`` and never the parent itself.
    """

    def __init__(self, fields: tuple[str, ...] = ('depth_max', 'depth_min', 'receptive', 'spatial', 'channel',
                                                  'params_bucket', 'flops_bucket'),
                 max_changes: int | None = None, keep_others: bool = True, retries: int = 30,
                 seed: int | np.random.RandomState | None = None):
        unknown = [f for f in fields if f not in _RANGES and f not in ('params_bucket', 'flops_bucket')]
        if unknown or not fields:
            raise ValueError(f'cannot mutate properties {unknown or fields}; '
                             f'choose from {list(_RANGES) + ["params_bucket", "flops_bucket"]}')
        self.fields = tuple(fields)
        self.max_changes = max_changes
        self.keep_others = keep_others
        self.retries = retries
        self.rng = seed if isinstance(seed, np.random.RandomState) else np.random.RandomState(seed)
        self.table = property_table()

    def mutate_properties(self, props: NB201Properties) -> NB201Properties:
        """A target: ``props`` with one field moved (others kept as bounds, or freed if ``keep_others=False``)."""
        field = self.fields[self.rng.randint(len(self.fields))]
        lo, hi = _RANGES.get(field, (0, self.table.num_buckets - 1))
        value = int(getattr(props, field))
        if hi - lo == 1:
            new = 1 - value
        else:
            step = self.rng.choice([-2, -1, 1, 2]) if field in ('depth_max', 'receptive') else self.rng.choice([-1, 1])
            new = int(np.clip(value + step, lo, hi))
            if new == value:
                new = value - step if lo <= value - step <= hi else value
        new = bool(new) if field in ('spatial', 'channel') else new
        base = props.replace(pairs=None)
        if not self.keep_others:
            base = NB201Properties(reachable=props.reachable)
        return base.replace(**{field: new})

    def mutate_arch(self, parent: NB201Arch, exclude: np.ndarray | None = None) -> NB201Arch:
        """A child of ``parent`` (raises :class:`Unsatisfiable` after ``retries`` failed targets)."""
        parent = NB201Arch.parse(parent)
        props = self.table.props[self.table.row(parent)]
        if exclude is None:
            exclude = np.zeros(len(self.table), dtype=bool)
            exclude[self.table.canonical_row[self.table.row(parent)]] = True
        last: Exception | None = None
        for _ in range(self.retries):
            target = self.mutate_properties(props)
            try:
                return synthesize(target, parent, max_changes=self.max_changes, exclude=exclude, rng=self.rng,
                                  table=self.table).arch
            except Unsatisfiable as err:
                last = err
        raise Unsatisfiable(f'no child of {parent} found in {self.retries} property mutations; last: {last}')

    def mutate(self, parent_sample: Mapping[str, Any], exclude: np.ndarray | None = None) -> dict[str, Any]:
        """NNI-sample form: same labels (any scope) and op naming as ``parent_sample``."""
        child = self.mutate_arch(NB201Arch.from_sample(parent_sample), exclude)
        return _sample_like(parent_sample, child)


def _sample_like(template: Mapping[str, Any], arch: NB201Arch) -> dict[str, Any]:
    official = any(v in OPS and v not in NNI_OPS for v in template.values())  # nor_conv_* names
    out = dict(template)
    for label in template:
        edge = label.rsplit('/', 1)[-1]
        if edge in EDGE_LABELS:
            op = arch.ops[EDGE_LABELS.index(edge)]
            out[label] = op if official else NNI_OPS[OPS.index(op)]
    return out


class PropertyGuidedEvolution:
    """The alpha-NAS search as ask/tell: :meth:`propose` a cell, :meth:`tell` its accuracy (maximised).

    ``population_size`` random cells first (``init='abstract'``: a random property vector, then a random
    cell that has it, so the first population covers the abstract space; ``'random'``: uniform cells),
    then tournament (``sample_size``) + property mutation; the oldest member leaves the population
    (regularized evolution). Never proposes a cell isomorphic to one proposed before; raises
    :class:`SearchExhausted` once every class has been proposed.
    """

    def __init__(self, population_size: int = 20, sample_size: int = 5, max_changes: int | None = None,
                 fields: tuple[str, ...] | None = None, keep_others: bool = True, init: str = 'abstract',
                 seed: int | None = None):
        if not 1 <= sample_size <= population_size:
            raise ValueError(f'need 1 <= sample_size <= population_size, got {sample_size} and {population_size}')
        if init not in ('abstract', 'random'):
            raise ValueError(f"init must be 'abstract' (uniform over property vectors) or 'random' (uniform over "
                             f"cells), got {init!r}")
        self.init = init
        self.population_size = population_size
        self.sample_size = sample_size
        self.rng = np.random.RandomState(seed)
        kwargs = {'fields': fields} if fields else {}
        self.mutator = PropertyMutator(max_changes=max_changes, keep_others=keep_others, seed=self.rng, **kwargs)
        self.table = self.mutator.table
        self.population: Deque[tuple[NB201Arch, float]] = collections.deque()
        self.proposed = np.zeros(len(self.table), dtype=bool)  # by canonical row
        self.num_proposed = 0
        self.num_classes = len(np.unique(self.table.canonical_row))

    def _mark(self, arch: NB201Arch) -> None:
        canon = self.table.canonical_row[self.table.row(arch)]
        if not self.proposed[canon]:
            self.proposed[canon] = True
            self.num_proposed += 1

    def seen(self, arch: NB201Arch | Any) -> bool:
        """Whether ``arch`` (or a cell isomorphic to it) was proposed or told already."""
        return bool(self.proposed[self.table.canonical_row[self.table.row(arch)]])

    def _random(self) -> NB201Arch:
        free = np.flatnonzero(~self.proposed[self.table.canonical_row])
        if self.init == 'abstract':  # uniform over the property vectors left, then over their cells
            keys = self.table.key_ids[free]
            k = self.rng.choice(np.unique(keys))
            free = free[keys == k]
        return self.table.archs[int(free[self.rng.randint(len(free))])]

    def propose(self) -> NB201Arch:
        """The next cell to query."""
        if self.num_proposed >= self.num_classes:
            raise SearchExhausted(f'all {self.num_classes} distinct NAS-Bench-201 cells have been proposed')
        if len(self.population) < self.population_size:
            arch = self._random()
        else:
            parent = tournament_parent(self.population, self.sample_size, self.rng)
            try:
                arch = self.mutator.mutate_arch(parent, exclude=self.proposed)
            except Unsatisfiable as err:
                _logger.info('%s; sampling a random cell instead', err)
                arch = self._random()
        self._mark(arch)
        return arch

    def tell(self, arch: NB201Arch | Any, value: float | None) -> None:
        """Record the accuracy of a queried cell (``None``/NaN: failed, kept out of the population)."""
        arch = NB201Arch.parse(arch)
        self._mark(arch)
        if value is None or value != value:
            return
        self.population.append((arch, float(value)))
        while len(self.population) > self.population_size:
            self.population.popleft()

    def state_dict(self) -> dict:
        return {'population': [(a.to_str(), v) for a, v in self.population],
                'proposed': np.flatnonzero(self.proposed).tolist(), 'random_state': self.rng.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.population = collections.deque((NB201Arch.from_str(a), float(v)) for a, v in state['population'])
        self.proposed[:] = False
        self.proposed[np.asarray(state['proposed'], dtype=int)] = True
        self.num_proposed = int(self.proposed.sum())
        self.rng.set_state(state['random_state'])


def nb201_labels(space: Mapping[str, Any]) -> dict[str, str]:
    """Map each NB201 edge (``0_1``...) to the label of ``space`` (a ``simplify()`` dict or search space).

    Raises ``ValueError`` naming what is wrong when the space is not a NAS-Bench-201 cell space.
    """
    labels: dict[str, str] = {}
    for label, mutable in space.items():
        edge = str(label).rsplit('/', 1)[-1]
        values = mutable.get('_value') if isinstance(mutable, Mapping) else getattr(mutable, 'values', None)
        if edge not in EDGE_LABELS:
            raise ValueError(f'alpha-nas searches NAS-Bench-201 cell spaces only; the space has label {label!r}, '
                             f'expected only the six edges {EDGE_LABELS} (any scope)')
        if values is None or not (set(values) <= set(OPS) | set(NNI_OPS)) or len(set(values)) != len(OPS):
            raise ValueError(f'alpha-nas: edge {label!r} must offer the five NAS-Bench-201 ops {NNI_OPS}, got {values}')
        labels[edge] = str(label)
    missing = [e for e in EDGE_LABELS if e not in labels]
    if missing:
        raise ValueError(f'alpha-nas: the space lacks NAS-Bench-201 edges {missing}')
    return labels


class AlphaNas(Strategy):
    """alpha-NAS as an NNI strategy: NAS-Bench-201 spaces (``NasBench201()``, ``BenchmarkModelSpace``) through
    the property table; any other space with categorical choices whose networks trace through
    :class:`~nni_rank.strategies.alpha_nas_any.SampleEvolution` (``init`` is uniform there).

    Parameters
    ----------
    population_size, sample_size
        Regularized-evolution population and tournament sizes.
    max_changes
        Most edges a child may differ from its parent (``None``: synthesis may change any number).
    fields
        Properties the mutator moves (default: depth, receptive field, mixing, size buckets).
    init
        ``'abstract'``: the first population samples property vectors uniformly (then a cell of each);
        ``'random'``: uniform cells, as NNI's evolution.
    seed
        Seeds sampling, mutation and synthesis tie-breaks.
    cache_dir
        Folder keeping the traced properties of a generic space's samples on disk (later runs and processes
        trace nothing twice); unused on NAS-Bench-201, whose property table is computed in memory.
    """

    def __init__(self, population_size: int = 20, sample_size: int = 5, max_changes: int | None = None,
                 fields: tuple[str, ...] | None = None, init: str = 'abstract', seed: int | None = None,
                 cache_dir: str | None = None):
        super().__init__()
        self.cache_dir = cache_dir
        self.search = PropertyGuidedEvolution(population_size, sample_size, max_changes, fields, init=init, seed=seed)
        self._options = dict(population_size=population_size, sample_size=sample_size, max_changes=max_changes,
                             fields=fields, seed=seed)
        self._generic = False
        self._running: list[ExecutableModelSpace] = []
        self._labels: dict[str, str] = {}
        self._values: dict[str, list] = {}

    def extra_repr(self) -> str:
        return f'population_size={self.search.population_size}, sample_size={self.search.sample_size}, ' \
               f'max_changes={self.search.mutator.max_changes}'

    def _initialize(self, model_space: ExecutableModelSpace, engine: ExecutionEngine) -> ExecutableModelSpace:
        simplified = model_space.simplify()
        try:
            self._labels = nb201_labels(simplified)
            self._values = {edge: list(simplified[label].values) for edge, label in self._labels.items()}
        except ValueError as err:
            self.search = _generic_search(model_space, err, self._options, self.cache_dir)
            self._generic = True
        engine.register_model_event_callback(ModelEventType.TrainingEnd, self._on_training_end)
        return model_space

    def _cleanup(self) -> None:
        self.engine.unregister_model_event_callback(ModelEventType.TrainingEnd, self._on_training_end)

    def _sample(self, arch: NB201Arch) -> dict[str, str]:
        sample = {}
        for edge, op in zip(EDGE_LABELS, arch.ops):
            values = self._values[edge]
            sample[self._labels[edge]] = op if op in values else NNI_OPS[OPS.index(op)]
        return sample

    def _run(self) -> None:
        while self.wait_for_resource():
            try:
                arch = self.search.propose()
                model = self.model_space.freeze(arch if self._generic else self._sample(arch))
            except (SearchExhausted, TableExhausted) as err:
                _logger.info('%s; stopping.', err)
                break
            self._running.append(model)
            self.engine.submit_models(model)
        self.engine.wait_models()

    def _on_training_end(self, event: ModelEvent) -> None:
        if event.model not in self._running:
            return
        self._running.remove(event.model)
        metric = event.model.metric
        if isinstance(metric, Mapping):
            metric = metric.get('default')
        sample = event.model.sample if self._generic else NB201Arch.from_sample(event.model.sample)
        self.search.tell(sample, None if metric is None else float(metric))

    def state_dict(self) -> dict:
        return {**self.search.state_dict(), 'num_running_models': len(self._running)}

    def load_state_dict(self, state_dict: dict) -> None:
        if state_dict.get('num_running_models', 0):
            _logger.warning('%d models were running when the state was saved; they will not be resumed.',
                            state_dict['num_running_models'])
        self.search.load_state_dict(state_dict)


def _generic_search(model_space: ExecutableModelSpace, nb201_error: ValueError, options: dict,
                    cache_dir: str | None = None):
    """The search over any space with categorical choices whose networks build and trace (else one line)."""
    from ..properties.generic import SpaceProperties
    from ..spaces.adapter import adapter_for
    from .alpha_nas_any import SampleEvolution
    adapter = adapter_for(model_space)
    try:
        if adapter.network_space is None:
            raise ValueError('the space has no network to build (a bare benchmark space)')
        space = SpaceProperties.shared(adapter, cache_dir=cache_dir)
        space.properties({label: values[0] for label, values in space.choices.items()})
    except Exception as err:  # noqa: BLE001 - the reason is reported in one line
        raise ValueError(f'{nb201_error}; nor can it search the space generically: {err}') from None
    _logger.info('alpha-nas: not a NAS-Bench-201 space, searching %s through traced properties', adapter)
    return SampleEvolution(space, **options)


def alpha_nas(seed: int | None = None, **options) -> AlphaNas:
    """Factory for :data:`nni_rank.strategies.STRATEGIES`."""
    return AlphaNas(seed=seed, **options)

