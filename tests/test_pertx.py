"""Per-transaction work outside the interpreter: pipelined sender recovery, the sender cache,
and the garbage-collector pause of the sequential transaction loop (docs/design.md §19)."""
from __future__ import annotations

import gc
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from eth_keys import keys

from hyperion import BlockEnv, ChainConfig, Engine
from hyperion.evm import senders, txdecode
from hyperion.tools import workloads

from tests import txgen

CONFIG = ChainConfig()
COINBASE = bytes.fromhex("c0" + "00" * 18 + "01")
ACCOUNTS = 40
ENV = BlockEnv(number=1, timestamp=1_700_000_012, coinbase=COINBASE, base_fee=workloads.GWEI,
               parent_beacon_block_root=(1).to_bytes(32, "big"))


def _batch() -> list:
    """Transfers and token calls (above the pipeline's threshold), two with broken signatures."""
    nonces: dict = {}
    txs = workloads.transfer_batch(50, ACCOUNTS, nonces) + workloads.erc20_batch(40, ACCOUNTS, nonces)
    txs[7] = txgen.with_signature("prague", txs[7], r=5)  # no key recovers from r = 5
    key = keys.PrivateKey(b"\x09" * 32)
    txs.append(txgen.sign("prague", key, nonce=0, to=b"\x01" * 20, tx_type=2, chain_id=CONFIG.chain_id))  # no funds
    return txs


def _run(txs, stage_threshold: int, monkeypatch, break_helper: bool = False):
    monkeypatch.setattr(senders, "PIPELINE_MIN_TXS", stage_threshold)
    senders.CACHE.clear()
    engine = Engine.in_memory(chain_config=CONFIG)
    try:
        engine.init_genesis(workloads.genesis_alloc(ACCOUNTS))
        if break_helper:  # a helper that dies at once: every sender is recovered in place
            original = senders.RecoveryStage._ensure_process

            def dead(self):
                process = original(self)
                process.kill()
                process.wait()
                return process
            monkeypatch.setattr(senders.RecoveryStage, "_ensure_process", dead)
        result = engine.execute(ENV, txs)
    finally:
        engine.close()
    summary = [(r.status, r.error, r.sender, r.gas_used, r.tx_hash) for r in result.tx_results]
    return result.state_root, result.receipts_root, summary, result.stats.extra.get("senders_recovered_ahead")


def test_senders_recovered_ahead_give_the_block_recovered_in_place(monkeypatch):
    txs = _batch()
    in_place = _run(txs, 10**9, monkeypatch)
    assert in_place[3] == 0
    assert [s[1] for s in in_place[2]].count(None) >= len(txs) - 4  # wallet 7's later nonces fail too
    assert in_place[2][7][1].startswith("invalid signature") and in_place[2][-1][1].startswith("insufficient funds")
    assert in_place[:3] == _run(txs, 1, monkeypatch)[:3]
    assert in_place[:3] == _run(txs, 1, monkeypatch, break_helper=True)[:3]


def _recover_ahead(txs: list) -> senders.Recovering:
    """``txs``' senders as one helper process recovers them, every answer read."""
    stage = senders.RecoveryStage()
    try:
        recovering = stage.submit(txs)
        assert recovering is not None
        stage.wait()
    finally:
        stage.close()
    return recovering


def test_the_stage_recovers_exactly_what_recovery_in_place_does():
    txs = _batch() + [b"", b"\x02junk", b"\xc0"]
    recovering = _recover_ahead(txs)
    for index, raw in enumerate(txs):
        record = txdecode.decode(raw)
        assert recovering.get(index) == (senders.recover(record) if record is not None else None)
    assert recovering.get(7) is None and sum(1 for s in recovering.senders if s) == len(txs) - 4


def test_the_helper_imports_this_copy_whatever_the_working_directory(tmp_path, monkeypatch):
    """``python -m`` would put the working directory first on the path: run from a folder
    holding another ``hyperion`` (a source checkout beside an installed copy, say), the
    helper must still import the caller's copy and recover every sender."""
    impostor = tmp_path / "hyperion"
    impostor.mkdir()
    (impostor / "__init__.py").write_text("raise SystemExit('the working directory copy was imported')\n")
    monkeypatch.chdir(tmp_path)
    txs = _batch()
    recovering = _recover_ahead(txs)
    assert sum(1 for s in recovering.senders if s) == len(txs) - 1  # all but the broken signature


def test_a_small_block_does_not_start_the_helper():
    stage = senders.RecoveryStage()
    assert stage.submit(_batch()[:senders.PIPELINE_MIN_TXS - 1]) is None
    assert stage._process is None


def test_the_sender_cache_is_bounded_and_evicts_the_oldest():
    cache = senders.SenderCache(2)
    for i in range(3):
        cache.put(bytes([i]) * 32, bytes([i]) * 20)
    assert len(cache) == 2 and cache.get(b"\x00" * 32) is None and cache.get(b"\x02" * 32) == b"\x02" * 20


def test_a_cached_sender_is_not_recovered_again(monkeypatch):
    from hyperion.evm.forks import get_fork
    from hyperion.evm.transactions import decode_signed

    raw = _batch()[0]
    senders.CACHE.clear()
    first = decode_signed(get_fork("prague"), raw, CONFIG.chain_id)
    monkeypatch.setattr(senders, "recover", lambda tx: pytest.fail("recovered twice"))
    again = decode_signed(get_fork("prague"), raw, CONFIG.chain_id)
    assert again.sender == first.sender and len(first.sender) == 20


def test_the_transaction_loop_creates_no_reference_cycles():
    """The loop runs with the collector paused: that is free only if nothing there is cyclic."""
    engine = Engine.in_memory(chain_config=CONFIG)  # sequential
    try:
        engine.init_genesis(workloads.genesis_alloc(ACCOUNTS))
        txs = _batch()
        engine.execute(replace(ENV), txs[:3])  # first-use caches (state classes, opcode tables)
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            engine.execute(ENV, txs)
            found = gc.collect()
            kinds = sorted({type(o).__name__ for o in gc.garbage})
        finally:
            gc.garbage.clear()
            gc.set_debug(0)
            gc.enable()
    finally:
        engine.close()
    assert found == 0, f"reference cycles created while executing: {kinds}"


def test_the_bls_precompiles_load_on_first_call_and_are_py_evms():
    import subprocess
    import sys

    check = (
        "import sys, hyperion.evm.forks\n"
        "assert 'eth' in sys.modules and 'py_ecc.optimized_bls12_381' not in sys.modules\n"
        "from eth.precompiles import bls12_g1_add\n"
        "from eth.precompiles.bls12_381.bls12_381_g1 import bls12_g1_add as real\n"
        "class Msg: data = data_as_bytes = bytes(256)\n"
        "class Computation:\n"
        "    msg = Msg(); output = b''; gas = 0\n"
        "    def consume_gas(self, amount, reason): self.gas += amount\n"
        "ours, theirs = Computation(), Computation()\n"
        "bls12_g1_add(ours); real(theirs)\n"
        "assert bls12_g1_add is not real and (ours.output, ours.gas) == (theirs.output, theirs.gas)\n"
        "assert len(ours.output) == 128 and ours.gas > 0\n"
    )
    subprocess.run([sys.executable, "-c", check], check=True)


BN254_CHECK = """
import json, sys
import hyperion.evm.forks
deferred = "py_ecc.optimized_bn128" not in sys.modules
limit = sys.getrecursionlimit()
from eth.exceptions import VMError
from eth.vm.forks.byzantium.computation import ByzantiumComputation
from eth.vm.forks.prague.computation import PragueComputation

class Msg:
    def __init__(self, data): self.data = self.data_as_bytes = data
class Computation:
    def __init__(self, data): self.msg = Msg(data); self.output = b""; self.gas = 0
    def consume_gas(self, amount, reason): self.gas += amount

G1 = (1).to_bytes(32, "big") + (2).to_bytes(32, "big")
G2 = bytes.fromhex(
    "198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c2"
    "1800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed"
    "090689d0585ff075ec9e99ad690c3395bc4b313370b38ef355acdadcd122975b"
    "12c85ea5db8c6deb4aab71808dcb408fe3d1e7690c43d37b4ce6cc0166fa7daa")
INPUTS = {6: [G1 + G1, bytes(128), b"\\x01" * 128, G1],
          7: [G1 + (3).to_bytes(32, "big"), bytes(96), b"\\x01" * 96],
          8: [b"", G1 + G2, bytes(192), b"\\x01" * 100]}
results = []
for computation_class in (ByzantiumComputation, PragueComputation):
    for address, datas in INPUTS.items():
        for data in datas:
            computation = Computation(data)
            try:
                computation_class._precompiles[address.to_bytes(20, "big")](computation)
                results.append([computation.output.hex(), computation.gas])
            except VMError as exc:
                results.append(["error", str(exc), computation.gas])
print(json.dumps({"deferred": deferred, "limit": limit, "results": results,
                  "loaded": "py_ecc.optimized_bn128" in sys.modules}))
"""


def test_the_bn254_precompiles_load_on_first_call_and_give_py_evms_results():
    """The BN254 stand-ins (hyperion/evm/lazy_precompiles.py) against py-evm's own functions
    (the stand-ins switched off), with each fork's curried gas costs, valid and invalid
    inputs; the recursion limit py_ecc's import sets holds before the first call too."""
    import json
    import os
    import subprocess
    import sys

    def run(lazy: str) -> dict:
        env = dict(os.environ, HYPERION_LAZY_PRECOMPILES=lazy)
        done = subprocess.run([sys.executable, "-c", BN254_CHECK], env=env, capture_output=True, text=True,
                              check=True)
        return json.loads(done.stdout)

    ours, stock = run("1"), run("0")
    assert ours["deferred"] and not stock["deferred"]
    assert ours["loaded"]
    assert ours["limit"] == stock["limit"] >= 100_000
    assert ours["results"] == stock["results"]
    outputs = [entry[0] for entry in stock["results"]]
    assert "error" in outputs and outputs.count("") == 0 and len(set(outputs)) > 4


class _Storage:
    def __init__(self, original: int, current: int) -> None:
        self.original, self.current, self.writes, self.warm = original, current, [], set()

    def get_storage(self, address, slot, from_journal=True):
        return self.current if from_journal else self.original

    def set_storage(self, address, slot, value):
        self.writes.append((address, slot, value))

    def is_storage_warm(self, address, slot):
        return (address, slot) in self.warm

    def mark_storage_warm(self, address, slot):
        self.warm.add((address, slot))


class _Computation:
    """What SSTORE's logic touches, on py-evm's own gas meter."""

    def __init__(self, slot: int, value: int, original: int, current: int, gas: int, static: bool) -> None:
        from types import SimpleNamespace

        from eth.vm.gas_meter import GasMeter

        self._stack = [value, slot]
        self.state = _Storage(original, current)
        self.msg = SimpleNamespace(storage_address=b"\x11" * 20, is_static=static)
        self.meter = GasMeter(gas)

    def stack_pop_ints(self, count):
        return tuple(self._stack.pop() for _ in range(count))

    def consume_gas(self, amount, reason):
        self.meter.consume_gas(amount, reason)

    def refund_gas(self, amount):
        self.meter.refund_gas(amount)

    def get_gas_remaining(self):
        return self.meter.gas_remaining

    def outcome(self, opcode) -> tuple:
        try:
            opcode(self)
            error = None
        except Exception as exc:  # py-evm's VMErrors, with their messages
            error = (type(exc), str(exc), exc.args[1:])
        return (error, self.meter.gas_remaining, self.meter.gas_refunded, self.state.writes, self.state.warm)


_SSTORE_FORKS = ("frontier", "byzantium", "constantinople", "petersburg", "istanbul", "berlin", "london", "prague")
_VALUES = st.sampled_from([0, 1, 2, 2**255 + 7, 2**256 - 1])


@settings(max_examples=150)
@given(st.sampled_from(_SSTORE_FORKS), st.sampled_from([0, 5, 2**256 - 1, 2**200 + 3]), _VALUES, _VALUES, _VALUES,
       st.integers(0, 25_000), st.booleans())
def test_sstore_without_its_reason_formatted_is_py_evms(fork_name, slot, value, original, current, gas, static):
    """Hyperion's SSTORE (hyperion/evm/quiet_sstore.py) against py-evm's own, per fork: the
    same gas, refund, writes and warm slots, and the same error and message when it runs out
    of gas (which prints the reason) or writes in a static call."""
    from hyperion.evm.forks import get_fork
    from hyperion.evm.quiet_sstore import SSTORE

    fork = get_fork(fork_name)
    ours = fork.state_class.computation_class.opcodes[SSTORE]
    theirs = fork.vm_class._state_class.computation_class.opcodes[SSTORE]
    assert ours is not theirs, "py-evm's SSTORE (with its per-call reason) is in use"
    if fork_name == "frontier":
        static = False  # no STATICCALL before Byzantium
    expected = _Computation(slot, value, original, current, gas, static).outcome(theirs)
    assert _Computation(slot, value, original, current, gas, static).outcome(ours) == expected


def test_the_sstore_reason_reads_as_py_evms():
    from eth_utils import encode_hex

    from hyperion.evm.quiet_sstore import SstoreReason

    address, slot = b"\x01" * 20, 2**255
    assert f"{SstoreReason(address, slot, 3, 0)}" == f"SSTORE: {encode_hex(address)}[{slot}] -> 3 (0)"
    assert str(SstoreReason(address, slot, 3, 1, 2)) == \
        f"SSTORE: {encode_hex(address)}[{slot}] -> 3 (current: 1 / original: 2)"
