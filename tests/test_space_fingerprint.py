"""A user space's fingerprint (the name of its proxy caches and calibration files) covers what its networks are
built from: the space's class and constructor arguments, not only its labels and values."""
import sys

import numpy as np
import pytest
import torch
from nni.nas.nn.pytorch import LayerChoice, ModelSpace
from torch import nn

from conftest import REPO

sys.path.insert(0, str(REPO / 'examples'))
from user_nb201_space import UserNB201Space  # noqa: E402

from nni_rank.proxies import ProxyScorer, compute_proxies  # noqa: E402
from nni_rank.proxies import sample_store  # noqa: E402
from nni_rank.spaces.adapter import ModelSpaceAdapter, adapter_for  # noqa: E402

pytestmark = [pytest.mark.usefixtures('one_thread'),
              pytest.mark.filterwarnings('ignore:.*is found to be not a nn.Module.*')]


def _fingerprint(space) -> str:
    adapter = adapter_for(space)
    assert type(adapter) is ModelSpaceAdapter
    return adapter.fingerprint()


class _Tiny(ModelSpace):
    """One searched convolution; ``act``, ``scale`` and ``extra`` only enter the fingerprint."""

    def __init__(self, width: int = 4, act=nn.ReLU, scale=None, extra=None):
        super().__init__()
        self.conv = LayerChoice({'a': nn.Conv2d(3, width, 3, padding=1), 'b': nn.Conv2d(3, width, 1)}, label='op')
        self.head = nn.Sequential(act(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))

    def forward(self, x):
        return self.head(self.conv(x))


class _TinyToo(_Tiny):
    """The same labels and values as :class:`_Tiny`, another class."""


class _Opaque:
    """An argument whose repr shows its memory address."""


def test_constructor_arguments_enter_the_fingerprint():
    small = _fingerprint(UserNB201Space(channels=4, cells=1))
    assert _fingerprint(UserNB201Space(channels=4, cells=1)) == small  # same arguments, same fingerprint
    assert _fingerprint(UserNB201Space(4, 1)) == small  # positional or keyword
    assert _fingerprint(UserNB201Space(channels=8, cells=1)) != small
    assert _fingerprint(UserNB201Space(channels=4, cells=2)) != small
    assert _fingerprint(UserNB201Space()) == _fingerprint(UserNB201Space(channels=16, cells=5, num_classes=10))
    # the labels and values alone (a bare space without networks) are not the space's networks
    bare = adapter_for(UserNB201Space(channels=4, cells=1).simplify())
    assert bare.network_space is None and bare.fingerprint() != small
    # another class with the same labels, values and arguments
    assert _fingerprint(_TinyToo()) != _fingerprint(_Tiny())


def test_arguments_without_a_stable_repr_are_deterministic():
    base = _fingerprint(_Tiny())
    assert _fingerprint(_Tiny(act=nn.ReLU)) == base  # a class, by name: the default
    assert _fingerprint(_Tiny(act=nn.GELU)) != base
    assert _fingerprint(_Tiny(scale=torch.ones(3))) == _fingerprint(_Tiny(scale=torch.ones(3)))  # by contents
    assert _fingerprint(_Tiny(scale=torch.ones(3))) != _fingerprint(_Tiny(scale=torch.full((3,), 2.0)))
    assert _fingerprint(_Tiny(scale=np.arange(3))) != _fingerprint(_Tiny(scale=np.arange(1, 4)))
    assert _fingerprint(_Tiny(extra={'b': [1, 2], 'a': 0})) == _fingerprint(_Tiny(extra={'a': 0, 'b': [1, 2]}))
    assert _fingerprint(_Tiny(extra={'a': 1})) != _fingerprint(_Tiny(extra={'a': 2}))
    # two objects whose repr is an address: by their class, the same in every process
    assert _fingerprint(_Tiny(extra=_Opaque())) == _fingerprint(_Tiny(extra=_Opaque()))
    assert _fingerprint(_Tiny(extra=_Opaque())) != base


def test_caches_of_spaces_built_differently_are_not_mixed(tmp_path):
    sample_store._SHARED.clear()
    narrow, wide = UserNB201Space(channels=4, cells=1), UserNB201Space(channels=8, cells=1)
    samples = adapter_for(narrow).distinct_samples(3, 0)
    first = ProxyScorer('synflow,params', space=narrow, cache_dir=tmp_path).raw_scores(samples)
    second = ProxyScorer('synflow,params', space=wide, cache_dir=tmp_path).raw_scores(samples)
    assert len(list(tmp_path.glob('proxies-*.csv'))) == 2  # one cache file per space
    for space, values in ((narrow, first), (wide, second)):
        for sample, row in zip(samples, values):
            own = compute_proxies(adapter_for(space).network(sample), None, ['params'], input_shape=(3, 32, 32))
            assert row[1] == own['params']  # each space's own networks, not the other's cached values
    assert (second[:, 1] > first[:, 1]).all()
    sample_store._SHARED.clear()  # as another process: each reads back its own values
    np.testing.assert_array_equal(ProxyScorer('synflow,params', space=UserNB201Space(channels=8, cells=1),
                                              cache_dir=tmp_path).raw_scores(samples), second)
