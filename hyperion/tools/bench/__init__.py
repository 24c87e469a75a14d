"""Benchmarks behind ``hyperion bench``: each issue's measurements, importable and scriptable."""
