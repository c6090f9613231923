"""The NAS-Bench-101 kind: NNI's ``NasBench101`` cell (``num_nodes``, ``op1..5``, ``input1..6``, ``final``).

Samples are named by the official isomorphism hash (the key of NB101 tables); networks come from
:func:`~nni_rank.spaces.nb101.build_nb101`.
"""
from __future__ import annotations

from typing import Any, Mapping

from .adapter import SpaceAdapter, register_adapter
from .nb101 import _NNI_KEYS, NB101Arch

__all__ = ['NB101SpaceAdapter']


@register_adapter
class NB101SpaceAdapter(SpaceAdapter):
    """NAS-Bench-101 cells (NNI's ``NasBench101()`` or ``NasBench101Benchmark.default_space()``, any scope)."""

    name = 'nb101'

    @classmethod
    def handles(cls, simplified: Mapping[str, Any]) -> bool:
        bare = {str(label).rpartition('/')[2] for label in simplified}
        return {'num_nodes', 'op1', 'input1', 'final'} <= bare <= _NNI_KEYS

    @classmethod
    def default(cls) -> 'NB101SpaceAdapter':
        from nni.nas.benchmark import NasBench101Benchmark
        return cls(NasBench101Benchmark.default_space().simplify())

    def benchmark_space(self):
        from nni.nas.benchmark import NasBench101Benchmark
        return NasBench101Benchmark.default_space()

    def open_table(self, path, default_dataset: str = 'cifar10'):
        from ..benchmarks import open_benchmark
        return open_benchmark(path, space='nb101')

    def arch(self, sample: Mapping[str, Any]) -> str:
        return NB101Arch.from_sample(sample).hash()

    describe = arch
    describe_column = 'hash'

    def table_candidates(self, table) -> list:
        raise ValueError('NAS-Bench-101 tables are keyed by graph hash, which names no sample: ranking them is not '
                         'supported yet')

    def network(self, sample: Mapping[str, Any], seed: int = 0, num_classes: int = 10, **geometry):
        if geometry:
            raise ValueError(f'{", ".join(sorted(geometry))}: not options of NAS-Bench-101 networks')
        import torch
        from .nb101 import build_nb101
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return build_nb101(NB101Arch.from_sample(sample), num_classes=num_classes)
