"""Tests for shared/data.py on tiny synthetic datasets (20 train, 10 test images).

No test touches the network or the real ~/.cache: every test gets its own
cache dir and the download function is replaced.
"""
import hashlib
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from shared import data
from shared.data import DataError, load_cifar10, subset_indices, train_val_split

from conftest import NO_REAL_DATA, REAL_DATA  # read at import, before the autouse fixture below clears it


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.delenv("CIFAR10_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    def no_network(url, out):
        raise AssertionError(f"test tried to download {url}")
    monkeypatch.setattr(data, "_download", no_network)


def make_arrays(seed=0, n_train=20, n_test=10):
    rng = np.random.default_rng(seed)
    return {"x_train": rng.integers(0, 256, (n_train, 32, 32, 3), dtype=np.uint8),
            "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
            "x_test": rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8),
            "y_test": rng.integers(0, 10, n_test, dtype=np.uint8)}


def sha256s(arrays):
    return {k: hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
            for k, a in arrays.items()}


ARRAYS = make_arrays()
EXPECTED = sha256s(ARRAYS)


def load(source=None, tmp_path=None, **kw):
    kw.setdefault("expected", EXPECTED)
    return load_cifar10(source, cache_dir=tmp_path / "cache", **kw)


def write_npz(path, arrays=ARRAYS):
    np.savez_compressed(path, **arrays)
    return path


def write_batches(folder, arrays=ARRAYS, labels_of=lambda y: [int(v) for v in y]):
    """The official layout: 5 train batches + test_batch, pickled dicts, images as CHW rows."""
    folder.mkdir(parents=True)
    splits = [(f"data_batch_{i + 1}", x, y) for i, (x, y) in enumerate(zip(
        np.array_split(arrays["x_train"], 5), np.array_split(arrays["y_train"], 5)))]
    splits.append(("test_batch", arrays["x_test"], arrays["y_test"]))
    for name, x, y in splits:
        batch = {b"batch_label": name.encode(), b"labels": labels_of(y),
                 b"data": x.transpose(0, 3, 1, 2).reshape(len(x), 3072)}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"num_cases_per_batch": 10000}))
    return folder


def write_tarball(path, arrays=ARRAYS, **kw):
    folder = write_batches(path.parent / "build" / "cifar-10-batches-py", arrays, **kw)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    return path


def assert_same(d, arrays=ARRAYS):
    for k, a in arrays.items():
        got = getattr(d, k)
        assert got.dtype == np.uint8 and got.shape == a.shape
        np.testing.assert_array_equal(got, a, err_msg=k)


def error_of(*args, **kw):
    with pytest.raises(DataError) as info:
        load(*args, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- every accepted format gives the same arrays -----------------------------

def make_npz_file(d): return write_npz(d / "mine.npz")
def make_npz_folder(d): write_npz(d / "cifar10.npz"); return d
def make_tarball(d): return write_tarball(d / "cifar-10-python.tar.gz")
def make_tarball_folder(d): write_tarball(d / "cifar-10-python.tar.gz"); return d
def make_batches_folder(d): return write_batches(d / "cifar-10-batches-py")
def make_batches_parent(d): write_batches(d / "cifar-10-batches-py"); return d


@pytest.mark.parametrize("make", [make_npz_file, make_npz_folder, make_tarball,
                                  make_tarball_folder, make_batches_folder,
                                  make_batches_parent])
def test_each_format_loads_identical_arrays(tmp_path, make):
    (tmp_path / "src").mkdir()
    source = make(tmp_path / "src")
    d = load(source, tmp_path)
    assert_same(d)
    assert not d.x_train.flags.writeable  # same contract as the cached memmaps


def test_env_var_is_used_and_data_dir_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR10_DATA", str(write_npz(tmp_path / "env.npz")))
    assert load(None, tmp_path).source == str(tmp_path / "env.npz")

    other = make_arrays(seed=1)
    d = load(write_npz(tmp_path / "arg.npz", other), tmp_path, expected=sha256s(other))
    assert_same(d, other)


# --- bad data ------------------------------------------------------------------

def test_truncated_npz(tmp_path):
    full = write_npz(tmp_path / "full.npz").read_bytes()
    bad = tmp_path / "bad.npz"
    bad.write_bytes(full[:len(full) // 2])
    assert error_of(bad, tmp_path).startswith(f"{bad}: not a valid npz file (truncated or corrupt")


def test_truncated_tarball(tmp_path):
    full = write_tarball(tmp_path / "full.tar.gz").read_bytes()
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(full[:len(full) // 2])
    assert error_of(bad, tmp_path).startswith(f"{bad}: not a valid CIFAR-10 tarball")


def test_file_of_unknown_type(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    assert error_of(bad, tmp_path) == f"{bad}: neither a .npz nor a .tar.gz file"


def test_missing_array(tmp_path):
    path = tmp_path / "partial.npz"
    np.savez(path, **{k: a for k, a in ARRAYS.items() if k != "y_test"})
    assert "missing array(s) y_test" in error_of(path, tmp_path)


def test_hash_mismatch_names_array(tmp_path):
    changed = {**ARRAYS, "x_test": ARRAYS["x_test"].copy()}
    changed["x_test"][0, 0, 0, 0] ^= 1
    path = write_npz(tmp_path / "changed.npz", changed)
    message = error_of(path, tmp_path)
    assert message.startswith(f"{path}: x_test has sha256 ")
    assert f"expected {EXPECTED['x_test'][:16]}" in message


def test_real_hashes_reject_synthetic_data(tmp_path):
    assert "x_train has sha256" in error_of(write_npz(tmp_path / "a.npz"), tmp_path,
                                            expected=data.EXPECTED_SHA256)


@pytest.mark.parametrize("change, expected_message", [
    ({"x_train": ARRAYS["x_train"].transpose(0, 3, 1, 2)},
     "x_train has shape (20, 3, 32, 32), expected (N, 32, 32, 3)"),
    ({"y_test": ARRAYS["y_test"][:9]}, "y_test has shape (9,), expected (10,)"),
    ({"x_train": ARRAYS["x_train"].astype(np.float32)}, "x_train has dtype float32, expected uint8"),
    ({"y_train": np.full(20, 12, np.uint8)}, "y_train has labels up to 12, expected 0..9"),
])
def test_bad_structure(tmp_path, change, expected_message):
    path = write_npz(tmp_path / "bad.npz", {**ARRAYS, **change})
    assert error_of(path, tmp_path) == f"{path}: {expected_message}"


def test_tarball_labels_out_of_range(tmp_path):
    # 256 would silently wrap to 0 if cast to uint8 before the check.
    path = write_tarball(tmp_path / "t.tar.gz", labels_of=lambda y: [256] * len(y))
    assert "data_batch_1 labels are not 4 integers in 0..9" in error_of(path, tmp_path)


def test_batches_folder_missing_batch(tmp_path):
    folder = write_batches(tmp_path / "cifar-10-batches-py")
    (folder / "data_batch_3").unlink()
    assert error_of(folder, tmp_path) == f"{folder}: missing batch(es) data_batch_3"


def test_pickle_cannot_run_code(tmp_path):
    folder = write_batches(tmp_path / "cifar-10-batches-py")
    (folder / "test_batch").write_bytes(pickle.dumps(os.system))  # would run on load
    assert "unexpected object posix.system" in error_of(folder, tmp_path)


# --- missing data and download ---------------------------------------------------

def test_missing_with_download_disabled_lists_every_place(tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR10_DATA", str(tmp_path / "nowhere"))
    message = error_of(None, tmp_path, download=False)
    assert f"$CIFAR10_DATA={tmp_path / 'nowhere'}" in message
    assert f"cache {tmp_path / 'cache'}" in message
    assert "download disabled" in message
    assert "set CIFAR10_DATA=/path/to/cifar10.npz or cifar-10-python.tar.gz" in message


def test_missing_when_offline(tmp_path, monkeypatch):
    def offline(url, out):
        raise OSError("Network is unreachable")
    monkeypatch.setattr(data, "_download", offline)
    empty = tmp_path / "empty"
    empty.mkdir()
    message = error_of(empty, tmp_path)
    assert f"data_dir={empty}" in message and f"cache {tmp_path / 'cache'}" in message
    assert f"download {data.OFFICIAL_URL} failed (OSError: Network is unreachable)" in message
    assert not list((tmp_path / "cache").iterdir())  # no partial tarball left behind


def test_download_is_verified_and_converted(tmp_path, monkeypatch):
    tarball = write_tarball(tmp_path / "official.tar.gz").read_bytes()
    monkeypatch.setattr(data, "_download", lambda url, out: out.write(tarball))
    monkeypatch.setattr(data, "OFFICIAL_MD5", hashlib.md5(tarball).hexdigest())
    d = load(None, tmp_path)
    assert_same(d)
    assert d.source == data.OFFICIAL_URL
    assert not (tmp_path / "cache" / "cifar-10-python.tar.gz").exists()
    assert isinstance(load(None, tmp_path, download=False).x_train, np.memmap)


def test_download_with_wrong_md5(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_download", lambda url, out: out.write(b"not cifar"))
    assert "downloaded file has md5 " in error_of(None, tmp_path)


# --- cache ---------------------------------------------------------------------

def test_cache_is_reused_without_rereading_the_source(tmp_path, monkeypatch):
    source = write_npz(tmp_path / "c.npz")
    first = load(source, tmp_path)
    assert not isinstance(first.x_train, np.memmap)

    def must_not_read(path):
        raise AssertionError("source was re-read")
    with monkeypatch.context() as m:
        m.setattr(data, "_read_source", must_not_read)
        second = load(source, tmp_path)
    assert isinstance(second.x_train, np.memmap) and str(tmp_path / "cache") in second.source
    assert_same(second)
    with pytest.raises(ValueError):
        second.x_train[0, 0, 0, 0] = 1  # read-only

    # Without any source the cache is enough.
    assert_same(load(None, tmp_path, download=False))


def test_changed_source_is_read_again(tmp_path):
    source = write_npz(tmp_path / "c.npz")
    load(source, tmp_path)
    other = make_arrays(seed=2)
    write_npz(source, other)
    os.utime(source, ns=(1, 1))  # a different stamp even on coarse-mtime filesystems
    d = load(source, tmp_path, expected=sha256s(other))
    assert_same(d, other)
    assert d.source == str(source)
    # The cache now holds the new data; the old hashes no longer match it.
    assert_same(load(None, tmp_path, download=False, expected=sha256s(other)), other)
    assert "no complete cache" in error_of(None, tmp_path, download=False)


def test_interrupted_cache_write_is_ignored(tmp_path):
    load(write_npz(tmp_path / "c.npz"), tmp_path)
    cache = tmp_path / "cache"
    # What a crash mid-rewrite leaves: a stray temp file and no manifest.
    (cache / ".x_train.npy.abc.tmp").write_bytes(b"partial")
    (cache / "manifest.json").unlink()
    assert "no complete cache" in error_of(None, tmp_path, download=False)

    # A fresh load rewrites it, and then it is used again.
    load(write_npz(tmp_path / "c.npz"), tmp_path)
    assert isinstance(load(None, tmp_path, download=False).x_train, np.memmap)


def test_truncated_cache_file_is_ignored(tmp_path):
    source = write_npz(tmp_path / "c.npz")
    load(source, tmp_path)
    npy = tmp_path / "cache" / "x_train.npy"
    npy.write_bytes(npy.read_bytes()[:1000])
    assert "no complete cache" in error_of(None, tmp_path, download=False)
    d = load(source, tmp_path)  # same stamp, but the cache is bad: re-read the source
    assert d.source == str(source)
    assert_same(d)


def test_unwritable_cache_still_returns_data(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.warns(UserWarning, match="not written"):
        d = load_cifar10(write_npz(tmp_path / "c.npz"), cache_dir=blocker / "cache",
                         expected=EXPECTED)
    assert_same(d)


def test_default_cache_dir(monkeypatch, tmp_path):
    assert data.default_cache_dir() == tmp_path / "xdg" / "cifar10-compare"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.default_cache_dir() == tmp_path / "home" / ".cache" / "cifar10-compare"


# --- index helpers ---------------------------------------------------------------

def test_subset_indices():
    idx = subset_indices(1000, 100)
    assert len(idx) == 100 and len(set(idx)) == 100
    assert np.all(np.diff(idx) > 0) and idx.max() < 1000
    np.testing.assert_array_equal(idx, subset_indices(1000, 100))
    np.testing.assert_array_equal(idx, np.sort(np.random.default_rng(0).permutation(1000)[:100]))
    assert len(subset_indices(10, 10)) == 10
    with pytest.raises(ValueError):
        subset_indices(10, 11)


def test_train_val_split():
    train, val = train_val_split(1000, 100)
    assert len(val) == 100 and len(train) == 900
    assert not set(train) & set(val)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(1000))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    again = train_val_split(1000, 100)
    np.testing.assert_array_equal(train, again[0])
    np.testing.assert_array_equal(val, again[1])
    with pytest.raises(ValueError):
        train_val_split(10, 11)


# --- the real file ---------------------------------------------------------------

@pytest.mark.skipif(not Path(REAL_DATA).exists(), reason=NO_REAL_DATA)
def test_real_cifar10(tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR10_DATA", REAL_DATA)
    d = load_cifar10(cache_dir=tmp_path / "cache")
    assert d.x_train.shape == (50000, 32, 32, 3) and d.y_train.shape == (50000,)
    assert d.x_test.shape == (10000, 32, 32, 3) and d.y_test.shape == (10000,)
    assert d.y_train[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert d.x_train[0, 0, :3].tolist() == [[59, 62, 63], [43, 46, 45], [50, 48, 43]]
    again = load_cifar10(cache_dir=tmp_path / "cache")
    assert isinstance(again.x_train, np.memmap) and isinstance(again.y_test, np.memmap)
    assert again.y_train[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
