"""Learned proxy weights: the ProxyRanker on real NB101 values, and zc-random / zc-rea ordering by it."""
import csv
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kendalltau

warnings.filterwarnings('ignore', message='.*is found to be not a nn.Module.*')

from nni_rank.evaluators import BenchmarkEvaluator  # noqa: E402
from nni_rank.experiment import run_benchmark_search  # noqa: E402
from nni_rank.predictors.proxy_ranker import ProxyRanker, quantiles  # noqa: E402
from nni_rank.proxies import ProxyScorer  # noqa: E402
from nni_rank.spaces.adapter import adapter_for  # noqa: E402
from nni_rank.strategies import make_strategy  # noqa: E402
from nni_rank.strategies.proxy_guide import ProxyGuide  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'examples'))

pytestmark = [pytest.mark.usefixtures('one_thread'), pytest.mark.filterwarnings('ignore::RuntimeWarning')]

ROWS = 60


@pytest.fixture(scope='module')
def nb101(shared_data):
    """The reference proxies and accuracies of the shared 500 NAS-Bench-101 rows."""
    with open(shared_data / 'nb101_500_valid_accuracy.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    X = np.array([[float(r[k]) for k in ('synflow', 'params', 'flops', 'jacov')] for r in rows])
    y = np.array([float(r['val_accuracy']) for r in rows])
    return X, y


def test_quantiles_are_the_reference_cdf_and_nan_is_lowest():
    ref = np.array([[1.0], [2.0], [3.0], [4.0]])
    q = quantiles(np.array([[0.5], [2.0], [3.5], [9.0], [np.nan]]), ref)
    assert q[:, 0].tolist() == [0.0, 0.5, 0.75, 1.0, 0.0]


def test_ranker_learns_weights_and_signs_from_few_labels(nb101):
    X, y = nb101
    rng = np.random.default_rng(0)
    labelled = rng.choice(len(y), 40, replace=False)
    rest = np.setdiff1d(np.arange(len(y)), labelled)
    ranker = ProxyRanker(alpha=0.1, reference=X).fit(X[labelled], y[labelled])
    assert ranker.weights_[3] < 0  # jacov ranks NAS-Bench-101 backwards (Spearman -0.50 on the 500)
    learned = kendalltau(ranker.predict(X[rest]), y[rest]).statistic
    synflow = kendalltau(X[rest, 0], y[rest]).statistic
    assert learned > synflow + 0.03, (learned, synflow)


def test_a_heavy_penalty_keeps_the_prior_order(nb101):
    X, y = nb101
    ranker = ProxyRanker(alpha=1e9, reference=X, prior=[1.0, 0.0, 0.0, 0.0]).fit(X[:10], y[:10])
    order = np.argsort(-ranker.predict(X), kind='stable')
    q = quantiles(X, X)[:, 0]
    assert np.all(np.diff(q[order]) <= 0)  # the synflow quantiles, best first
    free = ProxyRanker(alpha=1e9, reference=X).fit(X[:10], y[:10])
    assert np.abs(free.weights_).max() < 1e-6  # without a prior, a heavy penalty leaves no weight at all


def test_ranker_bad_input(nb101):
    X, y = nb101
    with pytest.raises(ValueError, match='4 rows of proxy values but 3 labels'):
        ProxyRanker().fit(X[:4], y[:3])
    with pytest.raises(ValueError, match='at least two labelled'):
        ProxyRanker().fit(X[:1], y[:1])
    with pytest.raises(ValueError, match='prior has 2 weights, X has 4 proxies'):
        ProxyRanker(prior=[1.0, 0.0]).fit(X[:5], y[:5])
    with pytest.raises(ValueError, match='labels must be finite'):
        ProxyRanker().fit(X[:3], [1.0, np.nan, 2.0])


def test_guide_options_are_checked():
    with pytest.raises(ValueError, match='learn_after must be >= 2'):
        ProxyGuide(ProxyScorer('synflow'), learn='synflow,params', learn_after=1)
    with pytest.raises(ValueError, match='needs a ProxyScorer'):
        ProxyGuide(object(), learn='synflow')
    with pytest.raises(ValueError, match='unknown proxy'):
        make_strategy('zc-rea', seed=0, learn='synflow,parms')


@pytest.fixture(scope='module')
def nb101_user(shared_data, tmp_path_factory):
    """The user NB101 space (narrow stem) and a table of the first ROWS shared rows."""
    import user_nb101_space
    full = tmp_path_factory.mktemp('nb101') / 'full.csv'
    user_nb101_space.write_user_table(str(shared_data / 'nb101_500_valid_accuracy.csv'), str(full))
    table = full.with_name('part.csv')
    table.write_text('\n'.join(full.read_text().splitlines()[:ROWS + 1]) + '\n')
    return user_nb101_space.UserNB101Space(stem_channels=16), table


def test_zc_random_queries_the_best_open_row_under_the_labels_so_far(nb101_user):
    space, table = nb101_user
    adapter = adapter_for(space)
    evaluator = BenchmarkEvaluator(table, space=adapter)
    budget, names = 12, ['synflow', 'params', 'flops']
    plain = run_benchmark_search(make_strategy('zc-random', seed=0, pool_size=100), evaluator, budget,
                                 model_space=space, seed=0, restrict_to_table=True)
    strategy = make_strategy('zc-random', seed=0, pool_size=100, learn=','.join(names))
    learned = run_benchmark_search(strategy, evaluator, budget, model_space=space, seed=0, restrict_to_table=True)
    assert learned.history[:3] == plain.history[:3]  # synflow orders the first three
    assert learned.history != plain.history
    samples = [json.loads(a) for a, _ in learned.history]
    rows = [adapter.open_table(table).sample(k) for k in adapter.open_table(table).archs()]
    X = ProxyScorer(names, space=space).raw_scores(rows, space)
    key = lambda s: json.dumps({k: str(v) for k, v in s.items()}, sort_keys=True)  # noqa: E731
    index = {key(r): i for i, r in enumerate(rows)}
    queried = [index[key(s)] for s in samples]
    y = np.array([v for _, v in learned.history])
    for k in range(3, budget):  # query k is the best row not queried yet, by the ranker of the first k labels
        ranker = ProxyRanker(alpha=0.1, reference=X, prior=[1.0, 0.0, 0.0]).fit(X[queried[:k]], y[:k])
        pred = ranker.predict(X)
        pred[queried[:k]] = -np.inf
        assert pred[queried[k]] == pytest.approx(pred.max(), abs=1e-12), k
    assert strategy.guide.learning


def test_zc_rea_learns_after_its_warm_up_and_resumes(nb201_csv):
    from nni_rank.resources import packaged_nb201
    evaluator = BenchmarkEvaluator(nb201_csv, dataset='cifar10')
    table = packaged_nb201()
    options = dict(pool_size=200, proxy_table=str(table))
    plain = run_benchmark_search(make_strategy('zc-rea', seed=3, **options), evaluator, 40, seed=3)
    strategy = make_strategy('zc-rea', seed=3, learn='synflow,params,flops', **options)
    learned = run_benchmark_search(strategy, evaluator, 40, seed=3)
    assert learned.history[:5] == plain.history[:5]  # the warm-up population, in synflow order
    assert learned.history != plain.history and len({a for a, _ in learned.history}) == 40
    state = json.loads(json.dumps(strategy.state_dict()['guide']))
    again = ProxyGuide(ProxyScorer('synflow', table=str(table)), learn='synflow,params,flops')
    again.load_state_dict(state)
    assert again.learning and len(state['labels']) == 40


def test_synflow_leaves_the_network_as_built(nb101_user):
    """synflow scores float64 copies of the weights; the network keeps its own (flops after synflow used to fail on
    NAS-Bench-101 cells, whose float64 copies stayed behind)."""
    import torch
    from nni_rank.proxies.compute import compute_proxies
    space, table = nb101_user
    adapter = adapter_for(space)
    sample = adapter.open_table(table).sample(next(iter(adapter.open_table(table).archs())))
    net = adapter.network(sample, 0)
    weights = {n: p for n, p in net.named_parameters()}
    both = compute_proxies(net, None, ['synflow', 'flops'], seed=0, input_shape=(3, 32, 32), warn=False)
    assert all(p.dtype == torch.float32 and p is weights[n] for n, p in net.named_parameters())
    alone = compute_proxies(adapter.network(sample, 0), None, ['flops'], seed=0, input_shape=(3, 32, 32), warn=False)
    assert both['flops'] == alone['flops'] > 0 and np.isfinite(both['synflow'])
