"""Zero-cost search on the real NB201 table: the evaluator, zc-random / zc-rea, and ``nni-rank proxies``."""
import csv
import json
import math

import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr

from nni_rank.benchmarks import open_benchmark
from nni_rank.cli.main import main
from nni_rank.evaluators import UNDEFINED_SCORE, BenchmarkEvaluator, ZeroCostEvaluator
from nni_rank.experiment import run_benchmark_search
from nni_rank.proxies import ProxyScorer, score_nb201
from nni_rank.spaces import NB201Arch
from nni_rank.strategies import ZeroCostEvolution, make_strategy


@pytest.fixture(scope='module')
def table(nb201_csv):
    return open_benchmark(nb201_csv)


@pytest.fixture(scope='module')
def scorer():
    return ProxyScorer('synflow')  # shared in-memory cache across the tests of this module


def test_cli_proxies_scores_and_correlations(nb201_csv, table, tmp_path, capsys):
    out, js, png = tmp_path / 's.csv', tmp_path / 's.json', tmp_path / 's.png'
    argv = ['proxies', '--space', 'nb201', '--proxies', 'synflow,params,flops', '--sample', '40', '--seed', '3',
            '--benchmark', str(nb201_csv), '--dataset', 'cifar10', '--out', str(out), '--json', str(js),
            '--plot', str(png)]
    assert main(argv) == 0
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 40 and len({r['arch_str'] for r in rows}) == 40
    assert list(rows[0]) == ['arch_str', 'synflow', 'params', 'flops']
    first = score_nb201(rows[0]['arch_str'], None, ['synflow'], seed=3, input_shape=(3, 32, 32))['synflow']
    assert math.isclose(float(rows[0]['synflow']), first, rel_tol=1e-9)
    summary = json.loads(js.read_text())
    assert summary['n'] == 40 and set(summary['proxies']) == {'synflow', 'params', 'flops'}
    acc = [table.accuracy(r['arch_str'], 'cifar10') for r in rows]
    for name in ('synflow', 'params'):
        vals = [float(r[name]) for r in rows]
        assert summary['proxies'][name]['spearman'] == pytest.approx(spearmanr(vals, acc)[0], abs=1e-9)
        assert summary['proxies'][name]['kendall'] == pytest.approx(kendalltau(vals, acc)[0], abs=1e-9)
        assert summary['proxies'][name]['nan_count'] == 0
    assert summary['proxies']['synflow']['spearman'] > 0.5
    assert png.stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert 'spearman' in printed and 'synflow' in printed


def test_cli_proxies_says_which_data_and_counts_nan(shared_data, tmp_path, capsys):
    js = tmp_path / 'n.json'
    # seed 11 draws cells without a path from input to output among 30
    assert main(['proxies', '--proxies', 'naswot', '--sample', '30', '--seed', '11', '--data-dir',
                 str(shared_data / 'cifar10_train_10k.bin'), '--json', str(js),
                 '--benchmark', str(shared_data / 'nb201_test_accuracy_200ep.csv')]) == 0
    printed = capsys.readouterr().out
    assert 'data-dependent proxies use CIFAR-10 train' in printed
    summary = json.loads(js.read_text())
    dead = sum(not NB201Arch.from_str(a).is_connected() for a in _sample(30, 11))
    assert dead > 0 and summary['proxies']['naswot']['nan_count'] == dead
    assert 'ranked last' in printed


def _sample(n, seed):
    from nni_rank.cli.proxies import sample_archs
    return sample_archs(n, seed)


def test_cli_proxies_bad_input(nb201_csv, capsys):
    assert main(['proxies', '--proxies', 'synfloww', '--sample', '3']) == 1
    assert 'unknown proxy' in capsys.readouterr().err
    assert main(['proxies', '--proxies', 'snip', '--sample', '2', '--data-dir', '/nonexistent/cifar']) == 1
    assert 'nni-rank proxies: error:' in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:  # refused by the argument parser, before any work
        main(['proxies', '--proxies', 'synflow', '--sample', '0'])
    assert exit_.value.code == 2 and 'argument --sample: must be >= 1, got 0' in capsys.readouterr().err


def test_zero_cost_evaluator_in_nas_experiment(scorer):
    from nni.nas.experiment import NasExperiment, NasExperimentConfig
    from nni.nas.hub.pytorch import NasBench201
    config = NasExperimentConfig('sequential', 'raw', 'local')
    config.max_trial_number = 4
    evaluator = ZeroCostEvaluator('synflow,params', default='synflow')
    exp = NasExperiment(NasBench201(), evaluator, make_strategy('random', seed=0), config)
    exp.run()
    exp.stop()
    models = list(exp.strategy.list_models())
    assert len(models) == 4
    for m in models:
        arch = NB201Arch.from_sample(m.sample)
        expected = scorer.raw_scores([arch.to_sample()])[0, 0]
        assert m.metric == pytest.approx(expected if math.isfinite(expected) else UNDEFINED_SCORE, rel=1e-9)


def test_zero_cost_evaluator_ranks_undefined_last():
    ev = ZeroCostEvaluator('naswot')
    dead = NB201Arch.from_str('|none~0|+|none~0|none~1|+|none~0|none~1|none~2|').to_sample()
    with pytest.warns(Warning, match='undefined'):
        assert ev.evaluate(dead) == UNDEFINED_SCORE


def test_zc_rea_finds_better_models_sooner_than_rea(table):
    """Warm-up + move proposal: over 6 seeds, zc-rea's best after 25 queries beats NNI's rea.

    The proxy is ``params`` here (cheap to compute for a pool: it only builds the networks).
    """
    ev = BenchmarkEvaluator(table, dataset='cifar10')
    best = {}
    params = ProxyScorer('params')
    for name, opts in (('rea', {}), ('zc-rea', {'pool_size': 100, 'scorer': params})):
        best[name] = [run_benchmark_search(make_strategy(name, seed=s, **opts), ev, 25, seed=s).best[1]
                      for s in range(6)]
    assert np.median(best['zc-rea']) > np.median(best['rea'])


def test_zc_strategies_follow_the_proxy(table, scorer):
    ev = BenchmarkEvaluator(table, dataset='cifar10')
    res = run_benchmark_search(make_strategy('zc-random', seed=0, pool_size=50, scorer=scorer), ev, 10, seed=0)
    syn = scorer.raw_scores([NB201Arch.from_str(a).to_sample() for a, _ in res.history])[:, 0]
    assert list(syn) == sorted(syn, reverse=True)  # evaluated best-first
    strategy = ZeroCostEvolution(pool_size=60, population_size=10, sample_size=3, random_move_prob=0.0,
                                 seed=0, scorer=scorer)
    res = run_benchmark_search(strategy, ev, 20, seed=0)
    archs = [a for a, _ in res.history]
    assert len(set(archs)) == 20  # never the same query twice
    # each mutated child is the proxy's favourite among the one-edit neighbours not yet evaluated
    seen = set(archs[:10])
    for child in archs[10:]:
        parents = [a for a in seen if sum(x != y for x, y in zip(NB201Arch.from_str(a).ops,
                                                                   NB201Arch.from_str(child).ops)) == 1]
        assert parents, child
        seen.add(child)
    state = strategy.state_dict()
    assert len(state['seen']) == 20 and len(state['population']) == 10


def test_unknown_strategy_option_is_rejected(nb201_csv, capsys):
    assert main(['search', '--strategy', 'zc-rea', '--benchmark', str(nb201_csv), '-o', 'pool=5']) == 1
    assert 'pool' in capsys.readouterr().err


def test_example_custom_space_runs_zero_cost_search():
    """A user's own ModelSpace: zc-rea proposes, ModelZeroCostEvaluator scores the frozen PyTorch models."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / 'examples' / 'custom_space_zero_cost.py'
    spec = importlib.util.spec_from_file_location('custom_space_zero_cost', path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    results = example.main(['--trials', '6'])
    assert len(results) == 6
    assert len({tuple(sorted((k, v) for k, v in r.items() if k != 'score')) for r in results}) == 6
    assert all(math.isfinite(r['score']) and r['score'] > 0 for r in results)
