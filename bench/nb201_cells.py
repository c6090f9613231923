"""Shared set-up of the proxy-speed benches: the seeded CIFAR-10 minibatch and seeded NAS-Bench-201 cells."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def minibatch_and_cells(data: str, n: int, seed: int = 0, connected_only: bool = False):
    """``(batch, cells)``: 64 seeded CIFAR-10 training images of ``data`` and ``n`` seeded distinct NB201 cells
    (arch strings; ``connected_only``: cells with a path from input to output)."""
    from nni_rank.benchmarks import open_benchmark
    from nni_rank.data import load_cifar, single_minibatch
    from nni_rank.spaces import NB201Arch

    batch = single_minibatch(load_cifar(str(Path(data) / 'cifar10_train_10k.bin')), 64, seed=seed)
    archs = list(open_benchmark(str(Path(data) / 'nb201_test_accuracy_200ep.csv')).archs())
    if connected_only:
        archs = [a for a in archs if NB201Arch.parse(a).is_connected()]
    rng = np.random.default_rng(seed)
    return batch, [archs[i] for i in rng.choice(len(archs), n, replace=False)]
