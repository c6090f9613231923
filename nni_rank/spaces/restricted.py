"""Search restricted to the architectures of a table: for a user who trained a subset of their space.

A table that covers a small part of its space (500 trained samples of 2^21 * 3^5) cannot answer the queries of
an unrestricted search. Restricted to the table, every strategy searches the tabulated samples only:

* random draws are uniform over the rows not queried yet;
* any other proposal (a mutation, a TPE suggestion, a synthesised sample) is *projected* onto the nearest row
  not queried yet: fewest labels changed, ties broken by a seeded draw.

NNI's strategies see it through the executable space (:class:`TableRestrictedSpace`: ``random`` and ``freeze``
project); the project's strategies through the adapter (:meth:`TableRestrictedAdapter.project`, used before
they score candidates, so a proxy or a predictor ranks what would be evaluated). Every query is a new row.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

import numpy as np
from nni.mutable import SampleValidationError
from nni.nas.benchmark import BenchmarkModelSpace
from nni.nas.space import ModelStatus

from ..files import short_hash
from .adapter import SpaceAdapter, encode_sample

__all__ = ['TableExhausted', 'TableRestriction', 'TableRestrictedAdapter', 'TableRestrictedSpace', 'restrict_to_table', 'restricted_adapter']


class TableExhausted(SampleValidationError):
    """Every row of the table has been queried (NNI's strategies stop sampling on it, as on an invalid sample)."""


class TableRestriction:
    """The rows of a table as samples, which of them were queried, and projection onto the others."""

    def __init__(self, adapter: SpaceAdapter, samples: Sequence[Mapping[str, Any]], seed: int | None = 0):
        self.labels = adapter.labels
        choices = adapter.choices()
        self._index = {label: {repr(v): i for i, v in enumerate(choices[label].values)} for label in self.labels}
        if not samples:
            raise ValueError('restricting the search to a table needs a table with rows')
        self.samples = [{label: s[label] for label in self.labels} for s in samples]
        sizes = [len(choices[label].values) for label in self.labels]
        self._offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self._width = int(sum(sizes))
        self._onehot = self._one_hot(np.array([self._encode(s) for s in self.samples], dtype=np.int64))
        self._row = {encode_sample(s, self.labels): i for i, s in enumerate(self.samples)}
        self._free = np.ones(len(self.samples), dtype=bool)
        self._rng = np.random.default_rng(seed)

    def _encode(self, sample: Mapping[str, Any]) -> list[int]:
        try:
            return [self._index[label].get(repr(sample[label]), -1) for label in self.labels]
        except KeyError as err:
            raise ValueError(f'sample {dict(sample)} lacks label {err.args[0]!r}') from None

    def _one_hot(self, codes: np.ndarray) -> np.ndarray:
        """``(n, sum of choice counts)`` 0/1 rows: label distance = labels - one_hot(a) . one_hot(b)."""
        out = np.zeros((len(codes), self._width), dtype=np.float32)
        rows, cols = np.nonzero(codes >= 0)  # a value outside the choices matches nothing
        out[rows, self._offsets[cols] + codes[rows, cols]] = 1.0
        return out

    @property
    def num_free(self) -> int:
        return int(self._free.sum())

    def project(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        """The row not queried yet that differs from ``sample`` in the fewest labels (seeded tie-break)."""
        return self.project_many([sample])[0]

    def project_many(self, samples: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """:meth:`project` of each sample (one vectorised pass; each sample projected on its own)."""
        if not self._free.any():
            raise TableExhausted(f'every one of the table\'s {len(self.samples)} architectures has been queried')
        free = np.flatnonzero(self._free)
        out = []
        for start in range(0, len(samples), 1024):
            codes = np.array([self._encode(s) for s in samples[start:start + 1024]], dtype=np.int64)
            matches = self._one_hot(codes) @ self._onehot[free].T  # labels in common, exact small integers
            distance = len(self.labels) - matches
            distance += self._rng.random(distance.shape, dtype=np.float32) * 0.5  # integer ties broken at random
            out.extend(dict(self.samples[free[i]]) for i in distance.argmin(axis=1))
        return out

    def random(self, rng: Any = None) -> dict[str, Any]:
        """A row not queried yet, uniformly (``rng``: numpy ``Generator`` or ``RandomState``; else the own one)."""
        free = np.flatnonzero(self._free)
        if not len(free):
            raise TableExhausted(f'every one of the table\'s {len(self.samples)} architectures has been queried')
        rng = self._rng if rng is None else rng
        pick = rng.integers(len(free)) if hasattr(rng, 'integers') else rng.randint(len(free))
        return dict(self.samples[int(free[int(pick)])])

    def random_many(self, n: int, rng: Any = None) -> list[dict[str, Any]]:
        """``min(n, rows left)`` distinct rows not queried yet, uniformly (``rng`` as for :meth:`random`)."""
        free = np.flatnonzero(self._free)
        if not len(free):
            raise TableExhausted(f'every one of the table\'s {len(self.samples)} architectures has been queried')
        rng = self._rng if rng is None else rng
        picks = rng.choice(len(free), size=min(int(n), len(free)), replace=False)
        return [dict(self.samples[int(free[int(i)])]) for i in picks]

    def open_rows(self) -> list[dict[str, Any]]:
        """The rows not queried yet, in table order."""
        return [dict(self.samples[i]) for i in np.flatnonzero(self._free)]

    def digest(self) -> str:
        """A short hash of the table's rows (not of which were queried)."""
        text = '\n'.join(sorted(self._row))
        return short_hash(text)

    def claim(self, sample: Mapping[str, Any]) -> None:
        """Mark the row of ``sample`` as queried (a sample outside the table is ignored)."""
        row = self._row.get(encode_sample(sample, self.labels))
        if row is not None:
            self._free[row] = False


class TableRestrictedAdapter:
    """Mixed into a copy of a space's adapter (:func:`restricted_adapter`): its answers, with samples projected."""

    restriction: TableRestriction

    def project(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        return self.restriction.project(sample)

    def open_rows(self) -> list[dict[str, Any]]:
        return self.restriction.open_rows()

    def candidates(self, paths: bool = True):
        return _RestrictedCandidates(super().candidates(paths), self.restriction)

    def distinct_samples(self, n: int, seed: int) -> list[dict[str, Any]]:
        """``min(n, rows)`` distinct rows of the table drawn with ``seed``, queried or not: the population of a
        restricted search (e.g. what ``zc_ensemble`` is calibrated on), the same for every search on the table."""
        rows = self.restriction.samples
        picks = np.random.default_rng(seed).choice(len(rows), size=min(int(n), len(rows)), replace=False)
        return [dict(rows[int(i)]) for i in picks]

    def population_size(self) -> int:
        return len(self.restriction.samples)

    def population_fingerprint(self) -> str:
        return f'{self.fingerprint()}-table{self.restriction.digest()}'

    def __repr__(self) -> str:
        return f'{super().__repr__()} restricted to {len(self.restriction.samples)} tabulated samples'


def restricted_adapter(adapter: SpaceAdapter, restriction: TableRestriction) -> SpaceAdapter:
    """A copy of ``adapter`` (same class, plus :class:`TableRestrictedAdapter`) searching ``restriction``'s rows."""
    restricted = copy.copy(adapter)
    restricted.__class__ = type(f'TableRestricted{type(adapter).__name__}', (TableRestrictedAdapter, type(adapter)), {})
    restricted.restriction = restriction
    return restricted


class _RestrictedCandidates:
    """NAR's codec of the base space with random draws from the table and proposals projected onto it."""

    def __init__(self, base: Any, restriction: TableRestriction):
        self._base, self._restriction = base, restriction

    def __getattr__(self, name: str) -> Any:
        return getattr(self._base, name)

    def _project(self, cands) -> list:
        if not len(cands):
            return []
        projected = self._restriction.project_many([self._base.to_sample(c) for c in cands])
        return [self._base.from_sample(s) for s in projected]

    def random(self, n: int, rng) -> list:
        """Distinct rows not queried yet (all of them when fewer than ``n`` are left)."""
        return [self._base.from_sample(s) for s in self._restriction.random_many(n, rng)]

    def from_indices(self, rows, rng=None, donors=()) -> list:
        return self._project(self._base.from_indices(rows, rng, donors))

    def neighbours(self, cand) -> list:
        return self._project(self._base.neighbours(cand))


class TableRestrictedSpace(BenchmarkModelSpace):
    """NNI's ``BenchmarkModelSpace`` whose ``random`` and ``freeze`` give rows of the table not queried yet."""

    def __init__(self, model_space, evaluator, restriction: TableRestriction | None = None):
        super().__init__(model_space, evaluator)
        self.restriction = restriction

    def random(self, memo=None, random_state=None):
        sample = self.restriction.random(random_state)
        if memo is not None:
            memo.update(sample)
        return self._frozen(sample)

    def freeze(self, sample):
        return self._frozen(self.restriction.project(sample))

    def open_rows(self) -> list[dict[str, Any]]:
        """The rows not queried yet, in table order."""
        return self.restriction.open_rows()

    def claim(self, sample: Mapping[str, Any]) -> None:
        """Called for every query made: its row is not proposed again."""
        self.restriction.claim(sample)

    def _frozen(self, sample: dict) -> BenchmarkModelSpace:
        self.validate(sample)
        model = BenchmarkModelSpace(self.model_space, self.evaluator)
        model.sample, model.status = sample, ModelStatus.Frozen
        model._should_freeze_with_sample = True
        return model


def restrict_to_table(model_space, evaluator, table, adapter: SpaceAdapter, seed: int | None = 0) -> TableRestrictedSpace:
    """``model_space`` searched through ``evaluator`` (a table lookup), restricted to the rows of ``table``."""
    sample_of = getattr(table, 'sample', None)
    if sample_of is None:
        raise ValueError(f'{type(table).__name__} is not keyed by the space\'s labels: restricting a search to a '
                         'table needs a table of your space (a CSV or JSON keyed by its labels)')
    restriction = TableRestriction(adapter, [sample_of(key) for key in table.archs()], seed=seed)
    space = TableRestrictedSpace(model_space, evaluator, restriction)
    space.space_adapter = restricted_adapter(adapter, restriction)
    return space
