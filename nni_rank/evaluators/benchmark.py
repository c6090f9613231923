"""An NNI evaluator that 'trains' a sampled model by looking its accuracy up in a benchmark table."""
from __future__ import annotations

import math
import os
from typing import Any, Mapping

import nni
from nni.mutable import Sample
from nni.nas.benchmark import BenchmarkEvaluator as NniBenchmarkEvaluator
from nni.nas.benchmark.space import SlimBenchmarkSpace

from ..benchmarks import BenchmarkTable
from ..spaces.adapter import SpaceAdapter, adapter_for

_OPENED: dict[tuple[str, str], BenchmarkTable] = {}


def _table(benchmark: str | os.PathLike | BenchmarkTable, adapter: SpaceAdapter) -> BenchmarkTable:
    if isinstance(benchmark, BenchmarkTable):
        return benchmark
    key = (str(benchmark), adapter.fingerprint())
    if key not in _OPENED:  # one table per file and process, however many evaluators are built
        _OPENED[key] = adapter.open_table(benchmark)
    return _OPENED[key]


class SampleEvaluator(NniBenchmarkEvaluator):
    """Base of evaluators that work from a sample alone, never building NNI's model.

    ``space`` is ``'nb201'``, ``'nb101'``, ``'PACKAGE.MODULE:CLASS'`` or ``adapter_for(model_space)``; the
    adapter (:func:`~nni_rank.spaces.adapter.adapter_for`) names the samples. With ``BenchmarkModelSpace`` (or the
    space itself, which it validates) strategies sample and freeze in microseconds.
    """

    space: Any = 'nb201'

    @property
    def adapter(self) -> SpaceAdapter:
        """The adapter of :attr:`space`."""
        if getattr(self, '_adapter', None) is None or self._adapter_of is not self.space:
            from nni.nas.space import BaseModelSpace
            if isinstance(self.space, BaseModelSpace):  # nni.trace hands evaluators a copy without its choices
                raise ValueError("an evaluator's space is 'nb201', 'nb101', 'PACKAGE.MODULE:CLASS' or "
                                 'adapter_for(model_space), not the model space itself')
            self._adapter, self._adapter_of = adapter_for(self.space), self.space
        return self._adapter

    def default_space(self) -> SlimBenchmarkSpace:  # type: ignore[override]
        return self.adapter.benchmark_space()

    @staticmethod
    def report(result: Mapping[str, float], extra: Mapping[str, Any] | None = None) -> None:
        """Report ``result`` as NNI's final result, plus the ``extra`` keys it does not set itself
        (what the trial adds for the web UI: proxy scores, a tuner's predicted tier)."""
        merged = dict(result)
        for key, value in (extra or {}).items():
            merged.setdefault(key, value)
        nni.report_final_result(merged)

    def arch_of(self, sample: Sample) -> Any:
        """The table key of an NNI sample (an ``NB201Arch``, an NB101 hash, a user space's encoded sample)."""
        return self.adapter.arch(sample)

    def describe(self, sample: Sample) -> str:
        """Text naming the sample's architecture."""
        return self.adapter.describe(sample)


@nni.trace
class BenchmarkEvaluator(SampleEvaluator):
    """Look up a sampled model of NAS-Bench-201, NAS-Bench-101 or any space in a benchmark table.

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
        ``'nb201'``, ``'nb101'``, ``'PACKAGE.MODULE:CLASS'`` or ``adapter_for(model_space)``; a user space's table is a CSV
        or JSON keyed by its labels (:class:`~nni_rank.benchmarks.label_table.LabelTable`). Give the
        ``PACKAGE.MODULE:CLASS`` text for NNI's training-service engine, which rebuilds evaluators from
        their arguments.
    """

    def __init__(self, benchmark: str | os.PathLike | BenchmarkTable, dataset: str = 'cifar10',
                 metric: str | None = None, space: Any = 'nb201'):
        super().__init__()
        self.space = space
        self.table = _table(benchmark, self.adapter)
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
