"""One query interface over NAS benchmark tables: architecture -> metrics for a dataset."""
from __future__ import annotations

import math
import re
import sys
from abc import ABC, abstractmethod
from typing import Any, Hashable, Sequence

import numpy as np

#: Metric names tried, in order, when a caller asks for "the accuracy" of a dataset.
ACCURACY_METRICS = ('test_acc', 'valid_acc', 'val_acc', 'val_accuracy', 'test_accuracy', 'accuracy')


class BenchmarkError(LookupError):
    """Base class of every benchmark lookup error (all carry a human-readable message)."""

    def __str__(self) -> str:  # LookupError would quote the message like a key
        return str(self.args[0]) if self.args else ''


class UnknownDataset(BenchmarkError):
    """The table has no results for the requested dataset."""


class UnknownMetric(BenchmarkError):
    """The table has no such metric for the requested dataset."""


class ArchNotFound(BenchmarkError):
    """The architecture is valid for the space but absent from the table."""


class TableError(BenchmarkError, ValueError):
    """A benchmark file holds a value or row that cannot be trusted; the message names the file and line."""


class TableWarning(UserWarning):
    """Bad rows of a benchmark file were skipped (``on_bad_rows='skip'``)."""


_LARGEST = sys.float_info.max


def metric_range(metric: str) -> tuple[float, float]:
    """Valid values of a metric, from its name: accuracies (``*_acc*``, ``*accuracy*``) 0..100, others finite."""
    return (0.0, 100.0) if {'acc', 'accuracy'} & set(re.split('[^a-z]+', metric.lower())) else (-_LARGEST, _LARGEST)


def check_value(value: Any, metric: str, bounds: tuple[float, float] | None = None) -> float:
    """``value`` (text or number) as a float within ``metric``'s range; a one-line ``ValueError`` otherwise.

    Every benchmark loader reads its figures through this; ``bounds`` (:func:`metric_range`) may be precomputed.
    """
    lo, hi = bounds or metric_range(metric)
    try:
        x = float(value)
    except (TypeError, ValueError):
        empty = value is None or isinstance(value, str) and not value.strip()
        raise ValueError(f'{metric} is empty' if empty else f'{metric} {value!r} is not a number') from None
    if lo <= x <= hi:  # False for NaN and infinities too
        return x
    if x != x or x in (-math.inf, math.inf):
        raise ValueError(f'{metric} {value!r} is not a finite number')
    raise ValueError(f'{metric} {value!r} is outside {lo:g}..{hi:g} (an accuracy in %)')


def checked_figure(value: Any, metric: str, where: str) -> float:
    """A figure of a benchmark API or database: NaN when absent (None), else :func:`check_value`'s float;
    a :class:`TableError` naming ``where`` when it is unreadable."""
    if value is None:
        return math.nan
    try:
        return check_value(value, metric)
    except ValueError as err:
        raise TableError(f'{where}: {err}') from None


class BenchmarkTable(ABC):
    """A benchmark of one search space: look up metrics of an architecture on a dataset.

    Subclasses implement :meth:`datasets`, :meth:`metrics`, :meth:`archs` and :meth:`_row`; keys are
    the space's architecture objects (e.g. :class:`~nni_rank.spaces.nb201.NB201Arch`), and every
    method accepts any representation :meth:`parse_arch` understands.
    """

    #: Name of the search space (``'nb201'`` or ``'nb101'``).
    space: str = ''
    #: Where the data came from (a path), for messages.
    source: str = ''

    @abstractmethod
    def datasets(self) -> list[str]:
        """Datasets with results in this table."""

    @abstractmethod
    def metrics(self, dataset: str) -> list[str]:
        """Metric names available for ``dataset`` (dataset-independent ones such as params included)."""

    @abstractmethod
    def archs(self) -> Sequence[Hashable]:
        """Every architecture of the table, in the table's order."""

    @abstractmethod
    def parse_arch(self, arch: Any) -> Hashable:
        """Turn any supported representation into the table's key (raise a clear error if invalid)."""

    @abstractmethod
    def _row(self, key: Hashable, dataset: str) -> dict[str, float]:
        """All metrics of ``key`` on ``dataset``; the key is known to be valid."""

    # ---------------------------------------------------------------- shared logic
    def __len__(self) -> int:
        return len(self.archs())

    def __contains__(self, arch: Any) -> bool:
        try:
            return self.parse_arch(arch) in self._key_set()
        except ValueError:
            return False

    def _key_set(self) -> set:
        if getattr(self, '_keys_cache', None) is None:
            self._keys_cache = set(self.archs())
        return self._keys_cache

    def check_dataset(self, dataset: str) -> str:
        if dataset not in self.datasets():
            raise UnknownDataset(f'dataset {dataset!r} is not in benchmark {self.source or self!r}; '
                                 f'available: {", ".join(self.datasets())}')
        return dataset

    def accuracy_metric(self, dataset: str, metric: str | None = None) -> str:
        """Resolve ``metric`` (or the default accuracy metric) for ``dataset``."""
        available = self.metrics(self.check_dataset(dataset))
        if metric is not None:
            if metric not in available:
                raise UnknownMetric(f'metric {metric!r} is not available for {dataset} in {self.source or self!r}; '
                                    f'available: {", ".join(available)}')
            return metric
        for name in ACCURACY_METRICS:
            if name in available:
                return name
        raise UnknownMetric(f'no accuracy metric for {dataset} in {self.source or self!r}; '
                            f'available: {", ".join(available)} (pass metric=...)')

    def query(self, arch: Any, dataset: str) -> dict[str, float]:
        """All metrics of ``arch`` on ``dataset`` (accuracies in percent, as the benchmark stores them)."""
        key = self.parse_arch(arch)
        self.check_dataset(dataset)
        if key not in self._key_set():
            raise ArchNotFound(f'architecture {key} is not in benchmark {self.source or self!r}')
        return self._row(key, dataset)

    def accuracy(self, arch: Any, dataset: str, metric: str | None = None) -> float:
        """One metric (the default accuracy when ``metric`` is None) of ``arch`` on ``dataset``."""
        return self.query(arch, dataset)[self.accuracy_metric(dataset, metric)]

    def values(self, dataset: str, metric: str | None = None) -> np.ndarray:
        """The metric for every architecture, aligned with :meth:`archs`."""
        metric = self.accuracy_metric(dataset, metric)
        return np.array([self._row(k, dataset)[metric] for k in self.archs()], dtype=float)

    def top(self, dataset: str, k: int = 1, metric: str | None = None) -> list[tuple[Hashable, float]]:
        """The ``k`` best architectures with their metric, best first."""
        vals = self.values(dataset, metric)
        order = np.argsort(-vals, kind='stable')[:k]
        archs = self.archs()
        return [(archs[i], float(vals[i])) for i in order]

    def threshold(self, dataset: str, top_fraction: float, metric: str | None = None) -> float:
        """Accuracy of the ``ceil(top_fraction * N)``-th best architecture (e.g. 0.001 -> the 16th of 15,625)."""
        vals = np.sort(self.values(dataset, metric))[::-1]
        rank = max(1, int(np.ceil(top_fraction * len(vals))))
        return float(vals[rank - 1])
