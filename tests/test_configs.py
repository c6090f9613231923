"""Every shipped nnictl config is valid for NNI, names a tuner that exists with arguments it accepts, and runs
a trial command the trial entry understands; the strategy x setting matrix of the README is complete."""
import importlib
import json
import shlex
from pathlib import Path

import pytest
import yaml
from nni.experiment.config import ExperimentConfig

from nni_rank.cli.register import ALGORITHMS
from nni_rank.trial import parse_args

CONFIGS = Path(__file__).resolve().parents[1] / 'config_yaml'
SPACE = json.loads((CONFIGS / 'nb201_search_space.json').read_text())
#: NNI's built-in tuners the configs use -> class
BUILTIN = {'TPE': 'nni.algorithms.hpo.tpe_tuner.TpeTuner', 'Random': 'nni.algorithms.hpo.random_tuner.RandomTuner',
           'Evolution': 'nni.algorithms.hpo.evolution_tuner.EvolutionTuner'}


def _tuner_class(name: str):
    module, cls = (ALGORITHMS[name][0] if name in ALGORITHMS else BUILTIN[name]).rsplit('.', 1)
    return getattr(importlib.import_module(module), cls)


@pytest.mark.parametrize('path', sorted(CONFIGS.glob('*.yml')), ids=lambda p: p.name)
def test_config_is_valid_and_its_tuner_runs(path, tmp_path, monkeypatch):
    raw = yaml.safe_load(path.read_text())
    if raw['trainingService']['platform'] == 'remote':  # NNI checks that the SSH key file exists
        monkeypatch.setenv('HOME', str(tmp_path))
        (tmp_path / '.ssh').mkdir()
        (tmp_path / '.ssh' / 'id_rsa').write_text('a key')
    config = ExperimentConfig.load(str(path)).canonical_copy()  # paths resolved against the config's folder
    config.validate()  # NNI's own checks
    assert Path(config.search_space_file).resolve() == (CONFIGS / 'nb201_search_space.json').resolve()
    assert Path(config.trial_code_directory).resolve() == CONFIGS.parent.resolve()
    # the tuner exists, takes these arguments and works on the search space (a small zero-cost warm-up
    # pool: scoring hundreds of cells is what the real experiment does, not this check)
    cls, class_args = _tuner_class(raw['tuner']['name']), raw['tuner'].get('classArgs', {})
    cls(**class_args)
    tuner = cls(**{**class_args, **({'pool_size': 4} if 'pool_size' in class_args else {})})
    tuner.update_search_space(SPACE)
    params = tuner.generate_parameters(0)
    assert set(SPACE) <= set(params)
    # the trial command is one the trial entry parses
    argv = shlex.split(raw['trialCommand'])
    assert argv[:3] == ['python3', '-m', 'nni_rank.trial'], argv
    args = parse_args(argv[3:])
    assert args.benchmark or args.train


def test_every_strategy_has_a_config_per_setting():
    names = {p.stem for p in CONFIGS.glob('*.yml')}
    for strategy in ('nar', 'zc_rea', 'alpha_nas', 'random', 'evolution', 'tpe', 'reinforce'):
        for setting in ('nb201_benchmark', 'digits_train', 'cifar10_train'):
            assert f'{setting}_{strategy}' in names
    assert 'remote_nb201_zc_rea' in names
