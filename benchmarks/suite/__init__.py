"""The maintained benchmarks of onecycle, on one registry of settings and one runner.

Run from the repository root: ``python -m benchmarks.suite list``, ``python -m
benchmarks.suite run suggestions [--quick]``, ``python -m benchmarks.suite report``
(rebuilds ``benchmarks/RESULTS.md`` from ``benchmarks/results/*.json``). Every benchmark
answers one question a user has with a protocol fixed in its module docstring.
"""
