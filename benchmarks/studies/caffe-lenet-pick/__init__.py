"""Benchmark studies (see README.md)."""
