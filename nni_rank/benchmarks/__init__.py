"""Benchmark tables: one query interface (architecture -> metrics per dataset) over several sources."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from .base import (ACCURACY_METRICS, ArchNotFound, BenchmarkError, BenchmarkTable, UnknownDataset,
                   UnknownMetric)
from .csv_table import CsvTable
from .nb201_official import NB201OfficialTable
from .nni_db import NniDbTable, activate_nni_db, write_nni_nb201_db

__all__ = ['ACCURACY_METRICS', 'ArchNotFound', 'BenchmarkError', 'BenchmarkTable', 'CsvTable', 'NB201OfficialTable',
           'NniDbTable', 'UnknownDataset', 'UnknownMetric', 'activate_nni_db', 'open_benchmark',
           'write_nni_nb201_db']


def open_benchmark(path: str | os.PathLike | Iterable[str | os.PathLike], space: str = 'nb201') -> BenchmarkTable:
    """Open a benchmark by its file type: ``.csv`` (several: comma-separated or a list), ``.pth``
    (official NAS-Bench-201) or ``.db`` (NNI's database). Missing files raise ``FileNotFoundError``."""
    if isinstance(path, (str, os.PathLike)):
        paths = [p for p in str(path).split(',') if p]
    else:
        paths = [str(p) for p in path]
    if not paths:
        raise BenchmarkError('no benchmark path given')
    for p in paths:
        if not Path(p).exists():
            raise FileNotFoundError(f'benchmark file not found: {p}')
    suffixes = {Path(p).suffix.lower() for p in paths}
    if suffixes == {'.csv'}:
        return CsvTable(paths, space=space)
    if len(paths) == 1 and suffixes <= {'.pth', '.pickle', '.pt'}:
        return NB201OfficialTable(paths[0])
    if len(paths) == 1 and suffixes == {'.db'}:
        return NniDbTable(paths[0])
    raise BenchmarkError(f'cannot tell the benchmark format of {", ".join(paths)}: expected .csv files, '
                         'one official NAS-Bench-201 .pth or one NNI .db')
