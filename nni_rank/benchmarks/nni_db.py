"""Backend over NNI's NAS-Bench-201 SQLite database (``nni.nas.benchmark.nasbench201``).

NNI's download server is gone and its ``db_gen`` is broken in 3.0, so :func:`write_nni_nb201_db`
also builds a database in NNI's own schema from any NB201 table the user has (e.g. a CSV);
:func:`activate_nni_db` then makes NNI's ``query_nb201_trial_stats`` and ``NasBench201Benchmark`` use it.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Hashable, Sequence

from ..spaces.nb201 import NB201Arch
from .base import BenchmarkError, BenchmarkTable, checked_figure

#: Value stored in NNI's NOT NULL columns when the source table has no such figure; read back as NaN.
MISSING = -1.0
_FIELDS = {'test_acc': 'test_acc', 'valid_acc': 'valid_acc', 'train_acc': 'train_acc',
           'params': 'parameters', 'flops': 'flops', 'latency': 'latency', 'train_time': 'training_time'}


def activate_nni_db(path: str | os.PathLike):
    """Point NNI's NB201 query functions at the SQLite file ``path`` (no download, no sha check)."""
    from playhouse.sqlite_ext import SqliteExtDatabase
    from nni.nas.benchmark.nasbench201.schema import proxy
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'NNI NAS-Bench-201 database not found: {path} (nothing is downloaded; '
                                'build one with `nni-rank make-nni-db`)')
    db = SqliteExtDatabase(str(path), autoconnect=True)
    proxy.initialize(db)
    return db


def _to_nni_arch(arch: NB201Arch) -> dict[str, str]:
    return arch.to_sample(scope='')


class NniDbTable(BenchmarkTable):
    """NAS-Bench-201 results read from an NNI benchmark database (seeds averaged)."""

    space = 'nb201'

    def __init__(self, path: str | os.PathLike, num_epochs: int = 200):
        from nni.nas.benchmark.nasbench201 import query_nb201_trial_stats
        activate_nni_db(path)
        self.source = str(path)
        self._data: dict[str, dict[NB201Arch, dict[str, float]]] = {}
        try:
            rows = list(query_nb201_trial_stats(None, num_epochs, None, reduction='mean'))
        except Exception as err:  # peewee raises OperationalError for a file of another schema
            raise BenchmarkError(f'{path} is not an NNI NAS-Bench-201 database: {err}') from None
        for row in rows:
            cfg = row['config']
            arch = NB201Arch.from_sample(cfg['arch'])
            where = f'{path}: {cfg["dataset"]} trial of {arch}'
            self._data.setdefault(cfg['dataset'], {})[arch] = {
                ours: checked_figure(None if row.get(theirs) == MISSING else row.get(theirs), ours, where)
                for ours, theirs in _FIELDS.items()}
        if not self._data:
            raise BenchmarkError(f'NNI database {path} holds no {num_epochs}-epoch NAS-Bench-201 trials')
        first = next(iter(self._data.values()))
        self._keys = list(first)

    def datasets(self) -> list[str]:
        return list(self._data)

    def metrics(self, dataset: str) -> list[str]:
        return list(_FIELDS)

    def archs(self) -> Sequence[Hashable]:
        return self._keys

    def parse_arch(self, arch: Any) -> Hashable:
        return NB201Arch.parse(arch)

    def _row(self, key: Hashable, dataset: str) -> dict[str, float]:
        row = self._data[dataset].get(key)
        if row is None:
            raise BenchmarkError(f'architecture {key} has no {dataset} result in {self.source}')
        return row


def write_nni_nb201_db(table: BenchmarkTable, path: str | os.PathLike, num_epochs: int = 200,
                       datasets: Sequence[str] | None = None) -> Path:
    """Write ``table`` (an NB201 table) as an SQLite file in NNI's NAS-Bench-201 schema.

    Figures the table lacks are stored as :data:`MISSING` (NNI's columns are NOT NULL).
    One trial per architecture and dataset (seed 0 = the table's seed average).
    """
    from playhouse.sqlite_ext import SqliteExtDatabase
    from nni.nas.benchmark.nasbench201.schema import Nb201TrialConfig, Nb201TrialStats, Nb201IntermediateStats, proxy
    if table.space != 'nb201':
        raise BenchmarkError(f'an NNI NAS-Bench-201 database needs an nb201 table, got {table.space}')
    path = Path(path)
    if path.exists():
        raise FileExistsError(f'{path} exists; remove it first')
    path.parent.mkdir(parents=True, exist_ok=True)
    db = SqliteExtDatabase(str(path), autoconnect=True)
    proxy.initialize(db)
    db.create_tables([Nb201TrialConfig, Nb201TrialStats, Nb201IntermediateStats])

    def val(row, name):
        v = row.get(name, math.nan)
        return MISSING if v is None or math.isnan(v) else float(v)

    configs, stats = [], []
    for dataset in (datasets or table.datasets()):
        for key in table.archs():
            row = table.query(key, dataset)
            configs.append(dict(arch=_to_nni_arch(key), num_epochs=num_epochs, num_channels=16, num_cells=5,
                                dataset=dataset))
            stats.append(dict(
                seed=0, train_acc=val(row, 'train_acc'), valid_acc=val(row, 'valid_acc'),
                test_acc=val(row, 'test_acc'), ori_test_acc=val(row, 'test_acc'), parameters=val(row, 'params'),
                latency=val(row, 'latency'), flops=val(row, 'flops'), training_time=val(row, 'train_time'),
                valid_evaluation_time=MISSING, test_evaluation_time=MISSING, ori_test_evaluation_time=MISSING))
    with db.atomic():
        for start in range(0, len(configs), 500):  # SQLite limits the variables of one statement
            Nb201TrialConfig.insert_many(configs[start:start + 500]).execute()
        ids = [c.id for c in Nb201TrialConfig.select(Nb201TrialConfig.id).order_by(Nb201TrialConfig.id)]
        for stat, config_id in zip(stats, ids):
            stat['config'] = config_id
        for start in range(0, len(stats), 200):
            Nb201TrialStats.insert_many(stats[start:start + 200]).execute()
    db.close()
    return path
