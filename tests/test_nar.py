"""NAR on the real NAS-Bench-201/101 tables: encodings, the tier ranker, tier-statistics search, NNI glue, CLI."""
import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kendalltau

from nni_rank.benchmarks import open_benchmark
from nni_rank.cli.main import main
from nni_rank.evaluators import BenchmarkEvaluator
from nni_rank.experiment import run_benchmark_search
from nni_rank.predictors import (GenericEncoder, NARPredictor, NB101Encoder, NB201Encoder, ProxyTable, TierStatistics,
                                 tier_labels)
from nni_rank.spaces import NB201Arch
from nni_rank.spaces.nb201_net import nb201_flops
from nni_rank.strategies import make_strategy
from nni_rank.strategies.nar import GenericAdapter, NARSearch, NARStrategy, NB201Adapter, make_adapter
from nni_rank.tuners import NARTuner

warnings.filterwarnings('ignore', message='.*is found to be not a nn.Module.*')


@pytest.fixture(scope='module')
def table(nb201_csv):
    return open_benchmark(nb201_csv)


@pytest.fixture(scope='module')
def nb201_xy(table):
    archs = list(table.archs())
    return archs, NB201Encoder().encode(archs), table.values('cifar10')


def _split(n, train, test, seed):
    perm = np.random.default_rng(seed).permutation(n)
    return perm[:train], perm[train:train + test]


# ------------------------------------------------------------------------------------------- tiers and encodings
def test_tier_labels_are_rank_quantiles():
    y = np.random.default_rng(0).normal(size=100)
    tiers = tier_labels(y, 5)
    assert np.bincount(tiers).tolist() == [20] * 5
    for k in range(4):  # every member of a tier beats every member of the next
        assert y[tiers == k].min() > y[tiers == k + 1].max()
    assert tier_labels(np.array([3.0, 3.0, 1.0, 0.0]), 2).tolist() == [0, 0, 1, 1]  # ties share the better tier


def test_nb201_encoder_is_a_graph_encoding(table):
    enc = NB201Encoder()
    a = NB201Arch.from_str('|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|avg_pool_3x3~1|none~2|')
    b = NB201Arch.from_str('|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|')  # 1 <-> 2
    assert a.canonical() == b.canonical()
    X = enc.encode([a, b, table.top('cifar10')[0][0]])
    assert X.shape == (3, enc.dim) == (3, len(enc.feature_names))
    assert np.array_equal(X[0], X[1]) and not np.array_equal(X[0], X[2])
    best = table.top('cifar10')[0][0]
    cols = {n: i for i, n in enumerate(enc.feature_names)}
    assert X[2, cols['mflops']] == pytest.approx(nb201_flops(best)[0], rel=1e-5)
    assert X[2, cols['count:nor_conv_3x3']] == sum(op == 'nor_conv_3x3' for op in best.canonical().ops)
    # route 0->1->2->3 of the best cell: conv3x3, conv3x3, conv1x1
    assert X[2, cols['path:nor_conv_3x3>nor_conv_3x3>nor_conv_1x1']] == 1 and X[2, cols['path:skip_connect']] == 1
    no_paths = NB201Encoder(paths=False)
    assert no_paths.dim == enc.dim - sum(n.startswith('path:') for n in enc.feature_names)
    assert np.array_equal(no_paths.encode([best])[0], X[2, [cols[n] for n in no_paths.feature_names]])
    # NNI samples encode like the arch they describe
    assert np.array_equal(enc.encode([best.to_sample()])[0], X[2])


def _nb101_rows(shared_data):
    from nni_rank.spaces.nb101 import NB101Arch
    with open(shared_data / 'nb101_500_valid_accuracy.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    archs = [NB101Arch.from_strings(r['adjacency_7x7_rowmajor'], r['ops']) for r in rows]
    return archs, np.array([float(r['val_accuracy']) for r in rows])


def test_nb101_encoding_ranks_real_cells(shared_data):
    archs, y = _nb101_rows(shared_data)
    enc = NB101Encoder()
    # isomorphic duplicates share a key; keep one per key so train and test never share a cell
    first = {}
    for i, a in enumerate(archs):
        first.setdefault(enc.key(a), i)
    idx = np.array(sorted(first.values()))
    X, y = enc.encode([archs[i] for i in idx]), y[idx]
    assert X.shape == (len(idx), enc.dim) and len(idx) < len(archs)
    tr, te = _split(len(idx), 150, len(idx), 0)
    pred = NARPredictor(seed=0).fit(X[tr], y[tr])
    assert kendalltau(pred.rank_score(X[te]), y[te])[0] > 0.4


# ------------------------------------------------------------------------------------------- predictor
def test_nar_ranks_nb201_and_is_seeded(nb201_xy):
    archs, X, y = nb201_xy
    tr, te = _split(len(archs), 200, 3000, 0)
    pred = NARPredictor(seed=0, epochs=150).fit(X[tr], y[tr])
    scores = pred.rank_score(X[te])
    assert kendalltau(scores, y[te])[0] > 0.65
    for mode in ('expected', 'blend', 'tiered'):
        assert kendalltau(pred.rank_score(X[te], mode), y[te])[0] > 0.5
    # the tier head separates quality globally: predicted top tier >> predicted bottom tier
    tiers = pred.predict_tier(X[te])
    assert y[te][tiers == 0].mean() > y[te][tiers == pred.num_tiers - 1].mean() + 5
    assert pred.predict_proba(X[te][:5]).sum(1) == pytest.approx(np.ones(5), abs=1e-5)
    again = NARPredictor(seed=0, epochs=150).fit(X[tr], y[tr]).rank_score(X[te])
    assert np.allclose(scores, again)


def test_tier_loss_and_rank_loss_both_matter(nb201_xy):
    """Without the ranking loss only the tiers train (coarse ranking), and the score head alone is worse."""
    archs, X, y = nb201_xy
    tr, te = _split(len(archs), 100, 3000, 1)
    full = NARPredictor(seed=0, epochs=150).fit(X[tr], y[tr])
    tiers_only = NARPredictor(seed=0, epochs=150, rank_weight=0.0).fit(X[tr], y[tr])
    tau_full = kendalltau(full.rank_score(X[te]), y[te])[0]
    tau_expected = kendalltau(tiers_only.rank_score(X[te], 'expected'), y[te])[0]
    assert tau_expected > 0.4  # the tier classifier alone ranks
    assert tau_full > tau_expected


def test_predictor_errors_are_clear(nb201_xy):
    _, X, y = nb201_xy
    with pytest.raises(ValueError, match='num_tiers'):
        NARPredictor(num_tiers=1)
    with pytest.raises(ValueError, match='rank_mode'):
        NARPredictor(rank_mode='best')
    with pytest.raises(ValueError, match='at least 2'):
        NARPredictor().fit(X[:1], y[:1])
    with pytest.raises(ValueError, match='finite'):
        NARPredictor().fit(X[:3], [1.0, float('nan'), 2.0])
    with pytest.raises(RuntimeError, match='not fitted'):
        NARPredictor().predict(X[:3])
    fitted = NARPredictor(epochs=5).fit(X[:10], y[:10])
    with pytest.raises(ValueError, match='shape'):
        fitted.predict(X[:3, :5])


def test_tier_statistics_sample_what_they_estimate():
    rng = np.random.default_rng(0)
    rows = np.array([[3, 1], [3, 2], [3, 1], [0, 1]])
    stats = TierStatistics([5, 3], smoothing=0.0).estimate(rows)
    assert stats.probs[0].tolist() == [0.25, 0, 0, 0.75, 0]
    drawn = stats.sample(4000, rng)
    assert set(drawn[:, 0]) == {0, 3} and abs((drawn[:, 0] == 3).mean() - 0.75) < 0.03
    smoothed = TierStatistics([5, 3], smoothing=0.5).estimate(rows, weights=np.array([1, 1, 1, 0.0]))
    assert all((p > 0).all() for p in smoothed.probs) and smoothed.probs[0].argmax() == 3


# ------------------------------------------------------------------------------------------- search
def test_nar_strategy_finds_top_archs_without_duplicates(table):
    ev = BenchmarkEvaluator(table, dataset='cifar10')
    top1pct = table.threshold('cifar10', 0.01)
    bests = []
    for seed in range(2):
        strategy = make_strategy('nar', seed=seed)
        result = run_benchmark_search(strategy, ev, 48, seed=seed, name='nar')
        assert len(result.history) == 48
        assert all(acc == table.accuracy(a, 'cifar10') for a, acc in result.history)
        assert len({NB201Arch.from_str(a).canonical() for a, _ in result.history}) == 48  # isomorphs deduped
        assert strategy.search.rounds == (48 - 16 + 3) // 4
        bests.append(result.best[1])
    rand = [run_benchmark_search(make_strategy('random', seed=s), ev, 48, seed=s).best[1] for s in range(2)]
    assert min(bests) >= top1pct and sum(bests) > sum(rand)


def test_nar_strategy_same_seed_same_queries(table):
    ev = BenchmarkEvaluator(table, dataset='cifar100')
    runs = [run_benchmark_search(NARStrategy(seed=3, init_samples=8, pool_size=200, stats_samples=200), ev, 20, seed=3)
            for _ in range(2)]
    assert runs[0].history == runs[1].history


def test_nar_strategy_generic_path_and_nni_space(table):
    """Forced generic encoding on the benchmark space, and NNI's own NasBench201 space in a NasExperiment."""
    ev = BenchmarkEvaluator(table, dataset='cifar10')
    strategy = NARStrategy(seed=0, init_samples=10, pool_size=300, stats_samples=300, fast_path=False)
    result = run_benchmark_search(strategy, ev, 30, seed=0)
    assert isinstance(strategy.search.adapter, GenericAdapter)
    assert len({a for a, _ in result.history}) == 30
    assert result.best[1] > np.median(table.values('cifar10'))

    from nni.nas.experiment import NasExperiment, NasExperimentConfig
    from nni.nas.hub.pytorch import NasBench201
    config = NasExperimentConfig('sequential', 'raw', 'local')
    config.max_trial_number = 14
    strategy = NARStrategy(seed=0, init_samples=8, batch_size=3, pool_size=200, stats_samples=200)
    exp = NasExperiment(NasBench201(), ev, strategy, config)
    exp.run()
    exp.stop()
    assert isinstance(strategy.search.adapter, NB201Adapter)
    assert strategy.search.adapter.labels['0_1'] == 'cell/0_1'
    assert len(strategy.search.history) == 14 and strategy.search.rounds == 2
    for arch, acc in strategy.search.history:
        assert acc == table.accuracy(arch, 'cifar10')


def test_generic_space_with_a_continuous_label():
    """Any NNI space: a categorical x numerical space with a known objective, driven through ask/tell."""
    from nni.mutable import Categorical, Numerical
    space = {'op': Categorical(['a', 'b', 'c', 'd'], label='op'), 'depth': Categorical([1, 2, 3, 4, 5], label='depth'),
             'lr': Numerical(0.0, 1.0, label='lr')}
    adapter = make_adapter(space)
    assert isinstance(adapter, GenericAdapter) and adapter.cardinalities == [4, 5]
    enc = GenericEncoder(space)
    x = enc.encode([{'op': 'c', 'depth': 2, 'lr': 0.25}])[0]
    assert enc.dim == 10 and x[:9].tolist() == [0, 0, 1, 0, 0, 1, 0, 0, 0] and x[9] == pytest.approx(0.25)

    def objective(s):
        return {'a': 0, 'b': 1, 'c': 3, 'd': 2}[s['op']] + s['depth'] - abs(s['lr'] - 0.3)

    search = NARSearch(adapter, init_samples=8, batch_size=2, pool_size=100, stats_samples=100, seed=0,
                       predictor_args={'epochs': 60})
    for _ in range(30):
        cand = search.ask()
        search.tell(cand, objective(cand))
    top = max(v for _, v in search.history)
    assert top > 6.5  # depth 5 with op c or d (the best 2 of the 20 choice patterns)
    assert len({(c['op'], c['depth']) for c, _ in search.history[8:]}) > 1  # batches hold distinct patterns
    late = [objective(c) for c, _ in search.history[8:]]
    early = [objective(c) for c, _ in search.history[:8]]
    assert np.mean(late) > np.mean(early)


def test_warm_up_starts_from_the_best_of_the_proxy_pool(shared_data):
    pools = []

    def convs(samples):  # a stand-in proxy: 3x3 convolutions in the cell (higher is better)
        pools.append(list(samples))
        return np.array([[NB201Arch.from_sample(s).ops.count('nor_conv_3x3')] for s in samples], dtype=float)

    search = NARSearch(NB201Adapter(), init_samples=8, warm_up=300, feature_fn=convs, pool_size=50,
                       stats_samples=50, seed=0)
    first = [search.ask() for _ in range(8)]
    pool_scores = sorted(convs(pools[0])[:, 0], reverse=True)
    assert [c.ops.count('nor_conv_3x3') for c in first] == pool_scores[:8]
    assert len({c.canonical() for c in first}) == 8
    with pytest.raises(ValueError, match='warm_up'):
        NARSearch(NB201Adapter(), warm_up=100)
    # ``proxies=`` turns the warm-up on by default
    strategy = make_strategy('nar', seed=0, proxies='synflow,naswot',
                             proxy_table=str(shared_data / 'nb201_zc_reference_cifar10.csv'))
    assert strategy._search_args['warm_up'] == 1000 and strategy._search_args['init_samples'] == 8
    assert make_strategy('nar', seed=0)._search_args['warm_up'] == 0


def test_tuner_with_proxies_starts_from_the_proxies_best(shared_data, table):
    from nni_rank.tuners import split_reports
    space = json.loads((Path(__file__).parents[1] / 'config_yaml' / 'nb201_search_space.json').read_text())
    ref = str(shared_data / 'nb201_zc_reference_cifar10.csv')
    firsts = {}
    for label, extra in (('random', {}), ('proxies', {'proxies': 'synflow,naswot', 'proxy_table': ref})):
        tuner = NARTuner(seed=0, pool_size=200, stats_samples=200, **extra)
        tuner.update_search_space(space)
        accs = []
        for pid in range(8):
            params = split_reports(tuner.generate_parameters(pid))[0]
            accs.append(table.accuracy(params, 'cifar10'))
            tuner.receive_trial_result(pid, params, accs[-1])
        firsts[label] = np.array(accs)
        assert tuner.search.init_samples == (8 if extra else 16)
    everything = np.array(table.values('cifar10'))
    # the 8 warm-up cells (proxies' best of 1,000) beat 8 random ones and the space's 80th percentile
    assert firsts['proxies'].mean() > max(firsts['random'].mean(), np.percentile(everything, 80))
    tuner.generate_parameters(8)
    assert tuner.search.rounds == 1  # after the 8 warm-up results it ranks right away


def test_state_dict_resumes_without_repeats(table):
    ev = BenchmarkEvaluator(table, dataset='cifar10')
    first = NARStrategy(seed=0, init_samples=8, pool_size=200, stats_samples=200)
    r1 = run_benchmark_search(first, ev, 20, seed=0)
    state = json.loads(json.dumps(first.state_dict()))  # JSON-serialisable
    second = NARStrategy(seed=0, init_samples=8, pool_size=200, stats_samples=200)
    second.load_state_dict(state)
    r2 = run_benchmark_search(second, ev, 12, seed=0)
    assert len(second.search.history) == 32
    seen = {NB201Arch.from_str(a).canonical() for a, _ in r1.history}
    assert not seen & {NB201Arch.from_str(a).canonical() for a, _ in r2.history}


# ------------------------------------------------------------------------------------------- tuner
def test_tuner_protocol_resume_and_failures(table):
    space = json.loads((Path(__file__).parents[1] / 'config_yaml' / 'nb201_search_space.json').read_text())
    import nni
    tuner = NARTuner(seed=0, max_trials=30, init_samples=10, pool_size=300, stats_samples=300)
    tuner.update_search_space(space)
    records = []
    for pid in range(30):
        params = tuner.generate_parameters(pid)
        if pid == 3:  # a failed trial: only trial_end arrives
            tuner.trial_end(pid, False)
            failed = NB201Arch.from_sample(params)
            continue
        acc = table.accuracy(params, 'cifar10')
        tuner.receive_trial_result(pid, params, {'default': acc, 'params': 1.0})
        tuner.trial_end(pid, True)
        records.append({'parameter': params, 'value': acc, 'trialJobId': str(pid)})
    with pytest.raises(nni.NoMoreTrialError):
        tuner.generate_parameters(30)
    keys = [NB201Arch.from_sample(r['parameter']).canonical() for r in records]
    assert len(set(keys)) == 29 and failed.canonical() not in keys
    assert max(r['value'] for r in records) > np.median(table.values('cifar10'))
    # resume: a fresh tuner replays the finished trials and never proposes them again
    resumed = NARTuner(seed=1, max_trials=10, init_samples=10, pool_size=300, stats_samples=300)
    resumed.import_data(records)
    resumed.update_search_space(space)
    assert len(resumed.search.history) == 29
    new = [NB201Arch.from_sample(resumed.generate_parameters(100 + i)).canonical() for i in range(10)]
    assert not set(new) & set(keys)
    assert resumed.search.rounds >= 1  # 29 results: it ranks right away
    with pytest.raises(ValueError, match='not supported'):
        NARTuner().update_search_space({'x': {'_type': 'choice', '_value': [{'_name': 'a'}]}})


def test_tuner_reports_predicted_tier_only_when_asked(table):
    from nni_rank.tuners import split_reports
    space = json.loads((Path(__file__).parents[1] / 'config_yaml' / 'nb201_search_space.json').read_text())
    args = dict(seed=0, init_samples=6, batch_size=2, pool_size=200, stats_samples=200)
    tuners = {flag: NARTuner(report_prediction=flag, **args) for flag in (False, True)}
    proposed = {flag: [] for flag in tuners}
    for flag, tuner in tuners.items():
        tuner.update_search_space(space)
        for pid in range(12):
            params = tuner.generate_parameters(pid)
            proposed[flag].append(params)
            choices, _ = split_reports(params)
            tuner.receive_trial_result(pid, params, table.accuracy(choices, 'cifar10'))  # reports ignored
            tuner.trial_end(pid, True)
    plain = proposed[False]
    assert all(set(p) == set(space) for p in plain)
    reports = [split_reports(p)[1] for p in proposed[True]]
    assert [split_reports(p)[0] for p in proposed[True]] == plain  # the report does not change the search
    assert reports[:6] == [{}] * 6  # the random initial sample has no prediction
    tiers = [r['predicted_tier'] for r in reports[6:]]
    assert all(isinstance(t, int) and 0 <= t < 5 for t in tiers)
    search = tuners[True].search  # the tier is the predictor's: the last round's predictions match
    last = [NB201Arch.from_sample(split_reports(p)[0]) for p in proposed[True][-2:]]
    assert [search.predicted_tier(c) for c in last] == tiers[-2:]


# ------------------------------------------------------------------------------------------- CLI and proxies
def test_cli_rank_json_and_transfer(nb201_csv, table, tmp_path, capsys):
    out = tmp_path / 'rank.json'
    argv = ['rank', '--space', 'nb201', '--predictor', 'nar', '--train-size', '100', '--benchmark', str(nb201_csv),
            '--dataset', 'cifar10', '--seed', '0', '--test-limit', '3000', '--epochs', '120',
            '--transfer-dataset', 'cifar100', '--json', str(out)]
    assert main(argv) == 0
    res = json.loads(out.read_text())
    assert {'kendall', 'spearman', 'top1pct_precision', 'train_size', 'test_size'} <= set(res)
    assert res['train_size'] == 100 and res['test_size'] == 3000
    assert 0.6 < res['kendall'] < res['spearman'] <= 1 and 0 <= res['top1pct_precision'] <= 1
    assert 0.5 < res['transfer']['kendall'] < res['kendall'] + 0.1
    assert f'{res["kendall"]:.4f}' in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(['rank', '--train-size', '1', '--benchmark', str(nb201_csv)])
    assert exit_.value.code == 2 and 'argument --train-size: must be >= 2, got 1' in capsys.readouterr().err
    assert main(['rank', '--train-size', '20000', '--benchmark', str(nb201_csv)]) == 1
    assert '--train-size must lie in 2..15624' in capsys.readouterr().err
    assert main(['rank', '--benchmark', str(nb201_csv), '--transfer-dataset', 'imagenet']) == 1
    assert 'available: cifar10, cifar100' in capsys.readouterr().err


def test_cli_rank_reads_any_column_of_a_proxy_table(shared_data, nb201_csv, tmp_path, capsys):
    """--with-proxies with --proxy-table takes the table's own columns (NAS-Bench-Suite-Zero's epe_nas, zen), not
    only proxies this project computes; --proxy-bins bins them; a name the table lacks stops in one line."""
    table_csv = str(shared_data / 'nb201_zc_reference_cifar10.csv')
    out = tmp_path / 'rank.json'
    base = ['rank', '--train-size', '60', '--benchmark', str(nb201_csv), '--seed', '0', '--test-limit', '2000',
            '--epochs', '60', '--proxy-table', table_csv]
    assert main([*base, '--with-proxies', 'epe_nas,zen,jacov', '--proxy-bins', '4', '--json', str(out)]) == 0
    res = json.loads(out.read_text())
    assert res['proxies'] == ['epe_nas', 'zen', 'jacob_cov'] and res['proxy_bins'] == 4
    assert 0.5 < res['kendall'] <= 1
    capsys.readouterr()
    assert main([*base, '--with-proxies', 'synflow,not_a_proxy']) == 1
    err = capsys.readouterr().err
    assert "proxy 'not_a_proxy' is not a column of" in err and len(err.strip().splitlines()) == 1
    assert main(['rank', '--benchmark', str(nb201_csv), '--with-proxies', 'epe_nas']) == 1
    assert "unknown proxy 'epe_nas'" in capsys.readouterr().err  # computed proxies: the project's names only
    from nni_rank.cli.rank import evaluate_ranking
    from nni_rank.proxies import ProxyScorer
    with pytest.raises(ValueError, match='proxy_bins=8 needs proxies'):
        evaluate_ranking(open_benchmark(nb201_csv), 'cifar10', 20, 0, proxy_bins=8)
    scorer = ProxyScorer('epe_nas', table=table_csv, table_columns=True)
    with pytest.raises(ValueError, match="'epe_nas': table columns without a known direction are read"):
        scorer.combine(np.zeros((3, 1)), scorer.names)


def test_proxy_features_with_compact_view_help_small_samples(shared_data, table, nb201_xy):
    """Beyond the paper: reference synflow + naswot scores as extra inputs, with the compact second view."""
    from nni_rank.cli.rank import evaluate_ranking
    archs, X, y = nb201_xy
    proxies = ProxyTable(shared_data / 'nb201_zc_reference_cifar10.csv', ['synflow', 'naswot'])
    assert proxies.columns == ['synflow', 'nwot']
    assert not np.isnan(proxies(archs[::7])).any()  # every cell maps to a reference row through its canonical form
    taus = {True: [], False: []}
    for seed in range(3):
        for with_proxies in (False, True):
            kw = {'proxies': ['synflow', 'naswot'], 'proxy_store': proxies} if with_proxies else {}
            res = evaluate_ranking(table, 'cifar10', 30, seed, test_limit=3000, features=X,
                                   predictor_args={'epochs': 120}, **kw)
            taus[with_proxies].append(res['kendall'])
    assert np.mean(taus[True]) > np.mean(taus[False]) + 0.02
    with pytest.raises(ValueError, match='not a column'):
        ProxyTable(shared_data / 'nb201_zc_reference_cifar10.csv', ['das'])


def test_cli_search_nar(nb201_csv, tmp_path):
    out = tmp_path / 's.json'
    assert main(['search', '--strategy', 'nar', '--benchmark', str(nb201_csv), '--budget', '24', '--seed', '0',
                 '-o', 'pool_size=300', '-o', 'stats_samples=300', '--json', str(out)]) == 0
    hist = json.loads(out.read_text())['history']
    assert len(hist) == 24 and len({a for a, _ in hist}) == 24


ZC13 = ['epe_nas', 'fisher', 'flops', 'grad_norm', 'grasp', 'jacov', 'l2_norm', 'nwot', 'params', 'plain', 'snip',
        'synflow', 'zen']


def test_binned_proxies_rank_better_from_few_labels(shared_data, table, nb201_xy):
    """All 13 reference proxies as piecewise-linear quantile-bin inputs (bin_columns) rank the 9,445 cells the
    proxy table covers better after 60 labels than the same proxies as raw (signed-log) inputs."""
    from nni_rank.cli.rank import evaluate_ranking
    archs, X, _ = nb201_xy
    csv_path = shared_data / 'nb201_zc_reference_cifar10.csv'
    with open(csv_path, newline='') as f:
        population = [int(row['index']) for row in csv.DictReader(f)]
    assert len(population) == 9445
    store = ProxyTable(csv_path, ZC13)
    taus = {0: [], 8: []}
    for seed in range(3):
        for bins in taus:
            res = evaluate_ranking(table, 'cifar10', 60, seed, features=X, proxies=ZC13, proxy_store=store,
                                   population=population, test_limit=4000, proxy_bins=bins)
            assert res['test_size'] == 4000 and res.get('proxy_bins', 0) == bins
            taus[bins].append(res['kendall'])
    assert np.mean(taus[8]) > np.mean(taus[0]) + 0.01, taus
    assert min(taus[8]) > 0.7, taus


def test_bin_columns_encoding(nb201_xy):
    archs, X, y = nb201_xy
    rows = np.arange(0, len(X), 50)
    Xs, ys = X[rows], y[rows]
    plain = NARPredictor(epochs=20, seed=1).fit(Xs, ys).rank_score(X[:500])
    unbinned = NARPredictor(epochs=20, seed=1, bin_columns=None).fit(Xs, ys).rank_score(X[:500])
    assert np.array_equal(plain, unbinned)  # no binned columns: exactly the plain predictor
    p = NARPredictor(epochs=20, seed=1, bins=4, bin_columns=[-2, -1, 0], compact_columns=[-2, -1]).fit(Xs, ys)
    assert p.rank_score(X[:500]).shape == (500,)
    assert sorted(p._edges) == [0, X.shape[1] - 2, X.shape[1] - 1]
    assert p._edges[0].tolist() == [0.0, 1.0]  # a one-hot column: one bin, the column itself
    enc, colmap = p._expand(X[:500].astype(np.float32))
    assert colmap[-1] == [enc.shape[1] - 4 + i for i in range(4)] and len(colmap[0]) == 1
    flops = enc[:, colmap[-2]]
    assert flops.min() >= 0 and flops.max() <= 1
    order = np.argsort(X[:500, -2])  # each bin input rises with the value it encodes
    assert np.all(np.diff(flops[order], axis=0) >= -1e-6)
    with pytest.raises(ValueError, match='bins must be an integer >= 2'):
        NARPredictor(bins=1)
    with pytest.raises(ValueError, match='bin_columns must index'):
        NARPredictor(epochs=2, bin_columns=[X.shape[1]]).fit(Xs, ys)


def test_search_proxy_bins_option_is_validated(shared_data, nb201_csv, tmp_path, capsys):
    """proxy_bins: 0 (off) or an integer >= 2, and only with proxies; refused in one line by the strategy, the
    search core, the tuner's classArgs and the CLI's -o."""
    from nni_rank.tuners.nar_tuner import validate_class_args
    ref = str(shared_data / 'nb201_zc_reference_cifar10.csv')
    for bad in (1, -1, 2.5, True, '8'):
        with pytest.raises(ValueError, match='proxy_bins must be 0 \\(off\\) or an integer >= 2') as err:
            make_strategy('nar', seed=0, proxies='synflow', proxy_table=ref, proxy_bins=bad)
        assert '\n' not in str(err.value)
    with pytest.raises(ValueError, match='needs feature_fn'):
        make_strategy('nar', seed=0, proxy_bins=8)  # nothing to bin
    with pytest.raises(ValueError, match='proxy_bins'):
        NARSearch(NB201Adapter(), proxy_bins=4)
    assert make_strategy('nar', seed=0)._search_args['proxy_bins'] == 0  # off by default
    for bad, message in ((1, 'classArg proxy_bins must be 0 (off) or an integer >= 2, got 1'),
                         (-3, 'classArg proxy_bins must be an integer >= 0, got -3')):
        with pytest.raises(ValueError) as err:
            validate_class_args(proxies='synflow', proxy_table=ref, proxy_bins=bad)
        assert str(err.value) == f'NARTuner: {message}'
    with pytest.raises(ValueError, match='^NARTuner: classArg proxy_bins needs proxies'):
        NARTuner(proxy_bins=8)
    assert validate_class_args(proxies='epe_nas,zen', proxy_table=ref, proxy_bins=8)['proxy_bins'] == 8
    args = ['search', '--strategy', 'nar', '--benchmark', str(nb201_csv), '--budget', '10', '--seed', '0',
            '--json', str(tmp_path / 's.json'), '-o', 'proxies=synflow', '-o', f'proxy_table={ref}']
    capsys.readouterr()
    assert main([*args, '-o', 'proxy_bins=1']) == 1
    err = capsys.readouterr().err
    assert 'proxy_bins must be 0 (off) or an integer >= 2' in err and len(err.strip().splitlines()) == 1


def test_search_takes_any_column_of_its_proxy_table(shared_data):
    """With proxy_table, NAR's proxies may be the table's own columns (epe_nas, zen), project names and aliases
    resolving as before; without a table those names are unknown, and a column the table lacks stops in one line."""
    ref = str(shared_data / 'nb201_zc_reference_cifar10.csv')
    strategy = make_strategy('nar', seed=0, proxies='epe_nas,zen,nwot,jacov', proxy_table=ref)
    feature_fn = strategy._search_args['feature_fn']
    assert feature_fn.names == ['epe_nas', 'zen', 'nwot', 'jacov']
    assert feature_fn.scorer.names == ['epe_nas', 'zen', 'naswot', 'jacob_cov']
    cells = [NB201Arch.from_str('|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|'
                                'nor_conv_3x3~2|'), NB201Arch.from_str('|none~0|+|none~0|none~1|+|none~0|none~1|none~2|')]
    got = feature_fn([c.to_sample() for c in cells])  # NNI samples, as the search sends them
    want = ProxyTable(ref, ['epe_nas', 'zen', 'nwot', 'jacov'])(cells)
    np.testing.assert_array_equal(got, want)  # the table's values, read through the strategy's feature_fn
    with pytest.raises(ValueError, match="unknown proxy 'epe_nas'"):
        make_strategy('nar', seed=0, proxies='epe_nas,synflow')  # computed proxies: the project's names only
    with pytest.raises(ValueError, match="proxy 'not_a_proxy' is not a column of") as err:
        make_strategy('nar', seed=0, proxies='synflow,not_a_proxy', proxy_table=ref)
    assert '\n' not in str(err.value)


def test_search_with_binned_table_proxies_queries_the_table(shared_data, table):
    """A short seeded search with the 13 stored proxies binned: every query is a benchmark lookup, no cell is
    asked twice, the predictor bins exactly the proxy columns, and the same seed asks the same cells."""
    ref = str(shared_data / 'nb201_zc_reference_cifar10.csv')
    ev = BenchmarkEvaluator(table, dataset='cifar10')
    runs = []
    for _ in range(2):
        strategy = make_strategy('nar', seed=1, proxies=ZC13, proxy_table=ref, proxy_bins=4, pool_size=200,
                                 stats_samples=200, warm_up=200)
        result = run_benchmark_search(strategy, ev, 28, seed=1, name='nar+13-binned')
        assert len(result.history) == 28
        assert all(acc == table.accuracy(a, 'cifar10') for a, acc in result.history)
        assert len({NB201Arch.from_str(a).canonical() for a, _ in result.history}) == 28
        search = strategy.search
        assert search.rounds >= 4
        base = search.adapter.encoder.dim
        predictor = search.predictor
        assert predictor.bin_columns == list(range(base, base + 13)) and predictor.bins == 4
        assert set(predictor._edges) <= set(predictor.bin_columns) and len(predictor._edges) >= 10
        runs.append(result.history)
    assert runs[0] == runs[1]
