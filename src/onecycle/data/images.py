"""Users' own files: ``.npz`` arrays and image folders (one sub-folder per class).

Example:
    >>> import tempfile, pathlib, numpy as np
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "toy.npz"
    >>> np.savez(p, x=np.zeros((20, 3)), y=np.arange(20) % 2)
    >>> load_npz(p).input_shape
    (3,)
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .arrays import from_arrays, to_float01
from .bundle import DatasetBundle

__all__ = ["IMAGE_EXTENSIONS", "load_image_folder", "load_npz", "read_npz"]


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, by lower-cased name, without unpickling anything.

    Raises a one-line ``ValueError`` naming the file for anything that is not a valid
    ``.npz`` (not a zip archive, a corrupt member, pickled object arrays).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "bad.npz"; _ = p.write_text("hello")
        >>> read_npz(p)
        Traceback (most recent call last):
        ...
        ValueError: .../bad.npz: not a .npz file (not a zip archive); save arrays with numpy.savez
    """
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a .npz file (not a zip archive); save arrays with "
                         "numpy.savez")
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k.lower(): f[k] for k in f.files}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise ValueError(f"{path}: cannot read the arrays ({reason})") from None


def load_npz(path: Path, **kw: Any) -> DatasetBundle:
    """A bundle from an ``.npz`` with ``x_train, y_train[, x_test, y_test]`` or ``x, y``.

    An optional ``classes`` array names the classes. Every problem with the file is a
    one-line ``ValueError`` naming it. ``kw`` are :func:`~onecycle.data.from_arrays`'s
    split options.

    Example:
        >>> import tempfile, pathlib, numpy as np
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "one.npz"
        >>> np.savez(p, x=np.zeros((1, 3)), y=np.array([0]))
        >>> load_npz(p)
        Traceback (most recent call last):
        ...
        ValueError: .../one.npz: dataset 'one' has 1 sample(s): too few for a training split (1) and a test split (0); give more samples (or x_test/y_test for the test split)
    """
    arrays = read_npz(path)
    classes: Sequence[str] | None = None
    if "classes" in arrays:
        classes = [str(c) for c in np.asarray(arrays["classes"]).reshape(-1)]
    if {"x_train", "y_train"} <= arrays.keys():
        x, y = arrays["x_train"], arrays["y_train"]
        test = {}
        if {"x_test", "y_test"} <= arrays.keys():
            test = {"x_test": arrays["x_test"], "y_test": arrays["y_test"]}
    elif {"x", "y"} <= arrays.keys():
        x, y, test = arrays["x"], arrays["y"], {}
    else:
        raise ValueError(
            f"{path}: expected arrays x_train, y_train[, x_test, y_test] or x, y; "
            f"found {sorted(arrays)}"
        )
    try:
        return from_arrays(x, y, name=path.stem, classes=classes,
                           info={"source": str(path)}, **test, **kw)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")


def _class_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _read_image_tree(root: Path, classes: Sequence[str]) -> tuple[list[np.ndarray], list[int]]:
    from matplotlib import image as mpimg

    images, labels = [], []
    for label, cls in enumerate(classes):
        d = root / cls
        if not d.is_dir():
            continue
        for p in sorted(d.iterdir()):
            if p.suffix.lower() not in IMAGE_EXTENSIONS or not p.is_file():
                continue
            try:
                img = np.asarray(mpimg.imread(p))
            except Exception as err:  # noqa: BLE001 - re-raised with the file name
                raise ValueError(f"cannot read image {p}: {err}") from err
            img = to_float01(img)
            if img.ndim == 3 and img.shape[2] == 4:
                img = img[:, :, :3]
            if img.ndim == 3 and img.shape[2] == 1:
                img = img[:, :, 0]
            images.append(img)
            labels.append(label)
    return images, labels


def _stack_images(images: list[np.ndarray], root: Path) -> np.ndarray:
    if not images:
        raise ValueError(f"{root}: no images found (extensions {', '.join(IMAGE_EXTENSIONS)})")
    sizes = {im.shape[:2] for im in images}
    if len(sizes) != 1:
        raise ValueError(f"{root}: images have different sizes {sorted(sizes)}; resize them first")
    rgb = [im for im in images if im.ndim == 3]
    grey = all(
        np.array_equal(im[..., 0], im[..., 1]) and np.array_equal(im[..., 0], im[..., 2])
        for im in rgb
    )
    if grey:
        arr = np.stack([im if im.ndim == 2 else im[..., 0] for im in images])[:, None]
    else:
        arr = np.stack(
            [im if im.ndim == 3 else np.repeat(im[..., None], 3, axis=2) for im in images]
        ).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(arr, dtype=np.float32)


def load_image_folder(root: Path, **kw: Any) -> DatasetBundle:
    """A bundle from ``root/<class>/*.png`` or ``root/train/<class>/...`` + ``root/test/...``.

    All images must have one size; grey images stay one channel, any colour image makes
    every image RGB. ``kw`` are :func:`~onecycle.data.from_arrays`'s split options.

    Example:
        >>> import tempfile, pathlib, numpy as np
        >>> from matplotlib import image as mpimg
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> for c in ("a", "b"):
        ...     (root / c).mkdir()
        ...     for i in range(5):
        ...         mpimg.imsave(root / c / f"{i}.png", np.full((4, 4), i / 5), cmap="gray")
        >>> load_image_folder(root).input_shape
        (1, 4, 4)
    """
    subdirs = {p.name: p for p in _class_dirs(root)}
    info = {"source": str(root)}
    if {"train", "test"} <= subdirs.keys() and _class_dirs(subdirs["train"]):
        classes = sorted(
            {p.name for p in _class_dirs(subdirs["train"])}
            | {p.name for p in _class_dirs(subdirs["test"])}
        )
        tr_imgs, tr_lab = _read_image_tree(subdirs["train"], classes)
        te_imgs, te_lab = _read_image_tree(subdirs["test"], classes)
        x = _stack_images(tr_imgs + te_imgs, root)
        xtr, xte = x[: len(tr_imgs)], x[len(tr_imgs) :]
        return from_arrays(
            xtr,
            np.array(tr_lab),
            x_test=xte,
            y_test=np.array(te_lab),
            name=root.name,
            classes=classes,
            info=info,
            **kw,
        )
    classes = sorted(subdirs)
    if not classes:
        raise ValueError(f"{root}: an image folder needs one sub-folder per class")
    imgs, labels = _read_image_tree(root, classes)
    return from_arrays(
        _stack_images(imgs, root),
        np.array(labels),
        name=root.name,
        classes=classes,
        info=info,
        **kw,
    )
