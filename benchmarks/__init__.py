"""onecycle's benchmarks: ``python -m benchmarks.suite --help`` (run from the repository root)."""
