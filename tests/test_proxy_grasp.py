"""GraSP from scale invariance (grasp_method='scale_invariant') against the full double backward."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.stats import rankdata

from nni_rank.benchmarks import open_benchmark
from nni_rank.data import load_cifar, single_minibatch
from nni_rank.proxies import compute_proxies, nb201_network
from nni_rank.proxies.common import scored_layers
from nni_rank.proxies.grasp import scale_invariant
from nni_rank.spaces import NB201Arch

pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def images(shared_data):
    return single_minibatch(load_cifar(str(shared_data / 'cifar10_train_10k.bin')), 64, seed=0)


def _grasp(net, batch, method, **kwargs):
    return compute_proxies(net, batch, ['grasp'], grasp_method=method, warn=False, **kwargs)['grasp']


def _both(net, batch):
    return _grasp(net, batch, 'double_backward'), _grasp(net, batch, 'scale_invariant')


def _gradient_square(net, batch) -> float:
    """``||g||^2``: the size of the terms GraSP's signed sum cancels (an invariant layer's term is ``||g_l||^2``)."""
    weights = [m.weight for m in scored_layers(net)]
    loss = F.cross_entropy(net.train()(batch[0]), batch[1])
    return float(sum(g.double().pow(2).sum() for g in torch.autograd.grad(loss, weights, allow_unused=True)
                     if g is not None))


class _Probe(nn.Module):
    """conv->BN (bias too), a conv into ReLU, a weight shared by two convs, Linear->BN1d, the classifier."""

    def __init__(self, bn_eval: bool = False):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.bn_a = nn.BatchNorm2d(4)
        self.b = nn.Conv2d(4, 4, 1, bias=False)
        self.shared = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn_s1, self.bn_s2 = nn.BatchNorm2d(4), nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 6)
        self.bn_fc = nn.BatchNorm1d(6)
        self.head = nn.Linear(6, 3)
        self.bn_eval = bn_eval

    def forward(self, x):
        h = F.relu(self.bn_a(self.a(x)))
        h = torch.relu(self.b(h)) + h
        h = self.bn_s1(self.shared(h)) + self.bn_s2(self.shared(h))
        h = h.mean((2, 3))
        if self.bn_eval:
            self.bn_fc.eval()
        return self.head(F.relu(self.bn_fc(self.fc(h))))


def test_scale_invariant_layers_are_found_from_the_graph():
    torch.manual_seed(0)
    net = _Probe().train()
    weights = [net.a.weight, net.b.weight, net.shared.weight, net.fc.weight, net.head.weight]
    x = torch.randn(8, 3, 6, 6)
    loss = net(x).logsumexp(1).sum()
    assert scale_invariant(loss, weights, max_eps_ratio=1.0) == [True, False, True, True, False]
    with torch.no_grad():
        net.a.weight.mul_(1e-3)  # its BatchNorm's variance now near eps: no longer counted as invariant
    loss = net(x).logsumexp(1).sum()
    assert scale_invariant(loss, weights[:1]) == [False]
    assert scale_invariant(loss, weights[:1], max_eps_ratio=1.0) == [True]
    net = _Probe(bn_eval=True).train()  # running statistics: the Linear before it is not invariant
    loss = net(torch.randn(8, 3, 6, 6)).logsumexp(1).sum()
    assert scale_invariant(loss, [net.fc.weight], max_eps_ratio=1.0) == [False]
    # one use of the shared weight without BatchNorm: not invariant
    x = torch.randn(8, 4, 6, 6)
    loss = (net.bn_s1(net.shared(x)) + net.shared(x)).square().sum()
    assert scale_invariant(loss, [net.shared.weight], max_eps_ratio=1.0) == [False]


def test_scale_invariant_grasp_matches_the_double_backward_on_nb201_cells(shared_data, images):
    """20 cells (dangling nodes, 'none' edges and cells without a path among them), batch 16, float32: same
    ranks; values within 2e-3 of the terms the sum cancels (||g||^2: BatchNorm's eps moves each invariant term
    by about 1e-4 of itself), most within 1e-3 of GraSP itself."""
    archs = list(open_benchmark(str(shared_data / 'nb201_test_accuracy_200ep.csv')).archs())
    rng = np.random.default_rng(3)
    picked = [archs[i] for i in rng.choice(len(archs), 17, replace=False)]
    cut = [a for a in archs if not a.is_connected()][:2]
    dangling = [NB201Arch.from_str('|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|nor_conv_3x3~0|none~1|none~2|')]
    cells = picked + cut + dangling
    assert sum('none' in a.ops for a in cells) >= 10
    batch = (images[0][:16], images[1][:16])
    pairs = np.array([_both(nb201_network(a), batch) for a in cells])
    scale = np.array([_gradient_square(nb201_network(a), batch) for a in cells])
    nan = np.isnan(pairs)
    assert (nan[:, 0] == nan[:, 1]).all()
    exact, fast = pairs[~nan[:, 0]].T
    scale = scale[~nan[:, 0]]
    assert len(exact) >= 18
    zero = exact == 0  # no path from the input: the loss does not depend on the cells' weights
    assert (fast[zero] == 0).all() and zero.sum() <= 2
    assert (np.abs(fast - exact) <= 2e-3 * scale).all()
    assert np.median(np.abs(fast - exact)[~zero] / np.abs(exact[~zero])) < 1e-3
    assert (rankdata(exact) == rankdata(fast)).all()  # the same order: Spearman 1


def _double(net: nn.Module, eps: float) -> nn.Module:
    net = net.double()
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eps = eps
    return net


def _macro_largest():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'examples'))
    from macro_space import LAYERS, MacroSpace
    torch.manual_seed(0)
    return MacroSpace().freeze({f'layer{i}': 'ir5_t6' for i in range(len(LAYERS))})


def _mobilenet():
    torchvision = pytest.importorskip('torchvision')
    torch.manual_seed(0)
    return torchvision.models.mobilenet_v2(num_classes=10)


def _nb201_cell():
    return nb201_network('|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|')


@pytest.mark.parametrize('build', [_nb201_cell, _macro_largest], ids=['nb201', 'macro_space'])
def test_the_identity_is_exact_without_batch_norm_eps(build, images):
    """In float64 with BatchNorm's eps at 1e-12 the two methods agree to 1e-7: the only approximation is eps."""
    batch = (images[0][:16].double(), images[1][:16])
    exact, fast = _both(_double(build(), 1e-12), batch)
    assert abs(fast - exact) <= 1e-7 * abs(exact), (exact, fast)


@pytest.mark.parametrize('build', [_nb201_cell, _macro_largest, _mobilenet], ids=['nb201', 'macro_space', 'mobilenet_v2'])
def test_as_used_float32_and_eps_within_the_cancelled_terms(build, images):
    """float32, eps 1e-5: within 2e-3 of ||g||^2 (MobileNetV2's depthwise layers, eps/var up to 0.1, stay exact)."""
    batch = (images[0][:16], images[1][:16])
    exact, fast = _both(build(), batch)
    assert abs(fast - exact) <= 2e-3 * _gradient_square(build(), batch), (exact, fast)


class _InPlace(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.bn, self.fc = nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 3)

    def forward(self, x):
        h = self.conv(x)
        h.add_(1.0)  # the conv output changed in place
        return self.fc(self.bn(h).mean((2, 3)))


def test_an_output_changed_in_place_falls_back_to_the_double_backward(images):
    torch.manual_seed(0)
    net = _InPlace()
    x, y = images[0][:8], images[1][:8] % 3
    assert _grasp(net, (x, y), 'scale_invariant') == _grasp(net, (x, y), 'double_backward')
    with pytest.raises(ValueError, match='grasp_method'):
        _grasp(net, (x, y), 'finite_difference')
