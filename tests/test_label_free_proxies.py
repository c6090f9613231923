"""Label-free proxies: AZ-NAS components, VKDNW and ``zc_ensemble`` on NB201, macro and NNI frozen nets."""
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
from scipy.stats import spearmanr

from nni_rank.proxies import compute_proxies, nb201_network, proxy_batch, resolve_names
from nni_rank.proxies.blocks import BlockRecorder, find_blocks
from nni_rank.proxies.ensemble import CALIBRATION, ENSEMBLE_COMPONENTS, calibrate, ensemble_from, log_cdf

AZ = ['az_expressivity', 'az_progressivity', 'az_trainability']
CELL = '|nor_conv_1x1~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|skip_connect~1|nor_conv_3x3~2|'
NO_PATH = '|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|none~2|'


pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def batch(shared_data):
    (x, y), _, _ = proxy_batch(shared_data / 'cifar10_train_10k.bin', 16, 0)
    return x, y


class Macro(nn.Module):
    """A MobileNet-like macro net: stem, a Sequential of stages of inverted residual blocks, head."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())

        def block(c_in, c_out, stride):
            return nn.Sequential(nn.Conv2d(c_in, c_in * 3, 1, bias=False), nn.BatchNorm2d(c_in * 3), nn.ReLU6(),
                                 nn.Conv2d(c_in * 3, c_in * 3, 3, stride, 1, groups=c_in * 3, bias=False),
                                 nn.BatchNorm2d(c_in * 3), nn.ReLU6(), nn.Conv2d(c_in * 3, c_out, 1, bias=False),
                                 nn.BatchNorm2d(c_out))

        class Stage(nn.Module):
            def __init__(self, c_in, c_out):
                super().__init__()
                self.down, self.refine = block(c_in, c_out, 2), block(c_out, c_out, 1)

            def forward(self, x):
                x = self.down(x)
                return x + self.refine(x)

        self.blocks = nn.ModuleList([Stage(8, 16), Stage(16, 24), Stage(24, 32)])
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        x = self.stem(x)
        for b in self.blocks:
            x = b(x)
        return self.head(x.mean((2, 3)))


def test_blocks_of_nb201_are_the_stem_and_the_17_cells(batch):
    net = nb201_network(CELL, seed=0)
    assert find_blocks(net) == list(net.cells)
    with BlockRecorder(net) as rec:
        rec.watch_input(batch[0])
        net(batch[0])
    assert len(rec.features) == 18 and rec.features[0].shape[1] == 16 and rec.features[-1].shape[1] == 64


def test_blocks_override_by_attribute_and_bad_name(batch):
    net = Macro()
    assert find_blocks(net) == list(net.blocks)  # the stages, not the layers inside an inverted residual
    net.proxy_blocks = ['stem', 'blocks.0', 'blocks.1', 'blocks.2']
    assert find_blocks(net) == [net.stem, *net.blocks]
    with BlockRecorder(net) as rec:
        rec.watch_input(batch[0])
        net(batch[0])
    assert [f.shape[1] for f in rec.features] == [8, 16, 24, 32]
    net.proxy_blocks = ['stem', 'nope']
    with pytest.raises(ValueError, match="no module named 'nope'"):
        compute_proxies(net, batch, ['az_expressivity'])


@pytest.mark.parametrize('make', [lambda: nb201_network(CELL, seed=0), Macro], ids=['nb201', 'macro'])
def test_components_are_finite_and_seeded(batch, make):
    torch.manual_seed(0)
    net = make()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # no NaN anywhere
        first = compute_proxies(net, batch, AZ + ['zc_ensemble'], seed=1)
    assert all(math.isfinite(v) for v in first.values()), first
    assert first['az_trainability'] <= 0.0 and first['az_expressivity'] > 0.0
    assert compute_proxies(net, batch, AZ + ['zc_ensemble'], seed=1) == {k: first[k] for k in AZ + ['zc_ensemble']}
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    assert all(p.grad is None for p in net.parameters())


def test_vkdnw_is_an_entropy_of_nine_deciles(batch):
    torch.manual_seed(0)
    value = compute_proxies(Macro(), batch, ['vkdnw'])['vkdnw']
    assert 0.0 <= value <= math.log(9)


def test_components_on_an_nni_frozen_model(batch):
    from nni_rank.spaces.nb201 import NB201Arch
    from nni.nas.hub.pytorch import NasBench201
    space = NasBench201()
    frozen = space.freeze(NB201Arch.from_str(CELL).to_sample())
    values = compute_proxies(frozen, batch, AZ + ['zc_ensemble'], seed=0)
    assert all(math.isfinite(v) for v in values.values()), values


def test_ensemble_components_equal_the_proxies_of_the_same_names(batch):
    net = nb201_network(CELL, seed=2)
    parts = compute_proxies(net, batch, list(ENSEMBLE_COMPONENTS), seed=4)
    whole = compute_proxies(net, batch, ['zc_ensemble'], seed=4)['zc_ensemble']
    assert whole == pytest.approx(ensemble_from({k: (v, None) for k, v in parts.items()})[0], rel=1e-9)


def test_ensemble_is_nan_for_a_network_without_path_and_floor_for_identity_blocks(batch):
    with pytest.warns(Warning, match='zc_ensemble'):
        assert math.isnan(compute_proxies(nb201_network(NO_PATH), batch, ['zc_ensemble'])['zc_ensemble'])
    table = calibrate({'a': np.arange(100.0), 'b': np.arange(100.0)})
    assert log_cdf(-5.0, table['a']) == log_cdf(float('nan'), table['a']) < log_cdf(50.0, table['a']) < 0.0
    assert log_cdf(1e9, table['a']) == 0.0
    assert ensemble_from({'a': (float('nan'), 'identity'), 'b': (99.0, None)}, table) == (log_cdf(-1, table['a']), None)


def test_names_are_accepted_everywhere():
    from nni_rank.strategies.zero_cost import zero_cost_evolution
    from nni_rank.tuners.zc_rea_tuner import validate_class_args
    assert resolve_names(['zc-ensemble', 'expressivity', 'trainability']) == ['zc_ensemble', 'az_expressivity',
                                                                               'az_trainability']
    assert 'zc_ensemble' in resolve_names(None) and 'vkdnw' not in resolve_names(None)  # vkdnw: by name only
    assert validate_class_args(proxy='zc_ensemble')['proxy'] == 'zc_ensemble'
    assert zero_cost_evolution(proxy='zc_ensemble', pool_size=3).scorer.names == ['zc_ensemble']
    assert set(CALIBRATION) == set(ENSEMBLE_COMPONENTS) and len(ENSEMBLE_COMPONENTS) >= 3


def test_ensemble_score_of_a_model_does_not_depend_on_the_others(shared_data):
    from nni_rank.proxies import ProxyScorer
    from nni_rank.spaces.adapter import adapter_for
    adapter = adapter_for('nb201')
    samples = adapter.distinct_samples(3, 5)
    scorer = ProxyScorer('zc_ensemble', data=str(shared_data / 'cifar10_train_10k.bin'), batch_size=16)
    together = scorer.scores(samples)
    alone = [scorer.__class__('zc_ensemble', data=scorer.data, batch_size=16).scores([s])[0] for s in samples]
    assert np.allclose(together, alone) and np.isfinite(together).all()


def test_ensemble_ranks_real_nb201_cells(shared_data, batch):
    acc = pd.read_csv(shared_data / 'nb201_test_accuracy_200ep.csv').sample(n=40, random_state=1)
    scores = [compute_proxies(nb201_network(a, seed=int(i)), batch, ['zc_ensemble'], seed=int(i), warn=False)
              ['zc_ensemble'] for a, i in zip(acc['arch_str'], acc['index'])]
    s = np.where(np.isfinite(scores), scores, -np.inf)
    assert spearmanr(s, acc['cifar10_test_acc'])[0] > 0.6


def test_zc_ensemble_disk_caches_belong_to_their_calibration(monkeypatch):
    """Scores cached with one calibration are never read back under another (other proxies' caches keep their name)."""
    from nni_rank.proxies import ensemble
    from nni_rank.proxies.store import setting_key
    plain = setting_key(['synflow'], None, 64, 0)
    with_ensemble = setting_key(['synflow', 'zc_ensemble'], None, 64, 0)
    assert plain != with_ensemble
    monkeypatch.setattr(ensemble, 'CALIBRATION', {k: tuple(v * 2 for v in q) for k, q in ensemble.CALIBRATION.items()})
    assert setting_key(['synflow', 'zc_ensemble'], None, 64, 0) != with_ensemble
    assert setting_key(['synflow'], None, 64, 0) == plain
