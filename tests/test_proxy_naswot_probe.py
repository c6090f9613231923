"""NASWOT/DAS without a backward of the batch: live ReLUs from a two-image probe, then a forward without grad.

The oracle is the same call with ``jacob_cov`` added, which keeps the liveness from the batch's own backward."""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from nni_rank.benchmarks import open_benchmark
from nni_rank.data import load_cifar, single_minibatch
from nni_rank.proxies import compute_proxies, nb201_network
from nni_rank.spaces import NB201Arch

pytestmark = pytest.mark.usefixtures('one_thread')
ACT = ['naswot', 'das', 'das_distinguish', 'das_units']


@pytest.fixture(scope='module')
def images(shared_data):
    return single_minibatch(load_cifar(str(shared_data / 'cifar10_train_10k.bin')), 64, seed=0)


def _same(a: dict, b: dict) -> bool:
    return all(a[n] == b[n] or (math.isnan(a[n]) and math.isnan(b[n])) for n in ACT)


def _probe_and_backward(net, batch, **kwargs):
    probe_report, backward_report = {}, {}
    probed = compute_proxies(net, batch, ACT, warn=False, report=probe_report, **kwargs)
    backward = compute_proxies(net, batch, ACT + ['jacob_cov'], warn=False, report=backward_report, **kwargs)
    return probed, backward, probe_report, backward_report


def test_nb201_cells_give_the_values_of_the_backward(shared_data, images):
    archs = list(open_benchmark(str(shared_data / 'nb201_test_accuracy_200ep.csv')).archs())
    rng = np.random.default_rng(11)
    cells = [archs[i] for i in rng.choice(len(archs), 5, replace=False)]
    cells += [NB201Arch.from_str('|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|nor_conv_3x3~0|none~1|none~2|'),  # dangling
              next(a for a in archs if not a.is_connected())]
    for arch in cells:
        probed, backward, why_probe, why_backward = _probe_and_backward(nb201_network(arch), images)
        assert _same(probed, backward), (arch, probed, backward)
        assert why_probe.get('naswot') == why_backward.get('naswot')
    assert 'no path' in why_probe['naswot']  # the last cell: output independent of the input


class _ZeroBranch(nn.Module):
    """A ReLU whose only use is multiplied by zero (NNI's 'none' op), a LeakyReLU, an in-place ReLU."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.dead, self.leaky, self.inplace = nn.ReLU(), nn.LeakyReLU(0.1), nn.ReLU(inplace=True)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        h = self.conv(x)
        h = self.leaky(h) + self.dead(h * 2.0).mul(0.)
        return self.fc(self.inplace(h + 0.1).mean((2, 3)))


class _BatchDependent(nn.Module):
    """Calls one more ReLU for batches above four images: the probe's calls differ from the batch's."""

    def __init__(self):
        super().__init__()
        self.conv, self.relu, self.fc = nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Linear(8, 10)

    def forward(self, x):
        h = self.relu(self.conv(x))
        if x.shape[0] > 4:
            h = self.relu(h - 0.05)
        return self.fc(h.mean((2, 3)))


@pytest.mark.parametrize('build', [_ZeroBranch, _BatchDependent])
def test_dead_branches_and_changing_calls(build, images):
    torch.manual_seed(0)
    probed, backward, _, _ = _probe_and_backward(build(), images)
    assert _same(probed, backward) and math.isfinite(probed['naswot'])
    if build is _ZeroBranch:  # the dead ReLU is left out: fewer units than the three ReLUs' 3 * 8 * 32 * 32
        assert probed['das_units'] == 2 * 8 * 32 * 32


def test_the_probe_leaves_the_random_state_to_the_batch(images):
    """Dropout draws the same masks with and without the probe: grad proxies do not move when naswot is added."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Dropout(0.5), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(8, 10))
    alone = compute_proxies(net, images, ['grad_norm', 'snip'])
    together = compute_proxies(net, images, ['grad_norm', 'snip', 'naswot'])
    assert alone['grad_norm'] == together['grad_norm'] and alone['snip'] == together['snip']
    with pytest.raises(ValueError, match='rejected inputs'):
        compute_proxies(net, (images[0][:, :2], images[1]), ['naswot'])
