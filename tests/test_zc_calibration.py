"""``zc_ensemble`` calibrated on the space it scores (label-free), NB201 keeping its packaged tables.

The generic space is ``examples/user_nb201_space.py`` built small (4 channels, one cell per stage): its networks'
FLOPs and NASWOT lie below every NB201 cell, so under the packaged NB201 tables those components sit at the
floor for every sample; calibrated on the space they discriminate again.
"""
import csv
import json
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
from nni_rank.proxies import exhaustive  # noqa: E402
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


def test_score_all_uses_the_tables_of_a_search(small_space, tmp_path):
    """``nni-rank proxies --all`` on a generic space: zc_ensemble under the space's tables, value for value what a
    search with the same setting and cache folder gets; the calibration samples scored with the others, once."""
    calib._SHARED.clear()
    sample_store._SHARED.clear()
    adapter = adapter_for(small_space)
    samples = adapter.distinct_samples(24, 3)
    names = ['synflow', 'zc_ensemble', 'params']
    _, values = exhaustive.score_all(small_space, names, tmp_path, workers=1, progress=False, samples=samples,
                                     calibration_size=SIZE)
    inner = CalibratedEnsemble(adapter, names, lambda _: None).inner_names  # names and components, one pass
    scored = adapter.proxy_source(inner, cache_dir=tmp_path)  # the store score_all scored with (same setting)
    calibration = adapter.distinct_samples(SIZE, 0)
    known = {adapter.describe(s) for s in [*samples, *calibration]}
    assert scored.built == len(known)  # each network once
    assert len(list(tmp_path.glob('zc-calibration-*.json'))) == 1

    calib._SHARED.clear()  # a later search, as another process: tables and components read from the files
    sample_store._SHARED.clear()
    search = ProxyScorer('zc_ensemble', space=small_space, calibration_size=SIZE, cache_dir=tmp_path)
    ensemble = search.raw_scores(samples)[:, 0]
    np.testing.assert_array_equal(values[:, 1], ensemble)
    assert search.source().source.built == 0
    nb201 = search.source().source.scores(samples)[:, 0]  # zc_ensemble under the packaged NB201 tables
    assert not np.allclose(values[:, 1], nb201)
    plain = ProxyScorer('synflow,params', space=small_space, cache_dir=tmp_path).raw_scores(samples)
    np.testing.assert_array_equal(values[:, [0, 2]], plain)

    # a search that made the tables first: the same values; with the tables known only new samples are scored
    calib._SHARED.clear()
    sample_store._SHARED.clear()
    first = ProxyScorer('zc_ensemble', space=small_space, calibration_size=SIZE, cache_dir=tmp_path / 'search')
    np.testing.assert_allclose(first.raw_scores(samples)[:, 0], values[:, 1], rtol=1e-12)
    calib._SHARED.clear()
    sample_store._SHARED.clear()
    new = [s for s in adapter.distinct_samples(40, 11) if adapter.describe(s) not in known][:4]
    _, again = exhaustive.score_all(small_space, ['zc_ensemble'], tmp_path / 'search', workers=1, progress=False,
                                    samples=[*samples[:3], *new], calibration_size=SIZE)
    later = ProxyScorer('zc_ensemble', space=small_space, calibration_size=SIZE, cache_dir=tmp_path / 'search')
    np.testing.assert_array_equal(later.raw_scores([*samples[:3], *new])[:, 0], again[:, 0])
    assert later.source().source.built == len(new)  # score_all's store: the new samples, scored once


TINY_SPACE = """
from nni.nas.nn.pytorch import LayerChoice, ModelSpace
from torch import nn


def block(kernel, c_in, c_out):
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2), nn.BatchNorm2d(c_out), nn.ReLU())


class Tiny(ModelSpace):
    def __init__(self, width=8):
        super().__init__()
        self.a = LayerChoice({f'k{k}': block(k, 3, width) for k in (1, 3, 5)}, label='a')
        self.b = LayerChoice({f'k{k}': block(k, width, width) for k in (1, 3, 5)}, label='b')
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))

    def forward(self, x):
        return self.head(self.b(self.a(x)))
"""


def test_cli_proxies_write_the_values_of_a_search(tmp_path):
    """``nni-rank proxies --all`` and ``--sample`` on a user space (9 architectures, all of them the calibration
    sample): the zc_ensemble a later search with the same --cache-dir gets, nothing scored again."""
    from nni_rank.cli.main import main
    from nni_rank.spaces.adapter import load_space
    (tmp_path / 'tiny_space.py').write_text(TINY_SPACE)
    spec, cache = f'{tmp_path / "tiny_space.py"}:Tiny', tmp_path / 'cache'
    calib._SHARED.clear()
    sample_store._SHARED.clear()
    common = ['--space', spec, '--proxies', 'zc_ensemble', '--cache-dir', str(cache)]
    assert main(['proxies', '--all', '--workers', '1', '--out', str(tmp_path / 'all.csv'), *common]) == 0
    assert main(['proxies', '--sample', '4', '--out', str(tmp_path / 'some.csv'), *common]) == 0
    calib._SHARED.clear()  # the search, as another process
    sample_store._SHARED.clear()
    search = ProxyScorer('zc_ensemble', space=load_space(spec), cache_dir=cache)
    for name, count in (('all.csv', 9), ('some.csv', 4)):
        with open(tmp_path / name, newline='') as f:
            rows = list(csv.DictReader(f))
        samples = [json.loads(row['sample']) for row in rows]
        assert len(samples) == count
        values = np.array([float(row['zc_ensemble']) for row in rows])
        np.testing.assert_array_equal(values, search.raw_scores(samples)[:, 0])
        assert not np.allclose(values, search.source().source.scores(samples)[:, 0])  # not the NB201 tables
    assert search.source().source.built == 0


@pytest.mark.parametrize('mode', [['--all', '--workers', '1'], ['--sample', '4']])
def test_cli_proxies_put_fisher_and_zc_ensemble_where_their_searches_read(tmp_path, mode):
    """fisher and zc_ensemble scored together (``proxies --all`` / ``--sample``): each in the cache file a search of
    it reads (one file keyed by both is read by neither), so the searches score nothing again."""
    from nni_rank.cli.main import main
    from nni_rank.spaces.adapter import load_space
    (tmp_path / 'tiny_space.py').write_text(TINY_SPACE)
    spec, cache, out = f'{tmp_path / "tiny_space.py"}:Tiny', tmp_path / 'cache', tmp_path / 'scores.csv'
    calib._SHARED.clear()
    sample_store._SHARED.clear()
    assert main(['proxies', *mode, '--space', spec, '--proxies', 'fisher,zc_ensemble', '--cache-dir', str(cache),
                 '--out', str(out)]) == 0
    with open(out, newline='') as f:
        rows = list(csv.DictReader(f))
    samples = [json.loads(row['sample']) for row in rows]
    calib._SHARED.clear()  # the searches, as other processes
    sample_store._SHARED.clear()
    for name in ('fisher', 'zc_ensemble'):
        search = ProxyScorer(name, space=load_space(spec), cache_dir=cache)
        np.testing.assert_array_equal(search.raw_scores(samples)[:, 0], [float(row[name]) for row in rows])
        source = search.source()
        assert getattr(source, 'source', source).built == 0, name


def test_score_all_keeps_the_packaged_tables_on_nb201(shared_data, tmp_path):
    adapter = adapter_for('nb201')
    samples = adapter.distinct_samples(3, 7)
    _, values = exhaustive.score_all('nb201', ['zc_ensemble'], tmp_path, workers=1, progress=False, samples=samples)
    reps = [adapter.describe(adapter.function_representative(s)) for s in samples]
    np.testing.assert_array_equal(values[:, 0], ProxyStore(['zc_ensemble']).scores(reps)[:, 0])
    assert not list(tmp_path.glob('zc-calibration-*.json'))


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
