"""``nni-rank compare``: same seeds, same table, summaries that match the raw runs, CSV/markdown/PNG written."""
import csv
import json

import numpy as np
import pytest

from nni_rank.benchmarks import open_benchmark
from nni_rank.cli.main import main
from nni_rank.experiment.compare import queries_summary, run_comparison, write_report


def test_queries_summary_counts_a_miss_as_budget_plus_one():
    s = queries_summary([3, None, 7, None, 5], budget=10)
    assert s == {'median': 7.0, 'worst': 11, 'reached': 3, 'runs': 5}
    assert queries_summary([4], budget=4)['worst'] == 4
    with pytest.raises(ValueError, match='at least one run'):
        queries_summary([], budget=10)


@pytest.fixture(scope='module')
def comparison(nb201_csv):
    return run_comparison(str(nb201_csv), ['random', 'rea'], seeds=[0, 1, 2], budget=60, log=None)


def test_comparison_matches_the_table(comparison, nb201_csv):
    table = open_benchmark(str(nb201_csv))
    assert comparison.optimum == pytest.approx(94.3733, abs=1e-4)
    assert comparison.top_threshold == table.top('cifar10', 16)[-1][1]
    for name, runs in comparison.runs.items():
        assert [r.seed for r in runs.results] == [0, 1, 2]
        for res in runs.results:
            assert len(res.history) == 60
            for arch, acc in res.history[:5]:  # every recorded query is the table's value
                assert acc == pytest.approx(table.accuracy(arch, 'cifar10'))
            curve = res.best_so_far()
            assert np.all(np.diff(curve) >= 0) and curve[-1] == res.best[1]
    summary = comparison.summary()
    for name, runs in comparison.runs.items():
        at50 = [r.best_so_far()[49] for r in runs.results]
        assert summary[name]['best@50']['median'] == pytest.approx(np.median(at50))
        assert summary[name]['best@25']['q25'] <= summary[name]['best@25']['median'] <= summary[name]['best@25']['q75']
        assert 'best@100' not in summary[name]  # beyond the budget
        reach = [r.queries_to_reach(comparison.top_threshold) for r in runs.results]
        assert summary[name]['to_top0.1%'] == queries_summary(reach, 60)


def test_same_seed_same_run(comparison, nb201_csv):
    again = run_comparison(str(nb201_csv), ['rea'], seeds=[1], budget=60, log=None)
    assert again.runs['rea'].results[0].history == comparison.runs['rea'].results[1].history


def test_report_files(comparison, tmp_path):
    paths = write_report(comparison, tmp_path)
    rows = list(csv.DictReader(open(paths['runs'])))
    assert len(rows) == 6 and {r['strategy'] for r in rows} == {'random', 'rea'}
    first = comparison.runs['random'].results[0]
    assert float(rows[0]['best@50']) == pytest.approx(first.best_so_far()[49], abs=1e-4)
    curves = list(csv.DictReader(open(paths['curves'])))
    assert len(curves) == 6 * 60
    md = paths['markdown'].read_text()
    assert '| random |' in md and '| rea |' in md and 'best@50' in md and 'queries to top-0.1%' in md
    assert json.loads(paths['json'].read_text())['strategies']['rea']['to_optimum']['runs'] == 3
    assert paths['plot'].read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and paths['plot'].stat().st_size > 10_000


def test_bad_input_is_refused(nb201_csv):
    with pytest.raises(ValueError, match='unknown strategies nope'):
        run_comparison(str(nb201_csv), ['random', 'nope'], seeds=[0], budget=5, log=None)
    with pytest.raises(ValueError, match='takes no option'):
        run_comparison(str(nb201_csv), ['random'], seeds=[0], budget=5, options={'random': {'pool_size': 3}}, log=None)
    with pytest.raises(ValueError, match='budget'):
        run_comparison(str(nb201_csv), ['random'], seeds=[0], budget=0, log=None)


def test_cli_forwards_cache_dir_and_options(nb201_csv, tmp_path, capsys):
    cache = tmp_path / 'cache'
    rc = main(['compare', '--benchmark', str(nb201_csv), '--strategies', 'zc-rea,random', '--seeds', '2',
               '--budget', '12', '--cache-dir', str(cache), '-o', 'zc-rea:pool_size=20', '-o', 'zc-rea:proxy=params',
               '--out', str(tmp_path / 'out')])
    assert rc == 0, capsys.readouterr().err
    assert list(cache.glob('nb201-proxies-*.csv'))  # the zero-cost strategy scored into the cache
    assert (tmp_path / 'out' / 'summary.md').read_text() in capsys.readouterr().out
    rc = main(['compare', '--benchmark', str(nb201_csv), '--strategies', 'random', '-o', 'random-pool=3',
               '--out', str(tmp_path / 'bad')])
    assert rc == 1 and 'STRATEGY:KEY=VALUE' in capsys.readouterr().err
