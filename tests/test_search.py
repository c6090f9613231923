"""Strategies on the real NB201 table: the CLI contract, NNI's built-ins, and NasExperiment."""
import json

import pytest

from nni_rank.benchmarks import open_benchmark
from nni_rank.cli.main import main
from nni_rank.evaluators import BenchmarkEvaluator
from nni_rank.experiment import run_benchmark_search
from nni_rank.strategies import make_strategy


@pytest.fixture(scope='module')
def table(nb201_csv):
    return open_benchmark(nb201_csv)


def test_cli_search_rea_history_matches_table(nb201_csv, table, tmp_path, capsys):
    out = tmp_path / 'out.json'
    argv = ['search', '--space', 'nb201', '--strategy', 'rea', '--benchmark', str(nb201_csv),
            '--dataset', 'cifar10', '--budget', '100', '--seed', '0', '--json', str(out)]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    assert len(result['history']) == 100
    for arch, acc in result['history']:
        assert acc == table.accuracy(arch, 'cifar10')
    best = max(acc for _, acc in result['history'])
    assert result['best_accuracy'] == best and table.accuracy(result['best_arch'], 'cifar10') == best
    printed = capsys.readouterr().out
    assert result['best_arch'] in printed and f'{best:.4f}' in printed
    # same seed, same queries
    again = tmp_path / 'again.json'
    assert main(argv[:-1] + [str(again)]) == 0
    assert json.loads(again.read_text())['history'] == result['history']


@pytest.mark.parametrize('name', ['random', 'rea', 'tpe'])
def test_nni_strategies_query_the_table(name, table):
    evaluator = BenchmarkEvaluator(table, dataset='cifar100')
    result = run_benchmark_search(make_strategy(name, seed=1), evaluator, budget=60, seed=1, name=name)
    assert len(result.history) == 60
    assert all(acc == table.accuracy(a, 'cifar100') for a, acc in result.history)
    if name != 'tpe':  # NNI's random and REA deduplicate
        assert len({a for a, _ in result.history}) == 60
    # better than the median architecture of the space after 60 queries
    assert result.best[1] > sorted(table.values('cifar100'))[len(table) // 2]


def test_rea_beats_random_on_average(table):
    """Evolution must use the accuracies: over 10 seeds, REA's best after 150 queries beats random's."""
    ev = BenchmarkEvaluator(table, dataset='cifar10')
    bests = {name: [run_benchmark_search(make_strategy(name, seed=s), ev, 150, seed=s).best[1] for s in range(10)]
             for name in ('random', 'rea')}
    assert sum(bests['rea']) > sum(bests['random'])


def test_cli_errors_are_clear(nb201_csv, capsys):
    assert main(['search', '--strategy', 'nope', '--benchmark', str(nb201_csv)]) == 1
    assert 'unknown strategy' in capsys.readouterr().err
    assert main(['search', '--benchmark', str(nb201_csv), '--dataset', 'imagenet']) == 1
    assert 'available: cifar10, cifar100' in capsys.readouterr().err
    assert main(['search', '--benchmark', '/nonexistent/table.csv']) == 1
    assert 'not found' in capsys.readouterr().err


def test_nas_experiment_with_nni_space(table):
    """A user's NasExperiment around NNI's NasBench201 space, with our evaluator on the sequential engine."""
    from nni.nas.experiment import NasExperiment, NasExperimentConfig
    from nni.nas.hub.pytorch import NasBench201
    evaluator = BenchmarkEvaluator(table, dataset='cifar10')
    config = NasExperimentConfig('sequential', 'raw', 'local')
    config.max_trial_number = 5
    exp = NasExperiment(NasBench201(), evaluator, make_strategy('random', seed=0), config)
    exp.run()
    exp.stop()  # NNI otherwise stops it at interpreter exit, logging to pytest's closed streams
    top = exp.export_top_models(top_k=1, formatter='dict')[0]
    models = list(exp.strategy.list_models())
    assert len(models) == 5
    assert max(m.metric for m in models) == table.accuracy(top, 'cifar10')
