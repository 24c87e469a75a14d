"""One writer per data directory (issue #16, defect 6).

Two writers on one directory used to be allowed; the clash surfaced later as a confusing
stale-root error.  A writable open now takes the directory's writer lock; a second writer
is refused naming the holder's pid; read-only opens work beside it; the lock of a killed
process does not outlive it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from hyperion import BlockEnv, ChainConfig, Engine, StoreError
from hyperion.state.kv import WRITER_LOCK_FILE, StoreLockedError
from hyperion.state.store import Store

from tests.rpc_support import ServeProcess, small_alloc

OPEN_WRITER = "from hyperion import Engine; Engine.open({path!r})"


def _engine(path: str) -> Engine:
    engine = Engine.open(path, chain_config=ChainConfig())
    if engine.head.number < 0:
        engine.init_genesis({})
    return engine


def _python(code: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, **kwargs)


def test_a_second_writer_process_is_refused_naming_the_holder(tmp_path):
    path = str(tmp_path / "data")
    with _engine(path):
        completed = _python(OPEN_WRITER.format(path=path))
        assert completed.returncode != 0
        assert "StoreLockedError" in completed.stderr and f"pid {os.getpid()}" in completed.stderr
    # released on close: the next writer gets it
    assert _python(OPEN_WRITER.format(path=path)).returncode == 0


def test_a_second_writer_in_the_same_process_is_refused(tmp_path):
    path = str(tmp_path / "data")
    with _engine(path) as engine:
        with pytest.raises(StoreLockedError, match=f"pid {os.getpid()}, this very process") as info:
            Engine.open(path)
        assert info.value.holder == os.getpid()
        assert engine.head.number == 0  # the refused open changed nothing


def _env(number: int) -> BlockEnv:
    return BlockEnv(number=number, timestamp=12 * number, base_fee=7, parent_beacon_block_root=b"\x01" * 32)


def _info(path: str) -> subprocess.CompletedProcess:
    return _python(f"from hyperion.cli import main; main(['info', '--data-dir', {path!r}])")


READ_HEAD = ("from hyperion.state.store import Store; store = Store.open_lmdb({path!r}, readonly=True); "
             "print(store.head().number); store.close()")


def test_readers_work_beside_the_writer(tmp_path):
    path = str(tmp_path / "data")
    with _engine(path) as engine:
        assert _python(READ_HEAD.format(path=path)).stdout.strip() == "0"
        engine.commit(engine.execute(_env(1), []))
        assert _python(READ_HEAD.format(path=path)).stdout.strip() == "1"  # commits show as they land
        completed = _info(path)
        assert completed.returncode == 0, completed.stderr
        assert "head" in completed.stdout


def test_a_read_only_store_refuses_writes(tmp_path):
    path = str(tmp_path / "data")
    _engine(path).close()
    reader = Store.open_lmdb(path, readonly=True)
    try:
        with pytest.raises(StoreError, match="read-only"):
            reader.set_chain_config("{}")
        assert reader.head().number == 0
    finally:
        reader.close()
    assert not os.path.exists(os.path.join(path, WRITER_LOCK_FILE)) or _python(
        OPEN_WRITER.format(path=path)).returncode == 0


def test_a_read_only_open_of_a_missing_store_is_an_error(tmp_path):
    with pytest.raises(StoreError, match="holds no store"):
        Store.open_lmdb(str(tmp_path / "nothing"), readonly=True)
    assert not (tmp_path / "nothing").exists()


def test_the_lock_of_a_killed_writer_does_not_block(tmp_path):
    path = str(tmp_path / "data")
    _engine(path).close()
    child = subprocess.Popen(
        [sys.executable, "-c", f"import time; from hyperion import Engine; Engine.open({path!r}); print('open', "
                               f"flush=True); time.sleep(600)"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "open"
        with pytest.raises(StoreLockedError, match=f"pid {child.pid}"):
            Engine.open(path)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        child.stdout.close()
    lock_file = os.path.join(path, WRITER_LOCK_FILE)
    assert open(lock_file).read().strip() == str(child.pid)  # left behind, naming a dead process
    with Engine.open(path) as engine:
        assert engine.head.number == 0
        assert open(lock_file).read().strip() == str(os.getpid())


def test_demo_under_a_running_serve_is_refused_and_info_works(tmp_path):
    data_dir = str(tmp_path / "data")
    genesis = tmp_path / "genesis.json"
    genesis.write_text(json.dumps(small_alloc()))
    serve = ServeProcess(data_dir, "--genesis", str(genesis))
    try:
        serve.wait_listening()
        demo = _python(f"from hyperion.cli import main; main(['demo', '--data-dir', {data_dir!r}, '--blocks', '1', "
                       f"'--txs', '2'])")
        assert demo.returncode == 1, demo.stderr
        assert f"in use by another writer (pid {serve.proc.pid})" in demo.stderr
        assert "Traceback" not in demo.stderr
        assert _info(data_dir).returncode == 0
        assert serve.terminate() == 0
    finally:
        serve.kill()
