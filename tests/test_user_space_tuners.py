"""The nnictl tuners on a user's own ModelSpace (``classArgs: {space: /abs/path/file.py:CLASS}``) and its lookup trial."""
import csv
import json
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / 'examples'))
from macro_space import write_nnictl_experiment, write_table  # noqa: E402

from nni_rank.proxies import compute_proxies  # noqa: E402
from nni_rank.spaces.adapter import adapter_for  # noqa: E402
from nni_rank.tuners import AlphaNasTuner, NARTuner, ZcREATuner  # noqa: E402

SPACE = f'{REPO / "examples" / "macro_space.py"}:MacroSpace'


@pytest.fixture(scope='module')
def adapter():
    return adapter_for(SPACE)


@pytest.fixture(scope='module')
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp('macro') / 'macro_table.csv'
    write_table(path)
    with open(path, newline='') as f:
        rows = {json.dumps({f'layer{i}': r[f'layer{i}'] for i in range(8)}, sort_keys=True): float(r['test_acc'])
                for r in csv.DictReader(f)}
    return path, rows


def _run(tuner, rows, n):
    params = []
    for i in range(n):
        p = tuner.generate_parameters(i)
        tuner.receive_trial_result(i, p, rows[json.dumps(p, sort_keys=True)])
        params.append(p)
    return params


def test_zc_rea_tuner_scores_the_users_networks(adapter, table):
    tuner = ZcREATuner(space=SPACE, proxy='params', pool_size=30, population_size=4, sample_size=2, seed=0)
    tuner.update_search_space(adapter.search_space())
    params = _run(tuner, table[1], 8)
    assert len({json.dumps(p, sort_keys=True) for p in params}) == 8
    size = [compute_proxies(adapter.network(p), None, ['params'])['params'] for p in params[:4]]
    assert size == sorted(size, reverse=True)  # warm-up: the pool's largest networks first
    assert size[0] >= max(compute_proxies(adapter.network(s), None, ['params'])['params']
                          for s in adapter.distinct_samples(10, 1)) * 0.9


def test_alpha_nas_and_nar_tuners_search_the_users_space(adapter, table):
    alpha = AlphaNasTuner(space=SPACE, population_size=4, sample_size=2, seed=0)
    alpha.update_search_space(adapter.search_space())
    proposed = _run(alpha, table[1], 8)
    assert len({json.dumps(p, sort_keys=True) for p in proposed}) == 8
    again = AlphaNasTuner(space=SPACE, population_size=4, sample_size=2, seed=0)
    again.import_data([{'parameter': p, 'value': table[1][json.dumps(p, sort_keys=True)]} for p in proposed])
    again.update_search_space(adapter.search_space())  # records imported first are replayed
    assert [s for s, _ in again.search.population] == [s for s, _ in alpha.search.population]
    nar = NARTuner(space=SPACE, proxies='params', init_samples=4, batch_size=2, pool_size=40, warm_up=20, seed=0)
    nar.update_search_space(adapter.search_space())
    assert len({json.dumps(p, sort_keys=True) for p in _run(nar, table[1], 6)}) == 6


def test_search_space_and_space_must_agree(adapter):
    space = adapter.search_space()
    for bad, message in (({**space, 'extra': {'_type': 'choice', '_value': [1]}}, "'extra' is not a label"),
                         ({k: v for k, v in space.items() if k != 'layer3'}, "lacks labels \\['layer3'\\]"),
                         ({**space, 'layer0': {'_type': 'choice', '_value': ['conv9']}}, "values \\['conv9'\\]")):
        with pytest.raises(ValueError, match=message):
            ZcREATuner(space=SPACE).update_search_space(bad)
    with pytest.raises(ValueError, match='absolute path'):
        ZcREATuner(space='examples/macro_space.py:MacroSpace')
    with pytest.raises(ValueError, match='is not a file'):
        AlphaNasTuner(space='/nowhere/space.py:Space')
    with pytest.raises(ValueError, match='NAS-Bench-201.*classArg space'):
        ZcREATuner().update_search_space(space)


def test_nnictl_experiment_on_the_users_space(adapter, table, nni_config_dir, tmp_path):
    from nni.tools.package_utils import AlgoMeta, register_algo_meta

    from nni_rank.cli.register import ALGORITHMS, VALIDATORS
    from nnictl_helpers import rest_get, running_experiment, wait_for_trials
    register_algo_meta(AlgoMeta.load({'builtinName': 'ZcREA', 'className': ALGORITHMS['ZcREA'][0],
                                      'classArgsValidator': VALIDATORS['ZcREA']}, 'tuner'))
    config = write_nnictl_experiment(tmp_path / 'nnictl', table[0], trials=4, class_args={
        'proxy': 'params', 'pool_size': 20, 'population_size': 3, 'sample_size': 2})
    text = config.read_text() + f'experimentWorkingDirectory: {tmp_path / "experiments"}\n'
    with running_experiment(text, tmp_path) as (port, _):
        status, trials = wait_for_trials(port, 4, seconds=240, poll=2)
        assert status in ('DONE', 'NO_MORE_TRIAL'), rest_get(port, 'check-status')
        assert [t['status'] for t in trials] == ['SUCCEEDED'] * 4, [t.get('stderrPath') for t in trials]
        for trial in trials:
            params = json.loads(trial['hyperParameters'][0])['parameters']
            final = json.loads(json.loads(trial['finalMetricData'][0]['data']))
            assert final['default'] == table[1][json.dumps(params, sort_keys=True)]
            assert final['params'] == pytest.approx(compute_proxies(adapter.network(params), None, ['params'])['params'])


def test_training_evaluator_trains_the_users_network(adapter, shared_data, monkeypatch):
    """The project's TrainingEvaluator on a user space: the user's network is trained; params/flops are its own."""
    import nni

    from nni_rank.evaluators import TrainingEvaluator
    reported = {}
    monkeypatch.setattr(nni, 'report_final_result', lambda r: reported.update(r))
    monkeypatch.setattr(nni, 'report_intermediate_result', lambda r: None)
    sample = adapter.distinct_samples(1, 3)[0]
    evaluator = TrainingEvaluator(data=str(shared_data / 'cifar10_train_10k.bin'), epochs=1, train_limit=256,
                                  test_limit=128, space=SPACE)
    acc = evaluator.evaluate(sample)
    assert 0.0 <= acc <= 100.0 and reported['default'] == acc
    own = compute_proxies(adapter.network(sample), None, ['params', 'flops'], input_shape=(3, 32, 32))
    assert reported['params'] == pytest.approx(own['params']) and reported['flops'] == pytest.approx(own['flops'])
    with pytest.raises(ValueError, match='NAS-Bench-201 size options'):
        TrainingEvaluator(data='digits', epochs=1, channels=16, space=SPACE).evaluate(sample)
