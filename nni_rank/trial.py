"""Trial entry for ``nnictl`` experiments: ``python -m nni_rank.trial ...``.

Reads the tuner's parameters for a space (NB201: six categorical choices ``0_1`` ... ``2_3``),
evaluates by benchmark lookup (``--benchmark``) or by short real training (``--train``), and
reports to NNI: ``default`` = accuracy, plus every other metric as extra keys.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings

warnings.filterwarnings('ignore', message='.*is found to be not a nn.Module.*')


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog='python -m nni_rank.trial', description=__doc__.splitlines()[0])
    p.add_argument('--space', default='nb201', choices=['nb201'])
    p.add_argument('--benchmark', help='benchmark table (.csv/.pth/.db): evaluate by lookup')
    p.add_argument('--dataset', default='cifar10')
    p.add_argument('--metric')
    p.add_argument('--train', action='store_true', help='train the network for real instead of a lookup')
    p.add_argument('--data', default='digits', help="'digits' or a local CIFAR folder / .bin file")
    p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--channels', type=int, default=16)
    p.add_argument('--cells-per-stage', type=int, default=1)
    p.add_argument('--device', default='cpu')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--params', help='JSON parameters, to run one trial by hand outside NNI')
    return p.parse_args(argv)


def make_evaluator(args):
    if args.train:
        from .evaluators import TrainingEvaluator
        return TrainingEvaluator(data=args.data, epochs=args.epochs, channels=args.channels,
                                 cells_per_stage=args.cells_per_stage, seed=args.seed, device=args.device)
    if not args.benchmark:
        raise ValueError('give --benchmark PATH for a lookup trial, or --train for real training')
    from .evaluators import BenchmarkEvaluator
    return BenchmarkEvaluator(args.benchmark, dataset=args.dataset, metric=args.metric, space=args.space)


def main(argv=None) -> int:
    args = parse_args(argv)
    import nni
    try:
        params = json.loads(args.params) if args.params else nni.get_next_parameter()
        if not params:
            raise ValueError('no parameters: run this under nnictl, or pass --params \'{"0_1": "conv_3x3", ...}\'')
        evaluator = make_evaluator(args)
        value = evaluator.evaluate(params)
    except (ValueError, LookupError, FileNotFoundError) as err:
        print(f'nni_rank.trial: error: {err}', file=sys.stderr)
        return 1
    print(f'{params} -> {value}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
