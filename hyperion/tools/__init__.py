"""Tooling around the engine (not needed to embed it): conformance runners, benchmarks,
workload generators and the stock py-evm reference."""
