"""A webhook's body as the JSON object every source sends, or the reason it is not one.

Bodies come from the network before anything vouches for them (an SNS envelope is read
to find the certificate that verifies it), so every way JSON can fail must end in a
refusal the caller can read, never an exception that reaches the server as a 500: not
UTF-8, not JSON, an array or a scalar, or nesting deep enough to exhaust the decoder.
"""

from __future__ import annotations

import json
from typing import Any


class NotJsonObject(ValueError):
    """The text is no JSON object; the message says why, for the sender."""


def json_object(text: bytes | str, what: str = "body") -> dict[str, Any]:
    """`text` decoded; `what` names it in the refusal (``body``, ``the SNS Message``)."""
    try:
        decoded = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotJsonObject(f"{what} is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise NotJsonObject(f"{what} nests too deeply to be a notification") from exc
    if not isinstance(decoded, dict):
        raise NotJsonObject(f"{what} must be a JSON object")
    return decoded
