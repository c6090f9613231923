"""End to end: a real ``nnictl create`` experiment on a loopback port, checked through NNI's REST API."""
import json

from nni_rank.benchmarks import open_benchmark
from nnictl_helpers import rest_get, running_experiment, shipped_config, wait_for_trials

TABLES = ('nb201_test_accuracy_200ep.csv', 'nb201_valid_accuracy_200ep.csv', 'nb201_accuracy_12ep.csv')


def test_nnictl_experiment_with_benchmark_trials(shared_data, tmp_path):
    benchmark = ','.join(str(shared_data / t) for t in TABLES)
    config = shipped_config('nb201_benchmark_tpe.yml', benchmark, 4, tmp_path)
    with running_experiment(config, tmp_path) as (port, _):
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
