"""Benchmark backend over plain CSV files: an architecture column plus one column per metric.

Column names ``<dataset>_<metric>`` (``cifar10_test_acc``, ``cifar100_valid_acc``,
``cifar10_val_acc_12ep``) give per-dataset metrics; other numeric columns (``params``, ``flops``,
proxy scores) hold for every dataset. Several files of the same space merge on the architecture.
"""
from __future__ import annotations

import csv
import math
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Hashable, Iterable, NamedTuple, Sequence

from .base import BenchmarkError, BenchmarkTable, TableError, TableWarning, check_value, metric_range

#: Dataset prefixes recognised in column names, longest first so ``cifar100`` wins over ``cifar10``.
KNOWN_DATASETS = ('imagenet16-120', 'imagenet16_120', 'cifar10-valid', 'cifar100', 'cifar10', 'imagenet')
_SKIP_COLUMNS = {'index', 'arch_str', 'arch', 'adjacency_7x7_rowmajor', 'ops', 'hash'}


def _space_codec(space: str) -> tuple[tuple[str, ...], Callable[..., Hashable], Callable[[Hashable], Hashable],
                                       Callable[[Any], Hashable]]:
    """(architecture columns, architecture of their texts, table key of an architecture, key of any user
    representation) for a space. NB101 keys are graph hashes: isomorphic cells share one."""
    if space == 'nb201':
        from ..spaces.nb201 import NB201Arch
        return ('arch_str',), NB201Arch.from_str, lambda arch: arch, NB201Arch.parse
    if space == 'nb101':
        from ..spaces.nb101 import NB101Arch

        def parse(arch: Any) -> Hashable:
            return (arch if isinstance(arch, str) and len(arch) == 32 else NB101Arch.parse(arch).hash())
        return ('adjacency_7x7_rowmajor', 'ops'), NB101Arch.from_strings, NB101Arch.hash, parse
    raise BenchmarkError(f'unknown search space {space!r}; CSV tables support nb201 and nb101')


def _split_column(name: str, default_dataset: str) -> tuple[str | None, str]:
    for ds in KNOWN_DATASETS:
        if name.startswith(ds + '_'):
            return ds.replace('_', '-') if ds == 'imagenet16_120' else ds, name[len(ds) + 1:]
    return None, name


def _check_header(path: Path, header: list[str], arch_columns: Sequence[str], space: str) -> None:
    where = f'{path} line 1'
    if not header:
        raise TableError(f'{where}: no header (the file is empty)')
    missing = [c for c in arch_columns if c not in header]
    if missing:
        raise TableError(f'{where}: a {space} CSV needs the column(s) {", ".join(map(repr, missing))}; '
                         f'the header is {",".join(header)}')
    for i, name in enumerate(header):
        if not name.strip():
            raise TableError(f'{where}: column {i + 1} has no name')
        if name in header[:i]:
            raise TableError(f'{where}: column {name!r} appears twice')


class _File(NamedTuple):
    columns: list[tuple[str | None, str]]  # (dataset or None, metric) of each value column
    rows: dict[Hashable, list[float]]  # key -> values, in file order
    dropped: set  # keys of architectures with a skipped row


def _read_csv(path: Path, space: str, default_dataset: str, on_bad_rows: str) -> _File:
    """Read and validate one CSV: every row needs all fields, a valid and new architecture and values that
    :func:`check_value` accepts; a bad row raises :class:`TableError` or, with ``on_bad_rows='skip'``, is
    left out with one :class:`TableWarning` for the file."""
    if not path.is_file():
        raise FileNotFoundError(f'benchmark file not found: {path}')
    arch_columns, make_arch, key_of, _ = _space_codec(space)
    with open(path, newline='') as f:
        reader = csv.reader(f)
        header = next(reader, [])
        _check_header(path, header, arch_columns, space)
        arch_idx = [header.index(c) for c in arch_columns]
        last_arch = max(arch_idx)
        value_idx = [i for i, c in enumerate(header) if c not in _SKIP_COLUMNS]
        names = [header[i] for i in value_idx]
        bounds = [metric_range(c) for c in names]
        rows: dict[Hashable, list[float]] = {}
        line_of: dict[Hashable, int] = {}
        dropped, bad = set(), []
        for fields in reader:
            if not fields:
                continue  # blank line
            line, arch, key = reader.line_num, None, None
            try:
                if len(fields) > last_arch:  # read first, so that a skipped row's architecture is known
                    arch = make_arch(*(fields[i] for i in arch_idx))
                    key = key_of(arch)
                if len(fields) != len(header):
                    raise ValueError(f'{len(fields)} fields, the header has {len(header)} (a truncated row?)')
                if arch in line_of:
                    raise ValueError(f'architecture {arch} repeats line {line_of[arch]}')
                values = [check_value(fields[i], c, b) for i, c, b in zip(value_idx, names, bounds)]
                line_of[arch] = line
                rows.setdefault(key, values)  # isomorphic NB101 cells (one hash) keep their first row
            except ValueError as err:
                if on_bad_rows == 'raise':
                    raise TableError(f'{path} line {line}: {err}') from None
                bad.append((line, err))
                if key is not None:
                    dropped.add(key)
    if bad:
        warnings.warn(f'skipped {len(bad)} bad rows of {path}: first at line {bad[0][0]} ({bad[0][1]})',
                      TableWarning, stacklevel=4)
    columns = [_split_column(c, default_dataset) for c in names]
    if not any(ds for ds, _ in columns):  # no dataset prefix anywhere: all for default
        columns = [(default_dataset, m) if m not in ('params', 'flops') else (None, m) for _, m in columns]
    return _File(columns, rows, dropped)


class CsvTable(BenchmarkTable):
    """Benchmark table read from one or more CSV files of the same space.

    Every value is checked on load (:func:`~nni_rank.benchmarks.base.check_value`: a number, finite,
    accuracies within 0..100); a truncated, unreadable or repeated row raises :class:`TableError` naming
    the file and line.

    Parameters
    ----------
    paths
        One path or several (merged on the architecture; first file fixes the order).
    space
        ``'nb201'`` (column ``arch_str``) or ``'nb101'`` (columns ``adjacency_7x7_rowmajor`` and ``ops``).
    default_dataset
        Dataset of the columns that carry no dataset prefix when the file has no prefixed column at all
        (NAS-Bench-101 files list ``val_accuracy`` for CIFAR-10).
    on_bad_rows
        ``'raise'`` (default) or ``'skip'``: leave bad rows out, and with them their architecture in
        every merged file, with one :class:`TableWarning` per file that counts them.
    """

    def __init__(self, paths: str | os.PathLike | Iterable[str | os.PathLike], space: str = 'nb201',
                 default_dataset: str = 'cifar10', on_bad_rows: str = 'raise'):
        paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        if not paths:
            raise BenchmarkError('no benchmark file given')
        if on_bad_rows not in ('raise', 'skip'):
            raise ValueError(f"on_bad_rows must be 'raise' or 'skip', got {on_bad_rows!r}")
        self.space = space
        self.source = ', '.join(str(p) for p in paths)
        self._parse = _space_codec(space)[3]
        files = [_read_csv(Path(p), space, default_dataset, on_bad_rows) for p in paths]
        for path, file in zip(paths, files):
            if not file.rows:
                raise BenchmarkError(f'benchmark file {path} has no rows')
        dropped = set().union(*(file.dropped for file in files))
        self._keys: list[Hashable] = [k for k in files[0].rows if k not in dropped]  # the first file fixes the order
        self._pos: dict[Hashable, int] = {k: i for i, k in enumerate(self._keys)}
        self._per_dataset: dict[str, dict[str, list[float]]] = {}
        self._global: dict[str, list[float]] = {}
        for file in files:
            absent = [math.nan] * len(file.columns)  # architectures a later file lacks
            matrix = [file.rows.get(k, absent) for k in self._keys]
            for (ds, metric), values in zip(file.columns, zip(*matrix)):
                store = self._global if ds is None else self._per_dataset.setdefault(ds, {})
                store[metric] = list(values)
        if not self._keys:
            raise BenchmarkError(f'benchmark file {self.source} has no rows left')

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
