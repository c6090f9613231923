"""alpha-NAS on any space with categorical choices: the search of :mod:`.alpha_nas` over NNI samples.

Properties come from each sample's built network (:class:`~nni_rank.properties.generic.SpaceProperties`);
a child is the sample nearest its parent (fewest labels changed) that satisfies the parent's properties with
one of them moved (:meth:`SampleMutator.mutate_properties`). NB201 spaces keep the table fast path.
"""
from __future__ import annotations

import collections
import logging
from typing import Any, Deque, Mapping

import numpy as np

from ..properties.generic import SpaceProperties
from ..properties.synthesis import Unsatisfiable
from .alpha_nas import SearchExhausted, tournament_parent

__all__ = ['SampleMutator', 'SampleEvolution']

_logger = logging.getLogger(__name__)

#: Fields the mutator moves by default; ``params_bucket``/``flops_bucket`` move by one bucket.
FIELDS = ('depth_max', 'depth_min', 'spatial', 'channel', 'params_bucket', 'flops_bucket')


class SampleMutator:
    """``mutate(parent) -> child`` in property space, as :class:`.alpha_nas.PropertyMutator` does on NB201.

    Depth moves by +-1 or +-2 (never below 0), a mixing flag flips, a size bucket moves by +-1; the other
    properties stay (lower bounds for depth and mixing, which leaves mixing relaxed; shape and size match).
    A child costs at most ``new_budget`` networks built and traced over all its ``retries`` (then
    :class:`Unsatisfiable`, and the evolution samples a random child); ``budget`` bounds the samples one
    synthesis looks at, cached ones included.
    """

    def __init__(self, space: SpaceProperties, fields: tuple[str, ...] = FIELDS, max_changes: int | None = None,
                 retries: int = 10, beam: int = 64, budget: int = 500, new_budget: int | None = 150,
                 seed: int | np.random.RandomState | None = None):
        unknown = [f for f in fields if f not in FIELDS]
        if unknown or not fields:
            raise ValueError(f'cannot mutate properties {unknown or fields}; choose from {list(FIELDS)}')
        self.space, self.fields, self.max_changes = space, tuple(fields), max_changes
        self.retries, self.beam, self.budget, self.new_budget = retries, beam, budget, new_budget
        self.rng = seed if isinstance(seed, np.random.RandomState) else np.random.RandomState(seed)

    def mutate_properties(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """A target: ``props`` with one field moved."""
        field = self.fields[self.rng.randint(len(self.fields))]
        value = props[field]
        if field in ('spatial', 'channel'):
            new = not value
        elif field.endswith('bucket'):
            new = None if value is None else int(value + self.rng.choice([-1, 1]))
        else:
            new = max(0, int(value + self.rng.choice([-2, -1, 1, 2])))
        target = {f: props[f] for f in FIELDS + ('reachable', 'shape')}
        target[field] = new
        return target

    def mutate(self, parent: Mapping[str, Any], exclude=()) -> dict[str, Any]:
        """A child of ``parent`` outside ``exclude`` (sample keys); :class:`Unsatisfiable` after ``retries``."""
        exclude = set(exclude) | {self.space.key(parent)}
        props = self.space.properties(parent)
        last: Exception | None = None
        start = self.space.computed
        for _ in range(self.retries):
            left = None if self.new_budget is None else self.new_budget - (self.space.computed - start)
            if left is not None and left <= 0:
                last = Unsatisfiable(f'{self.new_budget} new networks built and traced for this child')
                break
            try:
                return self.space.synthesize(self.mutate_properties(props), parent, max_changes=self.max_changes,
                                             exclude=exclude, beam=self.beam, budget=self.budget, max_new=left,
                                             rng=self.rng)[0]
            except Unsatisfiable as err:
                last = err
        raise Unsatisfiable(f'no child of {self.space.key(parent)} found in {self.retries} property mutations; '
                            f'last: {last}')


class SampleEvolution:
    """Regularized evolution with property mutation over ``{label: value}`` samples (ask/tell).

    ``population_size`` uniform samples first, then tournament + :class:`SampleMutator`; the oldest member
    leaves. Never proposes a sample twice; :class:`SearchExhausted` once every sample has been proposed.
    """

    def __init__(self, space: SpaceProperties, population_size: int = 20, sample_size: int = 5,
                 max_changes: int | None = None, fields: tuple[str, ...] | None = None, seed: int | None = None,
                 **mutator_options):
        if not 1 <= sample_size <= population_size:
            raise ValueError(f'need 1 <= sample_size <= population_size, got {sample_size} and {population_size}')
        self.space, self.population_size, self.sample_size = space, population_size, sample_size
        self.rng = np.random.RandomState(seed)
        self.mutator = SampleMutator(space, fields or FIELDS, max_changes, seed=self.rng, **mutator_options)
        self.population: Deque[tuple[dict, float]] = collections.deque()
        self.proposed: set[str] = set()

    def _random(self) -> dict[str, Any]:
        rows = self.space.adapter.open_rows()
        if rows is not None:  # a search restricted to a table: an open row
            rows = [r for r in rows if self.space.key(r) not in self.proposed]
            if rows:
                return rows[self.rng.randint(len(rows))]
        for _ in range(1000):
            sample = {label: values[self.rng.randint(len(values))] for label, values in self.space.choices.items()}
            if self.space.key(sample) not in self.proposed:
                return sample
        raise SearchExhausted(f'no new sample found in 1000 random draws ({len(self.proposed)} proposed)')

    def propose(self) -> dict[str, Any]:
        """The next sample to query."""
        if len(self.proposed) >= self.space.size():
            raise SearchExhausted(f'all {self.space.size()} samples of the space have been proposed')
        if len(self.population) < self.population_size:
            sample = self._random()
        else:
            parent = tournament_parent(self.population, self.sample_size, self.rng)
            try:
                sample = self.mutator.mutate(parent, exclude=self.proposed)
            except Unsatisfiable as err:
                _logger.info('%s; sampling a random sample instead', err)
                sample = self._random()
        self.proposed.add(self.space.key(sample))
        return sample

    def tell(self, sample: Mapping[str, Any], value: float | None) -> None:
        """Record the metric of a queried sample (``None``/NaN: failed, kept out of the population)."""
        sample = {label: sample[label] for label in self.space.labels}
        self.proposed.add(self.space.key(sample))
        if value is None or value != value:
            return
        self.population.append((sample, float(value)))
        while len(self.population) > self.population_size:
            self.population.popleft()

    def state_dict(self) -> dict:
        return {'population': [(self.space.key(s), v) for s, v in self.population],
                'proposed': sorted(self.proposed), 'random_state': self.rng.get_state()}

    def load_state_dict(self, state: dict) -> None:
        import json
        self.population = collections.deque((json.loads(k), float(v)) for k, v in state['population'])
        self.proposed = set(state['proposed'])
        self.rng.set_state(state['random_state'])
