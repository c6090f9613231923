"""GraSP's two computations side by side: the scale-invariant one (default) and the full double backward.

    python bench/bench_proxy_speed_grasp.py --data ../shared/data [--n 100]

For ``--n`` NB201 cells (seeded draw, our builder, default init, batch 64 CIFAR-10, one thread) it times GraSP
alone by each method (interleaved, who goes first alternating) and compares the values: rank agreement
(Spearman, Kendall, order identical or not), relative difference, and difference relative to ``||g||^2`` (the
size of the terms GraSP's sum cancels). A few cells are also computed in float64 (both methods) to show how far
float32 moves the double backward itself. MobileNetV2 (torchvision, 10 classes) and the largest model of
examples/macro_space.py are timed and compared too. Writes bench/results/proxy_speed_grasp.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

warnings.filterwarnings('ignore')
METHODS = ('double_backward', 'scale_invariant')


def grasp(net, batch, method) -> tuple[float, float]:
    from nni_rank.proxies import compute_proxies
    start = time.perf_counter()
    value = compute_proxies(net, batch, ['grasp'], grasp_method=method, warn=False)['grasp']
    return time.perf_counter() - start, value


def gradient_square(net, batch) -> float:
    from nni_rank.proxies.common import scored_layers
    weights = [m.weight for m in scored_layers(net)]
    loss = F.cross_entropy(net.train()(batch[0]), batch[1])
    return float(sum(g.double().pow(2).sum() for g in torch.autograd.grad(loss, weights, allow_unused=True)
                     if g is not None))


def compare(build, batch, order) -> dict:
    row = {}
    for method in order:
        row[f'{method}_s'], row[method] = grasp(build(), batch, method)
    row['grad_square'] = gradient_square(build(), batch)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=os.environ.get('NNI_RANK_SHARED_DATA', '../shared/data'))
    ap.add_argument('--n', type=int, default=100)
    ap.add_argument('--float64', type=int, default=4, help='cells also computed in float64')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default='bench/results/proxy_speed_grasp.json')
    args = ap.parse_args()
    torch.set_num_threads(1)
    from scipy.stats import kendalltau, rankdata, spearmanr

    from nb201_cells import minibatch_and_cells
    from nni_rank.proxies import nb201_network

    batch, cells = minibatch_and_cells(args.data, args.n, args.seed)
    grasp(nb201_network(cells[0]), batch, METHODS[0])  # first-call costs out
    load_before = os.getloadavg()
    rows = []
    for i, arch in enumerate(cells):
        order = METHODS if i % 2 == 0 else METHODS[::-1]
        rows.append({'arch': str(arch), **compare(lambda: nb201_network(arch), batch, order)})
        if (i + 1) % 10 == 0:
            print(f'{i + 1}/{len(cells)} cells', flush=True)
    load_after = os.getloadavg()
    exact = np.array([r['double_backward'] for r in rows])
    fast = np.array([r['scale_invariant'] for r in rows])
    scale = np.array([r['grad_square'] for r in rows])
    ok = np.isfinite(exact) & np.isfinite(fast) & (exact != 0)
    rel = np.abs(fast - exact)[ok] / np.abs(exact[ok])
    of_terms = np.abs(fast - exact)[ok] / scale[ok]
    secs = {m: float(np.mean([r[f'{m}_s'] for r in rows])) for m in METHODS}

    double = []
    for arch in cells[:args.float64]:
        b64 = (batch[0].double(), batch[1])
        row = {'arch': str(arch), 'float32': {m: grasp(nb201_network(arch), batch, m)[1] for m in METHODS},
               'float64': {m: grasp(nb201_network(arch).double(), b64, m)[1] for m in METHODS}}
        double.append(row)

    models = {}
    import torchvision
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'examples'))
    from macro_space import LAYERS, MacroSpace

    def mobilenet():
        torch.manual_seed(0)
        return torchvision.models.mobilenet_v2(num_classes=10)

    def macro():
        torch.manual_seed(0)
        return MacroSpace().freeze({f'layer{i}': 'ir5_t6' for i in range(len(LAYERS))})
    for name, build in (('mobilenet_v2 (torchvision, 10 classes)', mobilenet), ('macro_space largest', macro)):
        grasp(build(), batch, METHODS[1])
        runs = [compare(build, batch, METHODS if k % 2 == 0 else METHODS[::-1]) for k in range(3)]
        models[name] = {**{m: runs[0][m] for m in METHODS}, 'grad_square': runs[0]['grad_square'],
                        **{f'{m}_s': float(np.median([r[f'{m}_s'] for r in runs])) for m in METHODS}}

    report = {
        'n': len(cells), 'seed': args.seed, 'batch': 64, 'threads': 1, 'torch': torch.__version__,
        'load_average_before': load_before, 'load_average_after': load_after,
        'grasp_alone_s': secs, 'speedup': secs['double_backward'] / secs['scale_invariant'],
        'agreement': {
            'spearman': float(spearmanr(exact, fast, nan_policy='omit')[0]),
            'kendall': float(kendalltau(exact, fast, nan_policy='omit')[0]),
            'same_order': bool((rankdata(exact[ok]) == rankdata(fast[ok])).all()),
            'relative_difference': {'median': float(np.median(rel)), 'p90': float(np.quantile(rel, 0.9)),
                                    'max': float(rel.max())},
            'difference_over_grad_square': {'median': float(np.median(of_terms)), 'max': float(of_terms.max())},
            'cells_compared': int(ok.sum())},
        'float64_check': double, 'models': models, 'cells': rows,
        'note': 'scale_invariant: layers whose output only feeds a train-mode BatchNorm (eps/(var+eps) <= 1e-3 in '
                'every channel) contribute ||g_l||^2; the others one Hessian-vector product along their weights. '
                'BatchNorm eps is the only approximation (float64 with eps 1e-12: agreement to 1e-7, '
                'tests/test_proxy_grasp.py).'}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(json.dumps({k: report[k] for k in ('grasp_alone_s', 'speedup', 'agreement', 'models')}, indent=1))
    print(f'written to {args.out}')


if __name__ == '__main__':
    main()
