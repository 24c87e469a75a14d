# pragma version 0.4.3
"""
@title Hyperion AI example: top-k retrieval over an on-chain vector set
@notice Answers nearest-neighbour queries against a vector set stored in a data contract
        (the "HYAI" layout, see docs/ai-precompiles.md) with the `topk` precompile.
"""

MAX_DIM: constant(uint256) = 1024
MAX_K: constant(uint256) = 16

event Answered:
    caller: indexed(address)
    best: uint256
    score: int256
    k: uint256

TOPK: public(immutable(address))
vector_set: public(address)
owner: public(address)
last_best: public(HashMap[address, uint256])


@deploy
def __init__(topk_precompile: address, vector_set: address):
    TOPK = topk_precompile
    self.vector_set = vector_set
    self.owner = msg.sender


@external
def set_vector_set(vector_set: address):
    assert msg.sender == self.owner, "only the owner"
    self.vector_set = vector_set


@internal
@view
def _query(query: Bytes[MAX_DIM], k: uint256, cosine: bool) -> Bytes[64 * MAX_K]:
    assert k >= 1 and k <= MAX_K, "k out of range"
    metric: bytes1 = 0x00
    if cosine:
        metric = 0x01
    k_byte: bytes1 = convert(convert(k, uint8), bytes1)
    return raw_call(
        TOPK,
        concat(convert(self.vector_set, bytes20), metric, k_byte, query),
        max_outsize=64 * MAX_K,
        is_static_call=True,
    )


@view
@external
def nearest(query: Bytes[MAX_DIM], k: uint256, cosine: bool) -> (DynArray[uint256, MAX_K], DynArray[int256, MAX_K]):
    """
    @notice Indices and scores of the `k` stored vectors closest to `query`, best first.
    """
    out: Bytes[64 * MAX_K] = self._query(query, k, cosine)
    indices: DynArray[uint256, MAX_K] = []
    scores: DynArray[int256, MAX_K] = []
    for i: uint256 in range(MAX_K):
        if 64 * i >= len(out):
            break
        indices.append(convert(extract32(out, 64 * i), uint256))
        scores.append(convert(extract32(out, 64 * i + 32), int256))
    return indices, scores


@external
def answer(query: Bytes[MAX_DIM], k: uint256) -> uint256:
    """
    @notice Best cosine match for `query`, remembered per caller and logged.
    """
    out: Bytes[64 * MAX_K] = self._query(query, k, True)
    best: uint256 = convert(extract32(out, 0), uint256)
    self.last_best[msg.sender] = best
    log Answered(caller=msg.sender, best=best, score=convert(extract32(out, 32), int256), k=k)
    return best
