"""Hyperion in the Ethereum tool ecosystem: an eth-tester backend for web3.py (docs/web3.md).

Needs the ``web3`` extra (``pip install hyperion[web3]``: web3.py and eth-tester).
"""
from hyperion.ecosystem.ethtester import HyperionBackend

__all__ = ["HyperionBackend"]
