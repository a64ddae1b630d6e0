"""CIFAR-10 loading shared by the PyTorch and Keras runs.

Both frameworks must train on byte-identical data, so every source is checked
against known SHA-256 hashes before use, then cached as plain .npy files that
later runs memory-map in milliseconds.

Where the data comes from (first match wins):
  1. the `data_dir` argument, else $CIFAR10_DATA: a .npz file or the official
     cifar-10-python.tar.gz, or a folder holding cifar10.npz,
     cifar-10-python.tar.gz or cifar-10-batches-py/ (or being that folder);
  2. the cache dir (already verified .npy files, see default_cache_dir());
  3. the official tarball, downloaded into the cache dir and md5-checked.

Shapes are checked as (N, 32, 32, 3) / (N,) uint8 with matching N; the hashes
then pin N and every byte. Tests pass the hashes of tiny synthetic arrays as
`expected`, which is why no sizes are hard-coded here; `expected=None` skips
the hash check.

This module must stay framework-free: stdlib, numpy and tqdm only.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import pickle
import tarfile
import urllib.request
import warnings
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from shared.io import atomic_write

EXPECTED_SHA256 = {
    "x_train": "47af8b02cfcfb6cdf3dbbd1969ad7f1b70f4413f6f80f437b020ee4e5bc8304a",
    "y_train": "2b7cd2f24487317614016b72ffd53071c3062f592f0eb300c18a770d41ae1253",
    "x_test": "f9b1e2130bab680db56eb06d886f7f1ad0f1183907ceff4659d1735c890f5b04",
    "y_test": "cec8a24a1e92aa2ecaa0bbd3dbfa86bf6cd8759fbd209a832824c8cf0afca9d5",
}
OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"

ENV_VAR = "CIFAR10_DATA"
KEYS = ("x_train", "y_train", "x_test", "y_test")
_BATCHES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
_HOW_TO = (f"set {ENV_VAR}=/path/to/cifar10.npz or cifar-10-python.tar.gz, "
           "or pass --data-dir")
# Everything a corrupt zip, gzip, tar or pickle is known to raise while being read.
_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, TypeError, IndexError,
                AttributeError, zlib.error, zipfile.BadZipFile, tarfile.TarError,
                pickle.UnpicklingError)


class DataError(Exception):
    """Bad, missing or corrupt data. str(e) is ONE line naming the file and what is wrong."""


@dataclass(frozen=True)
class Cifar10:
    x_train: np.ndarray  # (50000, 32, 32, 3) uint8, NHWC; read-only, maybe a np.memmap
    y_train: np.ndarray  # (50000,) uint8
    x_test: np.ndarray   # (10000, 32, 32, 3) uint8
    y_test: np.ndarray   # (10000,) uint8
    source: str          # where the data came from, for logs


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cifar10-compare"


def subset_indices(n_total: int, n: int) -> np.ndarray:
    """The same n of n_total indices on every run and in both frameworks, sorted."""
    if not 0 <= n <= n_total:
        raise ValueError(f"subset of {n} out of {n_total} items")
    return np.sort(np.random.default_rng(0).permutation(n_total)[:n])


def train_val_split(n_total: int, val_split: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, val_idx): a fixed random val_split of n_total indices held out, both sorted."""
    if not 0 <= val_split <= n_total:
        raise ValueError(f"validation split of {val_split} out of {n_total} items")
    perm = np.random.default_rng(1).permutation(n_total)
    return np.sort(perm[val_split:]), np.sort(perm[:val_split])


def load_cifar10(data_dir: str | os.PathLike | None = None, *, cache_dir=None,
                 download: bool = True,
                 expected: Mapping[str, str] | None = EXPECTED_SHA256) -> Cifar10:
    """Verified CIFAR-10 (see the module docstring for where it is looked for).

    Raises DataError if the data is bad, or missing and cannot be downloaded.
    """
    cache_dir = Path(cache_dir if cache_dir is not None else default_cache_dir()).expanduser()
    if data_dir is not None:
        label, given = "data_dir", data_dir
    else:
        label, given = f"${ENV_VAR}", os.environ.get(ENV_VAR) or None
    searched = [] if given is not None else [f"{label} (not set)"]
    cached = _load_cache(cache_dir, expected)

    if given is not None:
        given = Path(given).expanduser()
        source = _find_source(given)
        if source is None:
            searched.append(f"{label}={given} (nothing usable there)")
        else:
            stamp = _stamp(source)
            if cached and cached[0].get("source") == stamp:
                return _from_cache(*cached, cache_dir)
            return _use_source(source, stamp, cache_dir, expected, origin=str(source))

    if cached:
        return _from_cache(*cached, cache_dir)
    searched.append(f"cache {cache_dir} (no complete cache)")

    if not download:
        searched.append("download disabled")
    else:
        tar_path = cache_dir / "cifar-10-python.tar.gz"
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            atomic_write(tar_path, lambda f: _download(OFFICIAL_URL, f))
        except (OSError, http.client.HTTPException) as e:  # URLError is an OSError
            searched.append(f"download {OFFICIAL_URL} failed ({_one_line(e)})")
        else:
            try:
                md5 = _file_digest(tar_path, "md5")
                if md5 != OFFICIAL_MD5:
                    raise DataError(f"{OFFICIAL_URL}: downloaded file has md5 {md5}, "
                                    f"expected {OFFICIAL_MD5}")
                return _use_source(tar_path, _stamp(tar_path), cache_dir, expected,
                                   origin=OFFICIAL_URL)
            finally:
                tar_path.unlink(missing_ok=True)  # the .npy cache replaces it
    raise DataError(f"CIFAR-10 not found; searched: {'; '.join(searched)}. "
                    f"To fix: {_HOW_TO}")


def _download(url: str, out) -> None:
    """Stream url into the open binary file `out`; tests replace this function."""
    with urllib.request.urlopen(url, timeout=60) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc="CIFAR-10 download") as bar:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))


# --- sources ---------------------------------------------------------------

def _find_source(path: Path) -> Path | None:
    if path.is_file():
        return path
    if path.is_dir():
        for name in ("cifar10.npz", "cifar-10-python.tar.gz", "cifar-10-batches-py"):
            if (path / name).exists():
                return path / name
        if (path / "data_batch_1").is_file():
            return path
    return None


def _stamp(path: Path) -> list:
    """Cheap identity of a source's bytes, so an unchanged source skips re-verification."""
    files = [path / n for n in _BATCHES] if path.is_dir() else [path]
    stats = [(f, f.stat()) for f in files if f.is_file()]
    return [[str(f.resolve()), st.st_size, st.st_mtime_ns] for f, st in stats]


def _use_source(path: Path, stamp: list, cache_dir: Path, expected, origin: str) -> Cifar10:
    arrays = _read_source(path)
    hashes = _verify(arrays, path, expected)
    _write_cache(cache_dir, arrays, {"sha256": hashes, "source": stamp, "source_path": origin})
    for a in arrays.values():
        a.flags.writeable = False  # behave like the read-only memmaps of later runs
    return Cifar10(**arrays, source=origin)


def _read_source(path: Path) -> dict[str, np.ndarray]:
    """The four arrays of a .npz, official tarball or batch folder, not yet verified."""
    kind = "CIFAR-10 batch folder"
    try:
        if path.is_dir():
            return _join_batches({n: _unpickle_file(path / n) for n in _BATCHES
                                  if (path / n).is_file()}, path)
        with open(path, "rb") as f:
            magic = f.read(4)
        if magic.startswith(b"PK"):
            kind = "npz file"
            return _read_npz(path)
        if magic.startswith(b"\x1f\x8b") or tarfile.is_tarfile(path):
            kind = "CIFAR-10 tarball"
            return _read_tar(path)
    except _READ_ERRORS as e:
        raise DataError(f"{path}: not a valid {kind} (truncated or corrupt: "
                        f"{_one_line(e)})") from None
    raise DataError(f"{path}: neither a .npz nor a .tar.gz file")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    # Open the file here: np.load leaks its own handle when the zip is corrupt.
    with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
        missing = [k for k in KEYS if k not in z.files]
        if missing:
            raise DataError(f"{path}: missing array(s) {', '.join(missing)} "
                            f"(has: {', '.join(z.files) or 'none'})")
        return {k: z[k] for k in KEYS}


def _read_tar(path: Path) -> dict[str, np.ndarray]:
    batches = {}
    # Iterate once in archive order: looking members up by name would rewind
    # and re-decompress the gzip stream for each one.
    with tarfile.open(path, "r:*") as tar:
        for member in tar:
            name = member.name.rsplit("/", 1)[-1]
            if member.isfile() and name in _BATCHES:
                batches[name] = _BatchUnpickler(tar.extractfile(member), encoding="bytes").load()
    return _join_batches(batches, path)


def _unpickle_file(path: Path):
    with open(path, "rb") as f:
        return _BatchUnpickler(f, encoding="bytes").load()


class _BatchUnpickler(pickle.Unpickler):
    """A pickle can run arbitrary code; the official batches only need numpy arrays,
    lists and bytes, so refuse everything else."""
    _NUMPY = {"_reconstruct", "ndarray", "dtype", "scalar", "_frombuffer"}

    def find_class(self, module, name):
        if (module, name) == ("_codecs", "encode") or (
                module.split(".")[0] == "numpy" and name in self._NUMPY):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"unexpected object {module}.{name} in pickle")


def _join_batches(batches: dict, where: Path) -> dict[str, np.ndarray]:
    missing = [n for n in _BATCHES if n not in batches]
    if missing:
        raise DataError(f"{where}: missing batch(es) {', '.join(missing)}")

    def images_labels(name):
        batch = batches[name]
        if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
            raise DataError(f"{where}: {name} is not a dict with b'data' and b'labels'")
        data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
            raise DataError(f"{where}: {name} data has shape {data.shape} dtype {data.dtype}, "
                            "expected (N, 3072) uint8")
        # Range-check before the uint8 cast, which would wrap e.g. 256 to 0.
        if (labels.shape != (len(data),) or labels.dtype.kind not in "iu"
                or (labels.size and (labels.min() < 0 or labels.max() > 9))):
            raise DataError(f"{where}: {name} labels are not {len(data)} integers in 0..9")
        # Rows are 3 colour planes (CHW); everything downstream expects HWC.
        return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype(np.uint8)

    train = [images_labels(n) for n in _BATCHES[:-1]]
    x_test, y_test = images_labels("test_batch")
    return {"x_train": np.concatenate([x for x, _ in train]),
            "y_train": np.concatenate([y for _, y in train]),
            "x_test": np.ascontiguousarray(x_test), "y_test": y_test}


# --- verification ----------------------------------------------------------

def _check(arrays: dict[str, np.ndarray], where) -> None:
    """Structure only (dtype, shape, label range): cheap enough for every cached load."""
    for k in KEYS:
        if arrays[k].dtype != np.uint8:
            raise DataError(f"{where}: {k} has dtype {arrays[k].dtype}, expected uint8")
    for x, y in (("x_train", "y_train"), ("x_test", "y_test")):
        xs, ys = arrays[x].shape, arrays[y].shape
        if len(xs) != 4 or xs[1:] != (32, 32, 3):
            raise DataError(f"{where}: {x} has shape {xs}, expected (N, 32, 32, 3)")
        if ys != xs[:1]:
            raise DataError(f"{where}: {y} has shape {ys}, expected ({xs[0]},)")
        if ys[0] and (top := int(arrays[y].max())) > 9:
            raise DataError(f"{where}: {y} has labels up to {top}, expected 0..9")


def _verify(arrays, where, expected) -> dict[str, str]:
    """Check structure and content; return the arrays' SHA-256 hashes."""
    _check(arrays, where)
    hashes = {k: hashlib.sha256(np.ascontiguousarray(arrays[k])).hexdigest() for k in KEYS}
    for k in KEYS if expected is not None else ():
        if hashes[k] != expected[k]:
            raise DataError(f"{where}: {k} has sha256 {hashes[k][:16]}..., "
                            f"expected {expected[k][:16]}...")
    return hashes


# --- cache -----------------------------------------------------------------

def _load_cache(cache_dir: Path, expected):
    """(manifest, memmapped arrays), or None if the cache is absent, partial or other data."""
    try:
        manifest = json.loads((cache_dir / "manifest.json").read_text())
        hashes = manifest["sha256"]  # also rejects a manifest that is not a dict
        if expected is not None and hashes != dict(expected):
            return None
        arrays = {k: np.load(cache_dir / f"{k}.npy", mmap_mode="r", allow_pickle=False)
                  for k in KEYS}
        # No re-hash: the arrays were verified before they were written, and
        # hashing 180 MB would cost every run seconds.
        _check(arrays, cache_dir)
    except (*_READ_ERRORS, DataError):
        return None
    return manifest, arrays


def _from_cache(manifest: dict, arrays: dict, cache_dir: Path) -> Cifar10:
    return Cifar10(**arrays, source=f"{cache_dir} (cache of {manifest.get('source_path')})")


def _write_cache(cache_dir: Path, arrays: dict, manifest: dict) -> None:
    """Best effort: an unwritable cache only costs the next run a re-read."""
    manifest_path = cache_dir / "manifest.json"
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Drop the manifest first and write it last: a crash in between leaves
        # no manifest, so new and old arrays can never be mixed up.
        manifest_path.unlink(missing_ok=True)
        for k in KEYS:
            atomic_write(cache_dir / f"{k}.npy", lambda f, a=arrays[k]: np.save(f, a))
        atomic_write(manifest_path, lambda f: f.write(json.dumps(manifest, indent=1).encode()))
    except OSError as e:
        warnings.warn(f"CIFAR-10 cache {cache_dir} not written ({_one_line(e)}); "
                      "the data will be read from its source again next time", stacklevel=3)


def _file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _one_line(e: BaseException) -> str:
    return f"{type(e).__name__}: {' '.join(str(e).split())}"
