"""``zc_ensemble`` calibrated on the space it scores (label-free), NB201 keeping its packaged tables.

The generic space is ``examples/user_nb201_space.py`` built small (4 channels, one cell per stage): its networks'
FLOPs and NASWOT lie below every NB201 cell, so under the packaged NB201 tables those components sit at the
floor for every sample; calibrated on the space they discriminate again.
"""
import sys
import warnings

import numpy as np
import pytest
import torch
from nni.nas.nn.pytorch import LayerChoice, ModelSpace
from torch import nn

from conftest import REPO

sys.path.insert(0, str(REPO / 'examples'))
from user_nb201_space import UserNB201Space  # noqa: E402

from nni_rank.proxies import ProxyScorer, ProxyStore  # noqa: E402
from nni_rank.proxies import calibration as calib  # noqa: E402
from nni_rank.proxies import sample_store  # noqa: E402
from nni_rank.proxies.calibration import CalibratedEnsemble, ensemble_scores  # noqa: E402
from nni_rank.proxies.ensemble import CALIBRATION, CDF_FLOOR, ENSEMBLE_COMPONENTS, ensemble_from, log_cdf  # noqa: E402
from nni_rank.spaces.adapter import adapter_for  # noqa: E402

pytestmark = [pytest.mark.usefixtures('one_thread'),
              pytest.mark.filterwarnings('ignore:.*is found to be not a nn.Module.*')]

SIZE = 10  # calibration sample of the tests (the default is 200)


@pytest.fixture(scope='module')
def small_space():
    return UserNB201Space(channels=4, cells=1)


@pytest.fixture(scope='module')
def calibrated(small_space, tmp_path_factory):
    calib._SHARED.clear()
    cache = tmp_path_factory.mktemp('zc-cache')
    scorer = ProxyScorer('zc_ensemble', space=small_space, calibration_size=SIZE, cache_dir=cache)
    samples = adapter_for(small_space).distinct_samples(8, 1)
    return scorer, samples, scorer.scores(samples), cache


def test_space_tables_replace_saturated_nb201_ones(calibrated):
    scorer, samples, scores, _ = calibrated
    source = scorer.source()
    assert isinstance(source, CalibratedEnsemble)
    raw = source.source.scores(samples)  # components and zc_ensemble under the NB201 tables, as stored
    cols = {n: raw[:, source.inner_names.index(n)] for n in source.inner_names}
    for name in ('flops', 'naswot'):
        nb201 = [log_cdf(v, CALIBRATION[name]) for v in cols[name]]
        assert nb201 == [np.log(CDF_FLOOR)] * len(samples)  # saturated: below every NB201 cell
        assert len(set(log_cdf(v, source.calibration[name]) for v in cols[name])) > 2  # discriminating again
    # the score is the components under the space's tables, not the stored NB201-calibrated value
    expected = [ensemble_from({n: (cols[n][i], None) for n in ENSEMBLE_COMPONENTS}, source.calibration)[0]
                for i in range(len(samples))]
    np.testing.assert_allclose(scores, expected)
    assert not np.allclose(scores, cols['zc_ensemble'])
    assert len(set(np.round(scores, 9))) > len(set(np.round(cols['zc_ensemble'], 9)))


def test_tables_cached_on_disk_and_reused(calibrated, small_space):
    scorer, samples, scores, cache = calibrated
    files = list(cache.glob('zc-calibration-*.json'))
    assert len(files) == 1 and adapter_for(small_space).fingerprint() in files[0].name
    calib._SHARED.clear()  # as another process: tables read from the file, components from the sample cache
    sample_store._SHARED.clear()
    again = ProxyScorer('zc_ensemble', space=small_space, calibration_size=SIZE, cache_dir=cache)
    np.testing.assert_allclose(again.scores(samples), scores)
    assert again.source().source.built == 0  # no network built again
    assert again.source().calibration == scorer.source().calibration
    # another calibration size is another setting: its own file
    calib._SHARED.clear()
    other = ProxyScorer('zc_ensemble', space=small_space, calibration_size=SIZE + 2, cache_dir=cache)
    other.scores(samples[:1])
    assert len(list(cache.glob('zc-calibration-*.json'))) == 2


def test_vectorised_ensemble_matches_per_model(calibrated):
    scorer, samples, _, _ = calibrated
    source = scorer.source()
    raw = source.source.scores(samples)
    comps = {n: raw[:, source.inner_names.index(n)].copy() for n in ENSEMBLE_COMPONENTS}
    comps['synflow'][0] = np.nan                                   # undefined: the floor
    comps['flops'][1] = source.calibration['flops'][-1] + 1.0      # above every sample: F = 1
    comps['az_expressivity'][2] = source.calibration['az_expressivity'][10]  # on a quantile
    comps['naswot'][3] = np.nan                                    # a broken network: NaN
    for tables in (CALIBRATION, source.calibration):
        fast = ensemble_scores(comps, tables)
        slow = [ensemble_from({n: (comps[n][i], None) for n in ENSEMBLE_COMPONENTS}, tables)[0]
                for i in range(len(samples))]
        np.testing.assert_allclose(fast, slow, equal_nan=True)
    assert np.isnan(ensemble_scores(comps, source.calibration)[3])


def test_nb201_keeps_packaged_tables_and_scores(shared_data):
    from nni.nas.hub.pytorch import NasBench201
    samples = adapter_for('nb201').distinct_samples(3, 5)
    store = ProxyStore(['zc_ensemble'])
    expected = store.scores([adapter_for('nb201').describe(s) for s in samples])[:, 0]
    for space in ('nb201', NasBench201()):
        scorer = ProxyScorer('zc_ensemble', space=space, calibration_size=SIZE)
        assert not isinstance(scorer.source(), CalibratedEnsemble)
        np.testing.assert_array_equal(scorer.raw_scores(samples)[:, 0], expected)


class _NoReLU(ModelSpace):
    """A space without a ReLU: NASWOT is undefined for every network."""

    def __init__(self):
        super().__init__()
        self.conv = LayerChoice({'a': nn.Conv2d(3, 4, 3, padding=1), 'b': nn.Conv2d(3, 4, 1)}, label='op')
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))

    def forward(self, x):
        return self.head(self.conv(x))


def test_bad_calibration_is_one_line():
    calib._SHARED.clear()
    space = _NoReLU()
    scorer = ProxyScorer('zc_ensemble', space=space, calibration_size=2)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with pytest.raises(ValueError, match=r'^zc_ensemble calibration: component naswot is finite for 0 of the 2 '
                                             r'calibration samples') as err:
            scorer.scores([{'op': 'a'}])
    assert '\n' not in str(err.value)
    with pytest.raises(ValueError, match='calibration_size must be >= 2'):
        ProxyScorer('zc_ensemble', space=space, calibration_size=1)


def test_components_come_with_the_feature_pass():
    """Asking for zc_ensemble and its components computes them in one feature pass, with the same values as
    each proxy computed alone."""
    from nni_rank.proxies import compute_proxies
    from nni_rank.proxies.store import proxy_batch
    net = adapter_for('nb201').network(adapter_for('nb201').distinct_samples(1, 3)[0])
    batch = proxy_batch('digits', 64, 0)[0]
    together = compute_proxies(net, batch, ['zc_ensemble', *ENSEMBLE_COMPONENTS], seed=0)
    alone = compute_proxies(net, batch, list(ENSEMBLE_COMPONENTS), seed=0)
    for name in ENSEMBLE_COMPONENTS:
        assert together[name] == pytest.approx(alone[name], rel=1e-6), name
    assert torch.get_num_threads() == 1
