"""The CLI's own guard rails: ranges checked before any work, outputs checked before any work, atomic
writes, Ctrl-C ends in one line and keeps finished runs, and ``compare`` resumes from them."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from nni_rank.cli.main import main
from nni_rank.experiment import compare as compare_module
from nni_rank.experiment.compare import run_comparison
from nni_rank.files import write_json


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert '\n' not in err, err
    return err


@pytest.mark.parametrize('argv, message', [
    (['search', '--budget', '0'], 'argument --budget: must be >= 1, got 0'),
    (['search', '--budget', '-3'], 'argument --budget: must be >= 1, got -3'),
    (['search', '--seed', '-1'], 'argument --seed: must be >= 0, got -1'),
    (['compare', '--benchmark', 'x.csv', '--seeds', '0'], 'argument --seeds: must be >= 1, got 0'),
    (['compare', '--benchmark', 'x.csv', '--budget', 'ten'], "argument --budget: expected an integer, got 'ten'"),
    (['proxies', '--sample', '0'], 'argument --sample: must be >= 1, got 0'),
    (['supernet', '--lr', '0'], 'argument --lr: must be in (0, inf], got 0'),
    (['supernet', '--lr', 'nan'], 'argument --lr: must be in (0, inf], got nan'),
    (['rank', '--benchmark', 'x.csv', '--tiers', '1'], 'argument --tiers: must be >= 2, got 1'),
    (['demo', '--threads', '0'], 'argument --threads: must be >= 1, got 0'),
])
def test_out_of_range_options_are_refused_before_any_work(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert _error_line(capsys) == f'nni-rank {argv[0]}: error: {message} (see nni-rank {argv[0]} -h)'


def test_a_folder_given_as_output_file_fails_before_the_search(nb201_csv, tmp_path, capsys, monkeypatch):
    ran = []
    monkeypatch.setattr('nni_rank.cli.search.run_benchmark_search', lambda *a, **k: ran.append(1))
    code = main(['search', '--benchmark', str(nb201_csv), '--budget', '5', '--json', str(tmp_path)])
    assert code == 1 and not ran
    assert _error_line(capsys) == f'nni-rank search: error: --json file {tmp_path} is a folder; give a file name'
    (tmp_path / 'file').write_text('x')
    assert main(['compare', '--benchmark', str(nb201_csv), '--out', str(tmp_path / 'file' / 'sub')]) == 1
    assert 'is a file' in _error_line(capsys)
    assert main(['proxies', '--sample', '2', '--out', str(tmp_path)]) == 1
    assert 'is a folder' in _error_line(capsys)


@pytest.mark.skipif(os.geteuid() == 0, reason='root writes everywhere')
def test_an_unwritable_output_folder_fails_before_the_search(nb201_csv, tmp_path, capsys):
    locked = tmp_path / 'locked'
    locked.mkdir(mode=0o500)
    assert main(['search', '--benchmark', str(nb201_csv), '--budget', '5', '--json', str(locked / 'a.json')]) == 1
    assert 'is not writable' in _error_line(capsys)


def test_writes_are_atomic(tmp_path):
    target = tmp_path / 'out.json'
    write_json(target, {'a': 1})
    with pytest.raises(TypeError):
        write_json(target, {'a': object()})  # fails half-way through serialising
    assert json.loads(target.read_text()) == {'a': 1}  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out.json']  # no temporary left behind
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_an_interrupted_comparison_keeps_finished_runs_and_resumes(nb201_csv, tmp_path, monkeypatch):
    runs = tmp_path / 'runs'
    real = compare_module.run_benchmark_search
    calls, interrupt_at = [], [('rea', 2)]

    def interrupted_at_seed_2(strategy, evaluator, budget, seed=None, name=None, **kwargs):
        calls.append((name, seed))
        if (name, seed) in interrupt_at:
            raise KeyboardInterrupt
        return real(strategy, evaluator, budget, seed=seed, name=name, **kwargs)

    monkeypatch.setattr(compare_module, 'run_benchmark_search', interrupted_at_seed_2)
    with pytest.raises(KeyboardInterrupt):
        run_comparison(str(nb201_csv), ['random', 'rea'], [0, 1, 2], 40, runs_dir=runs, log=None)
    kept = sorted(p.name for p in runs.iterdir())
    assert kept == ['random-seed0.json', 'random-seed1.json', 'random-seed2.json', 'rea-seed0.json', 'rea-seed1.json']

    calls.clear()
    interrupt_at.clear()
    resumed = run_comparison(str(nb201_csv), ['random', 'rea'], [0, 1, 2], 40, runs_dir=runs, log=None)
    assert calls == [('rea', 2)]  # only the unfinished run ran again
    monkeypatch.setattr(compare_module, 'run_benchmark_search', real)
    fresh = run_comparison(str(nb201_csv), ['random', 'rea'], [0, 1, 2], 40, log=None)
    for name in ('random', 'rea'):
        assert [r.history for r in resumed.runs[name].results] == [r.history for r in fresh.runs[name].results]
    assert resumed.summary()['rea']['to_top0.1%'] == fresh.summary()['rea']['to_top0.1%']

    calls.clear()  # other settings: stored runs are not reused
    monkeypatch.setattr(compare_module, 'run_benchmark_search', interrupted_at_seed_2)
    run_comparison(str(nb201_csv), ['random'], [0], 41, runs_dir=runs, log=None)
    assert calls == [('random', 0)]
    (runs / 'random-seed1.json').write_text('{"settings": {"budget": 4')  # torn file: run again
    calls.clear()
    run_comparison(str(nb201_csv), ['random'], [1], 40, runs_dir=runs, log=None)
    assert calls == [('random', 1)]


def test_ctrl_c_in_compare_is_one_line_and_a_rerun_resumes(nb201_csv, tmp_path):
    out = tmp_path / 'cmp'
    cmd = [sys.executable, '-m', 'nni_rank.cli.main', 'compare', '--benchmark', str(nb201_csv),
           '--strategies', 'random', '--seeds', '400', '--budget', '150', '--out', str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while time.time() < deadline and len(list((out / 'runs').glob('*.json'))) < 3:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == (f'nni-rank compare: interrupted; finished runs are kept in {out / "runs"}; '
                                            'run the same command again to resume')
    assert 'Traceback' not in err
    kept = len(list((out / 'runs').glob('*.json')))
    assert 3 <= kept < 400
    cmd[cmd.index('400')] = str(kept)  # the finished seeds only: everything is read back
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert f'{kept} read back from' in done.stdout
    rows = list(csv.DictReader(open(out / 'runs.csv')))
    assert len(rows) == kept


def test_check_refuses_a_config_with_a_bad_tuner_argument(tmp_path, capsys):
    """NNI 3.0's nnictl create ignores registered validators for v2 configs; nni-rank check runs them."""
    from pathlib import Path
    shipped = Path(__file__).resolve().parents[1] / 'config_yaml'
    assert main(['check', str(shipped / 'nb201_benchmark_nar.yml'), str(shipped / 'nb201_benchmark_alpha_nas.yml')]) == 0
    text = (shipped / 'nb201_benchmark_nar.yml').read_text()
    assert 'seed: 0' in text
    bad = shipped / f'.check-test-{os.getpid()}.yml'  # beside the shipped one: its search space path resolves
    try:
        bad.write_text(text.replace('seed: 0', 'seed: 0, proxies: synflw'))
        assert main(['check', str(bad)]) == 1
        assert _error_line(capsys).startswith(f"nni-rank check: error: {bad}: NARTuner: classArg proxies: "
                                              "unknown proxy 'synflw'")
        bad.write_text(text.replace('maxTrialNumber', 'maxTrialNumbr'))
        assert main(['check', str(bad)]) == 1
        assert _error_line(capsys).endswith('ExperimentConfig does not have field(s) maxtrialnumbr')
    finally:
        bad.unlink()
