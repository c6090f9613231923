"""Per-cell CPU seconds of ``nni-rank proxies --space nb201 --all``'s work, without running all cells.

    python bench/bench_proxy_speed_cells.py --data ../shared/data [--n 50] --label after

For ``--n`` seeded NB201 cells it does what a worker of ``--all`` does for one cell (build the network with its
seed, then :func:`compute_proxies` on the seeded batch of 64 CIFAR-10 images, one thread) for two proxy sets,
``zc_ensemble`` and ``synflow,params,flops``, and records the CPU seconds (``time.process_time``) of the build and
of each pass (``timings``), plus the top operators of one cell under torch's profiler. Run it with
``PYTHONPATH`` at another checkout and another ``--label`` for a before/after pair; results go to
bench/results/proxy_speed_cells_<label>.json. Per cell means times 15,625 (or the 4,960 distinct function
classes ``--all`` scores) estimate a whole run.
"""
from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch

warnings.filterwarnings('ignore')
SETS = {'zc_ensemble': ['zc_ensemble'], 'synflow_params_flops': ['synflow', 'params', 'flops']}


def cell_seconds(arch, batch, names) -> dict[str, float]:
    from nni_rank.proxies import compute_proxies, nb201_network
    start = time.process_time()
    net = nb201_network(arch, seed=0)
    built = time.process_time()
    timings: dict = {}
    compute_proxies(net, batch if any(n not in ('synflow', 'params', 'flops') for n in names) else None, names,
                    seed=0, warn=False, timings=timings, input_shape=(3, 32, 32))
    done = time.process_time()
    return {'build': built - start, 'proxies': done - built, **{f'pass_{k}': v for k, v in timings.items()}}


def top_operators(arch, batch, names, rows: int = 10) -> list[dict]:
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        cell_seconds(arch, batch, names)
    table = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:rows]
    return [{'op': e.key, 'self_ms': e.self_cpu_time_total / 1e3, 'calls': e.count} for e in table]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=os.environ.get('NNI_RANK_SHARED_DATA', '../shared/data'))
    ap.add_argument('--n', type=int, default=50)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--label', default='after')
    ap.add_argument('--out', default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    import nni_rank
    from nb201_cells import minibatch_and_cells

    batch, cells = minibatch_and_cells(args.data, args.n, args.seed)
    for names in SETS.values():
        cell_seconds(cells[0], batch, names)  # first-call costs out
    load_before = os.getloadavg()
    report = {'label': args.label, 'package': str(Path(nni_rank.__file__).parent), 'n': len(cells), 'threads': 1,
              'batch': 64, 'torch': torch.__version__, 'sets': {}}
    for label, names in SETS.items():
        rows = [cell_seconds(a, batch, names) for a in cells]
        keys = rows[0].keys()
        report['sets'][label] = {
            'mean_cpu_s': {k: float(np.mean([r[k] for r in rows])) for k in keys},
            'total_mean_cpu_s': float(np.mean([r['build'] + r['proxies'] for r in rows])),
            'top_operators_one_cell': top_operators(cells[1], batch, names)}
        print(label, json.dumps(report['sets'][label]['mean_cpu_s']), flush=True)
    report['load_average_before'], report['load_average_after'] = load_before, os.getloadavg()
    out = Path(args.out or f'bench/results/proxy_speed_cells_{args.label}.json')
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f'written to {out}')


if __name__ == '__main__':
    main()
