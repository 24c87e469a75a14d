# pragma version 0.4.3
"""
@title Hyperion AI example: model registry and classifier
@notice Registers quantized MLP models (data contracts in the "HYAI" layout, see
        docs/ai-precompiles.md) and classifies int8 inputs with the `mlp` precompile.
        Every successful `classify` leaves an inference record in the block result.
"""

MAX_INPUT: constant(uint256) = 1024
MAX_OUTPUT: constant(uint256) = 32 + 4 * 1024

event ModelRegistered:
    model_id: indexed(uint256)
    model: indexed(address)
    owner: address

event Classified:
    model_id: indexed(uint256)
    caller: indexed(address)
    label: uint256

MLP: public(immutable(address))
models: public(HashMap[uint256, address])
model_owner: public(HashMap[uint256, address])
model_count: public(uint256)
last_label: public(HashMap[address, uint256])


@deploy
def __init__(mlp_precompile: address):
    MLP = mlp_precompile


@external
def register_model(model: address) -> uint256:
    # a model is a data contract: 0x00 "HYAI" version kind=1 ...
    assert model.codesize >= 8, "no model code"
    assert slice(model.code, 0, 7) == b"\x00HYAI\x01\x01", "not an HYAI v1 MLP model"
    model_id: uint256 = self.model_count
    self.models[model_id] = model
    self.model_owner[model_id] = msg.sender
    self.model_count = model_id + 1
    log ModelRegistered(model_id=model_id, model=model, owner=msg.sender)
    return model_id


@internal
@view
def _infer(model_id: uint256, x: Bytes[MAX_INPUT]) -> Bytes[MAX_OUTPUT]:
    model: address = self.models[model_id]
    assert model != empty(address), "unknown model id"
    assert len(x) > 0, "empty input"
    # the precompile fails (and this call reverts) on a wrong input length
    return raw_call(MLP, concat(convert(model, bytes20), x), max_outsize=MAX_OUTPUT, is_static_call=True)


@external
def classify(model_id: uint256, x: Bytes[MAX_INPUT]) -> uint256:
    """
    @notice Classify `x` (int8 values, one byte each) and remember the label.
    """
    out: Bytes[MAX_OUTPUT] = self._infer(model_id, x)
    label: uint256 = convert(extract32(out, 0), uint256)
    self.last_label[msg.sender] = label
    log Classified(model_id=model_id, caller=msg.sender, label=label)
    return label


@view
@external
def predict(model_id: uint256, x: Bytes[MAX_INPUT]) -> uint256:
    return convert(extract32(self._infer(model_id, x), 0), uint256)
