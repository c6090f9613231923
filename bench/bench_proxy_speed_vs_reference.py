"""Zero-cost proxy speed beside the reference code, in one process: same nets, same batch, one thread, interleaved.

The reference is SamsungLabs/zero-cost-nas (``foresight/pruners``), which you fetch yourself (it is not part
of this repository):

    git clone https://github.com/SamsungLabs/zero-cost-nas /tmp/zero-cost-nas
    python bench/bench_proxy_speed_vs_reference.py --reference /tmp/zero-cost-nas --data ../shared/data

For every NB201 cell (our builder, default init, seed 0; a fresh copy for each call) it times, in turn,
the reference's six proxies (grad_norm, snip, grasp, fisher, jacob_cov, synflow) through its
``find_measures`` and ours through one :func:`compute_proxies` call, each proxy alone on both sides,
and NASWOT: ours against the loop of BayesWatch/nas-without-training (forward and backward of the
summed outputs to mark the ReLUs reached, a second forward accumulating ``K += c c^T + (1-c)(1-c)^T`` in
float64 numpy, ``slogdet``), written out here as the baseline. The batch is 64 CIFAR-10 training images.
Ratios (reference seconds / ours) per proxy and for the six together go to
bench/results/proxy_speed_vs_reference.json, with the rank agreement (Spearman over the cells) of our
values with the reference's, the load average and, per model, seconds for a MobileNet-sized model
(torchvision MobileNetV2, 10 classes, about 2.2M parameters) and the largest model of
examples/macro_space.py.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

warnings.filterwarnings('ignore')

SIX = ['grad_norm', 'snip', 'grasp', 'fisher', 'jacob_cov', 'synflow']
FAST_SIX, FAST_GRASP = 'six_scale_invariant_grasp', 'grasp_scale_invariant'  # ours with grasp_method='scale_invariant'
FORWARD = 'forward_no_grad'  # one forward of the batch without autograd: the least any NASWOT can cost

FD_STEPS = (1e-2, 1e-3, 1e-4)


def reference_naswot(net: nn.Module, x: torch.Tensor) -> float:
    """NASWOT as BayesWatch/nas-without-training computes it (hook_logdet), reimplemented as the baseline."""
    K = np.zeros((x.shape[0], x.shape[0]))
    visited = set()

    def forward_hook(module, inputs, output):
        nonlocal K
        if module not in visited:
            return
        c = (inputs[0].view(inputs[0].size(0), -1) > 0).float()
        K = K + (c @ c.t()).cpu().numpy() + ((1. - c) @ (1. - c.t())).cpu().numpy()

    def backward_hook(module, grad_in, grad_out):
        visited.add(module)

    handles = []
    for module in net.modules():
        if 'ReLU' in str(type(module)):
            handles += [module.register_forward_hook(forward_hook), module.register_backward_hook(backward_hook)]
    x1 = x.clone().requires_grad_(True)
    y = net(x1)
    y.backward(torch.ones_like(y))
    net(x.clone())
    for h in handles:
        h.remove()
    return float(np.linalg.slogdet(K)[1])


def grasp_finite_difference(net: nn.Module, batch, step: float) -> float:
    """GraSP with H g from a finite difference of gradients, (dL/dW(W + eps g) - g) / eps with
    eps = step * ||W|| / ||g|| (Conv2d/Linear weights): the cheap variant tried for issue 14, kept here only
    to measure its agreement with the exact GraSP (it is not part of the package)."""
    import torch.nn.functional as F
    from torch.func import functional_call
    x, y = batch
    net.train()
    named = [(n, m.weight) for n, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    weights = [w for _, w in named]
    g = [t.detach() for t in torch.autograd.grad(F.cross_entropy(net(x), y), weights)]
    eps = step * float(torch.sqrt(sum(w.detach().double().pow(2).sum() for w in weights))) / \
        float(torch.sqrt(sum(t.double().pow(2).sum() for t in g)))
    shifted = {f'{n}.weight': (w.detach() + eps * t).requires_grad_(True) for (n, w), t in zip(named, g)}
    g2 = torch.autograd.grad(F.cross_entropy(functional_call(net, shifted, (x,)), y), list(shifted.values()))
    return -float(sum((w.detach() * (b - a)).sum().double() for w, a, b in zip(weights, g, g2))) / eps


def reference_six(find_measures, net, batch, names):
    x, y = batch
    return find_measures(net, [(x.clone(), y.clone())], ('random', 1, 10), torch.device('cpu'), measure_names=names)


def forward_no_grad(net: nn.Module, x: torch.Tensor) -> None:
    with torch.no_grad():
        net(x)


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--reference', required=True, help='root of a zero-cost-nas checkout (holds foresight/)')
    ap.add_argument('--data', default=os.environ.get('NNI_RANK_SHARED_DATA', '../shared/data'))
    ap.add_argument('--n', type=int, default=8, help='NB201 cells timed')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default='bench/results/proxy_speed_vs_reference.json')
    args = ap.parse_args()
    torch.set_num_threads(1)
    if not (Path(args.reference) / 'foresight' / 'pruners').is_dir():
        raise SystemExit(f'--reference {args.reference}: no foresight/pruners there (a zero-cost-nas checkout)')
    sys.path.insert(0, str(Path(args.reference).resolve()))
    from foresight.pruners.predictive import find_measures

    from nb201_cells import minibatch_and_cells
    from nni_rank.proxies import compute_proxies, nb201_network

    batch, cells = minibatch_and_cells(args.data, args.n, args.seed, connected_only=True)
    warm = nb201_network(cells[0])
    compute_proxies(warm, batch, SIX + ['naswot'])
    reference_six(find_measures, copy.deepcopy(warm), batch, SIX)
    reference_naswot(copy.deepcopy(warm), batch[0])

    load_before = os.getloadavg()
    secs = {side: {k: [] for k in ['six', 'naswot', *SIX, FAST_SIX, FAST_GRASP, FORWARD]} for side in ('ours', 'reference')}
    values = {side: {k: [] for k in ['naswot', *SIX]} for side in ('ours', 'reference')}
    for i, arch in enumerate(cells):
        net = nb201_network(arch)
        jobs = [('reference', 'six', lambda n: reference_six(find_measures, n, batch, SIX)),
                ('ours', 'six', lambda n: compute_proxies(n, batch, SIX))]
        for name in SIX:
            jobs += [('reference', name, lambda n, name=name: reference_six(find_measures, n, batch, [name])),
                     ('ours', name, lambda n, name=name: compute_proxies(n, batch, [name]))]
        jobs += [('reference', 'naswot', lambda n: {'naswot': reference_naswot(n, batch[0])}),
                 ('ours', 'naswot', lambda n: compute_proxies(n, batch, ['naswot']))]
        # ours only, against the reference's six and grasp: GraSP by the scale-invariant option
        jobs += [('ours', FAST_SIX, lambda n: compute_proxies(n, batch, SIX, grasp_method='scale_invariant')),
                 ('ours', FAST_GRASP, lambda n: compute_proxies(n, batch, ['grasp'], grasp_method='scale_invariant')),
                 ('ours', FORWARD, lambda n: forward_no_grad(n, batch[0]))]
        if i % 2:  # interleaved: who goes first alternates
            jobs = [j for pair in zip(jobs[1::2], jobs[0::2]) for j in pair]
        for side, label, fn in jobs:
            s, out = timed(lambda: fn(copy.deepcopy(net)))
            secs[side][label].append(s)
            if label == 'six':
                for name in SIX:
                    values[side][name].append(float(out[name]))
            elif label == 'naswot':
                values[side]['naswot'].append(float(out['naswot']))
        print(f'cell {i + 1}/{len(cells)}: six {secs["reference"]["six"][-1]:.2f} s reference, '
              f'{secs["ours"]["six"][-1]:.2f} s ours', flush=True)
    load_after = os.getloadavg()
    fd = {step: [grasp_finite_difference(nb201_network(arch), batch, step) for arch in cells] for step in FD_STEPS}

    from scipy.stats import spearmanr
    rows = {}
    print(f'{"proxies":12s} {"reference s":>12s} {"ours s":>8s} {"speed-up":>9s} {"spearman":>9s}')
    against = {FAST_SIX: 'six', FAST_GRASP: 'grasp'}
    for label in ['six', 'naswot', *SIX, FAST_SIX, FAST_GRASP]:
        ref = float(np.mean(secs['reference'][against.get(label, label)]))
        ours = float(np.mean(secs['ours'][label]))
        row = {'reference_s': ref, 'ours_s': ours, 'speedup': ref / ours}
        if label in values['ours']:
            row['spearman_vs_reference'] = float(spearmanr(values['ours'][label], values['reference'][label])[0])
        rows[label] = row
        print(f'{label:12s} {ref:12.3f} {ours:8.3f} {ref / ours:8.1f}x {row.get("spearman_vs_reference", float("nan")):9.3f}')
    mean = {side: {k: float(np.mean(v)) for k, v in secs[side].items() if v} for side in secs}
    limits = {
        'forward_no_grad_s': mean['ours'][FORWARD],
        'naswot_bound': mean['reference']['naswot'] / mean['ours'][FORWARD],
        'six_bound_exact_grasp': mean['reference']['six'] / mean['ours']['grasp'],
        'six_bound_scale_invariant_grasp': mean['reference']['six'] / mean['ours'][FAST_GRASP],
        'note': 'speed-ups no implementation of the same arithmetic can pass on these nets and kernels: NASWOT needs '
                'at least one forward of the batch; the six at least GraSP (its Hessian-vector product), all other '
                'five coming free'}
    print('limits:', json.dumps(limits))
    models = per_model_seconds(batch, compute_proxies)
    for name, row in models.items():
        print(f'{name}: {row["params_m"]:.2f} M params, six {row["six_s"]:.2f} s, naswot {row["naswot_s"]:.2f} s, '
              f'six+naswot {row["six_naswot_s"]:.2f} s per model')
    report = {'n': len(cells), 'seed': args.seed, 'threads': 1, 'batch': 64, 'torch': torch.__version__,
              'cpu_count': os.cpu_count(), 'load_average_before': load_before, 'load_average_after': load_after,
              'reference': 'SamsungLabs/zero-cost-nas find_measures; NASWOT: BayesWatch hook_logdet loop (in this file)',
              'timings': rows, 'limits': limits, 'per_model': models,
              'grasp_finite_difference': {
                  'spearman_vs_exact_by_step': {str(k): float(spearmanr(v, values['ours']['grasp'])[0])
                                                for k, v in fd.items()},
                  'note': 'H g from (dL/dW(W + eps g) - g) / eps, eps = step * ||W|| / ||g||, one more forward and '
                          'backward instead of the double backward. It does not agree with the exact GraSP at any step: '
                          'the sum cancels large terms of both signs (for a Conv2d followed by BatchNorm, -W.Hg = '
                          '||g||^2 by scale invariance; the classifier gives a large negative term), a large step '
                          'meets the curvature of BatchNorm layers of small variance and the ReLU switches, a small one '
                          'the float32 rounding (even in float64 the difference of gradients includes the ReLU kinks '
                          'that autograd\'s Hessian leaves out). The exact double backward stays the only GraSP.'},
              'definitions': {
                  'fisher': 'ours = the reference: each channel saliency counted once per weight of the channel '
                            '(fan-in C_in*k*k), as find_measures broadcasts it to the weights before summing '
                            '(before this, ours summed channels once: rank agreement 0.77)',
                  'naswot': 'the BayesWatch loop hooks every module whose class name contains "ReLU", so NB201\'s '
                            'ReLUConvBN blocks are hooked too and the codes of their ReLU counted twice; ours counts '
                            'each ReLU call once (nn.ReLU/ReLU6/LeakyReLU modules reached by a non-zero gradient, found by '
                            'a two-image probe, then one forward of the batch without grad): values differ, ranks '
                            'agree (spearman above)',
                  'grasp_scale_invariant': 'grasp_method=\'scale_invariant\' (an option; the default stays the '
                                           'exact double backward): see bench/results/proxy_speed_grasp.json'}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f'written to {args.out}')


def per_model_seconds(batch, compute_proxies, repeats: int = 3) -> dict:
    """Seconds per model of ours (six, NASWOT, both in one call) beyond NB201: data already loaded."""
    import torchvision
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'examples'))
    from macro_space import LAYERS, MacroSpace
    torch.manual_seed(0)
    models = {'mobilenet_v2 (torchvision, 10 classes)': torchvision.models.mobilenet_v2(num_classes=10)}
    largest = MacroSpace().freeze({f'layer{i}': 'ir5_t6' for i in range(len(LAYERS))})
    models['macro_space largest (all ir5_t6)'] = largest
    out = {}
    for name, model in models.items():
        row = {'params_m': sum(p.numel() for p in model.parameters()) / 1e6}
        for label, names in (('six', SIX), ('naswot', ['naswot']), ('six_naswot', SIX + ['naswot'])):
            compute_proxies(model, batch, names)  # first-call costs out
            row[f'{label}_s'] = float(np.median([timed(lambda: compute_proxies(model, batch, names))[0]
                                                 for _ in range(repeats)]))
        out[name] = row
    return out


if __name__ == '__main__':
    main()
