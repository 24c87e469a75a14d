"""Signed transaction bytes -> compact record, and fields -> RLP: compiled or pure-Python
(see ``hyperion.native``)."""
from hyperion.native import load

_impl = load("hyperion.evm", "txdecode")

DecodedTx = _impl.DecodedTx
decode = _impl.decode
encode = _impl.encode
encode_list = _impl.encode_list

__all__ = ["DecodedTx", "decode", "encode", "encode_list"]
