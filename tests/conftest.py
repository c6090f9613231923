"""Shared fixtures: the real benchmark data lives in ``../shared/data`` (or ``$NNI_RANK_SHARED_DATA``)."""
import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get('NNI_RANK_SHARED_DATA', REPO.parent / 'shared' / 'data'))


@pytest.fixture(scope='session')
def shared_data() -> Path:
    """Folder with the real NB201/NB101 tables and CIFAR-10 sample; fails clearly when absent."""
    if not (SHARED_DATA / 'nb201_test_accuracy_200ep.csv').is_file():
        pytest.fail(f'shared benchmark data not found in {SHARED_DATA}; '
                    'set NNI_RANK_SHARED_DATA to the folder holding nb201_test_accuracy_200ep.csv')
    return SHARED_DATA


@pytest.fixture(scope='session')
def nb201_csv(shared_data) -> Path:
    return shared_data / 'nb201_test_accuracy_200ep.csv'


@pytest.fixture()
def nni_config_dir(tmp_path, monkeypatch):
    """NNI reads ``registered_algorithms.yml`` from ``$NNI_CONFIG_DIR``: the real one is never touched."""
    path = tmp_path / 'nni-config'
    monkeypatch.setenv('NNI_CONFIG_DIR', str(path))
    return path


@pytest.fixture(scope='module')
def one_thread():
    """One torch thread for a test module, as the project runs proxies and supernets (several OpenMP threads
    spin-wait on a shared machine); the previous count is restored. Use with
    ``pytestmark = pytest.mark.usefixtures('one_thread')``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
