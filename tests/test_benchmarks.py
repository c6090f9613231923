"""Benchmark backends against the real NB201/NB101 tables."""
import csv

import pytest

from nni_rank.benchmarks import (ArchNotFound, BenchmarkError, CsvTable, NB201OfficialTable, NniDbTable,
                                 UnknownDataset, UnknownMetric, open_benchmark, write_nni_nb201_db)
from nni_rank.spaces.nb201 import NB201Arch, NB201Index

OPT = '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|'


@pytest.fixture(scope='module')
def table(shared_data):
    return open_benchmark(','.join(str(shared_data / f) for f in (
        'nb201_test_accuracy_200ep.csv', 'nb201_valid_accuracy_200ep.csv', 'nb201_accuracy_12ep.csv')))


@pytest.fixture(scope='module')
def subset_csv(nb201_csv, tmp_path_factory):
    """The first 300 rows of the real table, as a user's smaller CSV."""
    path = tmp_path_factory.mktemp('tables') / 'subset.csv'
    with open(nb201_csv) as src, open(path, 'w') as dst:
        for i, line in enumerate(src):
            if i > 300:
                break
            dst.write(line)
    return path


def test_csv_table_values(table, nb201_csv):
    assert isinstance(table, CsvTable) and len(table) == 15625
    assert set(table.datasets()) == {'cifar10', 'cifar100'}
    assert {'test_acc', 'valid_acc', 'test_acc_12ep', 'val_acc_12ep'} <= set(table.metrics('cifar10'))
    index = NB201Index(str(a) for a in table.archs())
    assert table.accuracy(index.arch(6111), 'cifar10') == pytest.approx(94.3733)
    assert table.accuracy(index.arch(9930), 'cifar100') == pytest.approx(73.5133)
    with open(nb201_csv) as f:
        for row in list(csv.DictReader(f))[::997]:
            arch = NB201Arch.from_str(row['arch_str'])
            assert table.query(arch.to_sample(), 'cifar10')['test_acc'] == float(row['cifar10_test_acc'])
    best = table.top('cifar10', k=2)
    assert [acc for _, acc in best] == [94.3733, 94.3733] and str(best[0][0]) == OPT
    assert table.threshold('cifar10', 0.001) == sorted(table.values('cifar10'))[-16]


def test_clear_errors(table, subset_csv, tmp_path):
    with pytest.raises(UnknownDataset, match='imagenet16-120.*available: cifar10'):
        table.accuracy(OPT, 'imagenet16-120')
    with pytest.raises(UnknownMetric, match='train_acc'):
        table.accuracy(OPT, 'cifar10', metric='train_acc')
    small = open_benchmark(subset_csv)
    assert len(small) == 300
    absent = next(a for a in table.archs() if a not in small)
    with pytest.raises(ArchNotFound, match='not in benchmark'):
        small.query(absent, 'cifar10')
    with pytest.raises(FileNotFoundError, match='nope.csv'):
        open_benchmark(tmp_path / 'nope.csv')
    bad = tmp_path / 'bad.csv'
    bad.write_text('arch_str,cifar10_test_acc\n|foo~0|,1\n')
    with pytest.raises(BenchmarkError, match='bad.csv line 2: not a NAS-Bench-201'):
        open_benchmark(bad)
    with pytest.raises(BenchmarkError, match='format'):
        open_benchmark(__file__)


def test_nni_database_round_trip(subset_csv, tmp_path):
    small = CsvTable(subset_csv)
    db = write_nni_nb201_db(small, tmp_path / 'nb201.db')
    from_db = NniDbTable(db)
    assert set(from_db.datasets()) == {'cifar10', 'cifar100'} and len(from_db) == 300
    for arch in small.archs()[::37]:
        for ds in ('cifar10', 'cifar100'):
            assert from_db.accuracy(arch, ds) == pytest.approx(small.accuracy(arch, ds))
    # NNI's own benchmark evaluator reads the database we wrote (accuracy / 100, NNI's convention)
    from nni.nas.benchmark import NasBench201Benchmark
    arch = small.archs()[1]
    assert NasBench201Benchmark(dataset='cifar10', metric='test_acc').evaluate(arch.to_sample()) == \
        pytest.approx(small.accuracy(arch, 'cifar10'))
    with pytest.raises(FileExistsError):
        write_nni_nb201_db(small, db)


class _FakeOfficialApi:
    """Stands in for nas_201_api.NASBench201API with the methods the backend calls."""

    def __init__(self, archs):
        self.meta_archs = archs

    def get_more_info(self, index, dataset, hp, is_random):
        assert hp == '200' and is_random is False
        return {'test-accuracy': 90.0 + index, 'valid-accuracy': 80.0 + index, 'train-accuracy': 99.0,
                'train-all-time': 1000.0}

    def get_cost_info(self, index, dataset, hp):
        return {'params': 0.1 * index, 'flops': 10.0 * index, 'latency': 0.01}


def test_official_backend_adapter(table, tmp_path):
    archs = [str(a) for a in table.archs()[:3]]
    official = NB201OfficialTable(api=_FakeOfficialApi(archs))
    assert official.accuracy(archs[2], 'cifar10') == 92.0
    assert official.query(archs[1], 'ImageNet16-120')['valid_acc'] == 81.0
    assert official.accuracy(archs[1], 'imagenet16-120') == 91.0
    with pytest.raises(FileNotFoundError, match='nothing is downloaded'):
        NB201OfficialTable(tmp_path / 'NAS-Bench-201-v1_1-096897.pth')


def test_nb101_csv_table(shared_data):
    nb101 = open_benchmark(shared_data / 'nb101_500_valid_accuracy.csv', space='nb101')
    assert nb101.datasets() == ['cifar10']
    assert nb101.accuracy_metric('cifar10') == 'val_accuracy'
    with open(shared_data / 'nb101_500_valid_accuracy.csv') as f:
        row = next(csv.DictReader(f))
    from nni_rank.spaces.nb101 import NB101Arch
    arch = NB101Arch.from_strings(row['adjacency_7x7_rowmajor'], row['ops'])
    assert nb101.accuracy(arch, 'cifar10') == float(row['val_accuracy'])
    assert nb101.query(arch, 'cifar10')['params'] == float(row['params'])
