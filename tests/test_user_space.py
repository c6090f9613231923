"""A user's own NNI ModelSpace, first class: NAS-Bench-201 rewritten as a plain space (labels edge_a..edge_f,
its own op names and order, ``examples/user_nb201_space.py``) with the NB201 table re-keyed by its labels.

Nothing may recognise it as NAS-Bench-201: every strategy runs through the generic adapter, every lookup
must equal the table, and proxies are computed by building the user's networks.
"""
import csv
import json
import sys

import numpy as np
import pytest
import torch
from nni.mutable import Numerical

from conftest import REPO

sys.path.insert(0, str(REPO / 'examples'))
from user_nb201_space import EDGES, UserNB201Space, arch_str_to_sample, sample_of, write_user_table  # noqa: E402

from nni_rank.benchmarks import ArchNotFound, TableError  # noqa: E402
from nni_rank.benchmarks.label_table import LabelTable  # noqa: E402
from nni_rank.evaluators import BenchmarkEvaluator  # noqa: E402
from nni_rank.experiment import run_benchmark_search  # noqa: E402
from nni_rank.spaces.adapter import ModelSpaceAdapter, adapter_for, load_space  # noqa: E402
from nni_rank.spaces.nb201_adapter import NB201SpaceAdapter  # noqa: E402
from nni_rank.strategies import STRATEGIES, make_strategy  # noqa: E402

OPTIMUM = '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|'  # index 6111
#: small settings so that each strategy runs in seconds; the project's strategies get their proxies computed
OPTIONS = {'zc-rea': {'pool_size': 30}, 'zc-random': {'pool_size': 30},
           'nar': {'init_samples': 6, 'pool_size': 100, 'stats_samples': 100, 'batch_size': 2}}


@pytest.fixture(scope='module')
def user_csv(tmp_path_factory, nb201_csv):
    path = tmp_path_factory.mktemp('user') / 'user_nb201.csv'
    assert write_user_table(str(nb201_csv), str(path)) == 15625
    return path


@pytest.fixture(scope='module')
def accuracy(user_csv):
    """Sample text (edge_a..edge_f in order) -> CIFAR-10 test accuracy, read with the csv module."""
    with open(user_csv, newline='') as f:
        return {json.dumps({k: row[k] for k in EDGES}): float(row['cifar10_test_acc']) for row in csv.DictReader(f)}


@pytest.fixture(scope='module')
def space():
    return UserNB201Space(cells=1)  # one cell per stage: NNI's freeze is what a query costs with a real evaluator


def _text(sample):
    return json.dumps({k: sample[k] for k in EDGES})


def test_no_nb201_detection_fires_on_the_user_space(space):
    adapter = adapter_for(space)
    assert type(adapter) is ModelSpaceAdapter and adapter.labels == tuple(EDGES)
    from nni.nas.hub.pytorch import NasBench201
    assert type(adapter_for(NasBench201())) is NB201SpaceAdapter  # the fast path stays for NNI's own space


def test_table_lookups_equal_the_nb201_table(space, user_csv, nb201_csv):
    table = LabelTable(user_csv, adapter_for(space).choices())
    assert len(table) == 15625 and table.datasets() == ['cifar10', 'cifar100']
    assert table.query(arch_str_to_sample(OPTIMUM), 'cifar10')['test_acc'] == 94.3733
    assert table.top('cifar10', 1)[0][1] == 94.3733
    with open(nb201_csv, newline='') as f:
        rows = list(csv.DictReader(f))[::997]
    for row in rows:
        assert table.accuracy(arch_str_to_sample(row['arch_str']), 'cifar100') == float(row['cifar100_test_acc'])


def test_json_table_and_clear_errors(space, tmp_path):
    choices = adapter_for(space).choices()
    good = {'edge_a': 'conv3x3', 'edge_b': 'zero', 'edge_c': 'identity', 'edge_d': 'avgpool', 'edge_e': 'conv1x1',
            'edge_f': 'conv3x3'}
    path = tmp_path / 't.json'
    path.write_text(json.dumps({json.dumps(good): {'test_acc': 91.5, 'params': 0.2}}))
    table = LabelTable(path, choices)
    assert table.query(good, 'cifar10') == {'test_acc': 91.5, 'params': 0.2}
    with pytest.raises(ArchNotFound, match='edge_a'):
        table.query({**good, 'edge_a': 'zero'}, 'cifar10')
    bad = tmp_path / 'bad.csv'
    bad.write_text('edge_a,edge_b,edge_d,edge_e,edge_f,test_acc\nzero,zero,zero,zero,zero,10\n')
    with pytest.raises(TableError, match=r"bad.csv line 1: no column for label 'edge_c'"):
        LabelTable(bad, choices)
    bad.write_text('edge_a,edge_b,edge_c,edge_d,edge_e,edge_f,test_acc\nzero,zero,zero,zero,zero,conv5x5,10\n')
    with pytest.raises(TableError, match=r"line 2: 'conv5x5' is not a choice of label 'edge_f'"):
        LabelTable(bad, choices)
    bad.write_text('edge_a,edge_b,edge_c,edge_d,edge_e,edge_f,test_acc\nzero,zero,zero,zero,zero,zero,101\n')
    with pytest.raises(TableError, match=r'line 2: test_acc .* outside 0..100'):
        LabelTable(bad, choices)


@pytest.mark.parametrize('name', [s for s in STRATEGIES if s != 'alpha-nas'])
def test_every_strategy_runs_on_the_user_table(name, space, user_csv, accuracy, tmp_path):
    evaluator = BenchmarkEvaluator(user_csv, space=adapter_for(space))
    options = {**OPTIONS.get(name, {}), **({'cache_dir': str(tmp_path)} if name.startswith('zc-') else {})}
    result = run_benchmark_search(make_strategy(name, seed=0, **options), evaluator, 12, seed=0, name=name,
                                  model_space=space)
    assert len(result.history) == 12
    for text, value in result.history:
        assert value == accuracy[text]  # the history names the sample by its labels, and the value is its row
    assert len({text for text, _ in result.history}) == 12


def test_alpha_nas_runs_on_traced_properties(space, user_csv, accuracy):
    evaluator = BenchmarkEvaluator(user_csv, space=adapter_for(space))
    strategy = make_strategy('alpha-nas', seed=0, population_size=4, sample_size=2)
    result = run_benchmark_search(strategy, evaluator, 10, seed=0, name='alpha-nas', model_space=space)
    assert len(result.history) == 10 and len({text for text, _ in result.history}) == 10
    for text, value in result.history:
        assert value == accuracy[text]
    assert len(strategy.state_dict()['population']) == 4


def _lookup(model, table):
    import nni
    nni.report_final_result(table[_text(sample_of(model))])


@pytest.mark.parametrize('name', ['random', 'rea', 'tpe', 'reinforce', 'zc-rea', 'nar'])
def test_functional_evaluator_on_built_models(name, space, accuracy, tmp_path):
    """Each query freezes the user's model and a FunctionalEvaluator looks it up from the built modules."""
    from nni.nas.evaluator import FunctionalEvaluator
    evaluator = FunctionalEvaluator(_lookup, table=accuracy)
    options = {**OPTIONS.get(name, {}), **({'cache_dir': str(tmp_path)} if name == 'zc-rea' else {})}
    result = run_benchmark_search(make_strategy(name, seed=1, **options), evaluator, 8, seed=1, name=name,
                                  model_space=space)
    assert len(result.history) == 8
    assert all(value == accuracy[text] for text, value in result.history)


def test_nas_experiment_with_proxies_on_the_user_space(space, accuracy, tmp_path, monkeypatch):
    """zc-rea and NAR take computed proxies (naswot: data-dependent) on the user's networks; the minibatch is
    read once for both strategies, and scores are cached on disk by sample."""
    from nni.nas.evaluator import FunctionalEvaluator
    from nni.nas.experiment import NasExperiment, NasExperimentConfig
    from nni_rank.proxies import sample_store, store
    reads = []
    real_read = store._read_batch
    monkeypatch.setattr(store, '_BATCHES', {})
    monkeypatch.setattr(store, '_read_batch', lambda *a: reads.append(a) or real_read(*a))
    monkeypatch.setattr(sample_store, '_SHARED', {})
    cache = tmp_path / 'proxies'
    strategies = [make_strategy('zc-rea', seed=0, proxy='naswot', pool_size=6, cache_dir=str(cache)),
                  make_strategy('nar', seed=0, proxies='naswot', proxy_cache=str(cache), warm_up=6, init_samples=4,
                                pool_size=8, stats_samples=8, batch_size=2)]
    for strategy in strategies:
        config = NasExperimentConfig('sequential', 'raw', 'local')
        config.max_trial_number = 6
        exp = NasExperiment(space, FunctionalEvaluator(_lookup, table=accuracy), strategy, config)
        exp.run()
        exp.stop()
        models = list(exp.strategy.list_models())
        assert len(models) == 6 and all(m.metric == accuracy[_text(m.sample)] for m in models)
    assert len(reads) == 1
    (cache_file,) = cache.glob('proxies-*.csv')
    with open(cache_file, newline='') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 6 and all(json.loads(r['sample']).keys() == EDGES.keys() for r in rows)
    # a fresh store reads every score back from disk and builds nothing; the values are the built networks'
    fresh = sample_store.SampleProxyStore(adapter_for(space), ['naswot'], cache_dir=cache)
    samples = [json.loads(r['sample']) for r in rows[:3]]
    assert np.array_equal(fresh.scores(samples)[:, 0], [float(r['naswot']) for r in rows[:3]]) and fresh.built == 0
    from nni_rank.proxies import compute_proxies, proxy_batch
    batch = proxy_batch('digits', 64, 0)[0]
    net = adapter_for(space).network(samples[0], seed=0)
    assert compute_proxies(net, batch, ['naswot'], seed=0, warn=False)['naswot'] == pytest.approx(float(rows[0]['naswot']))


def test_network_is_the_frozen_model(space):
    """The adapter re-creates the space under NNI's model_context: same modules as ``freeze``, seeded weights."""
    sample = arch_str_to_sample(OPTIMUM)
    built, frozen = adapter_for(space).network(sample, seed=3), space.freeze(sample)
    assert [(k, v.shape) for k, v in built.state_dict().items()] == [(k, v.shape) for k, v in frozen.state_dict().items()]
    again = adapter_for(space).network(sample, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(built.state_dict().values(), again.state_dict().values()))
    assert sample_of(built) == sample


def continuous_space():
    from nni.nas.benchmark.space import SlimBenchmarkSpace
    return SlimBenchmarkSpace({'lr': Numerical(0.0, 1.0, label='lr')})


def test_bad_spaces_end_in_one_clear_line():
    continuous = {'lr': Numerical(0.0, 1.0, label='lr')}
    with pytest.raises(ValueError, match="label 'lr' is a Numerical, not a categorical choice"):
        adapter_for(continuous).choices()
    with pytest.raises(ValueError, match="label 'lr'"):
        make_strategy('zc-rea', seed=0)._initialize(continuous_space(), None)
    for spec, message in [('nb202', 'PACKAGE.MODULE:CLASS'), ('no_such_module:Space', 'cannot import no_such_module'),
                          ('json:dumps', 'not an NNI ModelSpace'), ('user_nb201_space:Nope', "has no 'Nope'")]:
        with pytest.raises(ValueError, match=message):
            load_space(spec)
    assert type(load_space('user_nb201_space:UserNB201Space')) is UserNB201Space


SPEC = 'user_nb201_space:UserNB201Space'


def test_cli_search_compare_proxies_on_the_user_space(user_csv, accuracy, tmp_path, monkeypatch, capsys):
    """The whole head-to-head without Python: --space PACKAGE.MODULE:CLASS and the table keyed by its labels."""
    from nni_rank.cli.main import main
    monkeypatch.chdir(REPO / 'examples')  # the user's module is importable from the current folder
    out = tmp_path / 'search.json'
    assert main(['search', '--space', SPEC, '--benchmark', str(user_csv), '--strategy', 'zc-rea', '-o', 'pool_size=20',
                 '-o', f'cache_dir={tmp_path / "cache"}', '--budget', '10', '--json', str(out), '--quiet']) == 0
    result = json.loads(out.read_text())
    assert len(result['history']) == 10 and all(v == accuracy[a] for a, v in result['history'])
    assert list(tmp_path.glob('cache/proxies-*.csv'))  # synflow of the built user networks, cached by sample
    assert main(['compare', '--space', SPEC, '--benchmark', str(user_csv), '--strategies', 'zc-rea,rea',
                 '-o', 'zc-rea:pool_size=20', '--cache-dir', str(tmp_path / 'cache'), '--seeds', '2', '--budget', '15',
                 '--out', str(tmp_path / 'compare'), '--quiet']) == 0
    summary = json.loads((tmp_path / 'compare' / 'summary.json').read_text())
    assert summary['optimum'] == 94.3733 and set(summary['strategies']) == {'zc-rea', 'rea'}
    assert main(['proxies', '--space', SPEC, '--proxies', 'synflow,params', '--sample', '5', '--benchmark',
                 str(user_csv), '--out', str(tmp_path / 'scores.csv'), '--quiet']) == 0
    with open(tmp_path / 'scores.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5 and all(r['sample'] in accuracy and float(r['params']) > 0 for r in rows)
    capsys.readouterr()
    with pytest.raises(SystemExit):  # argparse: one line before any import
        main(['search', '--space', 'nb202'])
    assert 'expected nb201, nb101, PACKAGE.MODULE:CLASS or path/to/file.py:CLASS' in capsys.readouterr().err
    for argv, message in [(['search', '--space', 'json:dumps', '--benchmark', str(user_csv)], 'not an NNI ModelSpace'),
                          (['search', '--space', SPEC, '--benchmark', str(REPO / 'tests' / 'conftest.py')],
                           'a .csv or .json file')]:
        assert main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1


def test_cli_rank_on_the_user_space(user_csv, tmp_path, monkeypatch, capsys):
    """NAR's ranking of a user space from its table alone: the generic encoding still orders NB201 well."""
    from nni_rank.cli.main import main
    monkeypatch.chdir(REPO / 'examples')
    out = tmp_path / 'rank.json'
    assert main(['rank', '--space', SPEC, '--benchmark', str(user_csv), '--train-size', '200', '--test-limit', '2000',
                 '--epochs', '60', '--json', str(out), '--quiet']) == 0
    result = json.loads(out.read_text())
    assert result['train_size'] == 200 and result['test_size'] == 2000
    assert result['kendall'] > 0.5  # one-hot edge ops, no graph features: still a useful ranker


def test_macro_space_example_runs_the_head_to_head(tmp_path):
    """examples/macro_space.py: the issue's MobileNetV2-style space, its table and the comparison, end to end."""
    import macro_space
    summary = macro_space.main(['--out', str(tmp_path), '--seeds', '2', '--budget', '25',
                                '--strategies', 'zc-rea,rea', '--cache-dir', str(tmp_path / 'cache')])
    assert set(summary) == {'zc-rea', 'rea'}
    space = macro_space.MacroSpace()
    assert list(space.simplify()) == [f'layer{i}' for i in range(8)]
    table = LabelTable(tmp_path / 'macro_table.csv', adapter_for(space).choices())
    assert len(table) == 2 * 3 * 2 * 3 * 3 * 2 * 3 * 3  # identity is no candidate where a layer changes shape
    with open(tmp_path / 'compare' / 'runs.csv', newline='') as f:
        for row in csv.DictReader(f):
            assert float(row['best_accuracy']) == table.accuracy(json.loads(row['best_arch']), 'cifar10')


def test_nas_experiment_with_the_table_evaluator(space, user_csv, accuracy):
    """NasExperiment on the user's own ModelSpace with the project's lookup evaluator (nothing is built)."""
    from nni.nas.experiment import NasExperiment, NasExperimentConfig
    config = NasExperimentConfig('sequential', 'raw', 'local')
    config.max_trial_number = 8
    exp = NasExperiment(space, BenchmarkEvaluator(user_csv, space=adapter_for(space)), make_strategy('nar', seed=0),
                        config)
    exp.run()
    exp.stop()
    models = list(exp.strategy.list_models())
    assert len(models) == 8 and all(m.metric == accuracy[_text(m.sample)] for m in models)
