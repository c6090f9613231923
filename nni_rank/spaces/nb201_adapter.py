"""The NAS-Bench-201 kind: the fast path for the six-edge cell (any label scope, NNI's or the official op names).

Samples become :class:`~nni_rank.spaces.NB201Arch`; networks come from the fast builder; proxy scores
from the on-disk :class:`~nni_rank.proxies.ProxyStore` (or a proxy table) keyed by architecture string;
NAR gets the cell-graph encoding and deduplicates equivalent cells.
"""
from __future__ import annotations

import functools

from typing import Any, Mapping, Sequence

import numpy as np

from .adapter import SpaceAdapter, register_adapter
from .nb201 import EDGE_LABELS, NNI_OPS, OPS, NB201Arch, all_archs

__all__ = ['NB201SpaceAdapter', 'NB201Candidates']


def _edge_labels(simplified: Mapping[str, Any]) -> dict[str, str] | None:
    """edge ('0_1') -> the space's label ('cell/0_1') when the space is exactly the NB201 cell, else None."""
    from nni.mutable import Categorical, MutableAnnotation
    edges = {}
    for label, mutable in simplified.items():
        if isinstance(mutable, MutableAnnotation):
            continue
        edge = label.rsplit('/', 1)[-1]
        if not isinstance(mutable, Categorical) or edge not in EDGE_LABELS or edge in edges:
            return None
        values = set(mutable.values)
        if values != set(NNI_OPS) and values != set(OPS):
            return None
        edges[edge] = label
    return edges if set(edges) == set(EDGE_LABELS) else None


@register_adapter
class NB201SpaceAdapter(SpaceAdapter):
    """NAS-Bench-201 cells (NNI's ``NasBench201()``, the benchmark's space, any label scope)."""

    name = 'nb201'

    @classmethod
    def handles(cls, simplified: Mapping[str, Any]) -> bool:
        return _edge_labels(simplified) is not None

    @classmethod
    def default(cls) -> 'NB201SpaceAdapter':
        from nni.mutable import Categorical
        return cls({label: Categorical(list(NNI_OPS), label=label) for label in EDGE_LABELS})

    def benchmark_space(self):
        from nni.mutable import Categorical
        from nni.nas.benchmark.space import SlimBenchmarkSpace
        ops = [Categorical(list(NNI_OPS), label=label) for label in EDGE_LABELS]  # honours label_scope
        return SlimBenchmarkSpace({op.label: op for op in ops})

    def open_table(self, path, default_dataset: str = 'cifar10'):
        from ..benchmarks import open_benchmark
        return open_benchmark(path, space='nb201')

    def arch(self, sample: Mapping[str, Any]) -> NB201Arch:
        return NB201Arch.from_sample(sample)

    describe_column = 'arch_str'

    def describe(self, sample: Mapping[str, Any]) -> str:
        return str(NB201Arch.from_sample(sample))

    def distinct_samples(self, n: int, seed: int) -> list[dict[str, Any]]:
        total = self.population_size()
        if not 1 <= n <= total:
            raise ValueError(f'the sample size must be in 1..{total}, got {n}')
        picks = np.random.default_rng(seed).choice(total, size=n, replace=False)
        return [NB201Arch.from_indices(np.unravel_index(int(i), (len(OPS),) * len(EDGE_LABELS))).to_sample()
                for i in picks]

    def all_samples(self, limit: int = 100_000) -> list[dict[str, Any]]:
        return [a.to_sample() for a in all_archs()]

    def function_representative(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        """The cell with the fewest ops among those of the same :meth:`NB201Arch.function_key` (dead edges
        removed, skip chains shortened)."""
        return _cheapest_of_function()[NB201Arch.from_sample(sample).function_key()].to_sample()

    def cost_representative(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        """The cell with the same :meth:`NB201Arch.op_counts`, ops in :data:`OPS` order."""
        ops = NB201Arch.from_sample(sample).ops
        return NB201Arch(tuple(sorted(ops, key=OPS.index))).to_sample()

    def network(self, sample: Mapping[str, Any], seed: int = 0, num_classes: int = 10, **geometry):
        from ..proxies.compute import nb201_network
        return nb201_network(NB201Arch.from_sample(sample), num_classes=num_classes, seed=seed, **geometry)

    def network_cost(self, sample: Mapping[str, Any], input_shape: tuple, num_classes: int = 10,
                     **geometry) -> tuple[float, float]:
        from .nb201_net import nb201_flops
        return nb201_flops(NB201Arch.from_sample(sample), num_classes=num_classes, input_size=int(input_shape[-1]),
                           **geometry)

    def proxy_source(self, names, *, data='digits', batch_size: int = 64, seed: int = 0, cache_dir=None,
                     device: str = 'cpu', table=None, exact_table: bool = True):
        if table is not None:
            return _proxy_table(str(table), tuple(names), exact_table)
        from ..proxies.store import ProxyStore
        return ProxyStore(names, data=data, batch_size=batch_size, seed=seed, cache_dir=cache_dir, device=device)

    def ensemble_calibration(self):
        """The packaged tables: made from 1,000 seeded NB201 cells, as a space's own calibration is."""
        from ..proxies.ensemble import CALIBRATION
        return CALIBRATION

    def table_candidates(self, table) -> list[NB201Arch]:
        return list(table.archs())

    def candidates(self, paths: bool = True) -> 'NB201Candidates':
        edges = _edge_labels(self.simplified) or {e: e for e in EDGE_LABELS}
        return NB201Candidates(edges, {label: list(self.simplified[label].values) for label in edges.values()}
                               if set(edges.values()) <= set(self.simplified) else None, paths=paths)


class NB201Candidates:
    """NAR's view of NAS-Bench-201: candidates are :class:`NB201Arch`, deduplicated by their canonical cell."""

    def __init__(self, labels: Mapping[str, str] | None = None, values: Mapping[str, Sequence[str]] | None = None,
                 paths: bool = True):
        from ..predictors import NB201Encoder
        #: edge label ('0_1') -> label in the model space ('cell/0_1')
        self.labels = dict(labels) if labels is not None else {e: e for e in EDGE_LABELS}
        nni_names = dict(zip(OPS, NNI_OPS))
        self._value_of = {}  # (edge, official op) -> the space's value
        for edge, label in self.labels.items():
            allowed = list(values[label]) if values is not None else list(NNI_OPS)
            for op in OPS:
                self._value_of[edge, op] = op if op in allowed else nni_names[op]
        self.encoder = NB201Encoder(paths=paths)
        self.cardinalities = [len(OPS)] * len(EDGE_LABELS)

    @classmethod
    def detect(cls, space: Mapping[str, Any], paths: bool = True) -> 'NB201Candidates | None':
        """Candidates when the simplified space is exactly the 6 NB201 edges with the 5 ops, else None."""
        return NB201SpaceAdapter(space).candidates(paths) if NB201SpaceAdapter.handles(space) else None

    def random(self, n: int, rng: np.random.Generator) -> list[NB201Arch]:
        return self.from_indices(rng.integers(0, len(OPS), size=(n, len(EDGE_LABELS))))

    def from_indices(self, rows: np.ndarray, rng=None, donors=()) -> list[NB201Arch]:
        return [NB201Arch.from_indices(r) for r in np.asarray(rows)]

    def indices(self, cands: Sequence[NB201Arch]) -> np.ndarray:
        return np.array([c.indices() for c in cands], dtype=np.int64).reshape(-1, len(EDGE_LABELS))

    def features(self, cands: Sequence[NB201Arch]) -> np.ndarray:
        return self.encoder.encode(cands)

    def key(self, cand: NB201Arch) -> Any:
        return cand.canonical()

    def neighbours(self, cand: NB201Arch) -> list[NB201Arch]:
        """Every cell that differs in one edge's op."""
        ids = cand.indices()
        return [NB201Arch.from_indices(ids[:e] + (op,) + ids[e + 1:])
                for e in range(len(ids)) for op in range(len(OPS)) if op != ids[e]]

    def valid(self, cand: NB201Arch) -> bool:
        return True

    def to_sample(self, cand: NB201Arch) -> dict[str, Any]:
        return {label: self._value_of[edge, op] for (edge, label), op in zip(self.labels.items(), cand.ops)}

    def from_sample(self, sample: Mapping[str, Any]) -> NB201Arch:
        return NB201Arch.from_sample({edge: sample[label] for edge, label in self.labels.items()})


@functools.lru_cache(maxsize=8)
def _proxy_table(path: str, names: tuple[str, ...], exact: bool):
    """A proxy table read once per process, however many strategies and seeds of a run score from it."""
    from ..predictors import ProxyTable
    return ProxyTable(path, list(names), exact=exact)


@functools.lru_cache(maxsize=1)
def _cheapest_of_function() -> dict[tuple, NB201Arch]:
    """function key -> the cell of that class with the fewest ops (ties: smallest op ids)."""
    best: dict[tuple, NB201Arch] = {}
    for arch in sorted(all_archs(), key=lambda a: (len(a.ops) - a.ops.count('none'), a.indices())):
        best.setdefault(arch.function_key(), arch)
    return best
