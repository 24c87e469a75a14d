"""Generated protobuf / gRPC stubs of Hyperion's execution API (package ``hyperion.v1``).

Do not edit the ``*_pb2*`` modules: they are generated from ``proto/hyperion/v1`` by
``python proto/generate.py``.  The package mirrors the proto package so the generated
imports (``from hyperion.v1 import types_pb2``) resolve as they are.
"""
