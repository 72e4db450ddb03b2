"""Mapping alerts to resources through their selectors.

A selector is a set of identifier pairs (e.g. ``{"zabbix.host": "web01"}`` or
``{"aws.account": "123456789012", "aws.region": "ap-northeast-1", "aws.alarm": "cpu"}``);
an alert maps to a resource when every pair of one of its selectors is among the alert's
identifiers. When several match, the most specific selector (most pairs) wins, then the
oldest. Azure resource IDs are case-insensitive, so `azure.*` values are compared
lower-cased.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload

from daemon.store.models import Contract, Resource, ResourceSelector

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
    set is resolved once, and `preload` resolves the sets a whole batch names with one
    query. The lookup also holds the resources it found with their contracts and
    customers (read in the same query): the session's identity map holds objects only
    weakly, and while they stay referenced, every later `session.get` of them is
    answered without SQL. A selector edited by another transaction takes effect from
    the next batch.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._found: dict[frozenset[tuple[str, str]], Resource | None] = {}
        self._held: list[object] = []

    def preload(self, identifier_sets: Iterable[Mapping[str, str]]) -> None:
        """Resolve every identifier set not resolved yet, all with one query."""
        wanted = {frozenset(normalise(ids).items()) for ids in identifier_sets}
        wanted.difference_update(self._found)
        pairs: set[tuple[str, str]] = set().union(*wanted)
        candidates = _candidates(self._session, pairs) if pairs else []
        for key in wanted:
            self._remember(key, _best(candidates, dict(key)))

    def resolve(self, identifiers: Mapping[str, str]) -> Resource | None:
        ids = normalise(identifiers)
        key = frozenset(ids.items())
        if key not in self._found:
            self._remember(key, _resolve(self._session, ids))
        return self._found[key]

    def resolve_all(self, identifiers: Mapping[str, str]) -> list[Resource]:
        """Every resource one of whose selectors is all among `identifiers`, oldest
        selector first: a provider notice names a scope (a subscription and region, say)
        that many resources lie in, not one alert's single resource."""
        ids = normalise(identifiers)
        if not ids:
            return []
        found: dict[int, Resource] = {}
        for selector in _candidates(self._session, ids.items()):
            if all(ids.get(k) == v for k, v in selector.match.items()):
                found.setdefault(selector.resource.id, selector.resource)
        for resource in found.values():
            self._held += [resource.contract, resource.contract.customer]
        return list(found.values())

    def _remember(self, key: frozenset[tuple[str, str]], resource: Resource | None) -> None:
        if resource is not None:
            self._held += [resource.contract, resource.contract.customer]
        self._found[key] = resource


def _resolve(session: Session, ids: dict[str, str]) -> Resource | None:
    if not ids:
        return None
    return _best(_candidates(session, ids.items()), ids)


_CANDIDATES = (
    select(ResourceSelector)
    .where(
        ResourceSelector.index_key.in_(bindparam("keys", expanding=True)),
        ResourceSelector.index_value.in_(bindparam("values", expanding=True)),
    )
    .options(
        joinedload(ResourceSelector.resource)
        .joinedload(Resource.contract)
        .joinedload(Contract.customer)
    )
    .order_by(ResourceSelector.id)
)  # built once: the per-call cost of building a statement adds up on the ingest path


def _candidates(session: Session, pairs: Iterable[tuple[str, str]]) -> list[ResourceSelector]:
    """The selectors indexed under any of `pairs` (and maybe a few more: keys and values
    are matched apart, which the index answers), oldest first, with their resources,
    contracts and customers joined in: ingest needs all three of the winner."""
    pairs = set(pairs)
    keys = sorted({key for key, _ in pairs})
    values = sorted({value for _, value in pairs})
    return list(session.scalars(_CANDIDATES, {"keys": keys, "values": values}))


def _best(candidates: Iterable[ResourceSelector], ids: Mapping[str, str]) -> Resource | None:
    """The resource of the most specific selector all of whose pairs are in `ids`
    (the oldest among equals: `candidates` come oldest first)."""
    best: ResourceSelector | None = None
    for selector in candidates:
        if all(ids.get(k) == v for k, v in selector.match.items()) and (
            best is None or len(selector.match) > len(best.match)
        ):
            best = selector
    return best.resource if best else None
