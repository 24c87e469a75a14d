# pragma version 0.4.3
"""
@title Reference: a 64-32-10 quantized MLP in plain EVM code
@notice The same computation as the `mlp` precompile, for the benchmark in
        benchmarks/bench_ai.py and as an independent cross-check in the tests. It reads
        the weights from the same model data contract (an "HYAI" v1 MLP with layers
        64->32 and 32->10, no parts) with EXTCODECOPY and runs the integer arithmetic
        of docs/ai-precompiles.md byte by byte.
"""

N_IN: constant(uint256) = 64
N_HID: constant(uint256) = 32
N_OUT: constant(uint256) = 10
HEADER: constant(uint256) = 8
TABLE: constant(uint256) = 13
W1: constant(uint256) = HEADER + TABLE
B1: constant(uint256) = W1 + N_IN * N_HID
W2: constant(uint256) = B1 + 4 * N_HID
B2: constant(uint256) = W2 + N_HID * N_OUT
END: constant(uint256) = B2 + 4 * N_OUT


@internal
@pure
def _int32_at(blob: Bytes[END], end: uint256) -> int256:
    # the big-endian int32 whose last byte is blob[end - 1]
    v: uint256 = convert(extract32(blob, end - 32), uint256) & 4294967295
    if v >= 2147483648:
        return convert(v, int256) - 4294967296
    return convert(v, int256)


@internal
@pure
def _requant(v: int256, s: uint256) -> int256:
    if s == 0:
        return v
    return (v + convert(1 << (s - 1), int256)) >> s


@internal
@view
def _infer(model: address, x: Bytes[N_IN]) -> (uint256, int256[N_OUT]):
    assert len(x) == N_IN, "input must be 64 int8 values"
    blob: Bytes[END] = slice(model.code, 0, END)
    assert slice(blob, 0, 8) == b"\x00HYAI\x01\x01\x00", "not a single-contract HYAI v1 MLP"
    # layer table: in:u16 out:u16 shift:u8 act:u8, twice
    assert slice(blob, 8, 5) == b"\x02\x00\x40\x00\x20", "not a 64-32-10 model"
    shift1: uint256 = convert(convert(slice(blob, 13, 1), bytes1), uint256)
    act1: uint256 = convert(convert(slice(blob, 14, 1), bytes1), uint256)
    assert slice(blob, 15, 4) == b"\x00\x20\x00\x0a", "not a 64-32-10 model"
    shift2: uint256 = convert(convert(slice(blob, 19, 1), bytes1), uint256)
    act2: uint256 = convert(convert(slice(blob, 20, 1), bytes1), uint256)

    xs: int256[N_IN] = empty(int256[N_IN])
    for w: uint256 in range(2):
        word: uint256 = convert(extract32(x, 32 * w), uint256)
        for t: uint256 in range(32):
            b: int256 = convert((word >> (248 - 8 * t)) & 255, int256)
            if b >= 128:
                b -= 256
            xs[32 * w + t] = b

    hidden: int256[N_HID] = empty(int256[N_HID])
    for j: uint256 in range(N_HID):
        acc: int256 = self._int32_at(blob, B1 + 4 * j + 4)
        for w: uint256 in range(2):
            word: uint256 = convert(extract32(blob, W1 + N_IN * j + 32 * w), uint256)
            for t: uint256 in range(32):
                b: int256 = convert((word >> (248 - 8 * t)) & 255, int256)
                if b >= 128:
                    b -= 256
                acc += b * xs[32 * w + t]
        z: int256 = max(min(self._requant(acc, shift1), 127), -128)
        if act1 == 1 and z < 0:
            z = 0
        hidden[j] = z

    logits: int256[N_OUT] = empty(int256[N_OUT])
    best: uint256 = 0
    for j: uint256 in range(N_OUT):
        acc: int256 = self._int32_at(blob, B2 + 4 * j + 4)
        word: uint256 = convert(extract32(blob, W2 + N_HID * j), uint256)
        for t: uint256 in range(32):
            b: int256 = convert((word >> (248 - 8 * t)) & 255, int256)
            if b >= 128:
                b -= 256
            acc += b * hidden[t]
        z: int256 = max(min(self._requant(acc, shift2), 2147483647), -2147483648)
        if act2 == 1 and z < 0:
            z = 0
        logits[j] = z
        if z > logits[best]:
            best = j
    return best, logits


@external
@view
def infer(model: address, x: Bytes[N_IN]) -> (uint256, int256[N_OUT]):
    """
    @notice Label (argmax, lowest index on ties) and logits of `x` under `model`.
    """
    return self._infer(model, x)


@external
def classify(model: address, x: Bytes[N_IN]) -> uint256:
    """
    @notice The same inference as a state-changing call (what a transaction pays for).
    """
    best: uint256 = 0
    logits: int256[N_OUT] = empty(int256[N_OUT])
    best, logits = self._infer(model, x)
    return best
