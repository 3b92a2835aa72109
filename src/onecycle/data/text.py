"""Character-level language modelling on any text file (default: Debian's fortunes).

``load("text")`` reads the default corpus, three plain-text fortune files of Debian's
``fortunes`` package (``apt-get install -y fortunes``):
``/usr/share/games/fortunes/{fortunes,computers,science}``, about 390 KB.
``load("text:PATH")`` reads any UTF-8 text file, or every plain-text file of a folder
(in name order; ``.dat`` indexes, ``.u8`` links and other binary files are skipped).
A file with a ``strfile`` index beside it (``NAME.dat``) is a fortune file: its ``%``
separator lines are dropped, leaving the fortunes separated by blank lines.

The corpus is split **contiguously**: the last ``test_fraction`` (10 %) of the
characters is the test split, the ``val_fraction`` of the rest just before it the
validation split, the beginning the training split, so no window of the test text is
ever seen in training. The split does not depend on ``seed`` (only the loaders' order
does). Each split is cut into non-overlapping windows of ``seq_len + 1`` characters
(stride ``seq_len``): ``input_ids`` are a window's first ``seq_len`` characters and
``labels`` its last ``seq_len``, the inputs shifted by one, so every character after
the first of a split is predicted exactly once. The loaders yield
``{"input_ids": LongTensor(B, T), "labels": LongTensor(B, T)}``.

The vocabulary (:class:`CharVocab`, on ``bundle.vocab``) is every character of the
whole corpus, sorted, so a character that happens to occur only in the test split
still has an id; ``num_classes`` is its size and ``input_shape`` is ``(seq_len,)``.

Hugging Face models shift labels themselves and want ``labels == input_ids``:
:func:`hf_causal_batch` turns a batch into that form (the whole ``T + 1`` window as
both), which predicts exactly the same characters.

Example:
    >>> b = text_bundle("hello world, " * 40, seq_len=8, name="hello")
    >>> b.task, b.input_shape, b.num_classes, b.vocab.decode(b.vocab.encode("hold"))
    ('language_model', (8,), 9, 'hold')
    >>> batch = next(iter(b.loaders(4)[0]))
    >>> sorted(batch), tuple(batch["input_ids"].shape)
    (['input_ids', 'labels'], (4, 8))
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import _validate as check
from .arrays import assemble
from .bundle import DatasetBundle
from .locate import DatasetUnavailable

__all__ = [
    "DEFAULT_SEQ_LEN",
    "FORTUNES_DIR",
    "FORTUNES_FILES",
    "FORTUNES_INSTALL",
    "TEXT_TEST_FRACTION",
    "CharVocab",
    "default_corpus",
    "hf_causal_batch",
    "load_text",
    "read_corpus",
    "text_bundle",
]

#: The Debian package of the default corpus, and where it puts its files.
FORTUNES_INSTALL = "apt-get install -y fortunes"
FORTUNES_DIR = Path("/usr/share/games/fortunes")
#: The files of the default corpus (about 390 KB of plain text together).
FORTUNES_FILES: tuple[str, ...] = ("fortunes", "computers", "science")

#: Characters of context per sample, unless ``seq_len=`` says otherwise.
DEFAULT_SEQ_LEN = 128
#: The share of the corpus (its end) that is the test split.
TEXT_TEST_FRACTION = 0.1

_SKIPPED_SUFFIXES = (".dat", ".u8", ".gz", ".zip", ".pdf", ".png", ".jpg")


@dataclass(frozen=True)
class CharVocab:
    """A character vocabulary: ids ``0..len-1`` for the sorted characters of a corpus.

    Example:
        >>> v = CharVocab.from_text("abca")
        >>> len(v), v.encode("cab").tolist(), v.decode([2, 0])
        (3, [2, 0, 1], 'ca')
    """

    chars: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(self.chars)})

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        """The vocabulary of ``text``: its distinct characters in code-point order.

        Example:
            >>> CharVocab.from_text("banana").chars
            ('a', 'b', 'n')
        """
        return cls(tuple(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """``text`` as an int64 array of ids; a character outside the vocabulary is an error.

        Example:
            >>> CharVocab(("a", "b")).encode("abz")
            Traceback (most recent call last):
            ...
            ValueError: text contains 'z', which is not in the vocabulary of 2 characters
        """
        try:
            return np.fromiter((self._index[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as err:
            raise ValueError(f"text contains {err.args[0]!r}, which is not in the vocabulary "
                             f"of {len(self)} characters") from None

    def decode(self, ids: Iterable[int] | torch.Tensor | np.ndarray) -> str:
        """The characters of ``ids`` as a string.

        Example:
            >>> import torch
            >>> CharVocab(("h", "i")).decode(torch.tensor([0, 1]))
            'hi'
        """
        values = ids.tolist() if isinstance(ids, torch.Tensor | np.ndarray) else list(ids)
        return "".join(self.chars[int(i)] for i in values)


def _read_file(path: Path) -> str:
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise ValueError(f"{path}: not a text file (it contains NUL bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    if path.with_name(path.name + ".dat").is_file():  # a fortune file: drop '%' separators
        text = "\n".join("" if line == "%" else line for line in text.split("\n"))
    return text


def _text_files(folder: Path) -> list[Path]:
    seen: set[Path] = set()
    files = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or not p.is_file() or p.suffix.lower() in _SKIPPED_SUFFIXES:
            continue
        real = p.resolve()
        if real in seen:  # links to a file already read
            continue
        seen.add(real)
        with open(p, "rb") as f:
            if b"\x00" in f.read(4096):  # binary
                continue
        files.append(p)
    return files


def read_corpus(path: str | os.PathLike[str]) -> str:
    """The text of a UTF-8 file, or of every plain-text file of a folder, joined.

    Files of a folder are read in name order and joined with a blank line. Errors name
    the file (not found, not UTF-8, binary, empty).

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "a.txt").write_text("one"); _ = (d / "b.txt").write_text("two")
        >>> read_corpus(d)
        'one\\n\\ntwo'
    """
    p = Path(path).expanduser()
    if p.is_dir():
        files = _text_files(p)
        if not files:
            raise ValueError(f"path={str(p)!r}: the folder has no plain-text files")
        text = "\n\n".join(_read_file(f) for f in files)
    elif p.is_file():
        text = _read_file(p)
    else:
        raise FileNotFoundError(f"path={str(p)!r}: no such text file or folder")
    if not text:
        raise ValueError(f"path={str(p)!r}: the text is empty")
    return text


def default_corpus() -> str:
    """The default corpus: :data:`FORTUNES_FILES` from Debian's ``fortunes`` package.

    Raises :class:`DatasetUnavailable` with the install command when they are missing.

    Example:
        >>> len(default_corpus()) > 300_000  # doctest: +SKIP
        True
    """
    files = [FORTUNES_DIR / name for name in FORTUNES_FILES]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise DatasetUnavailable(
            "the default text corpus (Debian's fortunes) is not installed. Install it with:\n"
            f"    {FORTUNES_INSTALL}\n"
            f"(missing: {', '.join(missing)}), or give any text file as 'text:PATH'."
        )
    return "\n\n".join(_read_file(f) for f in files)


def _windows(ids: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping ``seq_len + 1`` windows with stride ``seq_len``: (inputs, labels)."""
    n = (len(ids) - 1) // seq_len
    if n <= 0:
        return np.zeros((0, seq_len), np.int64), np.zeros((0, seq_len), np.int64)
    starts = np.arange(n) * seq_len
    win = ids[starts[:, None] + np.arange(seq_len + 1)[None, :]]
    return win[:, :-1], win[:, 1:]


def text_bundle(
    text: str,
    *,
    seq_len: int = DEFAULT_SEQ_LEN,
    val_fraction: float = 0.1,
    test_fraction: float = TEXT_TEST_FRACTION,
    name: str = "text",
    info: Mapping[str, Any] | None = None,
) -> DatasetBundle:
    """A language-model :class:`~onecycle.data.DatasetBundle` of ``text`` (see the module docs).

    Example:
        >>> b = text_bundle("abcdefgh" * 100, seq_len=16)
        >>> (len(b.train), len(b.val), len(b.test)), b.describe()["vocab_size"]
        ((40, 4, 4), 8)
    """
    seq_len = check.integer("seq_len", seq_len, least=1)
    val_fraction = check.in_range("val_fraction", val_fraction, 0.0, 1.0, high_open=True)
    test_fraction = check.in_range("test_fraction", test_fraction, 0.0, 1.0, low_open=True,
                                   high_open=True)
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    vocab = CharVocab.from_text(text)
    ids = vocab.encode(text)
    n = len(ids)
    test_start = n - int(round(test_fraction * n))
    val_start = test_start - int(round(val_fraction * test_start))
    parts = (ids[:val_start], ids[val_start:test_start], ids[test_start:])
    train, val, test = (_windows(p, seq_len) for p in parts)
    if len(train[0]) == 0 or len(test[0]) == 0:
        raise ValueError(
            f"text {name!r} has {n} characters: too few for seq_len={seq_len} (the training "
            f"split has {len(parts[0])} and the test split {len(parts[2])} characters; each "
            f"needs at least seq_len + 1 = {seq_len + 1}); give more text or a smaller seq_len"
        )
    meta = {"seq_len": seq_len, "val_fraction": val_fraction, "test_fraction": test_fraction,
            "characters": n, "vocab_size": len(vocab), "label_shift": 1, **dict(info or {})}
    bundle = assemble(train, val, test, name=name, task="language_model",
                      num_classes=len(vocab), classes=list(vocab.chars), info=meta)
    return replace(bundle, vocab=vocab, batch_keys=("input_ids", "labels"))


def load_text(
    path: str | os.PathLike[str] | None = None,
    *,
    seq_len: int = DEFAULT_SEQ_LEN,
    val_fraction: float = 0.1,
    seed: int = 0,
    flatten: bool = False,
) -> DatasetBundle:
    """The text source: the default corpus (``path=None``) or a file/folder at ``path``.

    ``seed`` and ``flatten`` are accepted like every source's; neither changes a text
    bundle (the split is contiguous, the inputs are already flat).

    Example:
        >>> load_text(seq_len=64).input_shape  # doctest: +SKIP
        (64,)
    """
    check.seed("seed", seed)
    seq_len = check.integer("seq_len", seq_len, least=1)
    if path is None:
        text, name, source = default_corpus(), "text", "fortunes: " + ", ".join(FORTUNES_FILES)
    else:
        p = Path(path).expanduser()
        text, name, source = read_corpus(p), p.name or "text", str(p)
    return text_bundle(text, seq_len=seq_len, val_fraction=val_fraction, name=name,
                       info={"source": source, "seed": seed})


def hf_causal_batch(batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A text batch in Hugging Face's convention: ``labels == input_ids``, one longer.

    Our ``labels`` are the inputs shifted by one; a Hugging Face causal LM shifts its
    ``labels`` itself. The window ``input_ids + labels[:, -1:]`` (``T + 1`` characters)
    given as both makes it predict exactly our ``T`` labels. Raises ``ValueError`` when
    ``labels`` are not the inputs shifted by one (a batch from elsewhere).

    Example:
        >>> import torch
        >>> w = torch.arange(5).view(1, 5)
        >>> hf_causal_batch({"input_ids": w[:, :-1], "labels": w[:, 1:]})["labels"].tolist()
        [[0, 1, 2, 3, 4]]
    """
    input_ids, labels = batch["input_ids"], batch["labels"]
    if input_ids.shape != labels.shape or not torch.equal(input_ids[:, 1:], labels[:, :-1]):
        raise ValueError(
            "batch['labels'] must be batch['input_ids'] shifted by one (the next "
            f"characters), as text bundles make them; got shapes {tuple(input_ids.shape)} "
            f"and {tuple(labels.shape)} that do not line up"
        )
    window = torch.cat([input_ids, labels[:, -1:]], dim=1)
    return {"input_ids": window, "labels": window}
