"""Signed transaction bytes -> compact record: compiled or pure-Python (see ``hyperion.native``)."""
from hyperion.native import load

_impl = load("hyperion.evm", "txdecode")

DecodedTx = _impl.DecodedTx
decode = _impl.decode

__all__ = ["DecodedTx", "decode"]
