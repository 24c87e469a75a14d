"""The checked-in stubs (hyperion/v1) must match proto/: regenerate with
``python proto/generate.py`` after editing a .proto file."""
from __future__ import annotations

import importlib
import pathlib
import re
import sys

import pytest
from google.protobuf import descriptor_pb2

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "proto"))
import generate  # noqa: E402  (proto/generate.py)

REGENERATE = "stubs and proto/ drifted: run `python proto/generate.py` and commit hyperion/v1"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    out = tmp_path_factory.mktemp("stubs")
    return {p.name: p for p in generate.generate(out)}


def _descriptor_set(tmp: pathlib.Path) -> descriptor_pb2.FileDescriptorSet:
    from grpc_tools import protoc

    target = tmp / "set.pb"
    code = protoc.main(["grpc_tools.protoc", f"-I{generate.PROTO_DIR}", f"--descriptor_set_out={target}",
                        *generate.proto_files()])
    assert code == 0
    return descriptor_pb2.FileDescriptorSet.FromString(target.read_bytes())


def test_every_proto_has_checked_in_stubs(fresh):
    checked_in = {p.name for p in (ROOT / "hyperion" / "v1").iterdir() if p.name.endswith((".py", ".pyi"))}
    missing = set(fresh) - checked_in
    assert not missing, f"{REGENERATE} (missing: {sorted(missing)})"


def _strip_json_names(message) -> None:
    """protoc fills json_name in descriptor sets but not in the embedded descriptors."""
    for field in message.field:
        field.ClearField("json_name")
    for nested in message.nested_type:
        _strip_json_names(nested)


def test_checked_in_descriptors_match_proto(tmp_path):
    """Version independent: the schema compiled into each _pb2 module is proto/'s."""
    for compiled in _descriptor_set(tmp_path).file:
        for message in compiled.message_type:
            _strip_json_names(message)
        module = importlib.import_module(compiled.name.replace("/", ".").replace(".proto", "_pb2"))
        checked_in = descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb)
        assert checked_in == compiled, f"{compiled.name}: {REGENERATE}"


def _normalise(text: str) -> str:
    """Drop the lines that only name the generator's version."""
    text = re.sub(r"# Protobuf Python Version: .*", "", text)
    text = re.sub(r"GRPC_GENERATED_VERSION = '.*'", "", text)
    return re.sub(r"_runtime_version\.Domain\.PUBLIC,\s*\d+,\s*\d+,\s*\d+,", "", text)


def test_checked_in_stubs_are_the_generated_code(fresh):
    for name, path in fresh.items():
        checked_in = (ROOT / "hyperion" / "v1" / name).read_text()
        assert _normalise(checked_in) == _normalise(path.read_text()), f"{name}: {REGENERATE}"


def test_service_methods_are_all_implemented():
    from hyperion.rpc.service import ExecutionService
    from hyperion.v1 import execution_pb2

    service = execution_pb2.DESCRIPTOR.services_by_name["Execution"]
    for method in service.methods:
        assert method.name in ExecutionService.__dict__, f"ExecutionService lacks {method.name}"
