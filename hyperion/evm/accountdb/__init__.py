"""py-evm account database over a flat state view: compiled or pure-Python (see ``hyperion.native``)."""
from hyperion.native import load

_impl = load("hyperion.evm.accountdb", "flatdb")

FlatAccountDB = _impl.FlatAccountDB
WriteSet = _impl.WriteSet
EMPTY_CODE_HASH = _impl.EMPTY_CODE_HASH

__all__ = ["FlatAccountDB", "WriteSet", "EMPTY_CODE_HASH"]
