"""Benchmark tables: one query interface (architecture -> metrics per dataset) over several sources."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from .base import (ACCURACY_METRICS, ArchNotFound, BenchmarkError, BenchmarkTable, TableError, TableWarning,
                   UnknownDataset, UnknownMetric, check_value, metric_range)
from .csv_table import CsvTable
from .nb201_official import NB201OfficialTable
from .nni_db import NniDbTable, activate_nni_db, write_nni_nb201_db

__all__ = ['ACCURACY_METRICS', 'ArchNotFound', 'BenchmarkError', 'BenchmarkTable', 'CsvTable', 'NB201OfficialTable',
           'NniDbTable', 'TableError', 'TableWarning', 'UnknownDataset', 'UnknownMetric', 'activate_nni_db',
           'check_value', 'metric_range', 'open_benchmark', 'write_nni_nb201_db']


def open_benchmark(path: str | os.PathLike | Iterable[str | os.PathLike], space: str = 'nb201',
                   on_bad_rows: str = 'raise') -> BenchmarkTable:
    """Open a benchmark by its file type: ``.csv`` (several: comma-separated or a list), ``.pth``
    (official NAS-Bench-201) or ``.db`` (NNI's database); ``'nb201-packaged'`` is the table shipped with the
    package (:mod:`nni_rank.resources`). Missing files raise ``FileNotFoundError``,
    unreadable figures :class:`TableError`; ``on_bad_rows='skip'`` leaves bad CSV rows out instead."""
    if isinstance(path, (str, os.PathLike)):
        from ..resources import resolve_benchmark
        paths = [resolve_benchmark(p) for p in str(path).split(',') if p]
    else:
        paths = [str(p) for p in path]
    if not paths:
        raise BenchmarkError('no benchmark path given')
    for p in paths:
        if not Path(p).exists():
            raise FileNotFoundError(f'benchmark file not found: {p}')
    suffixes = {Path(p).suffix.lower() for p in paths}
    if suffixes == {'.csv'}:
        return CsvTable(paths, space=space, on_bad_rows=on_bad_rows)
    if len(paths) == 1 and suffixes <= {'.pth', '.pickle', '.pt'}:
        return NB201OfficialTable(paths[0])
    if len(paths) == 1 and suffixes == {'.db'}:
        return NniDbTable(paths[0])
    raise BenchmarkError(f'cannot tell the benchmark format of {", ".join(paths)}: expected .csv files, '
                         'one official NAS-Bench-201 .pth or one NNI .db')
