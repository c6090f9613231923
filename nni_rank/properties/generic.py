"""alpha-NAS properties and synthesis on any NNI model space with categorical choices.

A sample's properties are read from its built network (:meth:`SpaceAdapter.network`) through ``torch.fx``
(:func:`~nni_rank.properties.traced.traced_properties`) plus the output shape; they are a plain dict::

    space = SpaceProperties(adapter_for(MacroSpace()), torch.zeros(1, 3, 32, 32))
    props = space.properties(sample)          # {'reachable': True, 'depth_max': 31, ..., 'shape': (1, 10)}
    child = space.synthesize({**props, 'depth_max': props['depth_max'] + 2}, sample)

Depth and mixing are lower bounds, shape and size buckets must match (as on NB201); a ``None`` or missing
field is free. :meth:`SpaceProperties.synthesize` returns the satisfying sample with the fewest labels
changed from the start, found by a breadth-first search over one-label changes (exact while each level
fits in ``beam``; above that the ``beam`` samples closest to satisfying, ties seeded, are expanded), and
raises :class:`~nni_rank.properties.synthesis.Unsatisfiable` when nothing within the budget satisfies it.
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from ..files import short_hash
from .synthesis import Unsatisfiable
from .traced import traced_properties

_SHARED: dict[tuple, 'SpaceProperties'] = {}


def _read_cache(path: Path) -> dict[str, dict[str, Any] | None]:
    """Properties saved by :meth:`SpaceProperties._store` (a torn last line is skipped)."""
    cache = {}
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        props = entry['properties']
        if props is not None:
            props['shape'] = tuple(props['shape'])
        cache[entry['sample']] = props
    return cache

__all__ = ['SpaceProperties', 'LOWER_BOUND_FIELDS', 'MATCH_FIELDS', 'satisfies_target', 'violation']

#: Fields a candidate satisfies when at least as large as the target.
LOWER_BOUND_FIELDS = ('depth_max', 'depth_min', 'spatial', 'channel')
#: Fields a candidate must match exactly.
MATCH_FIELDS = ('reachable', 'shape', 'params_bucket', 'flops_bucket')


def violation(props: Mapping[str, Any], target: Mapping[str, Any]) -> float:
    """How far ``props`` is from satisfying ``target`` (0 when it does)."""
    total = 0.0
    for f in LOWER_BOUND_FIELDS:
        if target.get(f) is not None:
            total += max(0, int(target[f]) - int(props[f]))
    for f in MATCH_FIELDS:
        if target.get(f) is not None and props[f] != target[f]:
            total += abs(int(props[f]) - int(target[f])) if f.endswith('bucket') and props[f] is not None else 1
    return total


def satisfies_target(props: Mapping[str, Any], target: Mapping[str, Any]) -> bool:
    """Lower bounds met and shape/size matched."""
    return violation(props, target) == 0


def _distance(props: Mapping[str, Any], target: Mapping[str, Any]) -> int:
    return sum(abs(int(props[f]) - int(target[f])) for f in LOWER_BOUND_FIELDS + ('params_bucket', 'flops_bucket')
               if target.get(f) is not None and props[f] is not None)


class SpaceProperties:
    """Properties of the samples of one space (cached per sample) and synthesis over its choices."""

    def __init__(self, adapter, example_input=None, seed: int = 0, choices: Mapping[str, list] | None = None,
                 cache_file: str | os.PathLike | None = None):
        import torch
        from ..spaces.adapter import encode_sample
        self.adapter = adapter
        own = {label: list(c.values) for label, c in adapter.choices().items()}
        #: the values searched per label (``choices``: a subset of the space's own, e.g. an nnictl search space)
        self.choices = own if choices is None else {label: list(choices[label]) for label in own}
        self.labels = tuple(self.choices)
        self.example_input = torch.zeros(1, 3, 32, 32) if example_input is None else example_input
        self.seed = seed
        self._encode = encode_sample
        self._cache: dict[str, dict[str, Any] | None] = {}
        #: JSON-lines file the computed properties are appended to and read back from (None: memory only)
        self.cache_file = None if cache_file is None else Path(cache_file)
        if self.cache_file is not None and self.cache_file.is_file():
            self._cache.update(_read_cache(self.cache_file))

    @classmethod
    def shared(cls, adapter, example_input=None, cache_dir: str | os.PathLike | None = None) -> 'SpaceProperties':
        """The process-wide properties of this space (one cache for every search and seed in the process:
        properties do not depend on the weights, only on the architecture and the input shape), seen through
        ``adapter`` (a search restricted to a table synthesises among its own open rows); with ``cache_dir`` also
        kept on disk (``alpha-properties-<space>-<build>.jsonl``) for later processes."""
        shape = None if example_input is None else tuple(example_input.shape)
        net = adapter.network_space
        built_by = (f'{type(net).__module__}.{type(net).__qualname__}', repr(getattr(net, 'trace_args', None)),
                    repr(getattr(net, 'trace_kwargs', None)))
        key = (*built_by, adapter.fingerprint(), shape, None if cache_dir is None else str(cache_dir))
        space = _SHARED.get(key)
        if space is None:
            cache_file = None
            if cache_dir is not None:
                build = short_hash(repr((built_by, shape)))
                cache_file = Path(cache_dir) / f'alpha-properties-{adapter.fingerprint()}-{build}.jsonl'
            space = _SHARED[key] = cls(adapter, example_input, cache_file=cache_file)
        if space.adapter is not adapter:  # the same cache, seen through the caller's adapter (e.g. its open rows)
            space = copy.copy(space)
            space.adapter = adapter
        return space

    def key(self, sample: Mapping[str, Any]) -> str:
        return self._encode(sample, self.labels)

    @property
    def computed(self) -> int:
        """How many samples' properties were computed (each a network built and traced) and are cached."""
        return len(self._cache)

    def size(self) -> int:
        return int(np.prod([len(v) for v in self.choices.values()], dtype=float))

    def properties(self, sample: Mapping[str, Any]) -> dict[str, Any] | None:
        """Depth, mixing, reachability, output shape and params/FLOPs buckets of ``sample``'s network; None
        when the space's constraints reject the sample (no network to build)."""
        key = self.key(sample)
        if key not in self._cache:
            import torch
            from nni.mutable import SampleValidationError
            try:
                net = self.adapter.network(sample, seed=self.seed).eval()
            except SampleValidationError:
                self._store(key, None)
                return None
            p = traced_properties(net, self.example_input)
            with torch.no_grad():
                out = net(self.example_input)
            self._store(key, {'reachable': p.reachable, 'depth_max': p.depth_max, 'depth_min': p.depth_min,
                              'spatial': p.spatial, 'channel': p.channel, 'shape': tuple(out.shape),
                              'params_bucket': p.params_bucket, 'flops_bucket': p.flops_bucket,
                              'params': p.params, 'flops': p.flops})
        return self._cache[key]

    def _store(self, key: str, props: dict[str, Any] | None) -> None:
        self._cache[key] = props
        if self.cache_file is not None:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            with open(self.cache_file, 'a') as f:  # one line per sample: an interrupted write loses one line
                f.write(json.dumps({'sample': key, 'properties': props}) + '\n')

    def neighbours(self, sample: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every sample that differs from ``sample`` in exactly one label."""
        return [{**sample, label: v} for label, values in self.choices.items() for v in values if v != sample[label]]

    def synthesize(self, target: Mapping[str, Any], start: Mapping[str, Any], *, max_changes: int | None = None,
                   exclude: Iterable[str] = (), beam: int = 64, budget: int = 2000, enough: int | None = 8,
                   max_new: int | None = None, rng: np.random.RandomState | int | None = None) -> tuple[dict[str, Any], int]:
        """``(sample, changes)``: the satisfying sample with the fewest labels changed from ``start``.

        Among equally few changes, the one whose properties lie closest to ``target`` (ties by ``rng``).
        ``exclude`` holds sample keys (:meth:`key`) never returned; ``budget`` bounds the samples whose
        properties are looked at, ``max_new`` the samples whose properties are computed (not yet cached): the
        costly part, a network built and traced each. A level stops early once ``enough`` satisfying samples are found (the closest of
        them is returned: still the fewest changes; ``None`` examines the whole level). Raises :class:`Unsatisfiable`.
        """
        unknown = set(target) - set(LOWER_BOUND_FIELDS + MATCH_FIELDS + ('params', 'flops'))
        if unknown:
            raise ValueError(f'unknown properties {sorted(unknown)}; known: {LOWER_BOUND_FIELDS + MATCH_FIELDS}')
        rng = rng if isinstance(rng, np.random.RandomState) else np.random.RandomState(rng)
        start = {label: start[label] for label in self.labels}
        k = len(self.labels) if max_changes is None else min(int(max_changes), len(self.labels))
        excluded = set(exclude)
        rows = self.adapter.open_rows()
        if rows is not None:
            return self._synthesize_among(rows, target, start, k, excluded, rng)
        cached = self.computed
        seen = {self.key(start)}
        frontier, evaluated = [start], 1
        start_props = self.properties(start)
        if self.key(start) not in excluded and start_props is not None and satisfies_target(start_props, target):
            return start, 0
        for d in range(1, k + 1):
            level = []
            for parent in frontier:
                for cand in self.neighbours(parent):
                    key = self.key(cand)
                    if key not in seen:
                        seen.add(key)
                        level.append(cand)
            if not level:
                break
            order = rng.permutation(len(level))
            scored, found = [], []
            for i in order[:max(0, budget - evaluated)]:
                if max_new is not None and self.computed - cached >= max_new and self.key(level[i]) not in self._cache:
                    break
                props = self.properties(level[i])
                if props is None:  # rejected by the space's constraints
                    continue
                scored.append((violation(props, target), _distance(props, target), level[i]))
                if scored[-1][0] == 0 and self.key(level[i]) not in excluded:
                    found.append(scored[-1])
                    if enough is not None and len(found) >= enough:
                        break
            evaluated += len(scored)
            if found:
                best = min(s[1] for s in found)
                ties = [s[2] for s in found if s[1] == best]
                return ties[rng.randint(len(ties))], d
            if evaluated >= budget or (max_new is not None and self.computed - cached >= max_new):
                break
            scored.sort(key=lambda s: s[0])  # stable: ties keep the seeded order
            frontier = [s[2] for s in scored[:beam]]
        constrained = {f: v for f, v in target.items() if v is not None and f not in ('params', 'flops')}
        raise Unsatisfiable(f'no sample within {k} label changes of {self.key(start)} (searched {evaluated}, '
                            f'beam {beam}) satisfies {constrained}')

    def _synthesize_among(self, rows, target, start, k: int, excluded: set, rng) -> tuple[dict[str, Any], int]:
        """:meth:`synthesize` over the rows of a table (a restricted search): nearest satisfying row first."""
        changes = [sum(row[label] != start[label] for label in self.labels) for row in rows]
        for d in sorted(set(c for c in changes if c <= k)):
            level = [rows[i] for i in rng.permutation(len(rows)) if changes[i] == d and self.key(rows[i]) not in excluded]
            found = [(_distance(p, target), row) for row in level
                     for p in [self.properties(row)] if p is not None and violation(p, target) == 0]
            if found:
                best = min(f[0] for f in found)
                return next(row for dist, row in found if dist == best), d
        constrained = {f: v for f, v in target.items() if v is not None and f not in ('params', 'flops')}
        raise Unsatisfiable(f'no open row of the table within {k} label changes of {self.key(start)} satisfies '
                            f'{constrained}')
