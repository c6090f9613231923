"""build_nb201 against NNI's frozen NasBench201 and the NAS-Bench-Suite-Zero params/flops columns."""
import copy
import csv
import gc
import pickle
import random
import warnings

import pytest
import torch
import torch.nn as nn

from nni_rank.spaces.nb201 import NB201Arch, InvalidArchitecture
from nni_rank.spaces.nb201_net import (
    CELL_TYPES, NB201Cell, ReLUConvBN, ResNetBasicblock, _edge_op, build_nb201, count_parameters, nb201_flops)

ALL_CONV3 = '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|'
ALL_NONE = '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|'
# output unreachable: nodes 1 and 2 compute convolutions that only feed `none` edges
UNREACHABLE = '|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|none~0|none~1|none~2|'
# node 1 gets no input (zeros), its conv output still feeds the cell
NO_INPUT_NODE = '|none~0|+|none~0|nor_conv_3x3~1|+|none~0|avg_pool_3x3~1|skip_connect~2|'
EDGE_CASES = [ALL_CONV3, ALL_NONE, UNREACHABLE, NO_INPUT_NODE]


def _random_archs(n, seed=0):
    rng = random.Random(seed)
    return [NB201Arch.from_indices([rng.randrange(5) for _ in range(6)]) for _ in range(n)]


@pytest.fixture(scope='module')
def nni_space():
    """NNI's space, plus its state-dict entries split at the LayerChoice they sit in (if any)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        from nni.nas.hub.pytorch import NasBench201
        from nni.nas.nn.pytorch import LayerChoice
        space = NasBench201()
    choices = {name: lc.label for name, lc in space.named_modules() if isinstance(lc, LayerChoice)}
    entries = []  # (frozen key, choice label or None, candidate op or None, shape)
    for key, t in space.state_dict().items():
        path = next((p for p in choices if key.startswith(p + '.')), None)
        if path is None:
            entries.append((key, None, None, tuple(t.shape)))
        else:
            op, rest = key[len(path) + 1:].split('.', 1)
            entries.append((f'{path}.{rest}', choices[path], op, tuple(t.shape)))
    return space, entries


def _nni_frozen_shapes(nni_space, arch):
    """State-dict shapes of NNI's frozen model, derived from the space without the slow freeze:
    a LayerChoice at ``path`` becomes its chosen candidate, so ``path.<op>.rest`` -> ``path.rest``."""
    sample = arch.to_sample()
    return {key: shape for key, label, op, shape in nni_space[1] if label is None or sample[label] == op}


def _shapes(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _param_shapes(model):
    return sorted(tuple(p.shape) for p in model.parameters())


@pytest.fixture(scope='module')
def frozen_edge_cases(nni_space):
    space, _ = nni_space
    return {s: space.freeze(NB201Arch.from_str(s).to_sample()) for s in EDGE_CASES}


def test_shape_derivation_matches_real_freeze(nni_space, frozen_edge_cases):
    for s, frozen in frozen_edge_cases.items():
        assert _shapes(frozen) == _nni_frozen_shapes(nni_space, NB201Arch.from_str(s))


@pytest.mark.parametrize('arch', EDGE_CASES)
def test_edge_cases_same_as_nni(arch, frozen_edge_cases):
    frozen = frozen_edge_cases[arch]
    net = build_nb201(arch)
    assert _shapes(net) == _shapes(frozen)
    assert _param_shapes(net) == _param_shapes(frozen)
    assert count_parameters(net) == count_parameters(frozen)


def test_200_random_archs_same_shapes_as_nni(nni_space):
    for arch in _random_archs(200):
        net = build_nb201(arch)
        expected = _nni_frozen_shapes(nni_space, arch)
        assert _shapes(net) == expected, arch
        assert _param_shapes(net) == sorted(v for k, v in expected.items()
                                            if not k.endswith(('running_mean', 'running_var', 'num_batches_tracked')))


@pytest.mark.parametrize('arch', EDGE_CASES)
def test_forward_and_grads_equal_nni_with_copied_weights(arch, frozen_edge_cases):
    frozen = copy.deepcopy(frozen_edge_cases[arch])
    net = build_nb201(arch)
    net.load_state_dict(frozen.state_dict(), strict=True)
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    frozen.eval(), net.eval()
    with torch.no_grad():
        torch.testing.assert_close(net(x), frozen(x), rtol=1e-5, atol=1e-6)
    frozen.train(), net.train()
    frozen(x).square().sum().backward()
    net(x).square().sum().backward()
    grads = dict(net.named_parameters())
    for name, p in frozen.named_parameters():
        g = grads[name].grad
        assert (p.grad is None) == (g is None), name
        if g is not None:
            torch.testing.assert_close(g, p.grad, rtol=1e-4, atol=1e-5, msg=name)
    for (name, b), (_, b2) in zip(frozen.named_buffers(), net.named_buffers()):  # BN running stats
        torch.testing.assert_close(b2, b, msg=name)


def test_random_archs_forward_equal_nni(nni_space):
    space, _ = nni_space
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    for arch in _random_archs(2, seed=7):
        frozen = space.freeze(arch.to_sample()).eval()
        net = build_nb201(arch)
        net.load_state_dict(frozen.state_dict(), strict=True)
        with torch.no_grad():
            torch.testing.assert_close(net.eval()(x), frozen(x), rtol=1e-5, atol=1e-6)


def test_params_match_reference_csv(shared_data):
    with open(shared_data / 'nb201_zc_reference_cifar10.csv') as f:
        rows = list(csv.DictReader(f))
    for row in random.Random(0).sample(rows, 300):
        assert count_parameters(build_nb201(row['arch_str'])) == round(float(row['params']) * 1e6), row['arch_str']


def test_flops_match_reference_csv(shared_data):
    with open(shared_data / 'nb201_zc_reference_cifar10.csv') as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        flops, params = nb201_flops(row['arch_str'])
        assert params == pytest.approx(float(row['params']), abs=1e-9)
        assert flops == pytest.approx(float(row['flops']), abs=0.0011)  # constant offset of 0.001078
    assert nb201_flops(ALL_CONV3, convention='macs') == pytest.approx((220.11969, 1.531546))


def test_invalid_architecture():
    with pytest.raises(InvalidArchitecture):
        build_nb201('|nor_conv_3x3~0|+|bogus~0|none~1|')
    with pytest.raises(InvalidArchitecture):
        build_nb201([0, 1, 2, 3, 4, 5])


def test_structure_and_attributes():
    net = build_nb201(ALL_CONV3, num_classes=100)
    assert gc.isenabled()  # the builder pauses GC only while it runs
    assert net.arch == NB201Arch.from_str(ALL_CONV3)
    assert len(net.cells) == 17 and len(net.search_cells) == 15
    assert all(isinstance(c, CELL_TYPES) for c in net.search_cells)
    assert isinstance(net.cells[5], ResNetBasicblock) and isinstance(net.cells[11], ResNetBasicblock)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 100)
    net.zero_grad()
    clone = copy.deepcopy(net)
    pickle.loads(pickle.dumps(net))
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(clone.eval()(x), net.eval()(x))


def test_bn_flags():
    full = build_nb201(ALL_CONV3)
    no_affine = build_nb201(ALL_CONV3, bn_affine=False, bn_track_running_stats=False)
    bns = [m for m in no_affine.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(m.weight is None and m.running_mean is None for m in bns)
    assert count_parameters(full) - count_parameters(no_affine) == sum(
        2 * m.num_features for m in full.modules() if isinstance(m, nn.BatchNorm2d))
    assert not list(no_affine.buffers())
    no_affine(torch.randn(2, 3, 32, 32))


def test_fresh_weights_no_sharing():
    a, b = build_nb201(ALL_CONV3), build_nb201(ALL_CONV3)
    ptrs_a = {t.data_ptr() for t in [*a.parameters(), *a.buffers()]}
    ptrs_b = {t.data_ptr() for t in [*b.parameters(), *b.buffers()]}
    assert not ptrs_a & ptrs_b
    assert not torch.equal(a.classifier.weight, b.classifier.weight)
    conv_a, conv_b = a.cells[0].layers[0][0].op[1], b.cells[0].layers[0][0].op[1]
    conv_a.register_forward_hook(lambda *args: None)
    assert len(conv_a._forward_hooks) == 1 and not conv_b._forward_hooks
    with torch.no_grad():
        conv_a.weight.zero_()
    assert conv_b.weight.abs().sum() > 0


def test_default_init_is_pytorchs():
    """Same RNG stream and bounds as constructing the modules: equal weights under one seed."""
    for C, k in ((16, 3), (64, 1)):
        torch.manual_seed(3)
        fast = _edge_op('nor_conv_3x3' if k == 3 else 'nor_conv_1x1', C, True, True)
        torch.manual_seed(3)
        slow = ReLUConvBN(C, C, k, 1, k // 2, 1)
        for (n1, t1), (n2, t2) in zip(fast.state_dict().items(), slow.state_dict().items()):
            assert n1 == n2 and torch.equal(t1, t2)
    torch.manual_seed(5)
    a = build_nb201(ALL_CONV3)
    torch.manual_seed(5)
    b = build_nb201(ALL_CONV3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    w = a.classifier.weight
    assert w.abs().max() <= 1 / 8 and w.abs().max() > 0.1  # U(-1/sqrt(64), 1/sqrt(64))
    assert isinstance(a.cells[0], NB201Cell)
