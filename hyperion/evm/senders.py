"""Sender recovery: from a decoded record's signature, cached by transaction hash, and
pipelined ahead of sequential execution in a helper process (docs/design.md §19).

Recovering a sender (secp256k1 public-key recovery and a keccak) is the largest single
cost of a simple transaction outside the interpreter.  It depends on the signed bytes
alone, so it can run ahead of execution, and its answer can be kept:

- :data:`CACHE` maps a transaction hash to its recovered sender (bounded, oldest out
  first), so the same bytes seen again -- the next pipelined block, gRPC ``Simulate`` then
  ``Execute`` -- are not recovered again;
- :class:`RecoveryStage` keeps one helper process (``python -P -m hyperion.evm.senders``) that
  recovers a block's senders while the caller executes the block's transactions.  The
  caller never waits for it: a sender the helper has not sent yet is recovered in place.
  Only successes travel back; a signature the helper cannot recover is recovered again
  by the caller, whose path reports the fault in py-evm's words.

The helper imports neither py-evm nor the rest of Hyperion, so it starts in a fraction
of a second, and it exits when its input closes (also when its parent dies).
"""
from __future__ import annotations

import os
import queue
import struct
import subprocess
import sys
import threading
from typing import Dict, List, Optional, Sequence

from eth_hash.auto import keccak

from hyperion.evm import txdecode

#: coincurve's ``PublicKey``, imported by the first recovery: its import (asn1crypto with it)
#: is about 15 ms, a few percent of a short ``hyperion t8n``, which may recover nothing
_PublicKey = None

#: blocks with fewer signed inputs than this recover in place (the helper's round trip and
#: its start-up would not pay for themselves)
PIPELINE_MIN_TXS = 64
#: the first chunk is small so that the first senders arrive early
FIRST_CHUNK, CHUNK = 32, 256
_RESULT_SIZE = 21  # one flag byte (1: recovered) and the 20-byte sender
#: the folder holding the ``hyperion`` package, so that the helper imports this very copy
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def recover(tx) -> Optional[bytes]:
    """The sender of decoded record ``tx``, or None if its signature recovers no key."""
    public_key_class = _PublicKey or _import_public_key()
    if public_key_class is None or tx.signing_hash is None:
        return None
    try:
        signature = tx.r.to_bytes(32, "big") + tx.s.to_bytes(32, "big") + bytes([tx.recovery_id()])
        public_key = public_key_class.from_signature_and_message(signature, tx.signing_hash, hasher=None)
    except Exception:  # out-of-range values, no point on the curve: the caller's py-evm path says which
        return None
    return keccak(public_key.format(compressed=False)[1:])[12:]


def _import_public_key():
    global _PublicKey
    try:
        from coincurve import PublicKey
    except ImportError:  # pragma: no cover - coincurve is a dependency; py-evm's path still recovers
        return None
    _PublicKey = PublicKey
    return PublicKey


class SenderCache:
    """Transaction hash -> sender, at most ``capacity`` entries, the oldest evicted first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._senders: Dict[bytes, bytes] = {}
        self._lock = threading.Lock()  # gRPC calls may decode on several threads

    def get(self, tx_hash: bytes) -> Optional[bytes]:
        return self._senders.get(tx_hash)

    def put(self, tx_hash: bytes, sender: bytes) -> None:
        with self._lock:
            senders = self._senders
            if tx_hash not in senders:
                if len(senders) >= self.capacity:
                    del senders[next(iter(senders))]
                senders[tx_hash] = sender

    def clear(self) -> None:
        with self._lock:
            self._senders.clear()

    def __len__(self) -> int:
        return len(self._senders)


#: 65,536 entries: about a dozen 5,000-transaction blocks, ~6 MB
CACHE = SenderCache(65_536)


def _recover_raw(raw: bytes) -> Optional[bytes]:
    tx = txdecode.decode(raw)
    return None if tx is None else recover(tx)


# -- the pipelined stage (caller side) -----------------------------------------------------------
class Recovering:
    """One block's senders as the helper sends them; :meth:`get` never waits.

    The caller moves ``position`` along as it executes: chunks it has already passed are
    never sent to the helper (they were recovered in place), and :meth:`finish` stops the
    sending, so the helper never works on behalf of a block that is over.  ``arrived``
    lists the ``(start, stop)`` chunks whose answers are all in ``senders``, in the order
    they arrived (Block-STM's coordinator passes them on to its workers).
    """

    def __init__(self, count: int) -> None:
        self.senders: List[Optional[bytes]] = [None] * count
        self.position = 0
        self.finished = False
        self.arrived: List[tuple] = []

    def get(self, index: int) -> Optional[bytes]:
        self.position = index
        return self.senders[index]

    def finish(self) -> None:
        self.finished = True


class RecoveryStage:
    """A helper process recovering senders ahead of execution (see the module docstring)."""

    def __init__(self) -> None:
        self._process: Optional[subprocess.Popen] = None
        self._threads: List[threading.Thread] = []

    def submit(self, inputs: Sequence[object]) -> Optional[Recovering]:
        """Start recovering the senders of ``inputs`` (non-bytes entries are skipped).

        None when the batch is too small or the helper cannot run (the caller recovers in place).
        """
        raws = [bytes(item) if isinstance(item, (bytes, bytearray, memoryview)) else b"" for item in inputs]
        if sum(1 for raw in raws if raw) < PIPELINE_MIN_TXS:
            return None
        self.wait()  # the previous block's answers are all read before new ones come
        process = self._ensure_process()
        if process is None:
            return None
        recovering = Recovering(len(raws))
        chunks = []
        start = 0
        while start < len(raws):
            stop = min(len(raws), start + (FIRST_CHUNK if start == 0 else CHUNK))
            chunks.append((start, stop))
            start = stop
        sent: "queue.SimpleQueue" = queue.SimpleQueue()
        writer = threading.Thread(target=self._write, args=(process, raws, chunks, recovering, sent), daemon=True)
        reader = threading.Thread(target=self._read, args=(process, recovering, sent), daemon=True)
        self._threads = [writer, reader]
        writer.start()
        reader.start()
        return recovering

    def wait(self) -> None:
        """Until every answer of the last batch has been read (or the helper has gone)."""
        for thread in self._threads:
            thread.join()
        self._threads = []

    def close(self) -> None:
        """Stop the helper (it keeps no state worth a graceful exit) and its threads."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout):
                try:
                    stream.close()
                except OSError:  # pragma: no cover - a write cut short by the kill
                    pass
        self.wait()

    def _ensure_process(self) -> Optional[subprocess.Popen]:
        if self._process is not None and self._process.poll() is None:
            return self._process
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-P", "-m", "hyperion.evm.senders"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                env=dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (_PACKAGE_ROOT, os.environ.get("PYTHONPATH"))))),
            )
        except OSError:
            self._process = None
        return self._process

    @staticmethod
    def _write(process: subprocess.Popen, raws: List[bytes], chunks: list, recovering: Recovering,
               sent: "queue.SimpleQueue") -> None:
        try:
            for start, stop in chunks:
                if recovering.finished:
                    break
                if stop <= recovering.position:  # the caller got there first
                    continue
                frame = [struct.pack(">I", stop - start)]
                for raw in raws[start:stop]:
                    frame.append(struct.pack(">I", len(raw)))
                    frame.append(raw)
                sent.put((start, stop))
                process.stdin.write(b"".join(frame))
                process.stdin.flush()
        except (OSError, ValueError):  # the helper died or was closed: the caller recovers in place
            pass
        finally:
            sent.put(None)

    @staticmethod
    def _read(process: subprocess.Popen, recovering: Recovering, sent: "queue.SimpleQueue") -> None:
        senders = recovering.senders
        try:
            while True:
                chunk = sent.get()
                if chunk is None:
                    return
                start, stop = chunk
                size = (stop - start) * _RESULT_SIZE
                data = process.stdout.read(size)
                if data is None or len(data) != size:
                    return
                for offset in range(stop - start):
                    at = offset * _RESULT_SIZE
                    if data[at]:
                        senders[start + offset] = data[at + 1:at + _RESULT_SIZE]
                recovering.arrived.append(chunk)
        except (OSError, ValueError):
            pass


# -- the helper process ---------------------------------------------------------------------------
def _read_exactly(stream, size: int) -> Optional[bytes]:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def serve(source, sink) -> None:
    """The helper's loop: chunks of signed transactions in, one result per transaction out."""
    while True:
        header = _read_exactly(source, 4)
        if header is None:
            return
        out = []
        for _ in range(struct.unpack(">I", header)[0]):
            size = _read_exactly(source, 4)
            raw = _read_exactly(source, struct.unpack(">I", size)[0]) if size is not None else None
            if raw is None:
                return
            sender = _recover_raw(raw) if raw else None
            out.append(b"\x01" + sender if sender is not None else b"\x00" * _RESULT_SIZE)
        sink.write(b"".join(out))
        sink.flush()


if __name__ == "__main__":
    from hyperion import native

    native.install_fast_keccak()
    serve(sys.stdin.buffer, sys.stdout.buffer)
