"""``nni-rank make-nni-db``: build NNI's NAS-Bench-201 SQLite database from a table users have."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser('make-nni-db', help="write an NB201 table as NNI's benchmark database (NNI's download is gone)")
    p.add_argument('--benchmark', required=True, help='NB201 table(s): .csv (comma-separated) or official .pth')
    p.add_argument('--out', required=True, help='SQLite file to create (e.g. $NASBENCHMARK_DIR/nasbench201.db)')
    p.set_defaults(func=run)


def run(args) -> int:
    from ..benchmarks import open_benchmark, write_nni_nb201_db
    table = open_benchmark(args.benchmark)
    path = write_nni_nb201_db(table, args.out)
    print(f'wrote {len(table)} architectures x {len(table.datasets())} datasets to {path}; use it with '
          'nni_rank.benchmarks.activate_nni_db(path) or NniDbTable(path)')
    return 0
