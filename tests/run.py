"""Run the whole test suite the way CI does: compiled mode, then pure-Python mode.

    python tests/run.py [--long] [pytest args...]

Pass 1 (compiled, HYPERION_REQUIRE_COMPILED=1): every test, the whole fixture corpus.
Pass 2 (HYPERION_PUREPYTHON=1): every test not marked ``compiled_only``, with the
consensus fixtures on their fixed, deterministic subset (docs/design.md §13).
Tests marked ``long_run`` (the very slow fixture files, see tests/test_fixtures.py; the full
fuzzing run, tests/test_fuzz.py; the crash harness's long run, tests/test_crash.py) are left
out of both; ``--long`` runs them afterwards in a third, compiled pass.
Exits non-zero if any pass fails.
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
COMPILED = {"HYPERION_REQUIRE_COMPILED": "1", "HYPERION_PUREPYTHON": "0"}


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
    long_run = "--long" in extra
    extra = [arg for arg in extra if arg != "--long"]
    compiled = run("compiled mode", COMPILED, ["-m", "not long_run", *extra])
    pure = run(
        "pure-Python mode",
        {"HYPERION_PUREPYTHON": "1", "HYPERION_FIXTURE_SUBSET": "1"},
        ["-m", "not compiled_only and not long_run", *extra],
    )
    results = {"compiled mode": compiled, "pure-Python mode": pure}
    if long_run:
        results["long run"] = run("long run (compiled)", COMPILED, ["-m", "long_run", *extra])
    print("\n" + "; ".join(f"{label}: {'ok' if code == 0 else 'FAILED'}" for label, code in results.items()))
    return 1 if any(results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
