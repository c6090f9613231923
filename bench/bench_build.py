"""Time building NAS-Bench-201 networks: NNI's ``NasBench201`` against :func:`build_nb201`.

    python bench/bench_build.py [--n 200] [--nni-n 20] [--out bench/results/build.json]

On the same seeded architectures it times, per network:
* ``nni_new_space_freeze``: ``NasBench201().freeze(sample)`` -- what ``NasBench201().random()`` does;
* ``nni_reused_space_freeze``: ``space.freeze(sample)`` on one reused space;
* ``nni_random``: ``NasBench201().random()`` itself (its own random architectures);
* ``build_nb201``: this package's builder.
NNI is slow (about a second per network), so it runs on the first ``--nni-n`` architectures only.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nni_rank.spaces.nb201 import NB201Arch  # noqa: E402
from nni_rank.spaces.nb201_net import build_nb201, count_parameters  # noqa: E402


def _summary(times_s: list[float]) -> dict:
    ms = [t * 1e3 for t in times_s]
    return {'n': len(ms), 'mean_ms': statistics.fmean(ms), 'median_ms': statistics.median(ms),
            'min_ms': min(ms), 'max_ms': max(ms)}


def _timed(fn, archs) -> list[float]:
    out = []
    for arch in archs:
        t = time.perf_counter()
        fn(arch)
        out.append(time.perf_counter() - t)
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n', type=int, default=200, help='architectures timed with build_nb201')
    ap.add_argument('--nni-n', type=int, default=20, help='architectures (first of the same list) timed with NNI')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default='bench/results/build.json')
    args = ap.parse_args(argv)

    rng = random.Random(args.seed)
    archs = [NB201Arch.from_indices([rng.randrange(5) for _ in range(6)]) for _ in range(args.n)]
    nni_archs = archs[:args.nni_n]

    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        from nni.nas.hub.pytorch import NasBench201
    import_s = time.perf_counter() - t

    torch.manual_seed(args.seed)
    build_nb201(archs[0])  # warm the template cache (one-off, ~ms)
    ours = _timed(build_nb201, archs)
    ours_same = ours[:len(nni_archs)]
    worst = NB201Arch.from_indices([3] * 6)  # all nor_conv_3x3: the largest network (1.53 M params)
    ours_worst = _timed(build_nb201, [worst] * 10)

    space = NasBench201()
    nni_new = _timed(lambda a: NasBench201().freeze(a.to_sample()), nni_archs)
    nni_reused = _timed(lambda a: space.freeze(a.to_sample()), nni_archs)
    nni_random = _timed(lambda a: NasBench201().random(), nni_archs[:max(1, len(nni_archs) // 2)])

    # sanity: same parameter count as NNI on the timed architectures
    for a in nni_archs[:3]:
        assert count_parameters(build_nb201(a)) == count_parameters(space.freeze(a.to_sample()))

    res = {
        'build_nb201': _summary(ours),
        'build_nb201_on_nni_subset': _summary(ours_same),
        'build_nb201_all_conv3x3': _summary(ours_worst),
        'nni_new_space_freeze': _summary(nni_new),
        'nni_reused_space_freeze': _summary(nni_reused),
        'nni_random': _summary(nni_random),
        'nni_import_s': import_s,
    }
    base = res['build_nb201_on_nni_subset']['mean_ms']
    res['speedup_vs_nni_new_space_freeze'] = res['nni_new_space_freeze']['mean_ms'] / base
    res['speedup_vs_nni_reused_space_freeze'] = res['nni_reused_space_freeze']['mean_ms'] / base
    res['speedup_vs_nni_random'] = res['nni_random']['mean_ms'] / base
    res['config'] = {'n': args.n, 'nni_n': len(nni_archs), 'seed': args.seed,
                     'torch': torch.__version__, 'threads': torch.get_num_threads(),
                     'python': platform.python_version(), 'machine': platform.processor() or platform.machine()}

    for key in ('build_nb201', 'build_nb201_on_nni_subset', 'build_nb201_all_conv3x3', 'nni_new_space_freeze',
                'nni_reused_space_freeze', 'nni_random'):
        s = res[key]
        print(f"{key:28s} n={s['n']:4d}  mean {s['mean_ms']:9.2f} ms  median {s['median_ms']:9.2f} ms  "
              f"min {s['min_ms']:8.2f}  max {s['max_ms']:8.2f}")
    for key in ('speedup_vs_nni_random', 'speedup_vs_nni_new_space_freeze', 'speedup_vs_nni_reused_space_freeze'):
        print(f'{key:36s} {res[key]:7.1f}x')

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + '\n')
    print(f'wrote {out}')
    return res


if __name__ == '__main__':
    main()
