"""Example models, vector sets and contracts for the AI precompiles.

Used by ``hyperion demo --ai``, the tests and ``benchmarks/bench_ai.py``.  Everything is
derived from fixed seeds with keccak (no ``random``, no floats), so every machine builds
the same bytes.

- :func:`demo_mlp_layers`: a 64-32-10 "template matching" MLP: hidden unit ``c < 10``
  responds to class prototype ``c``; the logits copy those units.  Noisy prototypes
  (:func:`sample_input`) are classified correctly, which makes the demo readable.
- :func:`demo_vectors`: 256 pseudo-random 32-dimensional int8 vectors;
  :func:`near_query` perturbs one of them.
- :func:`data_contract_init_code`: init code that deploys any bytes as a contract's code
  (how a model or vector set is put on chain with an ordinary create transaction).
- calldata encoders / decoders for ``Classifier.vy``, ``Retrieval.vy`` and ``MlpEvm.vy``
  (a minimal ABI codec: the few signatures used here).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from eth_hash.auto import keccak

from hyperion.precompiles.ai import abi

N_CLASSES = 10
N_IN, N_HIDDEN = 64, 32
VECTOR_DIM, VECTOR_COUNT = 32, 256


# -- deterministic data -----------------------------------------------------------------
def stream(seed: bytes, count: int) -> bytes:
    """``count`` pseudo-random bytes: keccak(seed || counter) blocks."""
    out = bytearray()
    counter = 0
    while len(out) < count:
        out += keccak(seed + counter.to_bytes(8, "big"))
        counter += 1
    return bytes(out[:count])


def int8s(seed: bytes, count: int, low: int = -128, high: int = 127) -> List[int]:
    span = high - low + 1
    return [low + (b % span) for b in stream(seed, count)]


def prototypes() -> List[List[int]]:
    return [int8s(b"hyperion-ai-prototype-%d" % c, N_IN, -64, 64) for c in range(N_CLASSES)]


def demo_mlp_layers():
    """``[(W1, b1, shift, act), (W2, b2, shift, act)]`` of the 64-32-10 demo model."""
    protos = prototypes()
    w1 = [list(p) for p in protos] + [int8s(b"hyperion-ai-hidden-%d" % j, N_IN, -8, 8) for j in range(N_HIDDEN - N_CLASSES)]
    b1 = [0] * N_HIDDEN
    w2 = [[(1 if j == c else 0) for j in range(N_HIDDEN)] for c in range(N_CLASSES)]
    b2 = [0] * N_CLASSES
    return [(w1, b1, 10, abi.ACT_RELU), (w2, b2, 0, abi.ACT_NONE)]


def random_mlp_layers(seed: bytes, sizes: Sequence[int], shifts: Sequence[int], acts: Optional[Sequence[int]] = None):
    """A random MLP with layer sizes ``sizes`` (e.g. 64, 32, 10)."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        flat = int8s(seed + b"-w%d" % i, n_in * n_out)
        w = [flat[j * n_in:(j + 1) * n_in] for j in range(n_out)]
        b = [v * 64 for v in int8s(seed + b"-b%d" % i, n_out)]
        act = acts[i] if acts is not None else (abi.ACT_RELU if i < len(sizes) - 2 else abi.ACT_NONE)
        layers.append((w, b, shifts[i], act))
    return layers


def model_codes(layers, part_addresses: Sequence[bytes] = ()) -> List[bytes]:
    """Runtime codes ``[root, parts...]`` of an MLP model."""
    return abi.split_data_contracts(abi.KIND_MLP, abi.encode_mlp_body(layers), part_addresses)


def sample_input(label: int, index: int, noise: int = 24) -> bytes:
    """A noisy copy of class ``label``'s prototype (int8 bytes)."""
    proto = prototypes()[label]
    jitter = int8s(b"hyperion-ai-noise-%d-%d" % (label, index), N_IN, -noise, noise)
    return bytes(max(-128, min(127, p + j)) & 0xFF for p, j in zip(proto, jitter))


def demo_vectors() -> List[List[int]]:
    flat = int8s(b"hyperion-ai-vectors", VECTOR_DIM * VECTOR_COUNT)
    return [flat[i * VECTOR_DIM:(i + 1) * VECTOR_DIM] for i in range(VECTOR_COUNT)]


def vector_codes(vectors: Sequence[Sequence[int]], part_addresses: Sequence[bytes] = ()) -> List[bytes]:
    return abi.split_data_contracts(abi.KIND_VECTORS, abi.encode_vector_body(vectors), part_addresses)


def near_query(index: int, salt: int = 0, noise: int = 20) -> bytes:
    vector = demo_vectors()[index]
    jitter = int8s(b"hyperion-ai-query-%d-%d" % (index, salt), VECTOR_DIM, -noise, noise)
    return bytes(max(-128, min(127, v + j)) & 0xFF for v, j in zip(vector, jitter))


def data_contract_init_code(runtime: bytes) -> bytes:
    """Init code returning ``runtime`` (CODECOPY + RETURN, 12 bytes of prologue)."""
    if len(runtime) > 0xFFFF:
        raise ValueError("runtime too long")
    n = len(runtime).to_bytes(2, "big")
    return b"\x61" + n + b"\x80\x60\x0c\x60\x00\x39\x60\x00\xf3" + runtime


# -- a minimal ABI codec -------------------------------------------------------------------
def selector(signature: str) -> bytes:
    return keccak(signature.encode())[:4]


def _word(value: int) -> bytes:
    return abi.word(value)


def encode_args(types: Sequence[str], values: Sequence[object]) -> bytes:
    """ABI-encode ``values`` of ``types`` (uint256, int256, address, bool, bytes)."""
    heads: List[bytes] = []
    tails: List[bytes] = []
    head_size = 32 * len(types)
    tail_offset = head_size
    for kind, value in zip(types, values):
        if kind == "bytes":
            data = bytes(value)  # type: ignore[arg-type]
            padded = data + b"\x00" * (-len(data) % 32)
            heads.append(_word(tail_offset))
            tails.append(_word(len(data)) + padded)
            tail_offset += 32 + len(padded)
        elif kind == "address":
            heads.append(bytes(value).rjust(32, b"\x00"))  # type: ignore[arg-type]
        elif kind in ("uint256", "int256", "bool", "uint8"):
            heads.append(_word(int(value)))  # type: ignore[arg-type]
        else:  # pragma: no cover
            raise ValueError(kind)
    return b"".join(heads) + b"".join(tails)


def call_data(signature: str, *values) -> bytes:
    types = signature[signature.index("(") + 1:-1].split(",") if not signature.endswith("()") else []
    return selector(signature) + encode_args(types, values)


def decode_uint(data: bytes, index: int = 0) -> int:
    return int.from_bytes(data[32 * index:32 * index + 32], "big")


def decode_int(data: bytes, index: int = 0) -> int:
    value = decode_uint(data, index)
    return value - (1 << 256) if value >> 255 else value


def decode_array(data: bytes, head_index: int, signed: bool = False) -> List[int]:
    offset = decode_uint(data, head_index)
    length = int.from_bytes(data[offset:offset + 32], "big")
    out = []
    for i in range(length):
        word_ = data[offset + 32 + 32 * i:offset + 64 + 32 * i]
        value = int.from_bytes(word_, "big")
        out.append(value - (1 << 256) if signed and value >> 255 else value)
    return out


def artifact(name: str) -> dict:
    from hyperion.tools.workloads import contract_artifact

    return contract_artifact(name)


def deploy_code(name: str, types: Sequence[str] = (), values: Sequence[object] = ()) -> bytes:
    return bytes.fromhex(artifact(name)["bytecode"][2:]) + encode_args(types, values)


def classifier_init_code(mlp_address: bytes = abi.DEFAULT_ADDRESSES["mlp"]) -> bytes:
    return deploy_code("Classifier", ["address"], [mlp_address])


def retrieval_init_code(vector_set: bytes, topk_address: bytes = abi.DEFAULT_ADDRESSES["topk"]) -> bytes:
    return deploy_code("Retrieval", ["address", "address"], [topk_address, vector_set])


def mlp_evm_runtime() -> bytes:
    return bytes.fromhex(artifact("MlpEvm")["runtime"][2:])


def register_model_data(model: bytes) -> bytes:
    return call_data("register_model(address)", model)


def classify_data(model_id: int, x: bytes) -> bytes:
    return call_data("classify(uint256,bytes)", model_id, x)


def predict_data(model_id: int, x: bytes) -> bytes:
    return call_data("predict(uint256,bytes)", model_id, x)


def nearest_data(query: bytes, k: int, cosine: bool = True) -> bytes:
    return call_data("nearest(bytes,uint256,bool)", query, k, cosine)


def answer_data(query: bytes, k: int = 1) -> bytes:
    return call_data("answer(bytes,uint256)", query, k)


def evm_infer_data(model: bytes, x: bytes) -> bytes:
    return call_data("infer(address,bytes)", model, x)


def evm_classify_data(model: bytes, x: bytes) -> bytes:
    return call_data("classify(address,bytes)", model, x)


def decode_infer(output: bytes) -> Tuple[int, List[int]]:
    """``MlpEvm.infer`` -> (label, logits)."""
    return decode_uint(output, 0), [decode_int(output, 1 + i) for i in range(N_CLASSES)]


def decode_mlp_output(output: bytes) -> Tuple[int, List[int]]:
    """The ``mlp`` precompile's output -> (label, logits)."""
    label = int.from_bytes(output[:32], "big")
    logits = [int.from_bytes(output[i:i + 4], "big", signed=True) for i in range(32, len(output), 4)]
    return label, logits


def decode_topk_output(output: bytes) -> List[Tuple[int, int]]:
    return [(decode_uint(output[i:i + 64]), decode_int(output[i:i + 64], 1)) for i in range(0, len(output), 64)]


# -- deployment on an engine ------------------------------------------------------------------
@dataclass
class Deployment:
    model: bytes
    classifier: bytes
    vectors: bytes
    retrieval: bytes
    model_id: int = 0


def deploy_examples(engine, wallet, *, timestamp: int = 1_700_000_000, gas_price: int = 2 * 10**9,
                    base_fee: int = 10**9, block_time: int = 12) -> Deployment:
    """Deploy the demo model, vector set, Classifier and Retrieval with signed transactions
    from ``wallet`` in one block, register the model, and commit.  Returns the addresses."""
    from hyperion.tools import workloads
    from hyperion.types import BlockEnv, TxStatus

    chain_id = engine.chain_config.chain_id
    ai = addresses_of(engine)
    nonce = engine.get_nonce(wallet.address)
    codes = [data_contract_init_code(model_codes(demo_mlp_layers())[0]),
             classifier_init_code(ai["mlp"]),
             data_contract_init_code(vector_codes(demo_vectors())[0])]
    txs = [workloads.sign_tx(wallet, nonce + i, None, data=code, gas=3_000_000, chain_id=chain_id, max_fee=gas_price)
           for i, code in enumerate(codes)]
    number = engine.head.number + 1
    env = BlockEnv(number=number, timestamp=timestamp + number * block_time, base_fee=base_fee)
    result = engine.execute(env, txs)
    created = [r.contract_address for r in result.tx_results]
    if any(r.status is not TxStatus.SUCCESS for r in result.tx_results):
        raise RuntimeError(f"deployment failed: {[(r.status, r.error) for r in result.tx_results]}")
    engine.commit(result)
    model, classifier, vectors = created
    txs = [
        workloads.sign_tx(wallet, nonce + 3, classifier, data=register_model_data(model), gas=200_000,
                          chain_id=chain_id, max_fee=gas_price),
        workloads.sign_tx(wallet, nonce + 4, None, data=retrieval_init_code(vectors, ai["topk"]), gas=3_000_000,
                          chain_id=chain_id, max_fee=gas_price),
    ]
    number += 1
    env = BlockEnv(number=number, timestamp=timestamp + number * block_time, base_fee=base_fee)
    result = engine.execute(env, txs)
    if any(r.status is not TxStatus.SUCCESS for r in result.tx_results):
        raise RuntimeError(f"deployment failed: {[(r.status, r.error) for r in result.tx_results]}")
    engine.commit(result)
    return Deployment(model=model, classifier=classifier, vectors=vectors, retrieval=result.tx_results[1].contract_address,
                      model_id=decode_uint(result.tx_results[0].return_data))


def addresses_of(engine) -> Dict[str, bytes]:
    """The ``ai`` set's addresses on ``engine``'s chain (honours ``"ai@<base>"``)."""
    from hyperion.precompiles.registry import split_entry

    for entry in engine.chain_config.extra_precompiles:
        name, option = split_entry(entry)
        if name == "ai":
            return abi.addresses(abi.parse_base(option))
    raise ValueError(f"{engine.chain_config.describe()} does not enable the ai precompiles")
