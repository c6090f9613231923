"""nni_rank.data on the real CIFAR-10 sample in the shared folder, synthetic layouts built from it,
and the embedded scikit-learn digits."""
import pickle
import time
import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

from nni_rank.data import (CIFAR10_MEAN, CIFAR10_STD, augment_batch, cifar_loader, data_source,
                           digits_loader, load_cifar, load_digits_dataset, single_minibatch)

RECORD = 3073
TRAIN_COUNTS = [1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981]


@pytest.fixture(scope='module')
def train_bin(shared_data):
    path = shared_data / 'cifar10_train_10k.bin'
    if not path.is_file():
        pytest.fail(f'{path} missing: see ../shared/data/README.md')
    return path


@pytest.fixture(scope='module')
def test_bin(shared_data):
    path = shared_data / 'cifar10_test_1k.bin'
    if not path.is_file():
        pytest.fail(f'{path} missing: see ../shared/data/README.md')
    return path


@pytest.fixture(scope='module')
def train_ds(train_bin):
    return load_cifar(train_bin)


def _records(path, start, stop):
    raw = np.fromfile(path, dtype=np.uint8, count=stop * RECORD).reshape(-1, RECORD)[start:stop]
    return raw[:, 1:].copy(), raw[:, 0].astype(np.int64)


def _to_bytes(ds):
    """Normalised images back to the original uint8 pixels."""
    return torch.round(ds.denormalize() * 255).to(torch.uint8)


# ---------------------------------------------------------------- real CIFAR-10 sample


def test_train_10k_real(train_bin, train_ds):
    t = time.perf_counter()
    ds = load_cifar(train_bin)
    elapsed = time.perf_counter() - t
    assert elapsed < 3.0, f'loading 10k images took {elapsed:.2f}s'
    x, y = ds.tensors
    assert x.shape == (10000, 3, 32, 32) and x.dtype == torch.float32
    assert y.dtype == torch.int64
    assert torch.bincount(y, minlength=10).tolist() == TRAIN_COUNTS
    assert len(train_ds) == 10000 and train_ds.num_classes == 10
    # normalised with the standard CIFAR statistics: roughly zero mean, unit std per channel
    assert x.mean((0, 2, 3)).abs().max() < 0.05
    assert (x.std((0, 2, 3)) - 1).abs().max() < 0.05
    assert train_ds.mean == pytest.approx(CIFAR10_MEAN) and train_ds.std == pytest.approx(CIFAR10_STD)
    # pixel-exact: R plane, then G, then B, row-major
    pixels, labels = _records(train_bin, 0, 20)
    assert torch.equal(_to_bytes(ds)[:20], torch.from_numpy(pixels).view(20, 3, 32, 32))
    assert y[:20].tolist() == labels.tolist()
    assert '10000' in ds.description and 'CIFAR-10 train' in ds.description


def test_test_1k_and_folder_picks_by_split(shared_data, test_bin):
    ds = load_cifar(test_bin, split='test')
    assert len(ds) == 1000 and ds.images.shape == (1000, 3, 32, 32)
    assert int(ds.labels.min()) >= 0 and int(ds.labels.max()) <= 9
    by_dir_test = load_cifar(shared_data, split='test')
    by_dir_train = load_cifar(shared_data, split='train', limit=50)
    assert torch.equal(by_dir_test.images, ds.images)
    assert by_dir_test.source[0].name == 'cifar10_test_1k.bin'
    assert by_dir_train.source[0].name == 'cifar10_train_10k.bin' and len(by_dir_train) == 50


# ---------------------------------------------------------------- synthetic layouts from real records


def _write_py_batch(path, pixels, labels, label_key=b'labels', extra=None):
    entry = {b'batch_label': b'testing batch', label_key: [int(v) for v in labels],
             b'data': pixels, b'filenames': [b'img_%d.png' % i for i in range(len(labels))]}
    entry.update(extra or {})
    with open(path, 'wb') as f:
        pickle.dump(entry, f)


@pytest.fixture(scope='module')
def cifar10_folders(tmp_path_factory, train_bin, test_bin):
    root = tmp_path_factory.mktemp('cifar10')
    py, bn = root / 'cifar-10-batches-py', root / 'cifar-10-batches-bin'
    py.mkdir()
    bn.mkdir()
    for i in range(5):  # five training batches of 40 records, records 0..199 in order
        pixels, labels = _records(train_bin, 40 * i, 40 * (i + 1))
        _write_py_batch(py / f'data_batch_{i + 1}', pixels, labels)
        (bn / f'data_batch_{i + 1}.bin').write_bytes(
            np.concatenate([labels.astype(np.uint8)[:, None], pixels], 1).tobytes())
    pixels, labels = _records(test_bin, 0, 30)
    _write_py_batch(py / 'test_batch', pixels, labels)
    (bn / 'test_batch.bin').write_bytes(np.concatenate([labels.astype(np.uint8)[:, None], pixels], 1).tobytes())
    with open(py / 'batches.meta', 'wb') as f:
        pickle.dump({b'label_names': [b'airplane']}, f)
    return root


def test_torchvision_and_binary_layouts_agree(cifar10_folders, train_ds, test_bin):
    root = cifar10_folders
    py = load_cifar(root / 'cifar-10-batches-py', split='train')
    bn = load_cifar(root / 'cifar-10-batches-bin', split='train')
    parent = load_cifar(root, split='train')  # parent folder: the torchvision layout is found first
    assert len(py) == len(bn) == len(parent) == 200
    for ds in (py, bn, parent):
        assert torch.equal(ds.images, train_ds.images[:200])
        assert torch.equal(ds.labels, train_ds.labels[:200])
    assert 'pickled' in py.description and 'binary' in bn.description
    test_py, test_bn = load_cifar(root, split='test'), load_cifar(root / 'cifar-10-batches-bin', split='test')
    ref = load_cifar(test_bin, split='test', limit=30)
    assert torch.equal(test_py.images, ref.images) and torch.equal(test_bn.images, ref.images)
    assert torch.equal(test_py.labels, ref.labels)
    # a single pickled batch file works too, split ignored
    one = load_cifar(root / 'cifar-10-batches-py' / 'data_batch_2')
    assert torch.equal(one.images, train_ds.images[40:80])


def test_partial_official_folder_warns(tmp_path, train_bin):
    d = tmp_path / 'cifar-10-batches-bin'
    d.mkdir()
    pixels, labels = _records(train_bin, 0, 10)
    (d / 'data_batch_1.bin').write_bytes(np.concatenate([labels.astype(np.uint8)[:, None], pixels], 1).tobytes())
    with pytest.warns(UserWarning, match='1 of the 5'):
        assert len(load_cifar(tmp_path)) == 10


def test_cifar100_layouts_use_fine_labels(tmp_path, train_bin):
    pixels, _ = _records(train_bin, 0, 60)
    fine = (np.arange(60) * 7) % 100
    coarse = fine // 5
    py, bn = tmp_path / 'cifar-100-python', tmp_path / 'cifar-100-binary'
    py.mkdir()
    bn.mkdir()
    _write_py_batch(py / 'train', pixels, fine, label_key=b'fine_labels',
                    extra={b'coarse_labels': [int(v) for v in coarse]})
    (bn / 'train.bin').write_bytes(
        np.concatenate([coarse.astype(np.uint8)[:, None], fine.astype(np.uint8)[:, None], pixels], 1).tobytes())
    a = load_cifar(tmp_path, 'cifar100', 'train')
    b = load_cifar(bn, 'cifar100', 'train')
    c = load_cifar(bn / 'train.bin', 'cifar100')
    for ds in (a, b, c):
        assert ds.labels.tolist() == fine.tolist() and ds.num_classes == 100
    assert torch.equal(a.images, b.images) and torch.equal(b.images, c.images)
    assert 'CIFAR-100' in a.description
    # the binary CIFAR-100 file read as CIFAR-10 does not have the right record size
    with pytest.raises(ValueError, match='record size 3073'):
        load_cifar(bn / 'train.bin', 'cifar10')
    # asking for CIFAR-10 where only CIFAR-100 exists: not found, with a hint
    with pytest.raises(FileNotFoundError, match="dataset='cifar100'"):
        load_cifar(tmp_path, 'cifar10')
    ds, desc = data_source(bn)
    assert ds.num_classes == 100 and 'CIFAR-100' in desc


# ---------------------------------------------------------------- errors


def test_missing_path_raises_file_not_found(tmp_path):
    missing = tmp_path / 'no' / 'such' / 'cifar'
    with pytest.raises(FileNotFoundError) as err:
        load_cifar(missing)
    msg = str(err.value)
    assert str(missing) in msg and 'cifar-10-batches-py' in msg and 'cifar-10-batches-bin' in msg
    assert 'download' in msg.lower()
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match='holds none'):
        load_cifar(empty, split='test')
    with pytest.raises(FileNotFoundError, match=str(missing).replace('\\', '\\\\')):
        data_source(str(missing))


def test_truncated_and_malformed_files(tmp_path, train_bin):
    raw = train_bin.read_bytes()[: 5 * RECORD + 100]
    bad = tmp_path / 'cut_train.bin'
    bad.write_bytes(raw)
    with pytest.raises(ValueError, match='truncated') as err:
        load_cifar(bad)
    assert '5 full records' in str(err.value)
    empty = tmp_path / 'empty_train.bin'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match='empty'):
        load_cifar(empty)
    cut_pickle = tmp_path / 'data_batch_1'
    pixels, labels = _records(train_bin, 0, 10)
    _write_py_batch(cut_pickle, pixels, labels)
    cut_pickle.write_bytes(cut_pickle.read_bytes()[:5000])
    with pytest.raises(ValueError, match='truncated or corrupt'):
        load_cifar(cut_pickle)
    with pytest.raises(ValueError):
        load_cifar(train_bin, split='valid')
    with pytest.raises(ValueError):
        load_cifar(train_bin, dataset='imagenet')


# ---------------------------------------------------------------- augmentation and loaders


def test_augment_batch_is_crop_and_flip(train_ds):
    x = train_ds.images[:12]
    fill = torch.tensor(train_ds.fill).view(1, 3, 1, 1)
    out = augment_batch(x, torch.Generator().manual_seed(3), padding=4, fill=train_ds.fill)
    again = augment_batch(x, torch.Generator().manual_seed(3), padding=4, fill=train_ds.fill)
    assert out.shape == x.shape and torch.equal(out, again)
    padded = torch.nn.functional.pad(x - fill, (4, 4, 4, 4)) + fill
    for i in range(len(x)):
        crops = [padded[i, :, a:a + 32, b:b + 32] for a in range(9) for b in range(9)]
        assert any(torch.equal(out[i], c) or torch.equal(out[i], c.flip(-1)) for c in crops)
    assert not torch.equal(out, x)


def test_cifar_loader_seeded(train_bin):
    first = lambda **kw: next(iter(cifar_loader(train_bin, batch_size=32, limit=500, **kw)))
    a, b, c = first(seed=1), first(seed=1), first(seed=2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])
    aug1, aug2 = first(seed=1, augment=True), first(seed=1, augment=True)
    assert torch.equal(aug1[0], aug2[0]) and torch.equal(aug1[1], a[1])  # same order, augmented
    assert not torch.equal(aug1[0], a[0])
    ordered = next(iter(cifar_loader(train_bin, batch_size=16, shuffle=False, limit=100)))
    assert ordered[0].shape == (16, 3, 32, 32) and ordered[1].dtype == torch.int64


# ---------------------------------------------------------------- digits


def test_digits_split_and_shapes():
    train, test = load_digits_dataset('train'), load_digits_dataset('test')
    assert len(train) == 1437 and len(test) == 360
    assert train.images.shape == (1437, 3, 32, 32) and test.images.shape == (360, 3, 32, 32)
    assert train.labels.dtype == torch.int64 and train.num_classes == 10
    assert torch.equal(train.images[:, 0], train.images[:, 2])  # grey repeated to 3 channels
    assert abs(float(train.images.mean())) < 1e-3 and abs(float(train.images.std()) - 1) < 1e-3
    assert set(train.indices) | set(test.indices) == set(range(1797))
    assert not set(train.indices) & set(test.indices)
    counts = torch.bincount(test.labels, minlength=10)
    assert int(counts.min()) >= 35 and int(counts.max()) <= 37  # stratified: ~36 per class
    small = load_digits_dataset('test', image_size=16, channels=1, test_fraction=0.5)
    assert small.images.shape[1:] == (1, 16, 16) and len(small) in (898, 899)
    assert '1437 train images' in train.description


def test_digits_deterministic():
    a, b, c = load_digits_dataset(seed=0), load_digits_dataset(seed=0), load_digits_dataset(seed=1)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not np.array_equal(a.indices, c.indices)
    x1, y1 = next(iter(digits_loader(batch_size=50, seed=4, augment=True)))
    x2, y2 = next(iter(digits_loader(batch_size=50, seed=4, augment=True)))
    assert x1.shape == (50, 3, 32, 32) and torch.equal(x1, x2) and torch.equal(y1, y2)


# ---------------------------------------------------------------- single minibatch and data_source


def test_single_minibatch_deterministic(train_ds, train_bin):
    x1, y1 = single_minibatch(train_ds, batch_size=64, seed=7)
    x2, y2 = single_minibatch(train_ds, batch_size=64, seed=7)
    x3, _ = single_minibatch(train_ds, batch_size=64, seed=8)
    assert x1.shape == (64, 3, 32, 32) and y1.dtype == torch.int64
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and not torch.equal(x1, x3)
    # a loader over the same data gives the same batch for the same seed, however often
    loader = cifar_loader(train_bin, batch_size=16, seed=123, augment=True)
    for _ in range(2):
        xl, yl = single_minibatch(loader, batch_size=64, seed=7)
        assert torch.equal(xl, x1) and torch.equal(yl, y1)
    xa, _ = single_minibatch(train_ds, 64, seed=7, augment=True)
    xb, _ = single_minibatch(train_ds, 64, seed=7, augment=True)
    assert torch.equal(xa, xb) and not torch.equal(xa, x1)
    _, yb = single_minibatch(train_ds, 100, seed=0, num_classes=10)
    assert torch.bincount(yb, minlength=10).tolist() == [10] * 10
    with pytest.raises(ValueError, match='outside'):
        single_minibatch(train_ds, 20, num_classes=5)


def test_single_minibatch_empty_and_small():
    empty = TensorDataset(torch.zeros(0, 3, 32, 32), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match='yields no data'):
        single_minibatch(empty)
    with pytest.raises(ValueError, match='yields no data'):
        single_minibatch(DataLoader(empty, batch_size=8))

    class Nothing(IterableDataset):
        def __iter__(self):
            return iter(())
    with pytest.raises(ValueError, match='yields no data'):
        single_minibatch(DataLoader(Nothing(), batch_size=8))
    with pytest.raises(ValueError, match='yields no data'):
        single_minibatch([])

    small = TensorDataset(torch.randn(10, 3, 8, 8), torch.arange(10) % 2)
    with pytest.warns(UserWarning, match='only 10 samples'):
        x, y = single_minibatch(small, batch_size=64)
    assert len(x) == 10 and sorted(y.tolist()) == sorted((torch.arange(10) % 2).tolist())
    with pytest.raises(ValueError, match='only 10 samples'):
        single_minibatch(small, batch_size=64, strict=True)
    # an iterable of batches: the first batch_size samples
    batches = [(torch.randn(4, 3, 8, 8), torch.arange(4)) for _ in range(3)]
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        x, y = single_minibatch(batches, batch_size=6)
    assert torch.equal(x, torch.cat([batches[0][0], batches[1][0][:2]]))


def test_data_source(shared_data, train_bin):
    ds, desc = data_source(None)
    assert len(ds) == 1437 and 'digits' in desc and '1437' in desc
    ds2, desc2 = data_source('digits', split='test')
    assert len(ds2) == 360 and 'test' in desc2
    ds3, desc3 = data_source(str(train_bin))
    assert len(ds3) == 10000 and desc3.startswith('CIFAR-10 train, 10000 images from') and str(train_bin) in desc3
    ds4, desc4 = data_source(shared_data, split='test')
    assert len(ds4) == 1000 and 'cifar10_test_1k.bin' in desc4
    with pytest.raises(FileNotFoundError, match='local path'):
        data_source('cifar10')
