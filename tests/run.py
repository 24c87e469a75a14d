"""Run the whole test suite the way CI does: compiled mode, then pure-Python mode.

    python tests/run.py [pytest args...]

Pass 1 (compiled, HYPERION_REQUIRE_COMPILED=1): every test, the whole fixture corpus.
Pass 2 (HYPERION_PUREPYTHON=1): every test not marked ``compiled_only``, with the
consensus fixtures on their fixed, deterministic subset (DECISIONS 11).
Exits non-zero if either pass fails.
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run(label: str, env_changes: dict, args: list) -> int:
    env = dict(os.environ, **env_changes)
    cmd = [sys.executable, "-m", "pytest", HERE, *args]
    print(f"\n=== {label}: {' '.join(cmd)}", flush=True)
    started = time.time()
    code = subprocess.call(cmd, env=env)
    print(f"=== {label}: exit {code} in {time.time() - started:.0f}s", flush=True)
    return code


def main() -> int:
    extra = sys.argv[1:]
    compiled = run("compiled mode", {"HYPERION_REQUIRE_COMPILED": "1", "HYPERION_PUREPYTHON": "0"}, extra)
    pure = run(
        "pure-Python mode",
        {"HYPERION_PUREPYTHON": "1", "HYPERION_FIXTURE_SUBSET": "1"},
        ["-m", "not compiled_only", *extra],
    )
    print(f"\ncompiled mode: {'ok' if compiled == 0 else 'FAILED'}; pure-Python mode: {'ok' if pure == 0 else 'FAILED'}")
    return 1 if (compiled or pure) else 0


if __name__ == "__main__":
    sys.exit(main())
