"""The engine takes its start-up heap out of the garbage collector's walks once per process
(hyperion/heap.py): on ``warm_up()``, or on the first ``execute()`` when nobody warmed it up."""
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import gc, sys
    from hyperion import BlockEnv, ChainConfig, Engine
    from hyperion.tools import workloads as w

    engine = Engine.in_memory(chain_config=ChainConfig())
    engine.init_genesis(w.genesis_alloc(2))
    assert gc.get_freeze_count() == 0
    if sys.argv[1] == "warm_up":
        engine.warm_up()
    else:
        env = BlockEnv(number=1, timestamp=12, base_fee=w.GWEI, parent_beacon_block_root=b"\\1" * 32)
        engine.commit(engine.execute(env, [w.sign_tx(w.wallet(0), 0, w.wallet(1).address, value=1)]))
    frozen = gc.get_freeze_count()
    assert frozen > 1000, frozen
    engine.warm_up()  # once per process: nothing more is frozen
    assert gc.get_freeze_count() == frozen
    print("ok")
""")


def test_start_up_heap_is_frozen_once():
    for trigger in ("warm_up", "execute"):
        done = subprocess.run([sys.executable, "-c", SCRIPT, trigger], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
