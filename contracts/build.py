"""Compile the example contracts and write their artifacts to hyperion/contracts/.

Users never need a compiler: the artifacts are checked in.  Run this after editing a
source (``pip install vyper==0.4.3``); tests/test_contracts.py fails if an artifact no
longer matches its source.

    python contracts/build.py
"""
import json
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE.parent / "hyperion" / "contracts"
SOURCES = sorted(HERE.glob("*.vy"))


def compile_source(path: pathlib.Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "vyper", "-f", "bytecode,bytecode_runtime,abi,layout", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()
    version = subprocess.run([sys.executable, "-m", "vyper", "--version"], check=True, capture_output=True,
                             text=True).stdout.strip()
    return {
        "source": path.name,
        "compiler": f"vyper {version}",
        "bytecode": out[0],
        "runtime": out[1],
        "abi": json.loads(out[2]),
        "storage_layout": json.loads(out[3]).get("storage_layout", {}),  # {} without storage
    }


def main() -> None:
    for path in SOURCES:
        artifact = compile_source(path)
        target = OUT / f"{path.stem}.json"
        target.write_text(json.dumps(artifact, indent=1, sort_keys=True) + "\n")
        print(f"wrote {target.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
