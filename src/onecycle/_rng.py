"""The global random number generators: seed them, capture them, put them back.

One home for what the range test, the Trainer, its checkpoints and the searches all do
with python ``random``, numpy's global generator, torch's CPU generator and every CUDA
device's generator:

* :func:`seed_everything` seeds them all from one integer;
* :func:`rng_state` captures them, in a form that ``torch.save`` writes and
  ``torch.load(weights_only=True)`` reads back (tensors, ints, floats, lists: no
  pickled numpy or tuples), so a checkpoint can hold it;
* :func:`set_rng_state` puts a captured state back, bit for bit.

CUDA generators are captured only once CUDA is initialised (capturing would otherwise
initialise it, which is slow and allocates memory on every device); before that they
still hold their untouched default state.

Example:
    >>> import torch
    >>> seed_everything(3); s = rng_state(); a = torch.rand(2)
    >>> set_rng_state(s); bool(torch.equal(torch.rand(2), a))
    True
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from . import _validate as check

__all__ = ["seed_everything", "rng_state", "set_rng_state"]


def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy's global generator and torch (every device).

    ``seed`` is an integer in ``[0, 2**63 - 1]`` (numpy takes it modulo ``2**32``).

    >>> seed_everything(0); a = torch.rand(1); seed_everything(0); bool(torch.rand(1) == a)
    True
    """
    seed = check.seed("seed", seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """The global RNG states (torch, CUDA once initialised, numpy, python), safe for
    ``torch.load(weights_only=True)``.

    >>> st = rng_state(); a = torch.rand(1); set_rng_state(st)
    >>> bool(torch.rand(1) == a)
    True
    """
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": {"version": int(version), "state": [int(v) for v in internal], "gauss": gauss},
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Put back RNG states captured by :func:`rng_state` (keys it lacks are left alone;
    CUDA states for more devices than this machine has are ignored).

    >>> st = rng_state(); a = random.random(); set_rng_state(st)
    >>> random.random() == a
    True
    """
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu().to(torch.uint8))
    py = state.get("python")
    if py is not None:
        random.setstate((int(py["version"]), tuple(int(v) for v in py["state"]), py.get("gauss")))
    npst = state.get("numpy")
    if npst is not None:
        keys = npst["keys"]
        keys = keys.numpy() if hasattr(keys, "numpy") else np.asarray(keys)
        np.random.set_state((npst["kind"], keys.astype(np.uint32), int(npst["pos"]),
                             int(npst["has_gauss"]), float(npst["cached_gaussian"])))
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available():
        n = min(len(cuda), torch.cuda.device_count())
        torch.cuda.set_rng_state_all([c.to(torch.uint8) for c in cuda[:n]])
