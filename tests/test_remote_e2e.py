"""End to end over NNI's remote training service: an SSH server on 127.0.0.1 set up by the test, a real
``nnictl create`` experiment with ``trainingService: {platform: remote}``, results read through the REST API.

The SSH server is Debian's openssh-server (``.ci/run`` installs it when missing). NNI 3.0's remote worker
runs ``python -m pip install nni --upgrade`` on every remote it connects to; here the "remote" is this
very environment, so ``pythonPath`` points to a folder whose ``python``/``python3`` run this interpreter
but turn ``-m pip`` into a no-op, and set ``HOME`` to a temporary folder (NNI puts its remote working
directory in ``~/nni-experiments``). Everything else (SSH login, upload of the repository, trial keeper
daemon, results reported back to ``nniManagerIp``) is NNI's ordinary remote code path.
"""
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nni_rank.benchmarks import open_benchmark
from nni_rank.spaces.nb201_net import nb201_flops
from nnictl_helpers import free_port, running_experiment, wait_for_trials


REPO = Path(__file__).resolve().parents[1]
SSHD = Path('/usr/sbin/sshd')
TRIALS = 2


def _keygen(path: Path) -> None:
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(path)], check=True, timeout=60)


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, seconds: float = 15) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f'sshd exited with {proc.returncode}: {log.read_text()}')
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f'sshd did not listen on 127.0.0.1:{port} within {seconds} s: {log.read_text()}')


@pytest.fixture()
def ssh_server(tmp_path):
    """An OpenSSH server on a free loopback port that lets the current user in with a fresh key."""
    if not SSHD.is_file() and os.geteuid() == 0 and shutil.which('apt-get'):
        # a fresh machine running the README's test command: install it as .ci/run does
        subprocess.run('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server',
                       shell=True, capture_output=True, timeout=600)
    if not SSHD.is_file() or shutil.which('ssh-keygen') is None:
        pytest.fail(f'{SSHD} or ssh-keygen not found: install Debian\'s openssh-server '
                    '(.ci/run does it: apt-get install -y openssh-server)')
    ssh_dir = tmp_path / 'ssh'
    ssh_dir.mkdir()
    _keygen(ssh_dir / 'host_key')
    _keygen(ssh_dir / 'client_key')  # OpenSSH-format ed25519: NNI's ssh2 client reads it (so does PEM RSA)
    (ssh_dir / 'authorized_keys').write_text((ssh_dir / 'client_key.pub').read_text())
    (ssh_dir / 'authorized_keys').chmod(0o600)
    if os.geteuid() == 0:
        Path('/run/sshd').mkdir(mode=0o755, exist_ok=True)  # privilege separation folder sshd insists on
    port = free_port()
    config = ssh_dir / 'sshd_config'
    config.write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {ssh_dir / 'host_key'}
AuthorizedKeysFile {ssh_dir / 'authorized_keys'}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile {ssh_dir / 'sshd.pid'}
Subsystem sftp internal-sftp
""")
    log = ssh_dir / 'sshd.log'
    with open(log, 'w') as out:
        proc = subprocess.Popen([str(SSHD), '-D', '-e', '-f', str(config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc, log)
        yield {'port': port, 'user': pwd.getpwuid(os.geteuid()).pw_name, 'key': ssh_dir / 'client_key', 'log': log}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _python_folder(tmp_path: Path) -> Path:
    """``pythonPath`` for NNI: this interpreter, with pip disabled and HOME in tmp_path (see module doc)."""
    folder, home = tmp_path / 'remote-bin', tmp_path / 'remote-home'
    folder.mkdir()
    home.mkdir()
    script = f"""#!/bin/sh
export HOME='{home}'
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
  echo "test shim: 'python -m pip $3 ...' skipped, the environment under test stays as it is" >&2
  exit 0
fi
exec '{sys.executable}' "$@"
"""
    for name in ('python', 'python3'):
        (folder / name).write_text(script)
        (folder / name).chmod(0o755)
    return folder


def test_remote_experiment_over_ssh(ssh_server, nb201_csv, tmp_path):
    config = f"""experimentName: remote-loopback
searchSpaceFile: {REPO / 'config_yaml' / 'nb201_search_space.json'}
trialCommand: python3 -m nni_rank.trial --space nb201 --benchmark {nb201_csv} --dataset cifar10
trialCodeDirectory: {REPO}
trialConcurrency: 1
maxTrialNumber: {TRIALS}
nniManagerIp: 127.0.0.1
tuner:
  name: Random
  classArgs: {{seed: 0}}
trainingService:
  platform: remote
  machineList:
    - host: 127.0.0.1
      port: {ssh_server['port']}
      user: {ssh_server['user']}
      sshKeyFile: {ssh_server['key']}
      pythonPath: {_python_folder(tmp_path)}
experimentWorkingDirectory: {tmp_path / 'experiments'}
"""
    with running_experiment(config, tmp_path) as (port, exp_id):
        manager_log = tmp_path / 'experiments' / exp_id / 'log' / 'nnimanager.log'
        status, trials = wait_for_trials(port, TRIALS, seconds=150, poll=2)
        log_tail = manager_log.read_text()[-3000:] if manager_log.exists() else '(no manager log)'
        assert [t['status'] for t in trials] == ['SUCCEEDED'] * TRIALS, (status, trials, log_tail)
        assert all(t.get('envId') == 'remote-worker1' for t in trials), trials  # ran on the SSH worker
        remote_trials = tmp_path / 'remote-home' / 'nni-experiments' / exp_id / 'environments' / 'remote-worker1' / 'trials'
        assert sorted(p.name for p in remote_trials.iterdir()) == sorted(t['trialJobId'] for t in trials)
        assert 'Accepted publickey' in ssh_server['log'].read_text()
        table = open_benchmark(str(nb201_csv))
        for trial in trials:
            params = json.loads(trial['hyperParameters'][0])['parameters']
            final = json.loads(json.loads(trial['finalMetricData'][0]['data']))
            flops, n_params = nb201_flops(params)
            assert final['default'] == table.accuracy(params, 'cifar10')
            assert final['params'] == pytest.approx(n_params) and final['flops'] == pytest.approx(flops)
