"""Regenerate the Python stubs of the gRPC API from ``proto/``.

    python proto/generate.py           # rewrite hyperion/v1/*_pb2*.py(i)
    python proto/generate.py --check   # exit 1 if the checked-in stubs differ

The stubs are checked in (users need no protoc); ``tests/test_rpc_stubs.py`` fails when
they and ``proto/`` drift.  Generated code pins a minimum grpcio / protobuf version (see
GRPC_GENERATED_VERSION in the ``_pb2_grpc`` modules): keep the lower bounds in
pyproject.toml at least that high when regenerating with a newer grpcio-tools.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT_PACKAGE = "hyperion/v1"


def proto_files() -> list:
    return sorted(str(p.relative_to(PROTO_DIR)) for p in (PROTO_DIR / "hyperion" / "v1").glob("*.proto"))


def generate(out_dir: pathlib.Path) -> list:
    """Run protoc (from grpcio-tools) into ``out_dir``; returns the generated paths."""
    from grpc_tools import protoc

    import grpc_tools

    include = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *proto_files(),
    ]
    code = protoc.main(args)
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")
    return sorted(p for p in (out_dir / OUT_PACKAGE).iterdir() if p.name.endswith((".py", ".pyi")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    target = ROOT / OUT_PACKAGE
    with tempfile.TemporaryDirectory() as tmp:
        generated = generate(pathlib.Path(tmp))
        differ = []
        for path in generated:
            dest = target / path.name
            new = path.read_bytes()
            if not dest.exists() or dest.read_bytes() != new:
                differ.append(dest.relative_to(ROOT))
                if not args.check:
                    dest.write_bytes(new)
    if args.check:
        for path in differ:
            print(f"out of date: {path}")
        return 1 if differ else 0
    print("regenerated: " + (", ".join(map(str, differ)) if differ else "nothing changed"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
