"""``nni-rank report EXPERIMENT``: an NNI experiment's trials, best architectures and plots, from NNI's own
database; works while it runs and after ``nnictl stop``."""
from __future__ import annotations

import argparse

from .common import check_output_dir, positive_int


def add_parser(sub) -> None:
    p = sub.add_parser('report', help="write an NNI experiment's trials (CSV/JSON), best architectures and plots",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter, description=__doc__)
    p.add_argument('experiment', help='experiment id (looked up where nnictl keeps experiments) or its folder')
    p.add_argument('--out', help='output folder (default: nni-rank-results/report-<experiment id>)')
    p.add_argument('--top-k', type=positive_int, default=5, help='best trials listed')
    p.set_defaults(func=run)


def run(args) -> int:
    from ..experiment.report import read_experiment, write_experiment_report
    record = read_experiment(args.experiment)
    out = check_output_dir(args.out or f'nni-rank-results/report-{record.experiment_id}')
    paths = write_experiment_report(record, out, top_k=args.top_k)
    statuses: dict[str, int] = {}
    for t in record.trials:
        statuses[t.status] = statuses.get(t.status, 0) + 1
    print(f'experiment {record.experiment_id} ({record.folder}): {len(record.trials)} trials, '
          + ', '.join(f'{n} {s.lower()}' for s, n in sorted(statuses.items())))
    for i, t in enumerate(record.best(args.top_k), 1):
        params = ', '.join(f'{k}={v}' for k, v in t.parameters.items() if not str(k).startswith('_report_'))
        print(f'  {i}. trial {t.trial_id}  default {t.default:.4f}  {params}')
    print(f'written to {out}/: ' + ', '.join(p.name for p in paths.values()))
    return 0
