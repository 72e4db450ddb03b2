"""The token cache: requests are answered from it, revocation still takes effect within
its lifetime, and a burst of requests never waits for more than one lookup."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from daemon.auth import Principal, TokenCache, create_token, hash_token
from daemon.store.db import read_only_sessions, session_factory
from daemon.store.models import ApiToken
from tests.daemon.conftest import FakeMonotonic

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


class GatedSessions:
    """The real session factory behind a gate: lookups wait until the test opens it, and
    the test sees how many lookups were made."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = read_only_sessions(engine)
        self.gate = threading.Event()
        self.gate.set()
        self.opened = 0
        self.failing = False

    def __call__(self) -> Session:
        self.gate.wait()
        self.opened += 1
        if self.failing:
            raise ConnectionError("the store is unreachable")
        return self._sessions()


@pytest.fixture
def store(database: tuple[str, Engine]) -> Iterator[GatedSessions]:
    sessions = GatedSessions(database[1])
    yield sessions
    sessions.gate.set()  # release any lookup a failed test left waiting


@pytest.fixture
def token(database: tuple[str, Engine]) -> str:
    with session_factory(database[1]).begin() as session:
        return create_token(session, "zabbix", "ingest", NOW)


def revoke(engine: Engine, token: str) -> None:
    with session_factory(engine).begin() as session:
        session.execute(
            update(ApiToken).where(ApiToken.token_hash == hash_token(token)).values(revoked_at=NOW)
        )


def answered_at_once(call: Callable[[], Any]) -> Any:
    """Run a coroutine to its first suspension: its result if it finished without
    waiting for anything (a cache hit), else fail."""
    coro = call()
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    pytest.fail("the request waited for a lookup")


ZABBIX = Principal("zabbix", "ingest")


def test_a_known_token_is_looked_up_once_and_then_answered_from_the_cache(
    store: GatedSessions, token: str
) -> None:
    cache = TokenCache(ttl=10, timer=FakeMonotonic())
    assert asyncio.run(cache.principal(store, token)) == ZABBIX
    store.gate.clear()  # any further lookup would now hang
    assert answered_at_once(lambda: cache.principal(store, token)) == ZABBIX
    assert store.opened == 1


def test_a_burst_of_requests_with_a_new_token_shares_one_lookup(
    store: GatedSessions, token: str
) -> None:
    cache = TokenCache(ttl=10, timer=FakeMonotonic())

    async def burst() -> list[Principal | None]:
        store.gate.clear()
        requests = [asyncio.ensure_future(cache.principal(store, token)) for _ in range(50)]
        await asyncio.sleep(0)  # every request is now waiting
        store.gate.set()
        return await asyncio.gather(*requests)

    assert asyncio.run(burst()) == [ZABBIX] * 50
    assert store.opened == 1


def test_an_ageing_entry_is_rechecked_in_the_background_while_requests_are_answered(
    store: GatedSessions, token: str
) -> None:
    timer = FakeMonotonic()
    lookups = ThreadPoolExecutor(1)
    cache = TokenCache(ttl=10, timer=timer, lookups=lookups)
    assert asyncio.run(cache.principal(store, token)) == ZABBIX
    timer.now += 6  # past half the lifetime: the next request starts a re-check
    store.gate.clear()
    for _ in range(20):  # the re-check is held up; nobody waits for it
        assert answered_at_once(lambda: cache.principal(store, token)) == ZABBIX
    store.gate.set()
    lookups.submit(lambda: None).result()  # the one lookup thread finished the re-check
    assert store.opened == 2
    timer.now += 9  # past the first lookup's lifetime, within the re-check's
    assert answered_at_once(lambda: cache.principal(store, token)) == ZABBIX


def looked_up_then_revoked(
    engine: Engine, store: GatedSessions, token: str, timer: FakeMonotonic
) -> TokenCache:
    """A cache that has looked `token` up, which was revoked in the store right after."""
    cache = TokenCache(ttl=10, timer=timer)
    assert asyncio.run(cache.principal(store, token)) == ZABBIX
    revoke(engine, token)
    return cache


def test_a_recheck_that_finds_the_token_revoked_refuses_it(
    database: tuple[str, Engine], store: GatedSessions, token: str
) -> None:
    timer = FakeMonotonic()
    cache = looked_up_then_revoked(database[1], store, token, timer)
    timer.now += 6
    store.gate.clear()
    assert answered_at_once(lambda: cache.principal(store, token)) == ZABBIX
    timer.now += 5  # expired while the re-check is under way: the request waits for it

    async def request_after_expiry() -> Principal | None:
        request = asyncio.ensure_future(cache.principal(store, token))
        await asyncio.sleep(0)
        store.gate.set()
        return await request

    assert asyncio.run(request_after_expiry()) is None
    assert store.opened == 2  # it joined the re-check instead of starting another


def test_a_revoked_token_is_refused_once_its_entry_expires(
    database: tuple[str, Engine], store: GatedSessions, token: str
) -> None:
    timer = FakeMonotonic()
    cache = looked_up_then_revoked(database[1], store, token, timer)
    timer.now += 4
    assert answered_at_once(lambda: cache.principal(store, token)) == ZABBIX
    timer.now += 6  # ten seconds after the lookup, with no request in between
    assert asyncio.run(cache.principal(store, token)) is None


def test_a_caller_that_goes_away_does_not_cancel_the_lookup_others_wait_for(
    store: GatedSessions, token: str
) -> None:
    cache = TokenCache(ttl=10, timer=FakeMonotonic())

    async def scenario() -> Principal | None:
        store.gate.clear()
        gone = asyncio.ensure_future(cache.principal(store, token))
        staying = asyncio.ensure_future(cache.principal(store, token))
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.sleep(0)
        store.gate.set()
        return await staying

    assert asyncio.run(scenario()) == ZABBIX
    assert asyncio.run(cache.principal(store, token)) == ZABBIX
    assert store.opened == 1


def test_a_failed_lookup_fails_its_requests_and_the_next_request_tries_again(
    store: GatedSessions, token: str
) -> None:
    cache = TokenCache(ttl=10, timer=FakeMonotonic())
    store.failing = True
    with pytest.raises(ConnectionError):
        asyncio.run(cache.principal(store, token))
    store.failing = False
    assert asyncio.run(cache.principal(store, token)) == ZABBIX


def test_an_unknown_token_is_not_cached(store: GatedSessions) -> None:
    cache = TokenCache(ttl=10, timer=FakeMonotonic())
    for _ in range(3):
        assert asyncio.run(cache.principal(store, "slad_not-a-token")) is None
    assert store.opened == 3
