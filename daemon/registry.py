"""Mapping alerts to resources through their selectors.

A selector is a set of identifier pairs (e.g. ``{"zabbix.host": "web01"}`` or
``{"aws.account": "123456789012", "aws.region": "ap-northeast-1", "aws.alarm": "cpu"}``);
an alert maps to a resource when every pair of one of its selectors is among the alert's
identifiers. When several match, the most specific selector (most pairs) wins, then the
oldest. Azure resource IDs are case-insensitive, so `azure.*` values are compared
lower-cased.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from daemon.store.models import Resource, ResourceSelector

CASE_INSENSITIVE_PREFIXES = ("azure.",)


def normalise_value(key: str, value: str) -> str:
    value = value.strip()
    return value.lower() if key.startswith(CASE_INSENSITIVE_PREFIXES) else value


def normalise(match: Mapping[str, str]) -> dict[str, str]:
    return {k.strip(): normalise_value(k.strip(), str(v)) for k, v in match.items()}


def make_selector(match: Mapping[str, str]) -> ResourceSelector:
    """A selector row whose index columns repeat its first (sorted) pair."""
    pairs = normalise(match)
    if not pairs or any(not k or not v for k, v in pairs.items()):
        raise ValueError("a selector needs at least one non-empty identifier pair")
    key = min(pairs)
    return ResourceSelector(match=pairs, index_key=key, index_value=pairs[key])


def resolve_resource(session: Session, identifiers: Mapping[str, str]) -> Resource | None:
    """The resource an alert with these identifiers belongs to, or None (unassigned)."""
    return _resolve(session, normalise(identifiers))


class ResourceLookup:
    """`resolve_resource` remembered for the length of one transaction.

    Alerts in one ingest batch name the same few hosts over and over, so each identifier
    set is resolved once. The lookup also holds the resources it found with their
    contracts and customers: the session's identity map holds objects only weakly, and
    while they stay referenced, every later `session.get` of them is answered without
    SQL. A selector edited by another transaction takes effect from the next batch.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._found: dict[frozenset[tuple[str, str]], Resource | None] = {}
        self._held: list[object] = []

    def resolve(self, identifiers: Mapping[str, str]) -> Resource | None:
        ids = normalise(identifiers)
        key = frozenset(ids.items())
        if key not in self._found:
            resource = _resolve(self._session, ids)
            if resource is not None:
                self._held += [resource.contract, resource.contract.customer]
            self._found[key] = resource
        return self._found[key]


def _resolve(session: Session, ids: dict[str, str]) -> Resource | None:
    if not ids:
        return None
    stmt = (
        select(ResourceSelector)
        .where(
            or_(
                *(
                    (ResourceSelector.index_key == k) & (ResourceSelector.index_value == v)
                    for k, v in ids.items()
                )
            )
        )
        .options(selectinload(ResourceSelector.resource))
        .order_by(ResourceSelector.id)
    )
    best: ResourceSelector | None = None
    for selector in session.scalars(stmt):
        if all(ids.get(k) == v for k, v in selector.match.items()) and (
            best is None or len(selector.match) > len(best.match)
        ):
            best = selector
    return best.resource if best else None
