"""Parsing a user's JSON file safely: bounded nesting, clear errors (``t8n``, ``serve --genesis``)."""
from __future__ import annotations

import json
import sys
from typing import Type

#: nesting the JSON decoder may recurse to: py-evm raises the interpreter's limit to 100,000
#: when imported, past what the C stack holds, and json's C decoder recurses on it (a
#: segmentation fault on ``[[[[...`` instead of an error)
JSON_DEPTH = 2000


def parse_json(data: bytes, where: str, error: Type[Exception]):
    """``data`` decoded as UTF-8 JSON; anything else raises ``error(message)`` naming ``where``."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(min(limit, JSON_DEPTH))
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise error(f"{where}: JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or an integer literal past Python's digit limit
        raise error(f"{where}: not JSON: {exc}") from None
    finally:
        sys.setrecursionlimit(limit)
