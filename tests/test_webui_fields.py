"""What NNI's web UI shows: real ``nnictl`` experiments whose trials report accuracy as ``default`` plus proxy
scores, NAR's predicted tier, params and FLOPs as extra keys (and per-epoch intermediate results when training), read back
through the REST API that the web UI itself reads (``trial-jobs``, ``metric-data``)."""
import json
import sys
from pathlib import Path

import pytest

from nni_rank.benchmarks import open_benchmark
from nni_rank.proxies import ProxyStore
from nni_rank.spaces.nb201_net import nb201_flops
from nnictl_helpers import rest_get, running_experiment, wait_for_trials


REPO = Path(__file__).resolve().parents[1]
SPACE_FILE = REPO / 'config_yaml' / 'nb201_search_space.json'


RANDOM_TUNER = """tuner:
  name: Random
  classArgs: {seed: 0}"""


def _run_experiment(tmp_path: Path, name: str, trial_args: str, trials: int, tuner: str = RANDOM_TUNER):
    """Run a local experiment to the end; returns (trial-jobs, metric-data) as the web UI gets them."""
    config = f"""experimentName: webui-{name}
searchSpaceFile: {SPACE_FILE}
trialCommand: {sys.executable} -m nni_rank.trial --space nb201 {trial_args}
trialCodeDirectory: {REPO}
trialConcurrency: 1
maxTrialNumber: {trials}
{tuner}
trainingService:
  platform: local
experimentWorkingDirectory: {tmp_path / 'experiments'}
"""
    with running_experiment(config, tmp_path, name) as (port, _):
        status, jobs = wait_for_trials(port, trials, seconds=240, poll=2)
        assert [t['status'] for t in jobs] == ['SUCCEEDED'] * trials, [(t['status'], t.get('stderrPath')) for t in jobs]
        return jobs, rest_get(port, 'metric-data')


def _params(job) -> dict:
    return json.loads(job['hyperParameters'][0])['parameters']


def _final(job) -> dict:
    return json.loads(json.loads(job['finalMetricData'][0]['data']))


def test_lookup_trials_show_accuracy_proxies_params_and_flops(nb201_csv, tmp_path):
    args = f'--benchmark {nb201_csv} --dataset cifar10 --proxies synflow,params --proxy-cache {tmp_path / "cache"}'
    jobs, metrics = _run_experiment(tmp_path, 'lookup', args, trials=2)
    table = open_benchmark(str(nb201_csv))
    store = ProxyStore(['synflow', 'params'], data='digits')
    assert len({json.dumps(_params(j), sort_keys=True) for j in jobs}) == 2
    for job in jobs:
        params, final = _params(job), _final(job)
        flops, n_params = nb201_flops(params)
        proxies = store.score(params)
        assert final['default'] == table.accuracy(params, 'cifar10')
        assert final['synflow'] == pytest.approx(proxies['synflow'], rel=1e-9)
        assert final['params'] == pytest.approx(proxies['params'], rel=1e-12) == pytest.approx(n_params, rel=1e-12)
        assert final['flops'] == pytest.approx(flops, rel=1e-12)
        assert final['undefined_proxies'] == 0
        # metric-data (the charts' source) holds the same final dict and nothing else for a lookup
        mine = [m for m in metrics if m['trialJobId'] == job['trialJobId']]
        assert [m['type'] for m in mine] == ['FINAL'] and json.loads(json.loads(mine[0]['data'])) == final
    assert list((tmp_path / 'cache').glob('nb201-proxies-*.csv')), 'the trials share the on-disk proxy cache'


def test_nar_trials_show_the_predicted_tier(nb201_csv, tmp_path):
    class_args = {'optimize_mode': 'maximize', 'seed': 0, 'init_samples': 2, 'batch_size': 2, 'pool_size': 50,
                  'stats_samples': 50, 'report_prediction': True}
    tuner = f"""tuner:
  className: nni_rank.tuners.nar_tuner.NARTuner
  codeDirectory: {REPO}
  classArgs: {json.dumps(class_args)}"""
    jobs, _ = _run_experiment(tmp_path, 'nar', f'--benchmark {nb201_csv} --dataset cifar10', trials=4, tuner=tuner)
    table = open_benchmark(str(nb201_csv))
    jobs.sort(key=lambda j: j['startTime'])
    for i, job in enumerate(jobs):
        params, final = _params(job), _final(job)
        choices = {k: v for k, v in params.items() if not k.startswith('_report_')}
        assert final['default'] == table.accuracy(choices, 'cifar10')
        if i < 2:  # the random initial sample: no predictor yet, no tier
            assert '_report_predicted_tier' not in params and 'predicted_tier' not in final
        else:  # the tier the tuner predicted for this cell, shown next to its accuracy
            assert final['predicted_tier'] == params['_report_predicted_tier'] in range(5)


def test_training_trial_reports_intermediate_results(tmp_path):
    args = '--train --data digits --epochs 2 --cells-per-stage 1 --channels 8 --train-limit 256 --test-limit 128'
    jobs, metrics = _run_experiment(tmp_path, 'train', args, trials=1)
    job = jobs[0]
    final = _final(job)
    flops, n_params = nb201_flops(_params(job), num_classes=10, channels=8, cells_per_stage=1)
    assert set(final) == {'default', 'params', 'flops'}
    assert final['params'] == pytest.approx(n_params) and final['flops'] == pytest.approx(flops)
    assert 0.0 <= final['default'] <= 100.0
    periodical = sorted((m for m in metrics if m['trialJobId'] == job['trialJobId'] and m['type'] == 'PERIODICAL'),
                        key=lambda m: m['sequence'])
    assert [m['sequence'] for m in periodical] == [0, 1]  # one per epoch: the web UI's accuracy curve
    curve = [float(json.loads(json.loads(m['data']))) for m in periodical]
    assert all(0.0 <= a <= 100.0 for a in curve)
    assert curve[-1] == pytest.approx(final['default'])  # the last epoch's test accuracy is the final one


def test_undefined_proxies_are_left_out_and_counted(nb201_csv, monkeypatch):
    import nni
    from nni_rank.trial import main
    reported = []
    monkeypatch.setattr(nni, 'report_final_result', reported.append)
    empty = {k: 'none' for k in json.loads(SPACE_FILE.read_text())}  # no path from input to output
    names = ['synflow', 'jacob_cov', 'naswot']
    assert main(['--benchmark', str(nb201_csv), '--proxies', ','.join(names), '--params', json.dumps(empty)]) == 0
    with pytest.warns(RuntimeWarning, match='undefined'):
        scores = ProxyStore(names, data='digits').score(empty)
    undefined = [n for n in names if not scores[n] == scores[n]]
    assert undefined, scores  # the empty cell has NaN proxies: the case this test is about
    final = reported[-1]
    assert final['undefined_proxies'] == len(undefined) and not set(undefined) & set(final)
    assert all(final[n] == scores[n] for n in names if n not in undefined)
    assert final['default'] == open_benchmark(str(nb201_csv)).accuracy(empty, 'cifar10')
    assert main(['--benchmark', str(nb201_csv), '--proxies', 'synflow,foo', '--params', json.dumps(empty)]) == 1
