"""Searches restricted to a table that covers part of a user's space: NAS-Bench-101 as a plain user space."""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'examples'))

from nni.mutable.exception import ConstraintViolation  # noqa: E402

from nni_rank.evaluators import BenchmarkEvaluator  # noqa: E402
from nni_rank.experiment import run_benchmark_search  # noqa: E402
from nni_rank.spaces.adapter import adapter_for  # noqa: E402
from nni_rank.spaces.restricted import TableRestriction  # noqa: E402
from nni_rank.strategies import STRATEGIES, make_strategy  # noqa: E402

pytestmark = [pytest.mark.usefixtures('one_thread'), pytest.mark.filterwarnings('ignore::RuntimeWarning')]

ROWS = 60


@pytest.fixture(scope='module')
def nb101_user(shared_data, tmp_path_factory):
    """The user NB101 space (narrow stem: cheap networks) and its table of the first ROWS shared rows."""
    import user_nb101_space
    full = tmp_path_factory.mktemp('nb101') / 'full.csv'
    user_nb101_space.write_user_table(str(shared_data / 'nb101_500_valid_accuracy.csv'), str(full))
    lines = full.read_text().splitlines()
    table = full.with_name('part.csv')
    table.write_text('\n'.join(lines[:ROWS + 1]) + '\n')
    space = user_nb101_space.UserNB101Space(stem_channels=16)
    with open(table, newline='') as f:
        rows = {json.dumps({k: v for k, v in r.items() if k not in ('val_accuracy', 'flops', 'params')}, sort_keys=True):
                float(r['val_accuracy']) for r in csv.DictReader(f)}
    return space, table, rows


def _key(sample) -> str:
    return json.dumps({k: str(v) for k, v in sample.items()}, sort_keys=True)


def test_user_nb101_space_is_generic_and_builds_the_table_networks(nb101_user, shared_data):
    import user_nb101_space
    space, table, _ = nb101_user
    adapter = adapter_for(space)
    assert adapter.name == 'generic' and len(adapter.labels) == 26
    with open(shared_data / 'nb101_500_valid_accuracy.csv', newline='') as f:
        row = next(csv.DictReader(f))
    sample = user_nb101_space.row_to_sample(row['adjacency_7x7_rowmajor'], row['ops'])
    full = user_nb101_space.UserNB101Space()  # the official width: parameters as the benchmark counts them
    params = sum(p.numel() for p in adapter_for(full).network(sample).parameters())
    assert params == round(float(row['params']) * 1e6)
    with pytest.raises(ConstraintViolation, match='no path from input to output'):
        space.freeze({**sample, 'e0_6': 0, 'e1_6': 0, 'e2_6': 0, 'e3_6': 0, 'e4_6': 0, 'e5_6': 0})


def test_projection_takes_the_nearest_open_row_and_never_repeats(nb101_user):
    space, table, _ = nb101_user
    adapter = adapter_for(space)
    samples = [adapter.open_table(table).sample(k) for k in adapter.open_table(table).archs()]
    restriction = TableRestriction(adapter, samples, seed=0)
    first = samples[0]
    assert restriction.project(first) == first
    moved = {**first, 'v1': 'conv1' if first['v1'] != 'conv1' else 'conv3'}
    assert restriction.project(moved) == first  # one label away from row 0 only (others differ more)
    restriction.claim(first)
    nearest = restriction.project(first)
    assert nearest != first and nearest in samples
    distance = lambda s: sum(s[k] != first[k] for k in first)  # noqa: E731
    assert distance(nearest) == min(distance(s) for s in samples[1:])
    for s in samples[1:]:
        restriction.claim(s)
    assert restriction.num_free == 0
    with pytest.raises(ValueError, match='every one of the table'):
        restriction.project(first)


@pytest.mark.parametrize('name', sorted(STRATEGIES))
def test_every_strategy_searches_only_the_table(nb101_user, name):
    space, table, rows = nb101_user
    options = {'zc-rea': {'pool_size': 10}, 'zc-random': {'pool_size': 10}, 'nar': {'init_samples': 6, 'pool_size': 50}}
    evaluator = BenchmarkEvaluator(table, space=adapter_for(space))
    result = run_benchmark_search(make_strategy(name, seed=1, **options.get(name, {})), evaluator, 15,
                                  model_space=space, seed=1, restrict_to_table=True)
    assert len(result.history) == 15
    archs = [a for a, _ in result.history]
    assert len(set(archs)) == 15  # every query a new row
    for arch, value in result.history:
        assert value == rows[_key(json.loads(arch))]  # the table's figure of a tabulated sample


def test_restriction_needs_a_table_of_the_space(nb101_user):
    space, _, _ = nb101_user
    from nni.nas.evaluator import FunctionalEvaluator
    with pytest.raises(ValueError, match='restrict_to_table needs'):
        run_benchmark_search(make_strategy('random', seed=0), FunctionalEvaluator(lambda m: None), 3,
                             model_space=space, restrict_to_table=True)


def test_cli_search_and_compare_restricted_to_the_table(nb101_user, tmp_path, capsys):
    from nni_rank.cli.main import main
    _, table, rows = nb101_user
    spec = f'{Path(__file__).resolve().parents[1] / "examples" / "user_nb101_space.py"}:UserNB101Space'
    assert main(['search', '--space', spec, '--benchmark', str(table), '--strategy', 'rea', '--budget', '8',
                 '--restrict-to-table', '--json', str(tmp_path / 'run.json')]) == 0
    history = json.loads((tmp_path / 'run.json').read_text())['history']
    assert len({a for a, _ in history}) == 8 and all(v == rows[_key(json.loads(a))] for a, v in history)
    assert main(['compare', '--space', spec, '--benchmark', str(table), '--strategies', 'rea,random',
                 '--seeds', '2', '--budget', str(ROWS), '--restrict-to-table', '--out', str(tmp_path / 'cmp')]) == 0
    out = capsys.readouterr().out
    assert '(2/2)' in out  # with the budget = the table, every run reaches its optimum
    main(['search', '--space', spec, '--benchmark', str(table), '--strategy', 'rea', '--budget', '3'])
    assert 'found no row in the table' in capsys.readouterr().out


def test_alpha_nas_keeps_traced_properties_on_disk(nb101_user, tmp_path):
    from nni_rank.properties.generic import SpaceProperties
    space, table, _ = nb101_user
    evaluator = BenchmarkEvaluator(table, space=adapter_for(space))
    first = run_benchmark_search(make_strategy('alpha-nas', seed=2, cache_dir=str(tmp_path)), evaluator, 25,
                                 model_space=space, seed=2, restrict_to_table=True)
    files = list(tmp_path.glob('alpha-properties-*.jsonl'))
    assert len(files) == 1
    saved = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert len(saved) >= 20  # the population's and the synthesis' networks, traced once each
    reread = SpaceProperties(adapter_for(space), cache_file=files[0])
    assert reread.computed == len({e['sample'] for e in saved})
    sample = json.loads(saved[0]['sample'])
    fresh = SpaceProperties(adapter_for(space)).properties(sample)
    assert reread.properties(sample) == fresh  # read back equal to a new trace (shape a tuple again)
    again = run_benchmark_search(make_strategy('alpha-nas', seed=2, cache_dir=str(tmp_path)), evaluator, 25,
                                 model_space=space, seed=2, restrict_to_table=True)
    assert again.history == first.history


def test_zc_ensemble_of_a_restricted_search_is_calibrated_on_the_table(nb101_user, tmp_path):
    from nni_rank.proxies import ProxyScorer
    from nni_rank.proxies.calibration import CalibratedEnsemble
    from nni_rank.spaces.restricted import restricted_adapter
    space, table, rows = nb101_user
    adapter = adapter_for(space)
    samples = [adapter.open_table(table).sample(k) for k in adapter.open_table(table).archs()]
    restricted = restricted_adapter(adapter, TableRestriction(adapter, samples, seed=0))
    drawn = restricted.distinct_samples(10, seed=3)
    assert drawn == restricted.distinct_samples(10, seed=3) and len({_key(s) for s in drawn}) == 10
    assert {_key(s) for s in drawn} <= {_key(s) for s in samples}
    assert len(restricted.distinct_samples(10 * ROWS, seed=3)) == ROWS  # the table is the whole population
    assert restricted.population_size() == ROWS and adapter.population_size() == 2 ** 21 * 3 ** 5
    # raw scores are shared with unrestricted searches; the calibration is the table's own
    assert restricted.fingerprint() == adapter.fingerprint()
    assert restricted.population_fingerprint() != adapter.population_fingerprint()
    scorer = ProxyScorer('zc_ensemble', space=restricted, calibration_size=8, cache_dir=tmp_path)
    source = scorer.source()
    assert isinstance(source, CalibratedEnsemble) and restricted.population_fingerprint() in source.key
    scores = scorer.scores(samples[:3])
    assert np.isfinite(scores).all()
    saved = json.loads(next(tmp_path.glob('zc-calibration-*.json')).read_text())
    assert saved['samples'] == 8


def test_zero_cost_pool_of_a_restricted_search_is_drawn_from_the_open_rows(nb101_user, monkeypatch):
    from numpy.random import RandomState
    from nni_rank.spaces.restricted import restrict_to_table
    from nni_rank.strategies.zero_cost import _random_pool
    space, table, rows = nb101_user
    adapter = adapter_for(space)
    evaluator = BenchmarkEvaluator(table, space=adapter)
    restricted = restrict_to_table(space, evaluator, adapter.open_table(table), adapter)

    def rejection_sampling(*args, **kwargs):
        raise AssertionError('the pool was drawn by random samples of the space, not from the open rows')
    monkeypatch.setattr(restricted, 'random', rejection_sampling)
    everything = _random_pool(restricted, 1000, RandomState(0), set())  # a pool larger than the table: every row
    assert everything == restricted.open_rows() and sorted(map(_key, everything)) == sorted(rows)  # in table order
    first = everything[0]
    restricted.claim(first)
    assert restricted.open_rows() == adapter_for(restricted).open_rows() and len(restricted.open_rows()) == ROWS - 1
    ten = _random_pool(restricted, 10, RandomState(0), set())
    assert len({_key(s) for s in ten}) == 10 and _key(first) not in {_key(s) for s in ten}
    assert ten == [r for r in restricted.open_rows() if r in ten]  # open rows, in table order
    assert ten == _random_pool(restricted, 10, RandomState(0), set())  # seeded


def test_restricted_candidates_draw_distinct_open_rows(nb101_user):
    space, table, rows = nb101_user
    adapter = adapter_for(space)
    samples = [adapter.open_table(table).sample(k) for k in adapter.open_table(table).archs()]
    restriction = TableRestriction(adapter, samples, seed=0)
    from nni_rank.spaces.restricted import restricted_adapter
    codec = restricted_adapter(adapter, restriction).candidates()
    rng = np.random.default_rng(0)
    drawn = [_key(codec.to_sample(c)) for c in codec.random(ROWS - 5, rng)]
    assert len(set(drawn)) == ROWS - 5 and set(drawn) <= set(rows)
    for s in samples[:ROWS - 3]:
        restriction.claim(s)
    left = [_key(codec.to_sample(c)) for c in codec.random(10, rng)]  # only 3 rows are left: all of them, once
    assert sorted(left) == sorted(_key(s) for s in samples[ROWS - 3:])
