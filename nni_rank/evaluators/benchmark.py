"""An NNI evaluator that 'trains' a sampled model by looking its accuracy up in a benchmark table."""
from __future__ import annotations

import math
import os
from typing import Any, Mapping

import nni
from nni.mutable import Categorical, Sample
from nni.nas.benchmark import BenchmarkEvaluator as NniBenchmarkEvaluator
from nni.nas.benchmark.space import SlimBenchmarkSpace

from ..benchmarks import BenchmarkTable, open_benchmark
from ..spaces.nb201 import EDGE_LABELS, NNI_OPS, NB201Arch

_OPENED: dict[tuple[str, str], BenchmarkTable] = {}


def _table(benchmark: str | os.PathLike | BenchmarkTable, space: str) -> BenchmarkTable:
    if isinstance(benchmark, BenchmarkTable):
        return benchmark
    key = (str(benchmark), space)
    if key not in _OPENED:  # one table per file and process, however many evaluators are built
        _OPENED[key] = open_benchmark(benchmark, space=space)
    return _OPENED[key]


class SampleEvaluator(NniBenchmarkEvaluator):
    """Base of evaluators that work from a sample alone (NB201 or NB101), never building NNI's model.

    With ``BenchmarkModelSpace`` (or NNI's ``NasBench201()`` space, which it validates) strategies
    sample and freeze in microseconds instead of NNI's ~1 s per network.
    """

    space = 'nb201'

    def default_space(self) -> SlimBenchmarkSpace:  # type: ignore[override]
        if self.space == 'nb201':
            ops = [Categorical(list(NNI_OPS), label=label) for label in EDGE_LABELS]  # honours label_scope
            return SlimBenchmarkSpace({op.label: op for op in ops})
        from nni.nas.benchmark import NasBench101Benchmark
        return NasBench101Benchmark.default_space()

    @staticmethod
    def report(result: Mapping[str, float], extra: Mapping[str, Any] | None = None) -> None:
        """Report ``result`` as NNI's final result, plus the ``extra`` keys it does not set itself
        (what the trial adds for the web UI: proxy scores, a tuner's predicted tier)."""
        merged = dict(result)
        for key, value in (extra or {}).items():
            merged.setdefault(key, value)
        nni.report_final_result(merged)

    def arch_of(self, sample: Sample) -> Any:
        """The architecture of an NNI sample (an ``NB201Arch``; an NB101 hash for ``space='nb101'``)."""
        if self.space == 'nb201':
            return NB201Arch.from_sample(sample)
        from ..spaces.nb101 import NB101Arch
        return NB101Arch.from_sample(sample).hash()


@nni.trace
class BenchmarkEvaluator(SampleEvaluator):
    """Look up a sampled NAS-Bench-201 / NAS-Bench-101 model in a benchmark table.

    Reports ``{'default': accuracy, <every other metric of the table>}`` as the final result, so the
    web UI shows them; accuracies stay in percent, as the table stores them. Works with NNI's
    ``NasBench201()``/``NasBench101()`` spaces (any label scope) and with ``BenchmarkModelSpace``.

    Parameters
    ----------
    benchmark
        Path of a benchmark file (see :func:`nni_rank.benchmarks.open_benchmark`) or an opened table.
    dataset
        Dataset whose results are reported (``cifar10``, ``cifar100`` ...).
    metric
        Metric reported as ``default``; the table's accuracy (test, else valid) when None.
    space
        ``'nb201'`` or ``'nb101'``.
    """

    def __init__(self, benchmark: str | os.PathLike | BenchmarkTable, dataset: str = 'cifar10',
                 metric: str | None = None, space: str = 'nb201'):
        super().__init__()
        self.table = _table(benchmark, space)
        self.space = space
        self.dataset = dataset
        self.metric = self.table.accuracy_metric(dataset, metric)  # fails early on a bad dataset/metric

    def lookup(self, sample: Sample) -> dict[str, float]:
        """All metrics of the sampled architecture, ``default`` first; NaN figures are left out."""
        row = self.table.query(self.arch_of(sample), self.dataset)
        result = {'default': row[self.metric]}
        result.update((k, v) for k, v in row.items() if k != self.metric and not math.isnan(v))
        return result

    def evaluate(self, sample: Sample, extra: Mapping[str, Any] | None = None) -> float:
        result = self.lookup(sample)
        self.report(result, extra)
        return result['default']
