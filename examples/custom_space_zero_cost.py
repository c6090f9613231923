"""Zero-cost NAS on your own NNI ModelSpace: score every sampled model with proxies, no training.

    python examples/custom_space_zero_cost.py [--trials 8] [--data digits|CIFAR_DIR]

The strategy is zero-cost REA (warm-up pool + move proposal, scored by ``naswot``); the evaluator
reports ``synflow``, ``naswot`` and ``params`` of each model, ``default`` = ``naswot``. Swap the
evaluator for your training evaluator to spend real training only on the proxy-selected models.
"""
from __future__ import annotations

import argparse

import nni
import torch
from nni.nas.experiment import NasExperiment, NasExperimentConfig
from nni.nas.nn.pytorch import LayerChoice, ModelSpace, MutableConv2d, MutableLinear
from torch import nn

from nni_rank.evaluators import ModelZeroCostEvaluator
from nni_rank.strategies import ZeroCostEvolution


class TinySpace(ModelSpace):
    """Two searchable blocks (op and width) and a classifier, for 3x32x32 inputs and 10 classes."""

    def __init__(self):
        super().__init__()
        width = nni.choice('width', [16, 32])
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.block1 = LayerChoice([nn.Conv2d(16, 16, 3, padding=1), nn.Conv2d(16, 16, 5, padding=2),
                                   nn.Identity()], label='block1')
        self.act = nn.ReLU()
        self.expand = MutableConv2d(16, width, 1)
        self.block2 = LayerChoice([nn.Sequential(MutableConv2d(width, width, 3, padding=1), nn.ReLU()),
                                   nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.ReLU())], label='block2')
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), MutableLinear(width, 10))

    def forward(self, x):
        return self.head(self.block2(self.expand(self.act(self.block1(self.stem(x))))))


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--trials', type=int, default=8)
    p.add_argument('--data', default='digits')
    args = p.parse_args(argv)
    torch.manual_seed(0)
    evaluator = ModelZeroCostEvaluator('naswot,synflow,params', default='naswot', data=args.data, batch_size=32)
    strategy = ZeroCostEvolution('naswot', pool_size=6, population_size=4, sample_size=2, seed=0,
                                 data=args.data, batch_size=32)
    config = NasExperimentConfig('sequential', 'raw', 'local')
    config.max_trial_number = args.trials
    exp = NasExperiment(TinySpace(), evaluator, strategy, config)
    exp.run()
    exp.stop()
    models = sorted(exp.strategy.list_models(), key=lambda m: m.metric, reverse=True)
    for m in models:
        print(f'{m.metric:9.2f}  {m.sample}')
    return [dict(m.sample, score=m.metric) for m in models]


if __name__ == '__main__':
    main()
