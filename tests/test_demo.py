"""The main job (``nni-rank demo``) and the packaged NB201 table it searches."""
import csv
import json

import numpy as np
import pytest

from nni_rank.benchmarks import open_benchmark
from nni_rank.cli.main import main
from nni_rank.evaluators import BenchmarkEvaluator
from nni_rank.experiment import run_benchmark_search
from nni_rank.proxies import ProxyStore
from nni_rank.resources import PACKAGED_NB201, packaged_nb201, resolve_benchmark
from nni_rank.strategies import make_strategy


@pytest.fixture(scope='module')
def packaged(tmp_path_factory):
    import os
    os.environ['NNI_RANK_CACHE'] = str(tmp_path_factory.mktemp('cache'))
    try:
        yield packaged_nb201()
    finally:
        del os.environ['NNI_RANK_CACHE']


def test_packaged_table_holds_the_real_accuracies_of_every_cell(packaged, shared_data):
    assert resolve_benchmark(PACKAGED_NB201) == str(packaged) and resolve_benchmark('x.csv') == 'x.csv'
    rows = {r['arch_str']: r for r in csv.DictReader(open(packaged))}
    assert len(rows) == 15625
    for name, columns in (('nb201_test_accuracy_200ep.csv', ('cifar10_test_acc', 'cifar100_test_acc')),
                          ('nb201_valid_accuracy_200ep.csv', ('cifar10_valid_acc', 'cifar100_valid_acc'))):
        for ref in csv.DictReader(open(shared_data / name)):
            mine = rows[ref['arch_str']]
            assert mine['index'] == ref['index'] and all(mine[c] == ref[c] for c in columns), ref['arch_str']
    table = open_benchmark(str(packaged))
    assert table.top('cifar10')[0][1] == pytest.approx(94.3733) and table.top('cifar100')[0][1] == pytest.approx(73.5133)


def test_packaged_proxies_are_the_ones_the_package_computes(packaged):
    rows = list(csv.DictReader(open(packaged)))
    picks = [rows[i] for i in np.random.default_rng(0).choice(len(rows), 12, replace=False)]
    live = ProxyStore(['synflow', 'params', 'flops']).scores([r['arch_str'] for r in picks])
    shipped = np.array([[float(r[c]) for c in ('synflow', 'params', 'flops')] for r in picks])
    assert np.array_equal(np.isfinite(live), np.isfinite(shipped))
    ok = np.isfinite(live)
    assert np.allclose(live[ok], shipped[ok], rtol=1e-9, atol=0)


def test_zero_cost_evolution_reads_the_same_scores_from_the_table(packaged, nb201_csv):
    evaluator = BenchmarkEvaluator(str(nb201_csv), dataset='cifar10')
    options = dict(pool_size=40, seed=0)
    from_table = run_benchmark_search(make_strategy('zc-rea', proxy_table=str(packaged), **options), evaluator, 15, seed=0)
    computed = run_benchmark_search(make_strategy('zc-rea', **options), evaluator, 15, seed=0)
    assert from_table.history == computed.history


def test_demo_compares_the_project_with_nni_and_writes_its_files(packaged, tmp_path, capsys):
    out = tmp_path / 'demo'
    assert main(['demo', '--seeds', '2', '--budget', '30', '--check-proxies', '2', '--out', str(out)]) == 0
    printed = capsys.readouterr().out
    assert 'largest relative difference from the packaged values' in printed
    for name in ('zc-rea', 'alpha-nas', 'rea', 'tpe', 'random'):
        assert f'| {name} |' in printed
    assert 'reached the top-0.1% in a median of' in printed
    summary = json.loads((out / 'summary.json').read_text())
    assert set(summary['strategies']) == {'zc-rea', 'alpha-nas', 'rea', 'tpe', 'random'}
    assert summary['optimum'] == pytest.approx(94.3733) and summary['budget'] == 30
    assert (out / 'best_so_far.png').stat().st_size > 10000
    assert len(list((out / 'runs').glob('*.json'))) == 10
    runs = list(csv.DictReader(open(out / 'runs.csv')))
    table = open_benchmark(str(packaged))
    for r in runs:
        assert float(r['best_accuracy']) == pytest.approx(table.accuracy(r['best_arch'], 'cifar10'))
