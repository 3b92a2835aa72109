"""The tiny but complete `onecycle run` the CLI tests share: an MLP on digits, 20-iteration
range tests, two weight decays (a few seconds on one core)."""

from __future__ import annotations


def tiny_toml(*, epochs: int = 1, quiet: bool = True,
              weight_decay: str | None = "grid = [1e-3, 0.0]") -> str:
    """The configuration file's text; ``weight_decay``: the ``[weight_decay]`` table's
    body (None: no table, the defaults)."""
    text = (f'model = "mlp"\nepochs = {epochs}\nbatch_size = 128\n'
            + ("quiet = true\n" if quiet else "")
            + "\n[finder]\nnum_iter = 20\nstart_lr = 1e-4\nend_lr = 10.0\n")
    if weight_decay is not None:
        text += f"\n[weight_decay]\n{weight_decay}\n"
    return text
