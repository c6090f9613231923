"""SpaceEncoder on NNI's NAS-Bench-201 and NAS-Bench-101 hub spaces and on a user-defined ModelSpace."""
import csv
import itertools
import logging
import math
import warnings

import numpy as np
import pytest

from nni_rank.spaces.generic import SpaceEncoder
from nni_rank.spaces.nb101 import NB101Arch
from nni_rank.spaces.nb201 import NB201Arch, all_archs

warnings.filterwarnings('ignore', category=RuntimeWarning, module='nni')
logging.getLogger('nni').setLevel(logging.WARNING)


@pytest.fixture(scope='module')
def nb201():
    from nni.nas.hub.pytorch import NasBench201
    return SpaceEncoder(NasBench201())


@pytest.fixture(scope='module')
def nb101_space():
    from nni.nas.hub.pytorch import NasBench101
    return NasBench101(stem_out_channels=4, num_stacks=1, num_modules_per_stack=1)  # same labels, cheap


@pytest.fixture(scope='module')
def nb101(nb101_space):
    return SpaceEncoder(nb101_space)


@pytest.fixture(scope='module')
def nb101_archs(shared_data):
    with open(shared_data / 'nb101_500_valid_accuracy.csv', newline='') as f:
        return [NB101Arch.from_strings(r['adjacency_7x7_rowmajor'], r['ops']) for r in csv.DictReader(f)]


def make_user_space(continuous=True):
    """A small hand-written space: LayerChoice, nni.choice, two InputChoices, numericals and a constraint."""
    import nni
    import torch.nn as nn
    from nni.mutable import ExpressionConstraint
    from nni.nas.nn.pytorch import InputChoice, LayerChoice, ModelSpace, MutableDropout, MutableLinear

    class UserSpace(ModelSpace):
        def __init__(self):
            super().__init__()
            self.conv = LayerChoice({'c3': nn.Conv2d(3, 8, 3, padding=1), 'c5': nn.Conv2d(3, 8, 5, padding=2),
                                     'id': nn.Identity()}, label='conv')
            width = nni.choice('width', [8, 16, 32])
            self.fc = MutableLinear(8, width)
            self.skip = InputChoice(4, 2, label='skip')  # CategoricalMultiple, exactly 2 of 4
            self.merge = InputChoice(3, None, label='merge')  # CategoricalMultiple, any subset of 3
            self.drop = MutableDropout(nni.quniform('drop', 0.0, 0.5, 0.125) if not continuous
                                       else nni.uniform('dropout', 0.0, 0.5))
            self.add_mutable(ExpressionConstraint(width < 32, label='not_too_wide'))

        def forward(self, x):
            return self.fc(self.conv(x).mean((2, 3)))

    return UserSpace()


# --------------------------------------------------------------------- NAS-Bench-201
def test_nb201_layout(nb201):
    assert nb201.labels == ('cell/0_1', 'cell/0_2', 'cell/1_2', 'cell/0_3', 'cell/1_3', 'cell/2_3')
    assert nb201.skipped == ()
    assert nb201.dim == 30
    assert nb201.size() == 15625
    assert nb201.cardinalities() == (5,) * 6
    assert set(nb201.kind(label) for label in nb201.labels) == {'categorical'}
    assert len(nb201.feature_names()) == 30


def test_nb201_round_trips_every_cell(nb201):
    seen = set()
    for arch in all_archs():
        sample = arch.to_sample()
        idx = nb201.encode_indices(sample)
        assert tuple(idx) == arch.indices()  # NNI's op order is the benchmark's
        assert nb201.decode_indices(idx) == sample
        seen.add(tuple(idx))
    assert len(seen) == 15625
    vec = nb201.encode(NB201Arch.from_indices([0, 1, 2, 3, 4, 0]).to_sample())
    assert vec.shape == (30,) and vec.sum() == 6
    assert [int(np.argmax(vec[nb201.segments[label]])) for label in nb201.labels] == [0, 1, 2, 3, 4, 0]
    assert sum(1 for _ in nb201.all_samples()) == 15625


def test_nb201_neighbours_and_random(nb201):
    sample = NB201Arch.from_indices([3, 3, 0, 1, 2, 4]).to_sample()
    nbrs = nb201.neighbours(sample)
    assert len(nbrs) == 6 * 4
    for n in nbrs:
        assert sum(n[k] != sample[k] for k in sample) == 1
        NB201Arch.from_sample(n)
    assert len({tuple(nb201.encode_indices(n)) for n in nbrs}) == 24
    a = [nb201.random_sample(np.random.default_rng(7)) for _ in range(3)]
    b = [nb201.random_sample(np.random.default_rng(7)) for _ in range(3)]
    assert a == b
    draws = [tuple(nb201.encode_indices(nb201.random_sample(rng))) for rng in [np.random.default_rng(1)] * 200]
    assert len(set(draws)) > 150
    assert nb201.random_sample(np.random.RandomState(0)).keys() == sample.keys()


# --------------------------------------------------------------------- NAS-Bench-101
def test_nb101_layout(nb101, nb101_space):
    assert nb101.labels == ('cell/num_nodes', *(f'cell/op{i}' for i in range(1, 6)),
                            *(f'cell/input{i}' for i in range(1, 7)))
    assert nb101.skipped == ('cell/final',)
    assert nb101.kind('cell/input3') == 'categorical_multiple'
    assert nb101.dim == 6 + 5 * 3 + (1 + 2 + 3 + 4 + 5 + 6)
    assert nb101.cardinalities() == (6, 3, 3, 3, 3, 3, 2, 4, 8, 16, 32, 64)
    assert nb101.size() == 6 * 3 ** 5 * 2 ** 21
    simplified = SpaceEncoder(nb101_space.simplify())
    assert simplified.labels == nb101.labels and simplified.dim == nb101.dim
    from nni.nas.benchmark.evaluator import NasBench101Benchmark
    bare = SpaceEncoder(NasBench101Benchmark.default_space())
    assert bare.labels == tuple(label.split('/')[1] for label in nb101.labels)


def test_nb101_real_archs(nb101, nb101_archs):
    for arch in nb101_archs:
        sample = arch.to_sample()  # includes cell/final, which is accepted and not encoded
        idx = nb101.encode_indices(sample)
        decoded = nb101.decode_indices(idx)
        assert decoded == {k: v for k, v in sample.items() if k != 'cell/final'}
        assert NB101Arch.from_sample(decoded) == NB101Arch.from_sample(sample)
        vec = nb101.encode(sample)
        assert vec[nb101.segments['cell/num_nodes']].sum() == 1
        assert vec[nb101.segments['cell/input6']].sum() == len(sample['cell/input6'])
        assert nb101.validate(decoded)['cell/final'] == arch.to_nni_arch()  # NNI's constraint, re-run


def test_nb101_random_and_neighbours(nb101):
    rng = np.random.default_rng(0)
    samples = [nb101.random_sample(rng) for _ in range(2000)]
    share7 = np.mean([s['cell/num_nodes'] == 7 for s in samples])
    assert abs(share7 - 64 / 124) < 0.05  # NNI's prior on num_nodes (2**n) is followed
    uniform7 = np.mean([nb101.random_sample(rng, weighted=False)['cell/num_nodes'] == 7 for _ in range(600)])
    assert abs(uniform7 - 1 / 6) < 0.06
    valid = [s for s in samples if nb101.is_valid(s)]
    assert 0.2 < len(valid) / len(samples) < 0.9
    for s in valid[:50]:
        NB101Arch.from_sample(s)
    with pytest.raises(ValueError, match="violates constraint 'cell/final'"):
        nb101.validate(next(s for s in samples if not nb101.is_valid(s)))
    s = valid[0]
    nbrs = nb101.neighbours(s)
    assert len(nbrs) == 5 + 5 * 2 + (1 + 2 + 3 + 4 + 5 + 6)
    assert all(sum(n[k] != s[k] for k in s) == 1 for n in nbrs)


# --------------------------------------------------------------------- user-defined space
def test_user_space_layout():
    enc = SpaceEncoder(make_user_space())
    assert set(enc.labels) == {'conv', 'width', 'skip', 'merge', 'dropout'}
    assert enc.skipped == ('not_too_wide',)
    assert enc.kind('conv') == 'categorical' and enc.kind('dropout') == 'numerical'
    assert enc.kind('skip') == 'categorical_multiple'
    assert enc.dim == 3 + 3 + 4 + 3 + 1
    assert enc.size() is None  # continuous dropout
    sample = {'conv': 'c5', 'width': 16, 'skip': [1, 3], 'merge': [2], 'dropout': 0.125}
    vec = enc.encode(sample)
    assert vec[enc.segments['dropout']] == pytest.approx([0.25])
    assert list(vec[enc.segments['skip']]) == [0, 1, 0, 1]
    assert list(vec[enc.segments['conv']]) == [0, 1, 0]
    with pytest.raises(ValueError, match='continuous'):
        enc.encode_indices(sample)
    nbrs = enc.neighbours(sample)
    assert len(nbrs) == 2 + 2 + 2 * 2 + 3 + 2
    assert sorted({round(n['dropout'], 9) for n in nbrs}) == [0.075, 0.125, 0.175]
    assert enc.is_valid(sample)
    assert not enc.is_valid({**sample, 'width': 32})
    r = enc.random_sample(3)
    assert 0.0 <= r['dropout'] <= 0.5 and len(r['skip']) == 2
    enc.encode(r)


def test_user_space_finite_enumeration():
    enc = SpaceEncoder(make_user_space(continuous=False))
    assert enc.cardinalities() == (3, 3, math.comb(4, 2), 2 ** 3, 5)
    assert enc.size() == 3 * 3 * 6 * 8 * 5
    everything = list(enc.all_samples())
    assert len(everything) == enc.size()
    assert len({str(s) for s in everything}) == enc.size()
    for idx, s in zip(itertools.product(*(range(c) for c in enc.cardinalities())), everything):
        assert tuple(enc.encode_indices(s)) == idx
    skips = [enc.decode_indices([0, 0, i, 0, 0])['skip'] for i in range(6)]
    assert skips == [list(c) for c in itertools.combinations(range(4), 2)]
    assert {str(n['drop']) for n in enc.neighbours(everything[7])} <= {str(v) for v in (0.0, 0.125, 0.25, 0.375, 0.5)}


# --------------------------------------------------------------------- errors
def test_bad_samples(nb201, nb101):
    good = NB201Arch.from_indices([0] * 6).to_sample()
    with pytest.raises(ValueError, match="unknown labels \\['cell/9_9'\\]"):
        nb201.encode({**good, 'cell/9_9': 'none'})
    with pytest.raises(ValueError, match="'conv_5x5' for label 'cell/0_1' is not one of"):
        nb201.encode({**good, 'cell/0_1': 'conv_5x5'})
    with pytest.raises(ValueError, match='lacks labels'):
        nb201.encode_indices({'cell/0_1': 'none'})
    with pytest.raises(ValueError, match='must be a dict'):
        nb201.encode([0] * 6)
    with pytest.raises(ValueError, match='outside 0..4'):
        nb201.decode_indices([0, 0, 0, 0, 0, 5])
    with pytest.raises(ValueError, match='one per label'):
        nb201.decode_indices([0, 0])
    with pytest.raises(ValueError, match='unknown label'):
        nb201.kind('nope')
    sample = nb101.decode_indices([0] * 12)
    with pytest.raises(ValueError, match='is not one of'):
        nb101.encode({**sample, 'cell/input2': [0, 7]})
    with pytest.raises(ValueError, match='repeats a choice'):
        nb101.encode({**sample, 'cell/input2': [0, 0]})
    with pytest.raises(ValueError, match='must be a list'):
        nb101.encode({**sample, 'cell/input2': 1})
    enc = SpaceEncoder(make_user_space())
    with pytest.raises(ValueError, match='exactly 2 choices'):
        enc.encode({'conv': 'id', 'width': 8, 'skip': [1], 'merge': [], 'dropout': 0.1})
    with pytest.raises(ValueError, match='outside'):
        enc.encode({'conv': 'id', 'width': 8, 'skip': [0, 1], 'merge': [], 'dropout': 0.9})


def test_bad_spaces():
    from nni.mutable import Categorical
    with pytest.raises(TypeError, match='not supported'):
        SpaceEncoder({'x': Categorical([1, 2], label='x'), 'y': object()})
    with pytest.raises(TypeError, match='expected an NNI model space'):
        SpaceEncoder(42)
    with pytest.raises(ValueError, match='no Categorical'):
        SpaceEncoder({})
