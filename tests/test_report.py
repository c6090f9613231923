"""``nni-rank report``: a real nnictl experiment read back from NNI's database after ``nnictl stop``, checked
against the REST answers (what the web UI showed) recorded while it ran."""
import csv
import json
import sys
from pathlib import Path

import pytest

from nni_rank.benchmarks import open_benchmark
from nni_rank.cli.main import main
from nni_rank.experiment.report import locate_experiment, read_experiment
from nnictl_helpers import rest_get, running_experiment, wait_for_trials

REPO = Path(__file__).resolve().parents[1]
TRIALS = 5


@pytest.fixture(scope='module')
def stopped_experiment(nb201_csv, tmp_path_factory):
    """(experiment folder, trial-jobs, metric-data as the REST API gave them before the experiment stopped)."""
    tmp = tmp_path_factory.mktemp('report')
    config = f"""experimentName: report-test
searchSpaceFile: {REPO / 'config_yaml' / 'nb201_search_space.json'}
trialCommand: {sys.executable} -m nni_rank.trial --space nb201 --benchmark {nb201_csv} --dataset cifar10
trialCodeDirectory: {REPO}
trialConcurrency: 1
maxTrialNumber: {TRIALS}
tuner:
  name: Random
  classArgs: {{seed: 3}}
trainingService:
  platform: local
experimentWorkingDirectory: {tmp / 'experiments'}
"""
    with running_experiment(config, tmp, 'report') as (port, exp_id):
        status, jobs = wait_for_trials(port, TRIALS, seconds=240, poll=2)
        assert [j['status'] for j in jobs] == ['SUCCEEDED'] * TRIALS, jobs
        metrics = rest_get(port, 'metric-data')
        live = read_experiment(tmp / 'experiments' / exp_id)  # while it runs: the same database
        assert len(live.trials) == TRIALS
    return tmp / 'experiments' / exp_id, jobs, metrics


def test_report_reproduces_the_web_ui_trial_table(stopped_experiment, nb201_csv):
    folder, jobs, metrics = stopped_experiment
    record = read_experiment(folder)  # the manager is stopped: offline
    assert record.experiment_id == folder.name and record.maximize
    assert len(record.trials) == len(jobs) == TRIALS
    by_id = {t.trial_id: t for t in record.trials}
    assert set(by_id) == {j['trialJobId'] for j in jobs}
    table = open_benchmark(str(nb201_csv))
    for job in jobs:
        t = by_id[job['trialJobId']]
        assert t.status == job['status'] and t.sequence == job['sequenceId']
        assert t.parameters == json.loads(job['hyperParameters'][0])['parameters']
        assert t.final == json.loads(json.loads(job['finalMetricData'][0]['data']))
        assert t.default == table.accuracy(t.parameters, 'cifar10')
        assert t.start_ms == job['startTime'] and t.end_ms == job['endTime']
    assert [t.sequence for t in record.trials] == sorted(j['sequenceId'] for j in jobs)
    assert sum(1 for m in metrics if m['type'] == 'FINAL') == TRIALS
    best = record.best(2)
    assert best[0].default == max(t.default for t in record.trials) >= best[1].default


def test_report_command_writes_tables_plot_and_the_best_cell(stopped_experiment, tmp_path, capsys):
    folder, jobs, _ = stopped_experiment
    out = tmp_path / 'out'
    assert main(['report', str(folder), '--out', str(out), '--top-k', '3']) == 0
    printed = capsys.readouterr().out
    assert f'{TRIALS} trials' in printed and '5 succeeded' in printed
    rows = list(csv.DictReader(open(out / 'trials.csv')))
    assert len(rows) == TRIALS and {r['trial_id'] for r in rows} == {j['trialJobId'] for j in jobs}
    finals = {j['trialJobId']: json.loads(json.loads(j['finalMetricData'][0]['data'])) for j in jobs}
    for r in rows:
        assert float(r['default']) == finals[r['trial_id']]['default']
        assert float(r['params']) == pytest.approx(finals[r['trial_id']]['params'])
    best = json.loads((out / 'best.json').read_text())
    assert len(best) == 3 and best[0]['default'] == max(f['default'] for f in finals.values())
    for name in ('best_so_far.png', 'best_cell.png', 'trials.json'):
        assert (out / name).stat().st_size > 1000, name


def test_report_of_an_unknown_experiment_is_one_clear_line(tmp_path, capsys):
    assert main(['report', 'nosuchexp', '--out', str(tmp_path / 'o')]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith('nni-rank report: error: no NNI experiment at nosuchexp') and '\n' not in err
    with pytest.raises(FileNotFoundError):
        locate_experiment(tmp_path)


def test_report_reads_a_nas_experiment(nb201_csv, tmp_path):
    """A ``NasExperiment`` on NNI's training-service engine: the trials' architecture samples and metrics."""
    from nni.nas.experiment import NasExperiment, NasExperimentConfig
    from nni.nas.hub.pytorch import NasBench201

    from nni_rank.evaluators import BenchmarkEvaluator
    from nni_rank.strategies import make_strategy
    from nnictl_helpers import free_port
    config = NasExperimentConfig('ts', 'simplified', 'local')
    config.max_trial_number, config.trial_concurrency = 3, 1
    config.experiment_working_directory = str(tmp_path / 'experiments')
    exp = NasExperiment(NasBench201(), BenchmarkEvaluator(str(nb201_csv), dataset='cifar10'),
                        make_strategy('random', seed=0), config)
    exp.run(port=free_port(), wait_completion=True)
    models = [(m.sample, m.metric) for m in exp.strategy.list_models()]
    exp.stop()
    record = read_experiment(exp.id)  # by id: found through NNI's experiment registry
    assert record.folder == tmp_path / 'experiments' / exp.id
    assert sorted((json.dumps(t.parameters, sort_keys=True), t.default) for t in record.trials) == \
        sorted((json.dumps(s, sort_keys=True), m) for s, m in models)
    assert len(models) == 3 and all(t.status == 'SUCCEEDED' for t in record.trials)
