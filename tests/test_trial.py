"""The nnictl trial entry, run by hand (``--params``) so its evaluation paths are checked without nnictl."""
import json

from nni_rank.benchmarks import open_benchmark
from nni_rank.trial import main

OPT = {'0_1': 'conv_3x3', '0_2': 'conv_3x3', '1_2': 'conv_3x3', '0_3': 'skip_connect', '1_3': 'conv_3x3',
       '2_3': 'conv_1x1'}


def test_lookup_trial(nb201_csv, capsys):
    assert main(['--benchmark', str(nb201_csv), '--params', json.dumps(OPT)]) == 0
    assert '-> 94.3733' in capsys.readouterr().out
    assert main(['--benchmark', str(nb201_csv), '--dataset', 'cifar100', '--params', json.dumps(OPT)]) == 0
    assert f"-> {open_benchmark(nb201_csv).accuracy(OPT, 'cifar100')}" in capsys.readouterr().out


def test_training_trial_on_embedded_digits(capsys):
    assert main(['--train', '--epochs', '2', '--channels', '8', '--params', json.dumps(OPT)]) == 0
    acc = float(capsys.readouterr().out.rsplit('->', 1)[1])
    assert 30.0 < acc <= 100.0  # ten classes: a trained network beats chance (10%) by far


def test_bad_trial_input_fails_clearly(nb201_csv, capsys):
    assert main(['--benchmark', str(nb201_csv), '--params', '{"0_1": "conv_5x5"}']) == 1
    assert 'lacks NAS-Bench-201 edges' in capsys.readouterr().err
    assert main(['--params', json.dumps(OPT)]) == 1
    assert 'give --benchmark' in capsys.readouterr().err
