"""Ethereum's Merkle-Patricia trie (``mpt``: compiled, with a pure-Python twin) and the
incremental state root on top of it (``stateroot``), apart from the store's glue."""
