"""The new named sources (mnist1d, text, diabetes, cifar10), the source table, bad inputs.

Everything here runs offline: mnist1d generates its data from templates in the package,
the text corpus is Debian's fortunes (or files the tests write), diabetes ships with
scikit-learn, and the CIFAR-10 archives are small ones the tests write in the real format.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import random
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from onecycle import data, models
from onecycle.data import (
    DATASET_NAMES,
    SOURCES,
    DatasetUnavailable,
    default_model,
    find_source,
    hf_causal_batch,
    load,
    read_cifar10,
    resolve,
    text_bundle,
)
from onecycle.data.text import FORTUNES_DIR, FORTUNES_FILES, FORTUNES_INSTALL
from onecycle.tasks import task_for

HAS_FORTUNES = all((FORTUNES_DIR / f).is_file() for f in FORTUNES_FILES)
needs_fortunes = pytest.mark.skipif(
    not HAS_FORTUNES, reason=f"Debian's fortunes not installed ({FORTUNES_INSTALL})"
)


# ------------------------------------------------------------------------ the table


def test_every_source_is_listed_with_a_registered_model_and_a_task():
    assert DATASET_NAMES == tuple(SOURCES)
    assert {"digits", "mnist", "fashion-mnist", "mnist1d", "text", "diabetes",
            "cifar10"} <= set(DATASET_NAMES)
    for name, source in SOURCES.items():
        assert source.default_model in models.MODELS, name
        assert source.task in data.TASK_NAMES, name
        assert source.description and source.input_shape.startswith("("), name


def test_find_source_and_default_model():
    assert find_source("  MNIST1D ")[0].name == "mnist1d"
    assert find_source("Fashion_MNIST")[0].name == "fashion-mnist"
    assert find_source("text:a/b.txt") == (SOURCES["text"], "a/b.txt")
    assert find_source("digits:foo") is None  # digits reads no files
    assert find_source(Path("text")) is None
    assert default_model("diabetes") == "mlp" and default_model("cifar10:x") == "resnet20"


def test_options_are_checked_per_source(tmp_path: Path):
    with pytest.raises(TypeError, match=r"dataset 'digits' takes no option 'seq_len'"):
        load("digits", seq_len=4)
    np.savez(tmp_path / "a.npz", x=np.zeros((10, 2)), y=np.arange(10) % 2)
    with pytest.raises(TypeError, match="is a path: it takes no options"):
        load(tmp_path / "a.npz", verify=False)
    with pytest.raises(TypeError, match="apply to named sources only"):
        resolve("sklearn.datasets:load_iris", seq_len=3)
    with pytest.raises(ValueError, match="val_fraction must be in"):
        load("diabetes", val_fraction=1.5)
    with pytest.raises(TypeError, match="flatten must be True or False"):
        load("digits", flatten="yes")


# -------------------------------------------------------------------------- mnist1d

try:
    import mnist1d as _mnist1d_package  # noqa: F401

    HAS_MNIST1D = True
except ImportError:
    HAS_MNIST1D = False
needs_mnist1d = pytest.mark.skipif(not HAS_MNIST1D, reason="mnist1d not installed "
                                   "(pip install mnist1d)")


@pytest.fixture(scope="module")
def mnist1d() -> data.DatasetBundle:
    return load("mnist1d")


@needs_mnist1d
def test_mnist1d_standard_split_and_shapes(mnist1d):
    b = mnist1d
    assert b.input_shape == (1, 40) and b.num_classes == 10 and b.task == "classification"
    assert (len(b.train), len(b.val), len(b.test)) == (3600, 400, 1000)
    x, y = b.train.tensors
    assert x.dtype == torch.float32 and y.dtype == torch.int64 and x.shape[1:] == (1, 40)
    per_class = torch.bincount(b.train.tensors[1]) + torch.bincount(b.val.tensors[1])
    assert (torch.bincount(b.val.tensors[1]) - per_class * 0.1).abs().max() <= 1  # stratified
    assert set(b.test.tensors[1].tolist()) == set(range(10))
    assert b.describe()["task"] == "classification"
    assert default_model("mnist1d") == "cnn1d"


@needs_mnist1d
def test_mnist1d_is_the_same_every_time_and_leaves_global_rngs_alone(mnist1d):
    from onecycle.data import mnist1d as source

    source._generate.cache_clear()
    random.seed(1)
    np.random.seed(1)
    before = (random.random(), np.random.rand())
    random.seed(1)
    np.random.seed(1)
    again = load("mnist1d")
    assert (random.random(), np.random.rand()) == before
    assert torch.equal(again.test.tensors[0], mnist1d.test.tensors[0])
    flat = load("mnist1d", flatten=True, seed=3)
    assert flat.input_shape == (40,)
    assert torch.equal(flat.test.tensors[0], mnist1d.test.tensors[0].reshape(1000, 40))
    assert not torch.equal(flat.val.tensors[1], mnist1d.val.tensors[1])  # seed moves val


# ----------------------------------------------------------------------------- text


def _corpus(n: int = 5000) -> str:
    rng = np.random.default_rng(0)
    words = ["the", "cat", "sat", "on", "a", "mat", "\n"]
    return " ".join(rng.choice(words, n // 3))[:n]


def test_text_windows_labels_and_contiguous_splits():
    text = _corpus()
    b = text_bundle(text, seq_len=16, name="toy")
    assert b.task == "language_model" and b.input_shape == (16,)
    assert b.num_classes == len(set(text)) == len(b.vocab) and b.classes == list(b.vocab.chars)
    assert b.batch_keys == ("input_ids", "labels") and b.mean == () and b.std == ()
    x, y = b.train.tensors
    assert x.dtype == y.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1])  # labels are the inputs shifted by one
    assert torch.equal(y[:-1, -1], x[1:, 0])  # windows tile the text: stride seq_len
    # train decodes to the beginning of the text, test to its end: contiguous, disjoint
    assert b.vocab.decode(x.reshape(-1)) == text[: 16 * len(x)]
    assert b.vocab.decode(y[-1]) == text[16 * len(x) - 15: 16 * len(x) + 1]
    test_x = b.test.tensors[0]
    test_start = len(text) - round(0.1 * len(text))
    val_start = test_start - round(0.1 * test_start)
    assert b.vocab.decode(b.val.tensors[0][0]) == text[val_start: val_start + 16]
    assert 16 * len(x) < val_start  # no training window reaches into the validation text
    assert b.vocab.decode(test_x[0]) == text[test_start:test_start + 16]
    assert len(b.test) == (round(0.1 * len(text)) - 1) // 16


def test_text_loaders_yield_dicts_in_a_seeded_order():
    b = text_bundle(_corpus(), seq_len=8)
    tr, va, te = b.loaders(16, seed=5)
    batch = next(iter(tr))
    assert set(batch) == {"input_ids", "labels"} and batch["input_ids"].shape == (16, 8)
    tr.set_epoch(3)
    first = [bt["input_ids"] for bt in tr]
    tr2 = b.loaders(16, seed=5)[0]
    tr2.set_epoch(3)
    assert all(torch.equal(a, c) for a, c in zip(first, (bt["input_ids"] for bt in tr2)))
    tr2.set_epoch(4)
    assert not torch.equal(first[0], next(iter(tr2))["input_ids"])
    assert isinstance(next(iter(te)), dict) and va is not None


def test_text_from_a_file_and_a_folder(tmp_path: Path):
    (tmp_path / "a.txt").write_text("hello world. " * 300)
    (tmp_path / "b.txt").write_text("%\nfirst fortune\n%\nsecond fortune\n" * 20)
    (tmp_path / "b.txt.dat").write_bytes(b"\x00\x00\x00\x02binary index")
    (tmp_path / "b.txt.u8").symlink_to(tmp_path / "b.txt")
    (tmp_path / "blob").write_bytes(b"\x00\x01\x02" * 10)
    one = load(f"text:{tmp_path / 'a.txt'}", seq_len=8)
    assert one.name == "a.txt" and one.num_classes == len(set("hello world. "))
    both = load(f"text:{tmp_path}", seq_len=8)
    corpus = data.read_corpus(tmp_path)
    assert "%" not in corpus and "first fortune\n\nsecond fortune" in corpus
    assert corpus.count("hello world.") == 300 and "\x00" not in corpus
    assert both.info["characters"] == len(corpus)
    via = resolve(f"text:{tmp_path / 'a.txt'}", allow_imports=False, seq_len=8)
    assert via.task == "language_model" and via.input_shape == (8,)


def test_text_errors_name_the_problem(tmp_path: Path):
    with pytest.raises(ValueError, match=r"too few for seq_len=64.*smaller seq_len"):
        text_bundle("short text", seq_len=64)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9".encode("latin-1") * 50)
    with pytest.raises(ValueError, match=r"latin1.txt: not UTF-8"):
        load(f"text:{bad}")
    with pytest.raises(FileNotFoundError, match="no such text file"):
        load(f"text:{tmp_path / 'none.txt'}")
    with pytest.raises(TypeError, match="seq_len must be an integer"):
        load(f"text:{bad}", seq_len="8")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        text_bundle("abc" * 100, seq_len=4).vocab.encode("abd")


def test_hf_causal_batch_checks_the_shift():
    w = torch.arange(10).view(2, 5)
    out = hf_causal_batch({"input_ids": w[:, :-1], "labels": w[:, 1:]})
    assert torch.equal(out["input_ids"], w) and out["labels"] is out["input_ids"]
    with pytest.raises(ValueError, match="shifted by one"):
        hf_causal_batch({"input_ids": w, "labels": w})


@needs_fortunes
def test_default_corpus_is_the_fortunes():
    b = load("text")
    assert b.name == "text" and b.input_shape == (128,) and 300_000 < b.info["characters"]
    assert b.info["characters"] < 500_000 and 60 < b.num_classes < 200
    t = task_for(b)
    assert t.name == "language_model" and 3.5 < t.chance < 6.0  # unigram entropy in bits
    assert load("text", seq_len=32).input_shape == (32,)


def test_missing_default_corpus_says_how_to_install(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path):
    monkeypatch.setattr(data.text, "FORTUNES_DIR", tmp_path)
    with pytest.raises(DatasetUnavailable, match="apt-get install -y fortunes"):
        load("text")


# ------------------------------------------------------------------------- diabetes


def test_diabetes_is_standardised_regression():
    b = load("diabetes")
    assert b.task == "regression" and b.input_shape == (10,) and b.num_classes == 1
    assert (len(b.train), len(b.val), len(b.test)) == (319, 35, 88)
    y = b.train.tensors[1]
    assert y.dtype == torch.float32 and y.shape == (319, 1)
    assert abs(float(y.mean())) < 1e-5 and abs(float(y.std(unbiased=False)) - 1) < 1e-4
    assert abs(float(b.test.tensors[1].mean())) > 1e-3  # test statistics were not used
    x, _ = b.split("train")
    assert torch.allclose(x.mean(0), torch.zeros(10), atol=1e-4)
    mean, std = b.info["target_mean"][0], b.info["target_std"][0]
    from sklearn.datasets import load_diabetes

    raw = load_diabetes().target
    restored = b.train.tensors[1][:, 0].double() * std + mean
    assert np.isin(np.round(restored.numpy(), 3), raw).all()
    other = load("diabetes", seed=1)  # other val split: other statistics, same test samples
    o_mean, o_std = other.info["target_mean"][0], other.info["target_std"][0]
    assert torch.allclose(other.test.tensors[1].double() * o_std + o_mean,
                          b.test.tensors[1].double() * std + mean)
    assert task_for(b).chance == pytest.approx(1.0, abs=1e-4)


def test_regression_subset_is_random_not_sorted():
    small = load("diabetes").subset(train=50)
    y = small.train.tensors[1][:, 0]
    assert len(y) == 50 and float(y.max()) > 0.5 and float(y.min()) < -0.5


# -------------------------------------------------------------------------- cifar10


def _batch_blob(n: int, seed: int, protocol: int = 2) -> bytes:
    rng = np.random.default_rng(seed)
    d = {"batch_label": "training batch", "labels": [int(v) for v in rng.integers(0, 10, n)],
         "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
         "filenames": [f"img{i}.png" for i in range(n)]}
    return pickle.dumps(d, protocol=protocol)


def _cifar_members(n: int = 6) -> dict[str, bytes]:
    members = {f"data_batch_{i}": _batch_blob(n, i) for i in range(1, 6)}
    members["test_batch"] = _batch_blob(n, 9, protocol=4)
    members["batches.meta"] = pickle.dumps(
        {"label_names": list(data.CIFAR10_CLASSES), "num_vis": 3072}, protocol=2)
    return members


def _write_archive(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


@pytest.fixture
def cifar(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    members = _cifar_members()
    return _write_archive(tmp_path / "cifar-10-python.tar.gz", members), members


def test_cifar_archive_is_checksummed(cifar):
    archive, _ = cifar
    with pytest.raises(ValueError, match=r"cifar-10-python.tar.gz: data_batch_1 has md5 "
                                         r"\w+, expected c99cafc.*verify=False"):
        load(f"cifar10:{archive}")


def test_cifar_archive_reads_images_and_labels(cifar):
    archive, members = cifar
    b = load(f"cifar10:{archive}", verify=False, val_fraction=0.2)
    assert b.input_shape == (3, 32, 32) and b.num_classes == 10 and b.classes[0] == "airplane"
    assert len(b.train) + len(b.val) == 30 and len(b.test) == 6
    raw = pickle.loads(members["test_batch"])
    want = torch.from_numpy(raw["data"].reshape(6, 3, 32, 32) / 255.0).float()
    assert torch.allclose(b.test.tensors[0], want) and b.test.tensors[1].tolist() == raw["labels"]
    sums = {k: hashlib.md5(v).hexdigest() for k, v in members.items()}
    x, y, xt, yt, names = read_cifar10(archive, checksums=sums)
    assert x.shape == (30, 3, 32, 32) and x.dtype == np.uint8 and names[-1] == "truck"


def test_cifar_extracted_folder_and_default_location(cifar, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch):
    _, members = cifar
    folder = tmp_path / "cache" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name, blob in members.items():
        (folder / name).write_bytes(blob)
    monkeypatch.setenv("ONECYCLE_DATA", str(tmp_path / "cache"))
    with pytest.raises(ValueError, match="has md5"):
        load("cifar10")
    monkeypatch.setattr(data.cifar, "CIFAR10_MD5",
                        {k: hashlib.md5(v).hexdigest() for k, v in members.items()})
    b = load("CIFAR-10")
    assert b.name == "cifar10" and len(b.test) == 6 and b.info["verified"] is True
    monkeypatch.setenv("ONECYCLE_DATA", str(tmp_path / "empty"))
    with pytest.raises(DatasetUnavailable, match="cifar-10-python.tar.gz"):
        load("cifar10")


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.parametrize(
    "change, message",
    [
        ({"test_batch": pickle.dumps(_Evil())}, "test_batch is not a CIFAR-10 batch.*print"),
        ({"data_batch_2": pickle.dumps({"data": np.zeros((2, 10), np.uint8),
                                        "labels": [0, 1]})}, r"uint8 \(N, 3072\)"),
        ({"data_batch_3": pickle.dumps({"data": np.zeros((1, 3072), np.uint8),
                                        "labels": [12]})}, "labels outside 0..9"),
        ({"data_batch_4": None}, "the archive has no cifar-10-batches-py/data_batch_4"),
    ],
)
def test_cifar_bad_archives(tmp_path: Path, change, message):
    members = {**_cifar_members(2), **change}
    archive = _write_archive(tmp_path / "c.tar.gz",
                             {k: v for k, v in members.items() if v is not None})
    with pytest.raises(ValueError, match=message):
        load(f"cifar10:{archive}", verify=False)
    (tmp_path / "not.tar.gz").write_bytes(b"not an archive")
    with pytest.raises(ValueError, match="not a readable CIFAR-10 archive"):
        read_cifar10(tmp_path / "not.tar.gz", checksums=None)


# ----------------------------------------------------------------------- bad inputs


@pytest.mark.regression
def test_an_outlier_label_does_not_build_a_billion_classes(tmp_path: Path):
    """issue #20 (3): labels {0, 1, 2, 10**9} built a 10**9-entry class list (OOM)."""
    p = tmp_path / "outlier.npz"
    np.savez(p, x=np.random.default_rng(0).random((40, 3)),
             y=np.array([0, 1, 2, 10**9] * 10))
    b = load(p)
    assert b.num_classes == 4 and b.classes == ["0", "1", "2", "1000000000"]
    assert set(b.train.tensors[1].tolist()) == {0, 1, 2, 3}


def test_label_encoding_rules():
    enc = data.encode_labels
    assert enc(np.array([0, 1, 3]))[1] == ["0", "1", "2", "3"]  # dense: ids kept
    assert enc(np.array([-1, 1]))[1] == ["-1", "1"]
    assert enc(np.array([2.0, 5.0, 2.0]))[1] == ["2", "5"]
    assert enc(np.array(["b", "a"]))[1] == ["a", "b"]
    # with class names given, ids are indices into them even when sparse
    (y,), names = enc(np.array([0, 9]), num_names=10)
    assert y.tolist() == [0, 9] and len(names) == 10


@pytest.mark.regression
def test_one_sample_npz_is_a_one_line_error_naming_the_file(tmp_path: Path):
    """issue #20 (13): an .npz with one sample failed with a reshape error."""
    p = tmp_path / "one.npz"
    np.savez(p, x=np.zeros((1, 3, 8, 8)), y=np.array([0]))
    with pytest.raises(ValueError, match=r"one.npz: dataset 'one' has 1 sample") as info:
        load(p)
    assert "\n" not in str(info.value)


@pytest.mark.regression
@pytest.mark.parametrize("payload", [b"hello, not a zip", b"PK\x03\x04broken zip", b""])
def test_non_zip_npz_is_a_one_line_error_naming_the_file(tmp_path: Path, payload: bytes):
    """issue #20 (13): a non-zip file named .npz raised BadZipFile."""
    p = tmp_path / "fake.npz"
    p.write_bytes(payload)
    with pytest.raises(ValueError, match=r"fake.npz: (not a .npz file|cannot read)") as info:
        load(p)
    assert "\n" not in str(info.value)


def test_empty_splits_never_reach_the_loaders(tmp_path: Path):
    b = data.from_arrays(np.zeros((3, 2)), np.array([0, 1, 0]), val_fraction=0.0)
    assert len(b.test) == 1
    empty = b.subset(test=0)
    assert len(empty.test) == 0
    x = empty.normalize(empty.test.tensors[0])  # reshaping an empty batch works
    assert x.shape == (0, 2)
