"""Benchmark backend over plain CSV files: an architecture column plus one column per metric.

Column names ``<dataset>_<metric>`` (``cifar10_test_acc``, ``cifar100_valid_acc``,
``cifar10_val_acc_12ep``) give per-dataset metrics; other numeric columns (``params``, ``flops``,
proxy scores) hold for every dataset. Several files of the same space merge on the architecture.
"""
from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any, Callable, Hashable, Iterable, Sequence

from .base import BenchmarkError, BenchmarkTable

#: Dataset prefixes recognised in column names, longest first so ``cifar100`` wins over ``cifar10``.
KNOWN_DATASETS = ('imagenet16-120', 'imagenet16_120', 'cifar10-valid', 'cifar100', 'cifar10', 'imagenet')
_SKIP_COLUMNS = {'index', 'arch_str', 'arch', 'adjacency_7x7_rowmajor', 'ops', 'hash'}


def _space_codec(space: str) -> tuple[Callable[[dict], Hashable], Callable[[Any], Hashable]]:
    """(key of a CSV row, key of any user representation) for a space."""
    if space == 'nb201':
        from ..spaces.nb201 import NB201Arch

        def row_key(row: dict) -> Hashable:
            if 'arch_str' not in row:
                raise BenchmarkError("a NAS-Bench-201 CSV needs an 'arch_str' column")
            return NB201Arch.from_str(row['arch_str'])
        return row_key, NB201Arch.parse
    if space == 'nb101':
        from ..spaces.nb101 import NB101Arch

        def row_key(row: dict) -> Hashable:
            if 'adjacency_7x7_rowmajor' not in row or 'ops' not in row:
                raise BenchmarkError("a NAS-Bench-101 CSV needs 'adjacency_7x7_rowmajor' and 'ops' columns")
            return NB101Arch.from_strings(row["adjacency_7x7_rowmajor"], row["ops"]).hash()

        def parse(arch: Any) -> Hashable:
            return (arch if isinstance(arch, str) and len(arch) == 32 else NB101Arch.parse(arch).hash())
        return row_key, parse
    raise BenchmarkError(f'unknown search space {space!r}; CSV tables support nb201 and nb101')


def _split_column(name: str, default_dataset: str) -> tuple[str | None, str]:
    for ds in KNOWN_DATASETS:
        if name.startswith(ds + '_'):
            return ds.replace('_', '-') if ds == 'imagenet16_120' else ds, name[len(ds) + 1:]
    return None, name


def _to_float(text: str) -> float:
    try:
        return float(text) if text not in ('', 'nan', 'NaN', 'None') else math.nan
    except ValueError:
        return math.nan


class CsvTable(BenchmarkTable):
    """Benchmark table read from one or more CSV files of the same space.

    Parameters
    ----------
    paths
        One path or several (merged on the architecture; first file fixes the order).
    space
        ``'nb201'`` (column ``arch_str``) or ``'nb101'`` (columns ``adjacency_7x7_rowmajor`` and ``ops``).
    default_dataset
        Dataset of the columns that carry no dataset prefix when the file has no prefixed column at all
        (NAS-Bench-101 files list ``val_accuracy`` for CIFAR-10).
    """

    def __init__(self, paths: str | os.PathLike | Iterable[str | os.PathLike], space: str = 'nb201',
                 default_dataset: str = 'cifar10'):
        paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        if not paths:
            raise BenchmarkError('no benchmark file given')
        self.space = space
        self.source = ', '.join(str(p) for p in paths)
        row_key, self._parse = _space_codec(space)
        self._keys: list[Hashable] = []
        self._per_dataset: dict[str, dict[str, list[float]]] = {}
        self._global: dict[str, list[float]] = {}
        self._pos: dict[Hashable, int] = {}
        for path in paths:
            self._load(Path(path), row_key, default_dataset)
        if not self._keys:
            raise BenchmarkError(f'benchmark file {self.source} has no rows')

    def _load(self, path: Path, row_key, default_dataset: str) -> None:
        if not path.is_file():
            raise FileNotFoundError(f'benchmark file not found: {path}')
        with open(path, newline='') as f:
            reader = csv.DictReader(f)
            columns = [c for c in (reader.fieldnames or []) if c not in _SKIP_COLUMNS]
            split = {c: _split_column(c, default_dataset) for c in columns}
            if not any(ds for ds, _ in split.values()):  # no dataset prefix anywhere: all for default
                split = {c: (default_dataset, m) if m not in ('params', 'flops') else (None, m)
                         for c, (_, m) in split.items()}
            rows: dict[Hashable, dict] = {}
            for lineno, row in enumerate(reader, start=2):
                try:
                    key = row_key(row)
                except ValueError as err:
                    raise BenchmarkError(f'{path}:{lineno}: {err}') from None
                rows.setdefault(key, row)  # isomorphic duplicates (NB101 hashes) keep their first row
        if not rows:
            raise BenchmarkError(f'benchmark file {path} has no rows')
        if not self._keys:  # the first file fixes the architectures and their order
            self._keys = list(rows)
            self._pos = {k: i for i, k in enumerate(self._keys)}
        for col, (ds, metric) in split.items():
            store = self._global if ds is None else self._per_dataset.setdefault(ds, {})
            store[metric] = [_to_float(rows[k][col]) if k in rows else math.nan for k in self._keys]

    # ---------------------------------------------------------------- BenchmarkTable API
    def datasets(self) -> list[str]:
        return list(self._per_dataset)

    def metrics(self, dataset: str) -> list[str]:
        return list(self._per_dataset.get(dataset, {})) + list(self._global)

    def archs(self) -> Sequence[Hashable]:
        return self._keys

    def parse_arch(self, arch: Any) -> Hashable:
        return self._parse(arch)

    def _key_set(self) -> set:
        return self._pos.keys()  # type: ignore[return-value]

    def _row(self, key: Hashable, dataset: str) -> dict[str, float]:
        pos = self._pos[key]
        row = {m: vals[pos] for m, vals in self._per_dataset[dataset].items()}
        row.update((m, vals[pos]) for m, vals in self._global.items())
        return row

    def values(self, dataset: str, metric: str | None = None):
        import numpy as np
        metric = self.accuracy_metric(dataset, metric)
        store = self._per_dataset[dataset] if metric in self._per_dataset[dataset] else self._global
        return np.asarray(store[metric], dtype=float)
