"""The registered tuners' classArgs validators (one message for nnictl's validator, the tuner and
``check_config``), light tuner imports (no torch, no gym), the ``threads`` classArg, and what a real
``nnictl create`` with a bad classArg does."""
import inspect
import json
import subprocess
import sys
import time
from importlib import import_module
from pathlib import Path

import pytest
import torch
import yaml

from nni_rank.cli.register import ALGORITHMS, VALIDATORS, check_class_args, check_config
from nnictl_helpers import rest_get, running_experiment, shipped_config

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / 'config_yaml'
TUNER_MODULES = sorted({ALGORITHMS[name][0].rsplit('.', 1)[0] for name in ALGORITHMS})


def _tuner(name: str):
    module, cls = ALGORITHMS[name][0].rsplit('.', 1)
    return getattr(import_module(module), cls)


def _validator(name: str):
    module, cls = VALIDATORS[name].rsplit('.', 1)
    return getattr(import_module(module), cls)()


BAD = [  # (tuner, classArgs, the tuner's message)
    ('NAR', {'proxies': 'synflw'}, "NARTuner: classArg proxies: unknown proxy 'synflw'; available: grad_norm"),
    ('ZcREA', {'proxy': 'synflw'}, "ZcREATuner: classArg proxy: unknown proxy 'synflw'"),
    ('ZcREA', {'proxy': 'synflow,naswot', 'data': '/no/such/cifar'},
     "ZcREATuner: classArg data must be 'digits' or an existing CIFAR path"),
    ('AlphaNAS', {'init': 'foo'}, "AlphaNasTuner: classArg init must be 'abstract' or 'random', got 'foo'"),
    ('AlphaNAS', {'population_size': 4, 'sample_size': 5},
     r'AlphaNasTuner: classArg sample_size must be <= population_size \(4\), got 5'),
    ('ZcREA', {'population_size': 4, 'sample_size': 5},
     r'ZcREATuner: classArg sample_size must be <= population_size \(4\), got 5'),
    ('ZcREA', {'popsize': 4}, "ZcREATuner: unknown classArgs 'popsize'; it takes optimize_mode, population_size"),
    ('NAR', {'seed': 0, 'pool_sise': 10}, "NARTuner: unknown classArgs 'pool_sise'"),
    ('Reinforce', {'learning_rate': 0.1}, "ReinforceTuner: unknown classArgs 'learning_rate'"),
    ('AlphaNAS', {'population': 10}, "AlphaNasTuner: unknown classArgs 'population'"),
    ('ZcREA', {'pool_size': -1}, 'ZcREATuner: classArg pool_size must be an integer >= 0, got -1'),
    ('NAR', {'batch_size': -2}, 'NARTuner: classArg batch_size must be an integer >= 1, got -2'),
    ('NAR', {'init_samples': 1}, 'NARTuner: classArg init_samples must be an integer >= 2 or null, got 1'),
    ('AlphaNAS', {'population_size': -3}, 'AlphaNasTuner: classArg population_size must be an integer >= 1, got -3'),
    ('Reinforce', {'max_trials': 0}, 'ReinforceTuner: classArg max_trials must be an integer >= 1 or null, got 0'),
    ('NAR', {'optimize_mode': 'max'}, "NARTuner: classArg optimize_mode must be 'maximize' or 'minimize', got 'max'"),
    ('ZcREA', {'optimize_mode': 'Maximize'}, "ZcREATuner: classArg optimize_mode must be 'maximize' or 'minimize'"),
    ('AlphaNAS', {'optimize_mode': None}, "AlphaNasTuner: classArg optimize_mode must be 'maximize' or 'minimize'"),
    ('Reinforce', {'optimize_mode': 'min'}, "ReinforceTuner: classArg optimize_mode must be 'maximize' or 'minimize'"),
    ('Reinforce', {'lr': '1e-3'}, r"ReinforceTuner: classArg lr must be a number > 0, got '1e-3' \(YAML reads"),
    ('Reinforce', {'baseline_momentum': 1.0}, 'ReinforceTuner: classArg baseline_momentum must be a number >= 0 and < 1'),
    ('ZcREA', {'random_move_prob': 2}, 'ZcREATuner: classArg random_move_prob must be a number >= 0 and <= 1, got 2'),
    ('NAR', {'num_tiers': 1}, 'NARTuner: classArg num_tiers must be an integer >= 2, got 1'),
    ('NAR', {'warm_up': 100}, 'NARTuner: classArgs proxy_table and warm_up need proxies'),
    ('NAR', {'proxies': 'synflow', 'proxy_table': '/no/such.csv'}, 'NARTuner: classArg proxy_table: /no/such.csv is not a file'),
    ('NAR', {'report_prediction': 'yes'}, "NARTuner: classArg report_prediction must be true or false, got 'yes'"),
    ('ZcREA', {'threads': 0}, 'ZcREATuner: classArg threads must be an integer >= 1 or null, got 0'),
    ('ZcREA', {'learn': 'synflow,parms'}, "ZcREATuner: classArg learn: unknown proxy 'parms'"),
    ('ZcREA', {'learn_after': 1}, 'ZcREATuner: classArg learn_after must be an integer >= 2, got 1'),
    ('ZcREA', {'learn_alpha': 0}, 'ZcREATuner: classArg learn_alpha must be a number > 0, got 0'),
    ('Reinforce', {'seed': 1.5}, 'ReinforceTuner: classArg seed must be an integer or null, got 1.5'),
    ('AlphaNAS', {'max_changes': 0}, 'AlphaNasTuner: classArg max_changes must be an integer >= 1 or null, got 0'),
]


@pytest.mark.parametrize('name, class_args, message', BAD, ids=[f'{b[0]}-{"-".join(b[1])}' for b in BAD])
def test_validator_and_tuner_refuse_with_the_same_message(name, class_args, message):
    with pytest.raises(ValueError, match=message) as by_validator:
        _validator(name).validate_class_args(**class_args)
    assert '\n' not in str(by_validator.value)
    with pytest.raises(ValueError) as by_check:
        check_class_args(name, class_args)
    assert str(by_check.value) == str(by_validator.value)
    tuner = _tuner(name)
    if set(class_args) <= set(inspect.signature(tuner).parameters):  # (unknown keys: Python's TypeError)
        with pytest.raises(ValueError) as by_tuner:
            tuner(**class_args)
        assert str(by_tuner.value) == str(by_validator.value)


def test_proxy_names_and_tables_accepted(nb201_csv, tmp_path):
    check_class_args('NAR', {'proxies': 'synflow, nwot', 'warm_up': 10})  # aliases as the proxy registry has them
    check_class_args('NAR', {'proxies': ['synflow', 'naswot']})
    check_class_args('ZcREA', {'proxy': 'synflow,params', 'data': str(tmp_path)})
    table = tmp_path / 'proxies.csv'
    table.write_text('index,arch_str,synflow,nwot\n')
    check_class_args('NAR', {'proxies': 'synflow,naswot', 'proxy_table': str(table)})  # naswot -> column nwot
    with pytest.raises(ValueError, match=r"classArg proxies: 'snip' not columns of"):
        check_class_args('NAR', {'proxies': 'synflow,snip', 'proxy_table': str(table)})
    check_class_args('TPE', {'anything': 1})  # not ours: nothing to check


@pytest.mark.parametrize('path', sorted(CONFIGS.glob('*.yml')), ids=lambda p: p.name)
def test_every_shipped_config_passes(path, tmp_path, monkeypatch):
    raw = yaml.safe_load(path.read_text())
    tuner = raw['tuner']
    if raw['trainingService']['platform'] == 'remote':  # NNI checks that the SSH key file exists
        monkeypatch.setenv('HOME', str(tmp_path))
        (tmp_path / '.ssh').mkdir()
        (tmp_path / '.ssh' / 'id_rsa').write_text('a key')
    check_config(path)
    if tuner['name'] in VALIDATORS:
        _validator(tuner['name']).validate_class_args(**tuner.get('classArgs', {}))


def test_imports_are_light():
    """``import nni_rank``, each registered tuner and its validator import neither torch nor gym."""
    code = ('import sys, nni_rank; ' + '; '.join(f'import {m}' for m in TUNER_MODULES) +
            '; from nni_rank.cli.register import VALIDATORS; import nni_rank.tuners.args; '
            "print(json.dumps(sorted(m for m in ('torch', 'gym', 'tianshou', 'nni.nas') if m in sys.modules)))")
    out = subprocess.run([sys.executable, '-c', 'import json; ' + code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == []


def test_no_gym_banner():
    """NNI's strategy package imports gym; ``import nni_rank`` keeps its 'unmaintained' banner quiet."""
    out = subprocess.run([sys.executable, '-c', 'import nni_rank, nni.nas.strategy, sys; assert "gym" in sys.modules'],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert 'Gym has been unmaintained' not in out.stderr


def test_threads_class_arg():
    space = json.loads((CONFIGS / 'nb201_search_space.json').read_text())
    before = torch.get_num_threads()
    try:
        _tuner('Reinforce')(threads=2, seed=0).update_search_space(space)
        assert torch.get_num_threads() == 2
        _tuner('Reinforce')(seed=0).update_search_space(space)  # default: one thread
        assert torch.get_num_threads() == 1
        _tuner('Reinforce')(threads=None, seed=0).update_search_space(space)  # None: left alone
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_registered_meta_names_validators(tmp_path, monkeypatch):
    """``nni-rank register`` writes each tuner's validator; nnictl imports it at ``algo register``."""
    from nni_rank.cli.main import main
    monkeypatch.setenv('NNI_CONFIG_DIR', str(tmp_path / 'nni-config'))
    assert main(['register']) == 0
    registered = yaml.safe_load((tmp_path / 'nni-config' / 'registered_algorithms.yml').read_text())['tuners']
    assert {t['builtinName']: t['classArgsValidator'] for t in registered} == VALIDATORS
    from nni.tools.package_utils.tuner_factory import create_validator_instance
    with pytest.raises(ValueError, match="unknown proxy 'synflw'"):
        create_validator_instance('tuners', 'ZcREA').validate_class_args(proxy='synflw')


def test_nnictl_create_with_bad_class_arg(tmp_path, monkeypatch, nb201_csv):
    """A real ``nnictl create`` with a registered tuner and ``proxy: synflw``.

    NNI 3.0's ``nnictl create`` does not run registered validators for v2 configs (only its legacy v1
    schema does), so the create itself succeeds; ``check_config`` refuses the config beforehand, and the
    dispatcher fails at once with the tuner's message (not after warming up, not RUNNING forever).
    """
    from nni.tools.package_utils import AlgoMeta, register_algo_meta
    monkeypatch.setenv('NNI_CONFIG_DIR', str(tmp_path / 'nni-config'))
    register_algo_meta(AlgoMeta.load({'builtinName': 'ZcREA', 'className': ALGORITHMS['ZcREA'][0],
                                      'classArgsValidator': VALIDATORS['ZcREA']}, 'tuner'))
    config = shipped_config('nb201_benchmark_zc_rea.yml', nb201_csv, 2, tmp_path,
                            {'optimize_mode': 'maximize', 'seed': 0, 'proxy': 'synflw'})
    (tmp_path / 'bad.yml').write_text(config)
    message = "ZcREATuner: classArg proxy: unknown proxy 'synflw'"
    with pytest.raises(ValueError, match=message):
        check_config(tmp_path / 'bad.yml')
    with running_experiment(config, tmp_path, 'bad') as (port, exp_id):
        log = tmp_path / 'experiments' / exp_id / 'log' / 'dispatcher.log'
        deadline = time.time() + 60
        while time.time() < deadline and message not in (log.read_text() if log.exists() else ''):
            time.sleep(0.5)
        assert message in log.read_text()
        while time.time() < deadline and rest_get(port, 'check-status')['status'] != 'ERROR':
            time.sleep(1)
        assert rest_get(port, 'check-status')['status'] == 'ERROR'
        assert rest_get(port, 'trial-jobs') == []
