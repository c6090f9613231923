"""Trial entry for ``nnictl`` experiments: ``python -m nni_rank.trial ...``.

Reads the tuner's parameters for a space (NB201: six categorical choices ``0_1`` ... ``2_3``; or the user's own
``ModelSpace``, ``--space /abs/path/file.py:CLASS``, whose table is keyed by its labels), evaluates by benchmark
lookup (``--benchmark``) or by short real training (``--train``), and
reports to NNI: ``default`` = accuracy, plus every other metric as extra keys, so NNI's web UI shows
them in its trial table and charts. Extra keys: the table's other metrics (lookup), ``params`` and
``flops`` (millions, of the network the accuracy belongs to), zero-cost proxy scores
(``--proxies``; undefined ones are left out and counted in ``undefined_proxies``), and whatever the
tuner passed along in the parameters under ``_report_*`` keys (NAR's ``predicted_tier``; see
:mod:`nni_rank.tuners.reports`). Training trials also report the test accuracy after every epoch as an
intermediate result.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import warnings

from .cli.common import space_spec

warnings.filterwarnings('ignore', message='.*is found to be not a nn.Module.*')

# (classes, input size) of the networks the NAS-Bench-201 tables describe, per dataset
NB201_GEOMETRY = {'cifar10': (10, 32), 'cifar10-valid': (10, 32), 'cifar100': (100, 32), 'imagenet16-120': (120, 16)}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog='python -m nni_rank.trial', description=__doc__.splitlines()[0])
    p.add_argument('--space', default='nb201', type=space_spec,
                   help='nb201, or your own ModelSpace as /abs/path/file.py:CLASS or PACKAGE.MODULE:CLASS')
    p.add_argument('--input-size', type=int, default=32,
                   help="your own space: the input images' side, for the reported flops (3 x size x size)")
    p.add_argument('--benchmark', help='benchmark table (.csv/.pth/.db): evaluate by lookup')
    p.add_argument('--dataset', default='cifar10')
    p.add_argument('--metric')
    p.add_argument('--train', action='store_true', help='train the network for real instead of a lookup')
    p.add_argument('--data', default='digits', help="'digits' or a local CIFAR folder / .bin file")
    p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--channels', type=int, help='NB201 training: channels of the first stage (default 16)')
    p.add_argument('--cells-per-stage', type=int, help='NB201 training: cells per stage (default 1)')
    p.add_argument('--train-limit', type=int, help='use at most this many training images (--train)')
    p.add_argument('--test-limit', type=int, help='use at most this many test images (--train)')
    p.add_argument('--proxies', help='comma-separated zero-cost proxies to report too, e.g. synflow,params')
    p.add_argument('--proxy-data', default='digits', help="minibatch of the proxies: 'digits' or a CIFAR path")
    p.add_argument('--proxy-cache', help='folder of the on-disk proxy cache (shared between trials)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--params', help='JSON parameters, to run one trial by hand outside NNI')
    p.add_argument('--threads', type=int, default=None,
                   help='torch threads of the trial (default: $NNI_RANK_THREADS or 1, one per concurrent trial)')
    return p.parse_args(argv)


def make_evaluator(args):
    if args.train:
        from .evaluators import TrainingEvaluator
        channels, cells = args.channels, args.cells_per_stage
        if args.space == 'nb201':
            channels, cells = 16 if channels is None else channels, 1 if cells is None else cells
        elif channels is not None or cells is not None:
            raise ValueError('--channels/--cells-per-stage size NAS-Bench-201 networks; your space builds its own')
        return TrainingEvaluator(data=args.data, epochs=args.epochs, channels=channels, cells_per_stage=cells,
                                 train_limit=args.train_limit, test_limit=args.test_limit, seed=args.seed,
                                 device=args.device, space=args.space)
    if not args.benchmark:
        raise ValueError('give --benchmark PATH for a lookup trial, or --train for real training')
    from .evaluators import BenchmarkEvaluator
    return BenchmarkEvaluator(args.benchmark, dataset=args.dataset, metric=args.metric, space=args.space)


def proxy_metrics(arch, names: str, data: str, cache_dir: str | None, seed: int, device: str) -> dict[str, float]:
    """Zero-cost proxy scores of ``arch`` (ProxyStore, same settings as the tuners); NaN ones left out
    and counted in ``undefined_proxies``."""
    from .proxies import ProxyStore
    store = ProxyStore([n.strip() for n in names.split(',') if n.strip()], data=data, seed=seed,
                       cache_dir=cache_dir, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        scores = store.score(arch)
    out = {n: float(v) for n, v in scores.items() if math.isfinite(v)}
    out['undefined_proxies'] = len(scores) - len(out)
    return out


def space_metrics(args, params: dict, cost: bool = True) -> dict[str, float]:
    """Proxies (``--proxies``), ``params`` and ``flops`` (millions) of the user space's network of ``params``."""
    from .spaces.adapter import adapter_for
    adapter = adapter_for(args.space)
    out: dict[str, float] = {}
    if args.proxies:
        names = [n.strip() for n in args.proxies.split(',') if n.strip()]
        source = adapter.proxy_source(names, data=args.proxy_data, seed=args.seed, cache_dir=args.proxy_cache,
                                      device=args.device)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            values = source.scores([params])[0]
        out = {n: float(v) for n, v in zip(source.names, values) if math.isfinite(v)}
        out['undefined_proxies'] = len(names) - len(out)
    if cost:  # training trials report the params/flops of the network they trained
        flops, size = adapter.network_cost(params, (3, args.input_size, args.input_size))
        out.setdefault('params', size)
        out.setdefault('flops', flops)
    return out


def cost_metrics(arch, dataset: str) -> dict[str, float]:
    """``params`` and ``flops`` (millions) of the NAS-Bench-201 network (16 channels, 5 cells per stage)
    whose accuracy the table stores for ``dataset``."""
    from .spaces.nb201_net import nb201_flops
    classes, size = NB201_GEOMETRY.get(dataset.lower(), (10, 32))
    flops, params = nb201_flops(arch, num_classes=classes, input_size=size, channels=16, cells_per_stage=5)
    return {'params': params, 'flops': flops}


def main(argv=None) -> int:
    args = parse_args(argv)
    import nni
    from .runtime import set_threads
    try:
        set_threads(args.threads)
        params = json.loads(args.params) if args.params else nni.get_next_parameter()
        if not params:
            raise ValueError('no parameters: run this under nnictl, or pass --params \'{"0_1": "conv_3x3", ...}\'')
        from .tuners.reports import split_reports
        params, extra = split_reports(params)
        evaluator = make_evaluator(args)
        arch = evaluator.arch_of(params)
        if args.space != 'nb201':
            extra.update(space_metrics(args, params, cost=not args.train))
        elif args.proxies:
            extra.update(proxy_metrics(arch, args.proxies, args.proxy_data, args.proxy_cache, args.seed, args.device))
        if not args.train and args.space == 'nb201':  # training trials report the params/flops of the network they trained
            extra.update((k, v) for k, v in cost_metrics(arch, args.dataset).items() if k not in extra)
        value = evaluator.evaluate(params, extra=extra)
    except (ValueError, LookupError, FileNotFoundError) as err:
        print(f'nni_rank.trial: error: {err}', file=sys.stderr)
        return 1
    print(f'{params} -> {value}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
