"""Rebuild ``nb201_cifar.csv.gz`` (see :mod:`nni_rank.resources`) from the NAS-Bench-201 tables.

    python -m nni_rank.resources.build_nb201 --data ../shared/data [--proxy-cache DIR]

Reads ``nb201_test_accuracy_200ep.csv`` and ``nb201_valid_accuracy_200ep.csv`` from ``--data`` and
computes synflow, params and flops of every cell with :class:`~nni_rank.proxies.ProxyStore` (seed 0,
no data; about 10 minutes on one core, resumable through ``--proxy-cache``).
"""
from __future__ import annotations

import argparse
import csv
import gzip
import io
from pathlib import Path

PROXIES = ('synflow', 'params', 'flops')
ACCURACIES = (('nb201_test_accuracy_200ep.csv', ('cifar10_test_acc', 'cifar100_test_acc')),
              ('nb201_valid_accuracy_200ep.csv', ('cifar10_valid_acc', 'cifar100_valid_acc')))


def build(data: Path, out: Path, proxy_cache: str | None = None) -> Path:
    from ..benchmarks import CsvTable
    from ..proxies import ProxyStore
    from ..runtime import set_threads
    set_threads(1)
    rows: dict[str, dict[str, str]] = {}
    for name, columns in ACCURACIES:
        CsvTable([str(data / name)])  # the table's own validation, before anything is copied
        with open(data / name, newline='') as f:
            for row in csv.DictReader(f):
                entry = rows.setdefault(row['arch_str'], {'index': row['index']})
                if entry['index'] != row['index']:
                    raise ValueError(f'{name}: {row["arch_str"]} has index {row["index"]}, not {entry["index"]}')
                entry.update({c: row[c] for c in columns})
    archs = sorted(rows, key=lambda a: int(rows[a]['index']))
    values = ProxyStore(list(PROXIES), cache_dir=proxy_cache).scores(archs, progress=True)
    text = io.StringIO()
    w = csv.writer(text, lineterminator='\n')
    columns = [c for _, cs in ACCURACIES for c in cs]
    w.writerow(['index', 'arch_str', *columns, *PROXIES])
    for arch, vals in zip(archs, values):
        w.writerow([rows[arch]['index'], arch, *(rows[arch][c] for c in columns), *(repr(float(v)) for v in vals)])
    out.write_bytes(gzip.compress(text.getvalue().encode(), compresslevel=9, mtime=0))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', default='../shared/data', help='folder with the NB201 accuracy CSVs')
    p.add_argument('--proxy-cache', help='ProxyStore cache folder (resumable)')
    p.add_argument('--out', default=str(Path(__file__).with_name('nb201_cifar.csv.gz')))
    args = p.parse_args()
    path = build(Path(args.data), Path(args.out), args.proxy_cache)
    print(f'wrote {path} ({path.stat().st_size / 1024:.0f} KiB)')


if __name__ == '__main__':
    main()
