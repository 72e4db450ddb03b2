"""Which format a request for a customer report wants: `?format=` when given, else the
best match of its `Accept` header, else JSON."""

from __future__ import annotations

from daemon.customer_report.render import Format

_BY_TYPE: dict[str, Format] = {
    "application/json": "json",
    "text/csv": "csv",
    "text/html": "html",
    "application/pdf": "pdf",
}
_BY_WILDCARD: dict[str, Format] = {"*/*": "json", "application/*": "json", "text/*": "html"}


class NotAcceptable(ValueError):
    """The `Accept` header admits none of the report's formats."""


def choose_format(asked: Format | None, accept: str | None) -> Format:
    """`asked` (the `format` query parameter) wins; otherwise the media range of
    `accept` with the highest quality (the first of equals) that names a format, an
    exact type before a wildcard. No header, or an empty one, means JSON."""
    if asked is not None:
        return asked
    if not accept or not accept.strip():
        return "json"
    ranked: list[tuple[float, int, int, Format]] = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = _quality(params)
        media = media.lower()
        if quality <= 0:
            continue
        if media in _BY_TYPE:
            ranked.append((-quality, 0, position, _BY_TYPE[media]))
        elif media in _BY_WILDCARD:
            ranked.append((-quality, 1, position, _BY_WILDCARD[media]))
    if not ranked:
        raise NotAcceptable(accept)
    return min(ranked)[3]


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0
