"""Reading data pickles without running code: numpy arrays and plain containers only.

A pickle can call any importable function while it loads, so data pickles (MNIST's
``mnist.pkl.gz``, CIFAR-10's batches) are read with an unpickler that rebuilds numpy
arrays and refuses every other global. Plain containers (dicts, lists, tuples, strings,
numbers) need no global and load as usual.

Example:
    >>> import io, pickle, numpy as np
    >>> blob = pickle.dumps({"data": np.arange(3, dtype=np.uint8), "labels": [1, 2, 3]})
    >>> load_pickle(io.BytesIO(blob))["data"].tolist()
    [0, 1, 2]
    >>> load_pickle(io.BytesIO(pickle.dumps(print)))
    Traceback (most recent call last):
    ...
    _pickle.UnpicklingError: refusing to load builtins.print from a data pickle (only numpy arrays allowed)
"""

from __future__ import annotations

import codecs
import importlib
import pickle
from typing import IO, Any

import numpy as np

__all__ = ["NumpyOnlyUnpickler", "load_pickle"]


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild numpy arrays and nothing else.

    Example:
        >>> import io, pickle, numpy as np
        >>> NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(np.zeros(2)))).load().shape
        (2,)
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol 2 stores bytes under Python 3
    }

    def find_class(self, module: str, name: str) -> Any:
        """The allowed numpy constructors; any other global is refused.

        Example:
            >>> import io
            >>> NumpyOnlyUnpickler(io.BytesIO()).find_class("os", "system")
            Traceback (most recent call last):
            ...
            _pickle.UnpicklingError: refusing to load os.system from a data pickle (only numpy arrays allowed)
        """
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name} from a data pickle (only numpy arrays allowed)"
            )
        if module.startswith("numpy"):
            leaf = module.rsplit(".", 1)[-1]
            if leaf in ("multiarray", "numeric"):
                try:
                    mod = importlib.import_module(f"numpy._core.{leaf}")
                except ImportError:  # numpy < 2
                    mod = importlib.import_module(f"numpy.core.{leaf}")
                return getattr(mod, name)
        if module == "_codecs":
            return codecs.encode
        return getattr(np, name)


def load_pickle(file: IO[bytes], *, encoding: str = "latin1") -> Any:
    """Load one pickle from ``file`` with :class:`NumpyOnlyUnpickler`.

    ``encoding="latin1"`` reads pickles written by Python 2 (the MNIST and CIFAR-10
    files) with their numpy buffers intact.

    Example:
        >>> import io, pickle
        >>> load_pickle(io.BytesIO(pickle.dumps([1, "a"], protocol=2)))
        [1, 'a']
    """
    return NumpyOnlyUnpickler(file, encoding=encoding).load()
