"""Zero-cost proxies against the NAS-Bench-Suite-Zero reference values and NB201 accuracies (real data)."""
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr

from nni_rank.data import load_cifar, single_minibatch
from nni_rank.proxies import (PROXIES, REFERENCE_COLUMNS, ProxyStore, ProxyWarning, available_proxies,
                              combine_ranks, compute_proxies, nb201_network, order_by_score, score_nb201)

DATA_INDEPENDENT = ['synflow', 'params', 'flops']
ALL_NONE = '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|'
BEST = '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|'


@pytest.fixture(scope='module')
def reference(shared_data):
    ref = pd.read_csv(shared_data / 'nb201_zc_reference_cifar10.csv')
    acc = pd.read_csv(shared_data / 'nb201_test_accuracy_200ep.csv')[['arch_str', 'cifar10_test_acc']]
    return ref.merge(acc, on='arch_str')


@pytest.fixture(scope='module')
def sample(reference):
    return reference.sample(n=20, random_state=0).reset_index(drop=True)


@pytest.fixture(scope='module')
def batch(shared_data):
    ds = load_cifar(shared_data / 'cifar10_train_10k.bin', 'cifar10', 'train')
    return single_minibatch(ds, 64, seed=0, augment=True)


@pytest.fixture(scope='module')
def scores(sample, batch):
    """Every proxy of the sampled archs, one shared-pass call each (init seed 0)."""
    rows = []
    for arch in sample['arch_str']:
        rows.append(score_nb201(arch, batch, None, seed=0))
    return pd.DataFrame(rows)


def test_data_independent_proxies_agree_with_reference(sample, scores):
    for name in DATA_INDEPENDENT:
        rho = spearmanr(scores[name], sample[REFERENCE_COLUMNS[name]])[0]
        assert rho >= 0.95, (name, rho)
    # params is a count: it matches the reference to the digit
    np.testing.assert_allclose(scores['params'], sample['params'], rtol=1e-6)


def test_data_dependent_proxies_agree_with_reference_on_real_images(sample, scores):
    for name in ['grad_norm', 'snip', 'jacob_cov', 'naswot', 'fisher']:
        ok = np.isfinite(scores[name])
        rho = spearmanr(scores[name][ok], sample[REFERENCE_COLUMNS[name]][ok])[0]
        assert rho >= 0.8, (name, rho)


def test_proxies_predict_accuracy(sample, scores):
    for name in ['synflow', 'naswot', 'jacob_cov', 'params', 'das']:
        ok = np.isfinite(scores[name])
        assert spearmanr(scores[name][ok], sample['cifar10_test_acc'][ok])[0] > 0.4, name
    combined = combine_ranks({n: scores[n].to_numpy() for n in ['synflow', 'jacob_cov', 'naswot']})
    assert spearmanr(combined, sample['cifar10_test_acc'])[0] > 0.5


def test_shared_passes_equal_separate_calls(batch):
    together = score_nb201(BEST, batch, None, seed=3)
    assert list(together) == available_proxies()
    for name in available_proxies():
        alone = score_nb201(BEST, batch, [name], seed=3)[name]
        assert math.isclose(together[name], alone, rel_tol=1e-4, abs_tol=1e-9), (name, together[name], alone)


def test_seeded_and_leaves_the_model_untouched(batch):
    net = nb201_network(BEST, seed=5)
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    first = compute_proxies(net, batch, None, seed=1)
    second = compute_proxies(net, batch, None, seed=1)
    assert first == second
    assert not net.training and all(not m.training for m in net.modules())
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k  # weights and BN running statistics unchanged
    assert all(p.grad is None for p in net.parameters())


def test_synflow_is_float64_and_does_not_overflow():
    big = score_nb201(BEST, None, ['synflow'], seed=0, input_shape=(3, 32, 32))['synflow']
    assert math.isfinite(big) and big > float(np.finfo(np.float32).max)  # would overflow in float32


def test_das_decomposes_naswot(batch):
    s = score_nb201(BEST, batch, ['naswot', 'das_distinguish', 'das_units', 'das'], seed=0)
    b = len(batch[0])
    assert math.isclose(s['naswot'], s['das_distinguish'] + b * math.log(s['das_units']), rel_tol=1e-9)
    assert s['das'] > s['naswot']


def test_nni_frozen_model_scores_like_the_fast_builder(batch):
    from nni.nas.hub.pytorch import NasBench201
    from nni_rank.spaces import NB201Arch
    frozen = NasBench201().freeze(NB201Arch.from_str(BEST).to_sample())
    fast = nb201_network(BEST, seed=0)
    frozen.load_state_dict(fast.state_dict())
    names = ['synflow', 'naswot', 'snip', 'jacob_cov', 'params']
    a = compute_proxies(frozen, batch, names, seed=0)
    b = compute_proxies(fast, batch, names, seed=0)
    for n in names:
        assert math.isclose(a[n], b[n], rel_tol=1e-5), (n, a[n], b[n])


def test_disconnected_cell_gives_nan_with_warning_and_ranks_last(batch):
    with pytest.warns(ProxyWarning, match='no path from input to output|does not depend on the input'):
        s = score_nb201(ALL_NONE, batch, ['naswot', 'jacob_cov', 'synflow'], seed=0)
    assert math.isnan(s['naswot']) and math.isnan(s['jacob_cov'])
    good = score_nb201(BEST, batch, ['naswot'], seed=0)['naswot']
    assert list(order_by_score([s['naswot'], good, 1.0])) == [1, 2, 0]


def test_bad_input_is_rejected_clearly(batch):
    net = nb201_network(BEST)
    with pytest.raises(ValueError, match='unknown proxy .*available'):
        compute_proxies(net, batch, ['synflo'])
    with pytest.raises(ValueError, match='empty'):
        compute_proxies(net, (batch[0][:0], batch[1][:0]), ['snip'])
    with pytest.raises(ValueError, match='no parameters'):
        compute_proxies(torch.nn.ReLU(), batch, ['naswot'])
    with pytest.raises(ValueError, match='need labels'):
        compute_proxies(net, batch[0], ['snip'])


def test_store_caches_on_disk(tmp_path, reference):
    archs = list(reference['arch_str'][:5]) + [ALL_NONE]
    store = ProxyStore(DATA_INDEPENDENT, cache_dir=tmp_path)
    first = store.scores(archs)
    assert store.cache_file.exists()
    again = ProxyStore(DATA_INDEPENDENT, cache_dir=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # served from the cache: nothing is computed
        np.testing.assert_array_equal(again.scores(archs), first)
    np.testing.assert_allclose(first[:5, 1], reference['params'][:5], rtol=1e-6)
    assert first[-1, 0] == 0.0  # synflow of a cell without a path is zero, not NaN


def test_registry_metadata_is_consistent():
    assert set(DATA_INDEPENDENT) == set(available_proxies(data_dependent=False))
    assert all(p.needs_labels <= p.data_dependent for p in PROXIES.values())
