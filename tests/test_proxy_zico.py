"""ZiCo: inverse coefficient of variation of the gradients of the two halves of one real minibatch."""
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from nni_rank.data import load_cifar, single_minibatch
from nni_rank.proxies import ProxyWarning, compute_proxies, nb201_network, resolve_names
from nni_rank.proxies.common import scored_layers

BEST = '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'


pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def batch(shared_data):
    return single_minibatch(load_cifar(str(shared_data / 'cifar10_train_10k.bin')), 64, seed=0, augment=True)


def zico_by_hand(net, x, y) -> float:
    net.train()
    layers = scored_layers(net)
    logits = net(x)
    halves = [torch.autograd.grad(F.cross_entropy(logits[s], y[s]), [m.weight for m in layers], retain_graph=True)
              for s in (slice(0, len(x) // 2), slice(len(x) // 2, None))]
    total = 0.0
    for g1, g2 in zip(*halves):
        G = np.stack([g1.reshape(-1).double().numpy(), g2.reshape(-1).double().numpy()])
        std, mean_abs = G.std(0), np.abs(G).mean(0)
        ratio = (mean_abs[std != 0] / std[std != 0]).sum()
        total += math.log(ratio) if ratio != 0 else 0.0
    return total


def test_zico_matches_its_definition_and_leaves_other_proxies_unchanged(batch):
    x, y = batch
    alone = compute_proxies(nb201_network(BEST), batch, ['zico'])['zico']
    assert alone == pytest.approx(zico_by_hand(nb201_network(BEST), x, y), rel=1e-6)
    together = compute_proxies(nb201_network(BEST), batch, ['zico', 'grad_norm', 'snip', 'jacob_cov'])
    assert together['zico'] == alone
    without = compute_proxies(nb201_network(BEST), batch, ['grad_norm', 'snip', 'jacob_cov'])
    assert all(together[n] == without[n] for n in without)
    assert 'zico' not in resolve_names(None) and resolve_names('ZiCo') == ['zico']


def test_zico_needs_two_images(batch):
    x, y = batch
    report = {}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ProxyWarning)
        value = compute_proxies(nb201_network(BEST), (x[:1], y[:1]), ['zico'], report=report)['zico']
    assert math.isnan(value) and 'at least 2 images' in report['zico']


def test_zico_predicts_accuracy(batch, shared_data):
    acc = pd.read_csv(shared_data / 'nb201_test_accuracy_200ep.csv').sample(n=12, random_state=3)
    scores = [compute_proxies(nb201_network(a), batch, ['zico'])['zico'] for a in acc['arch_str']]
    ok = np.isfinite(scores)
    assert spearmanr(np.asarray(scores)[ok], acc['cifar10_test_acc'].to_numpy()[ok])[0] > 0.5
