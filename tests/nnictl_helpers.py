"""Helpers of the tests that drive real ``nnictl`` experiments through NNI's REST API (what the web UI reads)."""
import json
import shutil
import socket
import sys
import urllib.request


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
