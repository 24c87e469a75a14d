"""Extra precompile sets (``hyperion.precompiles.registry``) and inference records.

``verify(records, state)`` re-runs the inference records of a block
(``BlockResult.inference_records``) and reports mismatches; see
:mod:`hyperion.precompiles.records`.  The ``ai`` set itself lives in
:mod:`hyperion.precompiles.ai` and is loaded only by chains that enable it.
"""
from hyperion.precompiles.records import InferenceRecord, Mismatch, VerifyReport, collect_records, verify

__all__ = ["InferenceRecord", "Mismatch", "VerifyReport", "collect_records", "verify"]
