"""py-evm account database over a flat state view: compiled or pure-Python (see ``_core``)."""
from hyperion._core import load

_impl = load("flatdb")

FlatAccountDB = _impl.FlatAccountDB
WriteSet = _impl.WriteSet
EMPTY_CODE_HASH = _impl.EMPTY_CODE_HASH

__all__ = ["FlatAccountDB", "WriteSet", "EMPTY_CODE_HASH"]
