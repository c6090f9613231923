"""How fast the registered tuners connect to NNI's manager on a busy machine.

NNI gives the tuner (the dispatcher process) 10 s to connect. For each registered tuner this starts two
CPU-bound processes, runs a real ``nnictl create`` of the shipped NAS-Bench-201 lookup config (free port,
absolute paths, the tuner registered in a temporary ``NNI_CONFIG_DIR`` as ``nni-rank register`` does) and
times, from the create command: the dispatcher process appearing, the dispatcher's "Dispatcher started"
log line (written right after it connected), and the first trial in the REST API (the tuner's first
parameters: torch, the search and for ZcREA a 100-cell synflow warm-up). ``connect`` is the time from the
dispatcher's start to its connection: NNI's 10 s window. It also times importing each tuner module after
``import nni`` (what the dispatcher adds) under the same load. ZcREA runs twice: with the default
``threads: 1`` and with ``threads: null`` (torch's default, one thread per core). Prints a table and writes
bench/results/tuner_startup.json.

    python bench/bench_tuner_startup.py --data ../shared/data
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
RUNS = [  # (label, registered name, shipped config, classArgs changed)
    ('NAR', 'NAR', 'nb201_benchmark_nar.yml', {}),
    ('ZcREA', 'ZcREA', 'nb201_benchmark_zc_rea.yml', {'pool_size': 100}),
    ('ZcREA threads=null', 'ZcREA', 'nb201_benchmark_zc_rea.yml', {'pool_size': 100, 'threads': None}),
    ('AlphaNAS', 'AlphaNAS', 'nb201_benchmark_alpha_nas.yml', {}),
    ('Reinforce', 'Reinforce', 'nb201_benchmark_reinforce.yml', {}),
]
NNICTL = [sys.executable, '-m', 'nni.tools.nnictl.nnictl']


@contextlib.contextmanager
def busy(n: int):
    """``n`` CPU-bound processes for the duration."""
    procs = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def rest(port: int, path: str):
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/api/v1/nni/{path}', timeout=5) as r:
        return json.loads(r.read())


def dispatcher_pid(port: int) -> int | None:
    """The NNI dispatcher (``python -m nni --exp_params ...``) of the experiment on ``port``, if running."""
    channel = f'localhost:{port}/tuner'.encode()
    for pid in os.listdir('/proc'):
        if pid.isdigit():
            with contextlib.suppress(OSError):
                if b'--exp_params' in Path(f'/proc/{pid}/cmdline').read_bytes() \
                        and channel in Path(f'/proc/{pid}/environ').read_bytes():
                    return int(pid)
    return None


def config_text(name: str, config: str, class_args: dict, csv: Path, work: Path) -> str:
    """The shipped config with absolute paths, this interpreter, 2 trials and the changed classArgs."""
    text = (REPO / 'config_yaml' / config).read_text()
    raw = yaml.safe_load(text)
    assert raw['tuner']['name'] == name, config
    args = {**raw['tuner'].get('classArgs', {}), **class_args}
    text = re.sub(r'--benchmark \S+', f'--benchmark {csv}', text)
    text = text.replace('trialCodeDirectory: ..', f'trialCodeDirectory: {REPO}')
    text = text.replace('searchSpaceFile: nb201_search_space.json',
                        f'searchSpaceFile: {REPO / "config_yaml" / "nb201_search_space.json"}')
    text = re.sub(r'maxTrialNumber: \d+', 'maxTrialNumber: 2', text).replace('python3 -m', f'{sys.executable} -m')
    text = re.sub(r'  classArgs: \{.*\}', f'  classArgs: {json.dumps(args)}', text)
    return text + f'experimentWorkingDirectory: {work}\n'


def time_experiment(config: str, work: Path, timeout: float) -> dict:
    """Seconds from ``nnictl create`` to: create's exit, dispatcher start, connection, first trial."""
    path = work / 'config.yml'
    path.write_text(config)
    port = free_port()
    t0 = time.perf_counter()
    create = subprocess.Popen(NNICTL + ['create', '--config', str(path), '--port', str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out: dict = {'create_exit_s': None, 'dispatcher_start_s': None, 'connected_s': None, 'first_trial_s': None}
    pid = None
    try:
        while time.perf_counter() - t0 < timeout and out['first_trial_s'] is None:
            now = time.perf_counter() - t0
            if out['create_exit_s'] is None and create.poll() is not None:
                out['create_exit_s'] = now
                if create.returncode:  # NNI's own start-up limits (REST server in ~3 s) under load
                    out['error'] = create.stdout.read().strip().splitlines()[-1]
                    break
            if pid is None:
                pid = dispatcher_pid(port)
                out['dispatcher_start_s'] = None if pid is None else now
            elif out['connected_s'] is None:
                logs = [p for p in work.glob('*/log/dispatcher.log') if p.parent.parent.name != '_latest']
                if logs and 'Dispatcher started' in logs[0].read_text():
                    out['connected_s'] = now
            elif out['create_exit_s'] is not None:
                with contextlib.suppress(OSError):
                    if rest(port, 'trial-jobs'):
                        out['first_trial_s'] = now
            time.sleep(0.02 if out['connected_s'] is None else 0.2)
    finally:
        create.wait()
        subprocess.run(NNICTL + ['stop', '--port', str(port)], capture_output=True, timeout=120)
        if pid is not None:  # a dispatcher busy in its warm-up outlives `nnictl stop`
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    if out['connected_s'] is not None:
        out['connect_s'] = out['connected_s'] - out['dispatcher_start_s']
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()}


def python_seconds(code: str, repeats: int = 3) -> float:
    """Median wall seconds of ``python -c code`` in a fresh process."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([sys.executable, '-c', code], capture_output=True, check=True)
        times.append(time.perf_counter() - t)
    return round(statistics.median(times), 3)


def import_seconds(module: str, repeats: int = 3) -> float:
    """Median seconds to import ``module`` after ``import nni, nni.__main__`` (the dispatcher's own imports)."""
    code = f'import time, nni, nni.__main__; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)'
    return round(statistics.median(float(subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                                                        check=True).stdout) for _ in range(repeats)), 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=os.environ.get('NNI_RANK_SHARED_DATA', str(REPO.parent / 'shared' / 'data')))
    ap.add_argument('--busy', type=int, default=2, help='CPU-bound processes running meanwhile')
    ap.add_argument('--timeout', type=float, default=50, help='seconds to wait for the first trial')
    ap.add_argument('--only', nargs='*', help='these rows only (labels as in the table)')
    ap.add_argument('--out', default=str(REPO / 'bench' / 'results' / 'tuner_startup.json'))
    args = ap.parse_args()
    csv = Path(args.data).resolve() / 'nb201_test_accuracy_200ep.csv'
    from nni.tools.package_utils import AlgoMeta, register_algo_meta

    from nni_rank.cli.register import ALGORITHMS, meta_yaml
    rows = []
    with tempfile.TemporaryDirectory(prefix='nni-rank-bench-') as tmp:
        os.environ['NNI_CONFIG_DIR'] = str(Path(tmp) / 'nni-config')
        for meta in yaml.safe_load(meta_yaml(list(ALGORITHMS)))['algorithms']:  # what `nni-rank register` registers
            register_algo_meta(AlgoMeta.load(meta, 'tuner'))
        with busy(args.busy):
            floor = python_seconds('import nni.__main__')  # the dispatcher's start before it imports a tuner
            print(f'python -c "import nni.__main__": {floor} s', flush=True)
            for label, name, config, class_args in RUNS:
                if args.only and label not in args.only:
                    continue
                work = Path(tmp) / label.replace(' ', '_').replace('=', '_')
                work.mkdir()
                row = {'tuner': label, 'config': config, 'changed_class_args': class_args,
                       'import_s': import_seconds(ALGORITHMS[name][0].rsplit('.', 1)[0]),
                       **time_experiment(config_text(name, config, class_args, csv, work), work, args.timeout)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    result = {'busy_processes': args.busy, 'cpus': os.cpu_count(), 'load_average': os.getloadavg(),
              'nni_connect_limit_s': 10, 'target_connect_s': 3, 'python_import_nni_main_s': floor, 'rows': rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + '\n')
    print(f'\n{args.busy} CPU-bound processes on {os.cpu_count()} cores; seconds from `nnictl create` '
          f'(connect = dispatcher start -> connected, NNI allows 10 s); `python -c "import nni.__main__"` '
          f'alone: {floor} s; load average {os.getloadavg()[0]:.1f}')
    cols = ('import_s', 'create_exit_s', 'dispatcher_start_s', 'connected_s', 'connect_s', 'first_trial_s')
    print(f'{"tuner":20s}' + ''.join(f'{c:>20s}' for c in cols))
    for row in rows:
        print(f'{row["tuner"]:20s}' + ''.join(f'{"-" if row.get(c) is None else row[c]:>20}' for c in cols)
              + (f'  {row["error"]}' if 'error' in row else ''))


if __name__ == '__main__':
    main()
