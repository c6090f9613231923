"""End to end: a real ``nnictl create`` experiment on a loopback port, checked through NNI's REST API."""
import json
import re
import subprocess
import sys
from pathlib import Path


from nni_rank.benchmarks import open_benchmark
from nnictl_helpers import free_port, nnictl_command, rest_get, wait_for_trials


REPO = Path(__file__).resolve().parents[1]
TABLES = ('nb201_test_accuracy_200ep.csv', 'nb201_valid_accuracy_200ep.csv', 'nb201_accuracy_12ep.csv')





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
    port = free_port()
    created = subprocess.run(nnictl_command() + ['create', '--config', str(tmp_path / 'config.yml'), '--port', str(port)],
                             capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stdout + created.stderr
    exp_id = rest_get(port, 'experiment')['id']
    try:
        status, trials = wait_for_trials(port, 4, seconds=300, poll=3)
        assert status in ('DONE', 'NO_MORE_TRIAL'), (status, rest_get(port, 'check-status'))
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
        subprocess.run(nnictl_command() + ['stop', exp_id], capture_output=True, timeout=120)
