# pragma version 0.4.3
"""
@title AI inference calls with an optional shared feed
@notice Runs a quantized MLP (an "HYAI" model data contract, docs/ai-precompiles.md)
        on the caller's int8 input through the ``mlp`` precompile and keeps the label
        for the caller; with ``publish`` it also writes the label to the shared feed
        (``latest_label``, ``published``).  The benchmark runner's ``ai`` workload:
        private calls touch only the caller's slot and do not conflict; published calls
        all write the feed's slots and conflict with each other.
"""

MAX_INPUT: constant(uint256) = 1024
MAX_OUTPUT: constant(uint256) = 32 + 4 * 1024

event Published:
    caller: indexed(address)
    label: uint256
    number: uint256

MLP: public(immutable(address))
MODEL: public(immutable(address))
label_of: public(HashMap[address, uint256])
latest_label: public(uint256)
published: public(uint256)


@deploy
def __init__(mlp_precompile: address, model: address):
    MLP = mlp_precompile
    MODEL = model


@external
def infer(x: Bytes[MAX_INPUT], publish: bool) -> uint256:
    """The model's label for ``x`` (int8 values, one byte each); -> the label."""
    out: Bytes[MAX_OUTPUT] = raw_call(MLP, concat(convert(MODEL, bytes20), x), max_outsize=MAX_OUTPUT,
                                      is_static_call=True)
    label: uint256 = convert(extract32(out, 0), uint256)
    self.label_of[msg.sender] = label
    if publish:
        number: uint256 = self.published + 1
        self.published = number
        self.latest_label = label
        log Published(caller=msg.sender, label=label, number=number)
    return label
