"""Registered tuners: ``nni-rank register``/``unregister`` into a temporary NNI config dir, the ZcREA tuner's
protocol (warm-up, move proposal, failures, resume, exhaustion), and real nnictl experiments with ``name: ZcREA`` and
``name: Reinforce``."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nni
import pytest

from nni_rank.benchmarks import open_benchmark
from nni_rank.cli.main import main
from nni_rank.cli.register import VALIDATORS
from nni_rank.tuners import ZcREATuner
from nnictl_helpers import rest_get, running_experiment, shipped_config, wait_for_trials


REPO = Path(__file__).resolve().parents[1]
SPACE = json.loads((REPO / 'config_yaml' / 'nb201_search_space.json').read_text())


def _params_score(params):
    from nni_rank.proxies import ProxyStore
    return ProxyStore(['params']).scores([params])[0, 0]


def test_register_and_unregister(nni_config_dir, capsys):
    assert main(['register']) == 0
    text = (nni_config_dir / 'registered_algorithms.yml').read_text()
    for name, cls in (('NAR', 'NARTuner'), ('ZcREA', 'ZcREATuner'), ('AlphaNAS', 'AlphaNasTuner'),
                      ('Reinforce', 'ReinforceTuner')):
        assert f'builtinName: {name}' in text and cls in text
        assert f'classArgsValidator: {VALIDATORS[name]}' in text
    listed = subprocess.run([sys.executable, '-m', 'nni.tools.nnictl.nnictl', 'algo', 'list'], capture_output=True,
                            text=True, timeout=120, env=os.environ.copy()).stdout
    assert re.search(r'\|\s*ZcREA\s*\|\s*tuner\s*\|\s*user', listed), listed
    assert main(['unregister', 'NAR']) == 0
    text = (nni_config_dir / 'registered_algorithms.yml').read_text()
    assert 'builtinName: NAR' not in text and 'builtinName: ZcREA' in text
    assert main(['unregister']) == 0 and 'NAR is not registered' in capsys.readouterr().out
    assert 'ZcREA' not in (nni_config_dir / 'registered_algorithms.yml').read_text()


def test_register_errors_are_clear(nni_config_dir, capsys):
    assert main(['register', 'Foo']) == 1 and 'available: NAR, ZcREA, AlphaNAS' in capsys.readouterr().err
    assert main(['register', '--nnictl', 'false']) == 1 and 'failed (exit 1)' in capsys.readouterr().err
    assert main(['register', 'ZcREA', '--print-meta']) == 0
    out = capsys.readouterr().out
    assert 'className: nni_rank.tuners.zc_rea_tuner.ZcREATuner' in out
    assert 'classArgsValidator: nni_rank.tuners.zc_rea_tuner.ZcREAClassArgsValidator' in out


def _feed(tuner, table, n, start=0):
    """Ask for ``n`` parameter sets and report their table accuracy; returns the parameter sets."""
    out = []
    for pid in range(start, start + n):
        params = tuner.generate_parameters(pid)
        tuner.receive_trial_result(pid, params, {'default': table.accuracy(params, 'cifar10')})
        out.append(params)
    return out


def test_zc_rea_tuner_protocol(nb201_csv):
    table = open_benchmark(str(nb201_csv))
    tuner = ZcREATuner(proxy='params', pool_size=40, population_size=5, sample_size=3, random_move_prob=0.0, seed=3)
    with pytest.raises(RuntimeError, match='update_search_space'):
        tuner.generate_parameters(0)
    tuner.update_search_space(SPACE)
    warm = _feed(tuner, table, 5)
    scores = [_params_score(p) for p in warm]  # warm-up: the proxy's best of the pool, best first
    assert scores == sorted(scores, reverse=True)
    assert min(scores) >= max(_params_score(p) for p in tuner._warm)
    for pid in range(5, 12):  # move proposal: a one-edit child of a population member, never a repeat
        params = tuner.generate_parameters(pid)
        parents = [p for p, _ in tuner.population if sum(p[k] != params[k] for k in p) == 1]
        assert parents, params
        tuner.receive_trial_result(pid, params, {'default': table.accuracy(params, 'cifar10')})
    seen = [tuple(sorted(p.items())) for p, _ in tuner.population]
    assert len(set(seen)) == len(seen) == 5
    # a failed trial is never proposed again and stays out of the population
    failed = tuner.generate_parameters(99)
    tuner.trial_end(99, False)
    later = _feed(tuner, table, 30, start=100)
    assert failed not in later and all(p != failed for p, _ in tuner.population)
    assert len(tuner.history) == 12 + 1 + 30


def test_zc_rea_tuner_learns_proxy_weights_from_the_results(nb201_csv):
    table = open_benchmark(str(nb201_csv))
    options = dict(proxy='params', pool_size=40, population_size=5, sample_size=3, seed=3)
    plain, learned = ZcREATuner(**options), ZcREATuner(learn='params,flops,synflow', **options)
    for tuner in (plain, learned):
        tuner.update_search_space(SPACE)
    first, second = _feed(plain, table, 30), _feed(learned, table, 30)
    assert second[:5] == first[:5]  # the warm-up: params order before any result
    assert second != first and learned.guide.learning and not plain.guide.learning
    assert len(learned.guide.state_dict()['labels']) == 30


def test_zc_rea_tuner_resume_and_exhaustion(nb201_csv):
    table = open_benchmark(str(nb201_csv))
    small = {k: {'_type': 'choice', '_value': v['_value'][2:4]} for k, v in SPACE.items()}  # 2^6 = 64 cells
    first = ZcREATuner(proxy='params', pool_size=8, population_size=4, sample_size=2, seed=0)
    first.update_search_space(small)
    done = _feed(first, table, 20)
    records = [{'parameter': p, 'value': table.accuracy(p, 'cifar10'), 'trialJobId': str(i)} for i, p in enumerate(done)]
    resumed = ZcREATuner(proxy='params', pool_size=8, population_size=4, sample_size=2, seed=0)
    resumed.import_data(records)  # nnictl resume may import before the search space arrives
    resumed.update_search_space(small)
    assert list(resumed.population) == list(first.population)
    rest = _feed(resumed, table, 44, start=1000)  # ids restart on resume: state is keyed on parameters
    assert len({tuple(sorted(p.items())) for p in done + rest}) == 64
    with pytest.raises(nni.NoMoreTrialError):
        resumed.generate_parameters(5000)
    capped = ZcREATuner(proxy='params', pool_size=8, max_trials=2, seed=0)
    capped.update_search_space(small)
    _feed(capped, table, 2)
    with pytest.raises(nni.NoMoreTrialError, match='max_trials'):
        capped.generate_parameters(2)


def test_zc_rea_tuner_refuses_other_spaces():
    with pytest.raises(ValueError, match='pool_size'):
        ZcREATuner(pool_size=-1)
    tuner = ZcREATuner()
    with pytest.raises(ValueError, match='NAS-Bench-201'):
        tuner.update_search_space({'lr': {'_type': 'uniform', '_value': [0.1, 1]}})
    with pytest.raises(ValueError, match='six NAS-Bench-201 edges'):
        tuner.update_search_space({k: v for k, v in list(SPACE.items())[:5]})



@pytest.mark.parametrize('name, config_file, class_args, warm', [
    ('ZcREA', 'nb201_benchmark_zc_rea.yml',
     {'optimize_mode': 'maximize', 'seed': 0, 'pool_size': 6, 'population_size': 2, 'sample_size': 2}, 2),
    ('Reinforce', 'nb201_benchmark_reinforce.yml', {'optimize_mode': 'maximize', 'seed': 0}, 1),
])
def test_nnictl_experiment_with_registered_tuner(name, config_file, class_args, warm, nni_config_dir, nb201_csv,
                                                 tmp_path):
    from nni.tools.package_utils import AlgoMeta, register_algo_meta
    from nni.tools.package_utils.config_manager import get_algo_meta

    from nni_rank.cli.register import ALGORITHMS
    # the same entry `nni-rank register NAME` writes (tested above), without nnictl's slow start-up
    register_algo_meta(AlgoMeta.load({'builtinName': name, 'className': ALGORITHMS[name][0],
                                      'classArgsValidator': VALIDATORS[name]}, 'tuner'))
    assert get_algo_meta(name).class_name == ALGORITHMS[name][0]
    config = shipped_config(config_file, nb201_csv, 4, tmp_path, class_args)
    assert f'name: {name}' in config and 'maxTrialNumber: 4' in config
    with running_experiment(config, tmp_path) as (port, _):
        status, trials = wait_for_trials(port, 4, seconds=150, poll=2)
        assert status in ('DONE', 'NO_MORE_TRIAL'), rest_get(port, 'check-status')
        assert [t['status'] for t in trials] == ['SUCCEEDED'] * 4
        table = open_benchmark(str(nb201_csv))
        trials.sort(key=lambda t: t['startTime'])
        params = [json.loads(t['hyperParameters'][0])['parameters'] for t in trials]
        for p, trial in zip(params, trials):
            assert json.loads(json.loads(trial['finalMetricData'][0]['data']))['default'] == table.accuracy(p, 'cifar10')
        # the dispatcher ran our tuner: the same class with the same arguments proposes the same first
        # parameters (before any result comes back)
        module, cls = ALGORITHMS[name][0].rsplit('.', 1)
        local = getattr(__import__(module, fromlist=[cls]), cls)(**class_args)
        local.update_search_space(SPACE)
        assert params[:warm] == [local.generate_parameters(i) for i in range(warm)]
        assert len({tuple(sorted(p.items())) for p in params}) == 4
