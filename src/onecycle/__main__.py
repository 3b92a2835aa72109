"""``python -m onecycle``: the same as the ``onecycle`` command (see :mod:`onecycle.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
