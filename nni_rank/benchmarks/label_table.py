"""A benchmark of any space, keyed by the space's labels.

Two file forms:

* CSV: one column per label of the space (the value chosen, as text) and one per metric
  (``cifar10_test_acc``, or ``test_acc`` for ``default_dataset``; ``params``/``flops`` for every dataset);
* JSON: ``{"<encoded sample>": {"<metric>": value, ...}, ...}``, the encoded sample being the JSON object
  of its values (:func:`~nni_rank.spaces.adapter.encode_sample`, e.g. ``{"layer0": "ir3", "layer1": "skip"}``).

Every figure is checked on load (:func:`~nni_rank.benchmarks.base.check_value`); a missing label column,
a value that is not one of the label's choices or an unreadable figure raises :class:`TableError` naming
the file, the line and the label.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, Hashable, Mapping, Sequence

from .base import ArchNotFound, BenchmarkError, BenchmarkTable, TableError, check_value, metric_range
from .csv_table import _split_column

__all__ = ['LabelTable']


class LabelTable(BenchmarkTable):
    """Metrics of the samples of one space, read from a CSV or JSON file keyed by its labels.

    Parameters
    ----------
    path
        The ``.csv`` or ``.json`` file.
    choices
        ``{label: list of values}`` of the space (e.g. ``adapter.choices()``): the labels a row must give.
    default_dataset
        Dataset of the metric columns that carry no dataset prefix.
    """

    space = 'generic'

    def __init__(self, path: str | Path, choices: Mapping[str, Any], default_dataset: str = 'cifar10'):
        self.source = str(path)
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f'benchmark file not found: {path}')
        self.labels = tuple(choices)
        # text of each choice value -> the value; a table holds text (CSV) or JSON values
        self._values = {label: {str(v): v for v in getattr(choices[label], 'values', choices[label])}
                        for label in self.labels}
        self._rows: dict[tuple[str, ...], dict[str, float]] = {}
        if path.suffix.lower() == '.json':
            self._read_json(path)
        elif path.suffix.lower() == '.csv':
            self._read_csv(path)
        else:
            raise BenchmarkError(f'{path}: a table of a user space is a .csv or .json file')
        if not self._rows:
            raise BenchmarkError(f'benchmark file {path} has no rows')
        self._keys = list(self._rows)
        self._columns: dict[str, tuple[str | None, str]] = {}
        for name in next(iter(self._rows.values())):
            ds, metric = _split_column(name, default_dataset)
            self._columns[name] = (ds, metric) if ds else ((None, metric) if metric in ('params', 'flops')
                                                             else (default_dataset, metric))

    # ---------------------------------------------------------------- reading
    def _key(self, values: Mapping[str, Any], where: str) -> tuple[str, ...]:
        key = []
        for label in self.labels:
            if label not in values:
                raise TableError(f'{where}: no value for label {label!r} of the space')
            text = str(values[label])
            if text not in self._values[label]:
                raise TableError(f'{where}: {text!r} is not a choice of label {label!r} '
                                 f'({", ".join(self._values[label])})')
            key.append(text)
        return tuple(key)

    def _add(self, key: tuple[str, ...], metrics: Mapping[str, Any], names: Sequence[str], where: str) -> None:
        if key in self._rows:
            raise TableError(f'{where}: the sample {dict(zip(self.labels, key))} appears twice')
        try:
            self._rows[key] = {m: check_value(metrics[m], m, metric_range(m)) for m in names}
        except ValueError as err:
            raise TableError(f'{where}: {err}') from None

    def _read_csv(self, path: Path) -> None:
        with open(path, newline='') as f:
            reader = csv.reader(f)
            header = next(reader, [])
            missing = [label for label in self.labels if label not in header]
            if missing:
                raise TableError(f'{path} line 1: no column for label {missing[0]!r} of the space '
                                 f'(the header is {",".join(header)})')
            metrics = [c for c in header if c not in self.labels and c != 'index']
            if not metrics:
                raise TableError(f'{path} line 1: no metric column besides the labels')
            for fields in reader:
                if not fields:
                    continue
                where = f'{path} line {reader.line_num}'
                if len(fields) != len(header):
                    raise TableError(f'{where}: {len(fields)} fields, the header has {len(header)}')
                row = dict(zip(header, fields))
                self._add(self._key(row, where), row, metrics, where)

    def _read_json(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise TableError(f'{path}: not a JSON table ({err})') from None
        if not isinstance(data, dict):
            raise TableError(f'{path}: expected an object mapping encoded samples to metrics')
        names = None
        for text, metrics in data.items():
            where = f'{path} entry {text}'
            try:
                sample = json.loads(text)
            except ValueError:
                raise TableError(f'{where}: the key is not an encoded sample (a JSON object label -> value)') from None
            if not isinstance(sample, dict) or not isinstance(metrics, dict):
                raise TableError(f'{where}: expected "{{label: value}}" -> {{metric: value}}')
            names = names or list(metrics)
            if sorted(metrics) != sorted(names):
                raise TableError(f'{where}: metrics {sorted(metrics)} differ from the first entry\'s {sorted(names)}')
            self._add(self._key(sample, where), metrics, names, where)

    # ---------------------------------------------------------------- BenchmarkTable API
    def datasets(self) -> list[str]:
        return list(dict.fromkeys(ds for ds, _ in self._columns.values() if ds))

    def metrics(self, dataset: str) -> list[str]:
        return [m for ds, m in self._columns.values() if ds in (dataset, None)]

    def archs(self) -> Sequence[Hashable]:
        return self._keys

    def parse_arch(self, arch: Any) -> Hashable:
        """The key of a sample (``{label: value}``), of its encoded text, or a key itself."""
        if isinstance(arch, tuple):
            return arch
        if isinstance(arch, str):
            arch = json.loads(arch)
        if not isinstance(arch, Mapping):
            raise ValueError(f'expected a sample of the space, got {arch!r}')
        missing = [label for label in self.labels if label not in arch]
        if missing:
            raise ValueError(f'sample {dict(arch)} lacks label {missing[0]!r} of the table')
        return tuple(str(arch[label]) for label in self.labels)

    def sample(self, key: tuple[str, ...]) -> dict[str, Any]:
        """The sample (label -> the space's value) of a table key."""
        return {label: self._values[label][text] for label, text in zip(self.labels, key)}

    def query(self, arch: Any, dataset: str) -> dict[str, float]:
        key = self.parse_arch(arch)
        self.check_dataset(dataset)
        if key not in self._rows:
            raise ArchNotFound(f'sample {dict(zip(self.labels, key))} is not in benchmark {self.source}')
        return self._row(key, dataset)

    def _key_set(self):
        return self._rows.keys()

    def _row(self, key: Hashable, dataset: str) -> dict[str, float]:
        return {metric: value for name, value in self._rows[key].items()  # type: ignore[index]
                for ds, metric in [self._columns[name]] if ds in (dataset, None) and not math.isnan(value)}
