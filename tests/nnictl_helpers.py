"""Helpers of the tests that drive real ``nnictl`` experiments through NNI's REST API (what the web UI reads)."""
import contextlib
import json
import re
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def rest_get(port: int, path: str):
    """GET ``/api/v1/nni/<path>`` of the experiment listening on ``port``, decoded from JSON."""
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/api/v1/nni/{path}', timeout=10) as r:
        return json.loads(r.read())


def nnictl_command() -> list[str]:
    """``nnictl`` on PATH, else the module run by this interpreter."""
    exe = shutil.which('nnictl')
    return [exe] if exe else [sys.executable, '-m', 'nni.tools.nnictl.nnictl']


def wait_for_trials(port: int, count: int, seconds: float, poll: float = 2.0) -> tuple[str, list[dict]]:
    """Poll until the experiment is over and its ``count`` trials are final; ``(status, trial-jobs)``.

    The manager may say DONE before the last trials' states are final, so both are waited for.
    """
    import time
    deadline = time.time() + seconds
    while True:
        status = rest_get(port, 'check-status')['status']
        trials = rest_get(port, 'trial-jobs')
        finished = len(trials) == count and all(t['status'] not in ('WAITING', 'RUNNING') for t in trials)
        if status in ('ERROR', 'STOPPED') or (status in ('DONE', 'NO_MORE_TRIAL') and finished) \
                or time.time() >= deadline:
            return status, trials
        time.sleep(poll)


def shipped_config(name: str, benchmark, trials: int, tmp_path: Path, class_args: dict | None = None) -> str:
    """``config_yaml/<name>`` made runnable from a test: this benchmark, this interpreter, absolute paths,
    ``trials`` trials, the tuner's ``classArgs`` replaced when given, and a working directory in ``tmp_path``."""
    config = (REPO / 'config_yaml' / name).read_text()
    config = re.sub(r'--benchmark \S+', f'--benchmark {benchmark}', config)
    config = config.replace('trialCodeDirectory: ..', f'trialCodeDirectory: {REPO}')
    config = config.replace('searchSpaceFile: nb201_search_space.json',
                            f'searchSpaceFile: {REPO / "config_yaml" / "nb201_search_space.json"}')
    config = re.sub(r'maxTrialNumber: \d+', f'maxTrialNumber: {trials}', config)
    config = config.replace('python3 -m', f'{sys.executable} -m')
    if class_args is not None:
        config = re.sub(r'  classArgs: \{.*\}', f'  classArgs: {json.dumps(class_args)}', config)
    return config + f'experimentWorkingDirectory: {tmp_path / "experiments"}\n'


@contextlib.contextmanager
def running_experiment(config: str, tmp_path: Path, name: str = 'config'):
    """``nnictl create`` of ``config`` on a free port; yields ``(port, experiment id)`` and stops it afterwards."""
    path = tmp_path / f'{name}.yml'
    path.write_text(config)
    port = free_port()
    created = subprocess.run(nnictl_command() + ['create', '--config', str(path), '--port', str(port)],
                             capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stdout + created.stderr
    exp_id = rest_get(port, 'experiment')['id']
    try:
        yield port, exp_id
    finally:
        subprocess.run(nnictl_command() + ['stop', exp_id], capture_output=True, timeout=120)
