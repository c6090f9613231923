"""End to end: a real ``nnictl create`` experiment on a loopback port, checked through NNI's REST API."""
import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from nni_rank.benchmarks import open_benchmark

REPO = Path(__file__).resolve().parents[1]
TABLES = ('nb201_test_accuracy_200ep.csv', 'nb201_valid_accuracy_200ep.csv', 'nb201_accuracy_12ep.csv')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _get(port: int, path: str):
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/api/v1/nni/{path}', timeout=10) as r:
        return json.loads(r.read())


def _nnictl() -> list[str]:
    exe = shutil.which('nnictl')
    return [exe] if exe else [sys.executable, '-m', 'nni.tools.nnictl.nnictl']


def test_nnictl_experiment_with_benchmark_trials(shared_data, tmp_path):
    benchmark = ','.join(str(shared_data / t) for t in TABLES)
    config = (REPO / 'config_yaml' / 'nb201_benchmark_tpe.yml').read_text()
    config = re.sub(r'--benchmark \S+', f'--benchmark {benchmark}', config)
    config = config.replace('trialCodeDirectory: ..', f'trialCodeDirectory: {REPO}')
    config = config.replace('searchSpaceFile: nb201_search_space.json',
                            f'searchSpaceFile: {REPO / "config_yaml" / "nb201_search_space.json"}')
    config = config.replace('maxTrialNumber: 100', 'maxTrialNumber: 4')
    config = config.replace('python3 -m', f'{sys.executable} -m')
    config += f'experimentWorkingDirectory: {tmp_path / "experiments"}\n'
    (tmp_path / 'config.yml').write_text(config)
    port = _free_port()
    created = subprocess.run(_nnictl() + ['create', '--config', str(tmp_path / 'config.yml'), '--port', str(port)],
                             capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stdout + created.stderr
    exp_id = _get(port, 'experiment')['id']
    try:
        deadline = time.time() + 300
        while time.time() < deadline:  # the manager may say DONE before the last trials' states are final
            status = _get(port, 'check-status')['status']
            trials = _get(port, 'trial-jobs')
            finished = len(trials) == 4 and all(t['status'] not in ('WAITING', 'RUNNING') for t in trials)
            if status in ('ERROR', 'STOPPED') or (status in ('DONE', 'NO_MORE_TRIAL') and finished):
                break
            time.sleep(3)
        assert status in ('DONE', 'NO_MORE_TRIAL'), (status, _get(port, 'check-status'))
        assert [t['status'] for t in trials] == ['SUCCEEDED'] * 4, [(t['status'], t.get('stderrPath')) for t in trials]
        table = open_benchmark(benchmark)
        for trial in trials:
            params = json.loads(trial['hyperParameters'][0])['parameters']
            final = json.loads(json.loads(trial['finalMetricData'][0]['data']))
            row = table.query(params, 'cifar10')
            # the web UI's trial table shows these keys: accuracy as default, the rest as extra columns
            assert final['default'] == row['test_acc']
            assert final['valid_acc'] == row['valid_acc'] and final['test_acc_12ep'] == row['test_acc_12ep']
    finally:
        subprocess.run(_nnictl() + ['stop', exp_id], capture_output=True, timeout=120)
