"""An NNI evaluator that trains a sampled network (NAS-Bench-201 cell or any space's) for a few epochs and reports
test accuracy."""
from __future__ import annotations

import math
import os
from typing import Any, Mapping

import nni
import torch
from nni.mutable import Sample
from torch import nn

from .benchmark import SampleEvaluator


def train_and_test(model: nn.Module, train_loader, test_loader, epochs: int = 2, lr: float = 0.05,
                   device: str | torch.device = 'cpu', report=None) -> float:
    """SGD (momentum 0.9, cosine) for ``epochs``; returns test accuracy in percent after each epoch via ``report``."""
    model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    steps = max(1, epochs * len(train_loader))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    loss_fn = nn.CrossEntropyLoss()
    acc = math.nan
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            if not torch.isfinite(loss):
                return math.nan  # diverged: a handled result, reported as NaN by the caller
            loss.backward()
            opt.step()
            sched.step()
        acc = evaluate_accuracy(model, test_loader, device)
        if report is not None:
            report(epoch, acc)
    return acc


@torch.no_grad()
def evaluate_accuracy(model: nn.Module, loader, device: str | torch.device = 'cpu') -> float:
    model.eval()
    correct = total = 0
    for x, y in loader:
        correct += (model(x.to(device)).argmax(1) == y.to(device)).sum().item()
        total += len(y)
    if total == 0:
        raise ValueError('the test loader yields no data')
    return 100.0 * correct / total


@nni.trace
class TrainingEvaluator(SampleEvaluator):
    """Train each sampled network briefly on real data; report test accuracy (percent) as ``default``.

    ``data`` is ``'digits'`` (the embedded scikit-learn digits, the default) or a local CIFAR folder /
    ``.bin`` file. Intermediate results (accuracy per epoch) go to NNI, so the web UI draws curves;
    the final dict adds ``params`` (M) and ``flops`` (M). ``space``: ``'nb201'`` (networks of ``channels`` and
    ``cells_per_stage``, 16 and 5 when None) or any space (``'PACKAGE.MODULE:CLASS'``, ``adapter_for(space)``),
    whose own network is trained (``channels``/``cells_per_stage`` must then be None).
    """

    def __init__(self, data: str | os.PathLike = 'digits', epochs: int = 2, batch_size: int = 64, lr: float = 0.05,
                 channels: int | None = None, cells_per_stage: int | None = None, train_limit: int | None = None,
                 test_limit: int | None = None, seed: int = 0, device: str = 'cpu', space: Any = 'nb201'):
        super().__init__()
        self.data, self.epochs, self.batch_size, self.lr = str(data), epochs, batch_size, lr
        self.channels, self.cells_per_stage, self.seed, self.device = channels, cells_per_stage, seed, device
        self.train_limit, self.test_limit = train_limit, test_limit
        self.space = space
        self._loaders: Any = None
        self.description = ''

    @property
    def geometry(self) -> dict[str, int]:
        """The size options given (``channels``, ``cells_per_stage``; None ones left to the space)."""
        return {k: v for k, v in (('channels', self.channels), ('cells_per_stage', self.cells_per_stage))
                if v is not None}

    def loaders(self):
        if self._loaders is None:
            from ..data import data_source, make_loader
            train, self.description = data_source(None if self.data == 'digits' else self.data, split='train',
                                                  limit=self.train_limit, seed=self.seed)
            test, _ = data_source(None if self.data == 'digits' else self.data, split='test',
                                  limit=self.test_limit, seed=self.seed)
            self.num_classes = int(train.num_classes)
            self._loaders = (make_loader(train, self.batch_size, shuffle=True, seed=self.seed),
                             make_loader(test, 256, shuffle=False, seed=self.seed))
        return self._loaders

    def evaluate(self, sample: Sample, extra: Mapping[str, Any] | None = None) -> float:
        train_loader, test_loader = self.loaders()
        model = self.adapter.network(sample, seed=self.seed, num_classes=self.num_classes, **self.geometry)
        input_shape = tuple(train_loader.dataset[0][0].shape)
        flops, params = self.adapter.network_cost(sample, input_shape, num_classes=self.num_classes, **self.geometry)
        acc = train_and_test(model, train_loader, test_loader, self.epochs, self.lr, self.device,
                             report=lambda epoch, a: nni.report_intermediate_result(a))
        self.report({'default': acc, 'params': params, 'flops': flops}, extra)
        return acc
