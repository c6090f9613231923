"""REINFORCE tuner/strategy on the real NB201 table: it learns, dedupes, resumes, handles failures and bad spaces."""
import json
from pathlib import Path

import nni
import numpy as np
import pytest

from nni_rank.benchmarks import open_benchmark
from nni_rank.evaluators import BenchmarkEvaluator
from nni_rank.experiment import run_benchmark_search
from nni_rank.strategies import make_strategy
from nni_rank.tuners import ReinforceTuner

SPACE = json.loads((Path(__file__).resolve().parents[1] / 'config_yaml' / 'nb201_search_space.json').read_text())


@pytest.fixture(scope='module')
def table(nb201_csv):
    return open_benchmark(str(nb201_csv))


def _drive(tuner, table, n, start=0, fail=()):
    """Run ``n`` trials through the tuner protocol; returns (params, accuracy or None) in order."""
    out = []
    for pid in range(start, start + n):
        params = tuner.generate_parameters(pid)
        if pid in fail:
            tuner.trial_end(pid, False)
            out.append((params, None))
            continue
        acc = table.accuracy(params, 'cifar10')
        tuner.receive_trial_result(pid, params, {'default': acc, 'params': 1.0})
        tuner.trial_end(pid, True)
        out.append((params, acc))
    return out


def test_policy_learns_towards_accurate_cells_and_never_repeats(table):
    tuner = ReinforceTuner(seed=0)
    tuner.update_search_space(SPACE)
    runs = _drive(tuner, table, 300)
    accs = np.array([a for _, a in runs])
    assert len({_key(p) for p, _ in runs}) == 300
    everything = np.array(table.values('cifar10'))
    # the last 100 beat the space's 90th percentile on average (the mean cell: 87.1) and a policy that
    # does not learn (lr ~ 0: uniform sampling)
    frozen = np.array([a for _, a in _drive(_ready(ReinforceTuner(seed=0, lr=1e-9)), table, 300)])
    assert accs[-100:].mean() > max(frozen[-100:].mean() + 3.0, np.percentile(everything, 90)), accs
    assert all(p.max() > 0.4 for p in tuner.probabilities())  # every edge now clearly prefers one op
    # minimize learns the other way
    worst = ReinforceTuner(optimize_mode='minimize', seed=0)
    worst.update_search_space(SPACE)
    low = np.array([a for _, a in _drive(worst, table, 300)])
    assert low[-100:].mean() < min(frozen[-100:].mean() - 3.0, np.percentile(everything, 10)), low


def _ready(tuner):
    tuner.update_search_space(SPACE)
    return tuner


def _key(params):
    return json.dumps(params, sort_keys=True)


def test_seeded_failures_resume_and_limits(table):
    first = [p for p, _ in _drive(_ready(ReinforceTuner(seed=3)), table, 40)]
    again = [p for p, _ in _drive(_ready(ReinforceTuner(seed=3)), table, 40)]
    assert first == again  # seeded: the same proposals for the same results
    capped = _ready(ReinforceTuner(seed=3, max_trials=25))
    _drive(capped, table, 25)
    with pytest.raises(nni.NoMoreTrialError, match='max_trials'):
        capped.generate_parameters(25)
    # failed trials are never proposed again, even once the policy prefers them
    tuner = _ready(ReinforceTuner(seed=5, lr=0.2))
    runs = _drive(tuner, table, 300, fail=set(range(0, 300, 3)))
    failed = {_key(p) for p, a in runs if a is None}
    assert len(failed) == 100 and len({_key(p) for p, _ in runs}) == 300
    # resume: a fresh tuner replays the finished trials and never proposes them again
    records = [{'parameter': p, 'value': a} for p, a in runs if a is not None]
    resumed = ReinforceTuner(seed=4)
    resumed.import_data(records)  # before the search space, as nnictl resume does it
    resumed.update_search_space(SPACE)
    assert len(resumed.rewards) == 200
    new = {_key(p) for p, _ in _drive(resumed, table, 50, start=1000)}
    assert len(new) == 50 and not new & {_key(r['parameter']) for r in records}


def test_small_space_is_exhausted_cleanly():
    tuner = ReinforceTuner(seed=0)
    tuner.update_search_space({'a': {'_type': 'choice', '_value': [1, 2, 3]}, 'b': {'_type': 'randint', '_value': [0, 2]}})
    seen = set()
    for pid in range(6):
        params = tuner.generate_parameters(pid)
        seen.add((params['a'], params['b']))
        tuner.receive_trial_result(pid, params, float(params['a'] + params['b']))
    assert seen == {(a, b) for a in (1, 2, 3) for b in (0, 1)}
    with pytest.raises(nni.NoMoreTrialError, match='exhausted'):
        tuner.generate_parameters(6)


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match='continuous'):
        ReinforceTuner().update_search_space({'lr': {'_type': 'uniform', '_value': [0.1, 1]}})
    with pytest.raises(ValueError, match='optimize_mode'):
        ReinforceTuner(optimize_mode='up')
    with pytest.raises(ValueError, match='lr'):
        ReinforceTuner(lr=0)
    with pytest.raises(RuntimeError, match='update_search_space'):
        ReinforceTuner().generate_parameters(0)


def test_reinforce_strategy_runs_in_nas_experiment(table):
    evaluator = BenchmarkEvaluator(table, dataset='cifar10')
    runs = [run_benchmark_search(make_strategy('reinforce', seed=1), evaluator, 60, seed=1) for _ in range(2)]
    assert runs[0].history == runs[1].history  # reproducible
    assert len(runs[0].history) == 60 and len({a for a, _ in runs[0].history}) == 60
    for arch, acc in runs[0].history:
        assert acc == table.accuracy(arch, 'cifar10')
