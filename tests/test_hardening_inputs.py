"""Issue 16: broken inputs give one clear line naming the file/line/value, never a traceback or a wrong number.

Every file here is a real one (the shared tables, CIFAR-10 images) or derived from one in ``tmp_path``.
"""
import csv
import math
import sqlite3
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from nni_rank.benchmarks import (ArchNotFound, CsvTable, NB201OfficialTable, NniDbTable, TableError, TableWarning,
                                 open_benchmark, write_nni_nb201_db)
from nni_rank.proxies import PROXIES, ProxyStore, compute_proxies, nb201_network
from nni_rank.proxies.store import ProxyCacheWarning
from nni_rank.spaces.nb101 import NB101Arch
from nni_rank.spaces.nb201 import InvalidArchitecture, NB201Arch

NB201 = 'nb201_test_accuracy_200ep.csv'
OPT = '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|'


def _lines(path):
    """The file's lines without their terminators (the real tables end lines with CRLF)."""
    with open(path, newline='') as f:
        return f.read().splitlines()


def _write(path, lines):
    path.write_text('\r\n'.join(lines) + '\r\n', newline='')
    return path


def _set(line: str, column: int, value: str) -> str:
    fields = line.split(',')
    fields[column] = value
    return ','.join(fields)


def _one_line_error(excinfo) -> str:
    msg = str(excinfo.value)
    assert '\n' not in msg and 'Traceback' not in msg
    return msg


@pytest.fixture(scope='module')
def real(shared_data):
    """The real 200-epoch table's lines and the table itself."""
    return _lines(shared_data / NB201), CsvTable(shared_data / NB201)


# ------------------------------------------------------------------------------------ benchmark tables
@pytest.mark.parametrize('value, why', [('ninety', "'ninety' is not a number"), ('n/a', "'n/a' is not a number"),
                                        ('', 'is empty'), ('nan', "'nan' is not a finite number"),
                                        ('inf', "'inf' is not a finite number"),
                                        ('123.4', "'123.4' is outside 0..100"), ('-0.5', "'-0.5' is outside 0..100")])
def test_table_bad_value_names_file_line_and_column(real, tmp_path, value, why):
    lines, _ = real
    lines = list(lines)
    lines[6112] = _set(lines[6112], 2, value)  # line 6113 of the file
    bad = _write(tmp_path / 'nb.csv', lines)
    with pytest.raises(TableError) as excinfo:
        CsvTable(bad)
    assert _one_line_error(excinfo) == f'{bad} line 6113: cifar10_test_acc {why}' + (
        ' (an accuracy in %)' if 'outside' in why else '')
    assert isinstance(excinfo.value, ValueError)  # the CLI's handler prints it


def test_table_truncated_duplicated_and_header(real, tmp_path):
    lines, _ = real
    truncated = list(lines)
    truncated[6112] = ','.join(truncated[6112].split(',')[:3])
    with pytest.raises(TableError, match=r'nb\.csv line 6113: 3 fields, the header has 4'):
        CsvTable(_write(tmp_path / 'nb.csv', truncated))
    torn = list(lines[:101]) + [lines[101][:len(lines[101]) // 2]]  # a copy cut in the architecture string
    with pytest.raises(TableError, match=r'torn\.csv line 102: '):
        CsvTable(_write(tmp_path / 'torn.csv', torn))
    duplicated = list(lines) + [_set(lines[4], 2, '50.0')]  # line 5's cell again, another value
    arch = lines[4].split(',')[1]
    with pytest.raises(TableError) as excinfo:
        CsvTable(_write(tmp_path / 'dup.csv', duplicated))
    assert _one_line_error(excinfo) == f'{tmp_path / "dup.csv"} line 15627: architecture {arch} repeats line 5'
    with pytest.raises(TableError, match=r"line 1: a nb201 CSV needs the column\(s\) 'arch_str'"):
        CsvTable(_write(tmp_path / 'noarch.csv', [lines[0].replace('arch_str', 'arch_string')] + lines[1:3]))
    with pytest.raises(TableError, match="line 1: column 'cifar10_test_acc' appears twice"):
        CsvTable(_write(tmp_path / 'twice.csv', [lines[0].replace('cifar100', 'cifar10')] + lines[1:3]))


def test_table_skip_bad_rows(real, tmp_path, shared_data):
    lines, table = real
    lines = list(lines)
    lines[9] = _set(lines[9], 3, 'n/a')
    lines[6112] = ','.join(lines[6112].split(',')[:3])
    lines.append(lines[4])  # a duplicate: its architecture is left out too
    bad = _write(tmp_path / 'nb.csv', lines)
    with pytest.warns(TableWarning) as record:
        skipped = CsvTable(bad, on_bad_rows='skip')
    assert [str(w.message) for w in record] == [
        f"skipped 3 bad rows of {bad}: first at line 10 (cifar100_test_acc 'n/a' is not a number)"]
    gone = {NB201Arch.from_str(lines[i].split(',')[1]) for i in (9, 6112, 4)}
    assert len(skipped) == 15625 - 3 and not gone & set(skipped.archs())
    for arch in gone:
        with pytest.raises(ArchNotFound):
            skipped.query(arch, 'cifar10')
    kept = [a for a in table.archs() if a not in gone]  # nothing else lost or changed
    assert list(skipped.archs()) == kept
    for ds in ('cifar10', 'cifar100'):
        assert [skipped.accuracy(a, ds) for a in kept[::50]] == [table.accuracy(a, ds) for a in kept[::50]]
    # the same through open_benchmark, merged with the real valid table: the cell is gone from the merge
    with pytest.warns(TableWarning):
        merged = open_benchmark(f'{shared_data / "nb201_valid_accuracy_200ep.csv"},{bad}', on_bad_rows='skip')
    assert len(merged) == 15625 - 3 and not gone & set(merged.archs())
    assert all(math.isfinite(v) for ds in ('cifar10', 'cifar100') for m in merged.metrics(ds)
               for v in merged.values(ds, m))
    with pytest.raises(TableError, match=r'nb\.csv line 10: cifar100_test_acc'):
        open_benchmark(f'{shared_data / "nb201_valid_accuracy_200ep.csv"},{bad}')
    with pytest.raises(ValueError, match='on_bad_rows'):
        CsvTable(bad, on_bad_rows='ignore')


def test_real_tables_load_clean(shared_data):
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        for name in ('nb201_accuracy_12ep.csv', 'nb201_valid_accuracy_200ep.csv', 'nb201_zc_reference_cifar10.csv'):
            assert len(open_benchmark(shared_data / name)) in (15625, 9445)
        merged = open_benchmark(','.join(str(shared_data / n) for n in (
            NB201, 'nb201_valid_accuracy_200ep.csv', 'nb201_accuracy_12ep.csv')))
        assert merged.accuracy(OPT, 'cifar10') == 94.3733 and len(merged) == 15625
        nb101 = open_benchmark(shared_data / 'nb101_500_valid_accuracy.csv', space='nb101')
    assert len(nb101) == 292  # 500 rows, isomorphic cells share a hash and keep their first row


def test_nb101_table_checks(shared_data, tmp_path):
    lines = _lines(shared_data / 'nb101_500_valid_accuracy.csv')
    header = lines[0].split(',')
    params, acc = header.index('params'), header.index('val_accuracy')
    ok = list(lines)
    ok[7] = _set(ok[7], params, '-3.5')  # not an accuracy: any finite number
    assert len(CsvTable(_write(tmp_path / 'ok.csv', ok), space='nb101')) == 292
    for column, value, why in ((params, 'inf', "params 'inf' is not a finite number"),
                               (acc, '101', "val_accuracy '101' is outside 0..100")):
        bad = list(lines)
        bad[7] = _set(bad[7], column, value)
        with pytest.raises(TableError, match=f'bad.csv line 8: {why}'):
            CsvTable(_write(tmp_path / 'bad.csv', bad), space='nb101')
    with pytest.raises(TableError, match=r'dup\.csv line 502: architecture NB101Arch\(.*\) repeats line 2'):
        CsvTable(_write(tmp_path / 'dup.csv', lines + [lines[1]]), space='nb101')


def test_cli_prints_the_table_error(real, tmp_path):
    lines, _ = real
    lines = list(lines)
    lines[6112] = _set(lines[6112], 2, 'n/a')
    bad = _write(tmp_path / 'nb.csv', lines)
    out = subprocess.run([sys.executable, '-m', 'nni_rank.cli.main', 'search', '--benchmark', str(bad),
                          '--strategy', 'random', '--budget', '5'], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == \
        f"nni-rank search: error: {bad} line 6113: cifar10_test_acc 'n/a' is not a number"
    assert 'Traceback' not in out.stderr


def test_database_and_official_values_checked(real, tmp_path):
    lines, table = real
    small = CsvTable(_write(tmp_path / 'small.csv', lines[:41]))  # a small NNI database: the first 40 real cells
    db = write_nni_nb201_db(small, tmp_path / 'nb201.db')
    assert NniDbTable(db).accuracy(small.archs()[3], 'cifar10') == pytest.approx(small.accuracy(small.archs()[3], 'cifar10'))
    with sqlite3.connect(db) as con:
        con.execute('UPDATE nb201trialstats SET test_acc = 250 WHERE id = 4')
    with pytest.raises(TableError, match=r"nb201\.db: .* test_acc 250\.0 is outside 0\.\.100"):
        NniDbTable(db)

    class Api:  # the official API's answers, one of them broken
        meta_archs = [str(a) for a in table.archs()[:3]]

        def get_more_info(self, index, dataset, hp, is_random):
            return {'test-accuracy': [93.5, 'n/a', 101.0][index], 'valid-accuracy': 90.0}

        def get_cost_info(self, index, dataset, hp):
            return {'params': 1.0, 'flops': 10.0, 'latency': None}

    official = NB201OfficialTable(api=Api())
    assert official.accuracy(Api.meta_archs[0], 'cifar10') == 93.5
    assert math.isnan(official.query(Api.meta_archs[0], 'cifar10')['latency'])  # absent stays NaN
    with pytest.raises(TableError, match="cifar10 result of index 1: test_acc 'n/a' is not a number"):
        official.accuracy(Api.meta_archs[1], 'cifar10')
    with pytest.raises(TableError, match='outside 0..100'):
        official.accuracy(Api.meta_archs[2], 'cifar10')
    Api.meta_archs = Api.meta_archs + Api.meta_archs[:1]
    with pytest.raises(TableError, match='lists 1 architectures twice'):
        NB201OfficialTable(api=Api())
    torn = tmp_path / 'NAS-Bench-201-v1_0-e61699.pth'  # a download cut short
    torch.save({'meta_archs': [str(a) for a in table.archs()]}, torn)
    torn.write_bytes(torn.read_bytes()[:5000])
    with pytest.raises(TableError) as excinfo:
        open_benchmark(torn)
    assert _one_line_error(excinfo).startswith(f'{torn} is not a readable NAS-Bench-201 .pth file: ')


# ------------------------------------------------------------------------------------ proxy cache
@pytest.fixture()
def scored(real, tmp_path):
    """A cache of data-independent scores of 4 real cells, and the reference scores."""
    archs = [str(a) for a in real[1].archs()[:4]]
    store = ProxyStore(['params', 'synflow'], cache_dir=tmp_path / 'cache')
    return archs, store.scores(archs), store.cache_file


def _reopen(tmp_path):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter('always')
        store = ProxyStore(['params', 'synflow'], cache_dir=tmp_path / 'cache')
    return store, [str(w.message) for w in record if issubclass(w.category, ProxyCacheWarning)]


def test_proxy_cache_torn_last_line(scored, tmp_path):
    archs, ref, cache = scored
    data = cache.read_bytes()
    cache.write_bytes(data[:-20])  # killed during the write of the 4th row
    store, warned = _reopen(tmp_path)
    assert warned == [f'skipped 1 unreadable line(s) of proxy cache {cache}: first at line 5 (torn last line: '
                      'no newline, a write was interrupted); the file is rewritten without them']
    assert sorted(store._values) == sorted(archs[:3]) and cache.read_bytes().endswith(b'\n')
    np.testing.assert_array_equal(store.scores(archs), ref)  # the 4th is scored again, appended cleanly
    again, warned = _reopen(tmp_path)
    assert warned == [] and sorted(again._values) == sorted(archs)
    np.testing.assert_array_equal(again.scores(archs), ref)


def test_proxy_cache_torn_while_running(scored, real, tmp_path):
    """Another process dies mid-write after this store loaded: the next append does not glue onto it."""
    archs, ref, cache = scored
    store, _ = _reopen(tmp_path)
    cache.write_bytes(cache.read_bytes()[:-20])
    new = str(real[1].archs()[10])
    with pytest.warns(ProxyCacheWarning, match='line 5 .torn last line'):
        store.scores([new])
    again, warned = _reopen(tmp_path)
    assert warned == [] and sorted(again._values) == sorted(archs + [new])
    np.testing.assert_array_equal(again.scores(archs), ref)


def test_proxy_cache_garbled_and_foreign_lines(scored, tmp_path):
    archs, ref, cache = scored
    lines = cache.read_text().splitlines()
    lines.insert(2, 'hello,world')
    lines.insert(4, _set(lines[3], 11, 'ninety'))  # params column of a copy of a real row
    cache.write_text('\n'.join(lines) + '\n')
    store, warned = _reopen(tmp_path)
    assert warned == [f'skipped 2 unreadable line(s) of proxy cache {cache}: first at line 3 (2 fields, the header '
                      f'has {len(PROXIES) + 1}); the file is rewritten without them']
    np.testing.assert_array_equal(store.scores(archs), ref)
    assert _reopen(tmp_path)[1] == []
    cache.write_bytes(b'\x00\xff garbage')  # not a cache at all: ignored, rebuilt
    store, warned = _reopen(tmp_path)
    assert warned == [f'skipped 1 unreadable line(s) of proxy cache {cache}: first at line 1 (not a proxy-cache '
                      'header; the whole file is ignored); the file is rewritten without them']
    np.testing.assert_array_equal(store.scores(archs), ref)


# ------------------------------------------------------------------------------------ architectures
@pytest.mark.parametrize('ids, bad', [([-1, 0, 0, 0, 0, 0], '-1'), ([0.7, 0, 0, 0, 0, 0], '0.7'),
                                      ([True, 0, 0, 0, 0, 0], 'True'), ([0, 0, 0, 0, 0, 5], '5'),
                                      (['3', 0, 0, 0, 0, 0], "'3'")])
def test_nb201_op_ids_checked(ids, bad):
    k = next(i for i, v in enumerate(ids) if repr(v) == bad)
    label = ('0_1', '0_2', '1_2', '0_3', '1_3', '2_3')[k]
    with pytest.raises(InvalidArchitecture) as excinfo:
        NB201Arch.parse(ids)
    assert _one_line_error(excinfo) == f'op id of edge {label} (position {k}) must be an integer in 0..4, got {bad}'


def test_nb201_op_ids_accepted():
    assert NB201Arch.parse([3.0, 3, 3, 1, 3, 2]) == NB201Arch.parse(np.array([3, 3, 3, 1, 3, 2])) == \
        NB201Arch.parse('|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|')
    with pytest.raises(InvalidArchitecture, match='6 edges, got 5 op ids'):
        NB201Arch.parse([0] * 5)
    with pytest.raises(InvalidArchitecture, match='cannot read a NAS-Bench-201 cell from 7'):
        NB201Arch.parse(7)


def test_nb101_sample_numbers_checked(shared_data):
    with open(shared_data / 'nb101_500_valid_accuracy.csv', newline='') as f:
        row = next(csv.DictReader(f))
    sample = NB101Arch.from_strings(row['adjacency_7x7_rowmajor'], row['ops']).to_sample(scope='')
    with pytest.raises(InvalidArchitecture, match=r'num_nodes must lie in 2..7 \(an integer\), got 5.7'):
        NB101Arch.parse({**sample, 'num_nodes': 5.7})
    with pytest.raises(InvalidArchitecture, match=r'input2 = \[0.5\]: sources must be integers in 0..1, got 0.5'):
        NB101Arch.parse({**sample, 'input2': [0.5]})
    with pytest.raises(InvalidArchitecture, match='square 0/1 matrix'):
        NB101Arch.parse(([[0, float('inf')], [0, 0]], ['input', 'output']))


# ------------------------------------------------------------------------------------ compute_proxies inputs
@pytest.fixture(scope='module')
def cifar(shared_data):
    """Eight real CIFAR-10 training images and labels, and a real NB201 network (10 classes)."""
    torch.manual_seed(0)
    from nni_rank.data import data_source, single_minibatch
    dataset, _ = data_source(str(shared_data / 'cifar10_train_10k.bin'), split='train', limit=64)
    x, y = single_minibatch(dataset, batch_size=8, seed=0)
    return x, y, nb201_network(OPT, num_classes=10, seed=0)


@pytest.mark.parametrize('case, names, message', [
    ('label 12', ['grad_norm', 'snip'], "label 12 is out of range for the model's 10 outputs (class ids 0..9)"),
    ('negative', ['grad_norm'], 'labels must be class ids >= 0, got -1'),
    ('one channel', ['naswot'], 'the model rejected inputs of shape (8, 1, 32, 32) (float32): Given groups=1, '
                                'weight of size [16, 3, 3, 3], expected input[8, 1, 32, 32] to have 3 channels, '
                                'but got 1 channels instead'),
    ('one channel', ['synflow'], 'the model rejected inputs of shape (1, 1, 32, 32) (float64): Given groups=1'),
    ('uint8', ['synflow', 'naswot'], 'batch inputs must be floating point, got torch.uint8'),
    ('short labels', ['snip'], 'batch has 8 inputs but 5 labels'),
    ('float labels', ['fisher'], 'labels must be integer class ids (or soft labels of shape (N, classes)), '
                                 'got torch.float32 of shape (8,)'),
])
def test_compute_proxies_bad_inputs(cifar, case, names, message):
    x, y, net = cifar
    batch = {'label 12': (x, torch.where(y == y[0], 12, y)), 'negative': (x, torch.where(y == y[0], -1, y)),
             'one channel': (x[:, :1], y), 'uint8': ((x * 60 + 128).clamp(0, 255).to(torch.uint8), y),
             'short labels': (x, y[:5]), 'float labels': (x, y.float())}[case]
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(ValueError) as excinfo:
        compute_proxies(net, batch, names, seed=0, warn=False)
    assert _one_line_error(excinfo).startswith(message)
    after = net.state_dict()  # the model is left as it was, hooks included
    assert all(torch.equal(before[k], after[k]) for k in before) and net.training
    assert not any(m._forward_hooks for m in net.modules())


def test_compute_proxies_good_inputs_unchanged(cifar):
    x, y, net = cifar
    names = ['grad_norm', 'naswot', 'synflow']
    assert compute_proxies(net, (x, y.to(torch.int32)), names, seed=0) == compute_proxies(net, (x, y), names, seed=0)
    ref = compute_proxies(net, (x, y), ['naswot'], seed=0)
    assert compute_proxies(net, (x, y.tolist()), ['naswot'], seed=0) == ref
    assert compute_proxies(net, (x, y + 12), ['naswot'], seed=0) == ref  # labels no requested proxy uses


# ------------------------------------------------------------------------------------ supernet --resume
def test_supernet_resume_missing_checkpoint(tmp_path, capsys):
    from nni_rank.cli.main import main
    missing = tmp_path / 'runs' / 'supernet.pt'
    assert main(['supernet', '--resume', '--save', str(missing), '--epochs', '1']) == 1
    err = capsys.readouterr().err.strip()
    assert err == f'nni-rank supernet: error: --resume: no supernet checkpoint at {missing} ' \
                  '(drop --resume to train from scratch)'
    assert not missing.exists() and not missing.parent.exists()  # nothing trained, nothing written
