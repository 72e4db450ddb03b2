"""The source contract: what a monitoring system's connector gives the daemon.

A source is one package in ``connectors/<source>/`` with one `SourceConnector`
subclass. The daemon's generic runner (`daemon.sources`) runs every source the same way
and never needs to know which one it runs:

- `parse_config` reads the source's TOML table (``[<source>]``, instances by name under
  ``[<source>.instances.<name>]``) into `SourceSettings`.
- `routes` are its webhooks, mounted at ``/v1/webhooks/<source>/<instance>[/<sub>]``.
  Each verifies the request first (nothing else is read before it does) and answers a
  `WebhookResult`: alert events, provider notices, or a `ControlAnswer` for a request
  that carries neither (a subscription handshake, a test message), and may ask the daemon
  to open or close the instance's monitoring fault (`FaultChange`: e.g. the source says
  it stopped delivering). A request it refuses raises `WebhookRejected` with a reason
  from `RejectReason`; a `SourceUnreachable` it raises (it needed the source's API or a
  certificate and could not get it) is answered 503 with ``Retry-After``.
- `poll(instance, since, now)` reconciles from the stored watermark `since` and answers
  a `PollResult`: events, the source's own maintenance periods, notices, and the next
  watermark. Any failure to reach the source raises `SourceUnreachable`; that is what the
  runner counts against the instance's health.
- `streams` / `receive` (optional) read a stream the source keeps for the daemon (a
  Pub/Sub pull subscription): the leader calls `receive` again and again; each call hands
  what it read to `commit` and acknowledges it to the source only after `commit` returned,
  so a crash in between makes the source deliver it again.
- `write_back` (optional) posts contact and report to the source's problems.
- `setup` and `check` (optional) configure the source side through its API and prove the
  path end to end, for ``slad source setup|check <source> <instance>``.

Connectors never touch the store; everything they return is a frozen value.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from connectors.events import AlertEvent
from connectors.notices import ProviderNotice


class SourceInstance(Protocol):
    """What the runner reads of every instance's settings."""

    @property
    def name(self) -> str: ...

    @property
    def poll_interval_seconds(self) -> int: ...

    @property
    def failure_threshold(self) -> int: ...


InstanceT = TypeVar("InstanceT", bound=SourceInstance)


@dataclass(frozen=True)
class SourceSettings(Generic[InstanceT]):
    """A source's parsed table: its instances by name, and how far a first poll reaches back."""

    instances: Mapping[str, InstanceT]
    lookback: timedelta = timedelta(days=1)


class SourceUnreachable(Exception):
    """The source could not be reached or refused a request (counts against its health)."""


class RejectReason(StrEnum):
    """Why a webhook was refused; the label of ``slad_webhook_rejected_total``."""

    BAD_SIGNATURE = "bad_signature"
    UNAUTHORIZED = "unauthorized"
    UNKNOWN_INSTANCE = "unknown_instance"
    UNKNOWN_ROUTE = "unknown_route"
    MALFORMED = "malformed"
    SOURCE_UNREACHABLE = "source_unreachable"


_STATUS = {
    RejectReason.BAD_SIGNATURE: 401,
    RejectReason.UNAUTHORIZED: 401,
    RejectReason.UNKNOWN_INSTANCE: 404,
    RejectReason.UNKNOWN_ROUTE: 404,
    RejectReason.MALFORMED: 422,
    RejectReason.SOURCE_UNREACHABLE: 503,
}


class WebhookRejected(Exception):
    """A webhook refused before anything was stored.

    `problem` is the stable slug of the HTTP problem type (``urn:slad:problem:<problem>``);
    `detail` is shown to the caller and logged, so it must never contain a secret.
    """

    def __init__(self, reason: RejectReason, problem: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.problem = problem
        self.detail = detail

    @property
    def status(self) -> int:
        return _STATUS[self.reason]


@dataclass(frozen=True)
class WebhookRequest:
    """One request to a source's webhook, as the runner hands it over.

    `headers` have lower-case names. `source_up` is False while the runner counts the
    instance as unreachable, so a handler does not make the sender wait on its API.
    """

    subpath: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    received_at: datetime
    source_up: bool = True


@dataclass(frozen=True)
class ControlAnswer:
    """The answer to a request that carries no alert (a handshake, a test message).

    `note` says what it was (shown in ``GET /v1/sources`` and logged). `follow_up`, if
    any, runs after the answer is sent (e.g. visiting an SNS ``SubscribeURL``); a
    `SourceUnreachable` it raises is logged and shown as the instance's last error.
    """

    note: str
    status: int = 200
    body: Mapping[str, Any] = field(default_factory=dict)
    follow_up: Callable[[], None] | None = None


@dataclass(frozen=True)
class FaultChange:
    """A verified request saying whether slad can observe the instance (SPEC section 4).

    `open` asks for the instance's monitoring fault from `since` (None: the receipt
    instant), e.g. the source says it stopped delivering here; `reason` becomes its
    description and audit reason. Not `open` asks to end it, e.g. delivery resumed. The
    daemon keeps one fault per instance: a webhook closes only a fault a webhook opened,
    never one of failed polls (the next good poll closes that), and polls leave a
    webhook's fault alone.
    """

    open: bool
    reason: str
    since: datetime | None = None


@dataclass(frozen=True)
class WebhookResult:
    """What one verified webhook request brought.

    `source_errors` are failures to reach the source while handling it (e.g. a
    detection look-up that fell back to the payload's own time): counted, not fatal.
    `fault` is applied after the rest is committed.
    """

    events: Sequence[AlertEvent] = ()
    notices: Sequence[ProviderNotice] = ()
    control: ControlAnswer | None = None
    source_errors: Sequence[str] = ()
    fault: FaultChange | None = None


@dataclass(frozen=True)
class SourceWindow:
    """One maintenance period the source itself holds, as it describes it now.

    `ref` is stable across polls for the same period (e.g. ``<maintenance id>:<period
    index>``). `targets` are identifier sets in the form `AlertEvent.resource_ids` uses;
    the runner maps each to a resource through the registry, and keeps one window per
    mapped resource, made equal to this shape at every sync. A recurring period has
    `rrule` (with `start` as its first occurrence in `timezone`) and
    `duration_seconds`, bounded by `until`; a one-off period has `end`.
    """

    ref: str
    targets: Sequence[Mapping[str, str]]
    description: str
    start: datetime
    end: datetime | None = None
    rrule: str | None = None
    timezone: str = "UTC"
    duration_seconds: int | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class PollResult:
    """One reconciliation: what the source says since the watermark.

    `windows` is None when the source keeps no maintenance of its own (the runner then
    leaves windows alone); an empty sequence means it has none (its windows are removed).
    `watermark` is where the next poll starts; the runner stores it only once everything
    else here is committed, so a crash re-reads rather than skips. `findings` are what
    the poll found wrong with the source's set-up, one line each, shown in
    ``GET /v1/sources`` until a poll finds otherwise (e.g. alarms whose recoveries are
    never pushed); None leaves the stored ones as they are.
    """

    watermark: datetime
    events: Sequence[AlertEvent] = ()
    windows: Sequence[SourceWindow] | None = None
    notices: Sequence[ProviderNotice] = ()
    findings: Sequence[str] | None = None


@dataclass(frozen=True)
class StreamBatch:
    """What one read of a source's stream brought, committed before it is acknowledged.

    `note` says what it was (shown as the instance's last accepted delivery in
    ``GET /v1/sources``), e.g. ``"Pub/Sub pull: 3 message(s)"``.
    """

    events: Sequence[AlertEvent] = ()
    notices: Sequence[ProviderNotice] = ()
    note: str = ""


StreamCommit = Callable[[StreamBatch], None]
"""Commits a batch: returns once it is committed, raises when it could not be."""


@dataclass(frozen=True)
class WriteBack:
    """A contact or report recorded in slad, to be posted to the source's problems.

    `step` is ``contacted`` or ``reported``; `entry_id` names the timeline entry that
    recorded it. `problem_keys` are the problem keys of the incident's alerts of this
    instance.
    """

    incident_id: int
    entry_id: int
    step: str
    at: datetime
    actor: str
    message: str
    problem_keys: Sequence[str]


@dataclass(frozen=True)
class CheckStep:
    """One step of ``slad source check``: what was tried and whether it worked.

    `awaits`, if set, is the note the instance's last accepted webhook shows once what the
    step sent through the source arrived (e.g. a test message published to a topic): the
    step holds only if slad shows it within a short wait.
    """

    name: str
    ok: bool
    detail: str = ""
    awaits: str = ""


@dataclass(frozen=True)
class SignedTest:
    """A test webhook signed like the source signs: sent by ``check``, stores nothing.

    `query` is added to the URL (a plain webhook whose secret travels there)."""

    subpath: str
    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)


WebhookHandler = Callable[[InstanceT, WebhookRequest], WebhookResult]


class SourceConnector(ABC, Generic[InstanceT]):
    """One monitoring system; see the module docstring for the whole contract.

    `name` is the URL segment, the config table and the ``source`` of its events;
    `title` is how messages and audit entries name it ("Zabbix").
    """

    name: str
    title: str

    @abstractmethod
    def parse_config(self, section: Mapping[str, Any] | None) -> SourceSettings[InstanceT]:
        """Validate the source's table (None: absent); raise ValueError naming the key."""

    @abstractmethod
    def routes(self) -> Mapping[str, WebhookHandler[InstanceT]]:
        """Webhook handlers by sub-path (``""`` for the instance's own URL)."""

    def polls(self, instance: InstanceT) -> bool:
        """Whether `instance` is polled at all (a push-only instance answers False)."""
        return True

    @abstractmethod
    def poll(self, instance: InstanceT, since: datetime, now: datetime) -> PollResult:
        """Reconcile [since, now]; raise `SourceUnreachable` when the source cannot answer."""

    def streams(self, instance: InstanceT) -> bool:
        """Whether `instance` has a stream the leader consumes with `receive`."""
        return False

    def receive(
        self, instance: InstanceT, commit: StreamCommit, clock: Callable[[], datetime]
    ) -> int:
        """Read the stream once (waiting a few seconds at most when it is empty), hand what
        was read to `commit`, then acknowledge it to the source; the number of messages
        taken. Raise `SourceUnreachable` when the stream cannot be read; never acknowledge
        what `commit` did not return for. `clock` gives the receipt instant."""
        raise NotImplementedError(f"{self.name} has no stream")

    def writes_back(self, instance: InstanceT) -> bool:
        """Whether contact and report are posted to the source for `instance`."""
        return False

    def write_back(self, instance: InstanceT, step: WriteBack) -> None:
        """Post one step; raise `SourceUnreachable` to have it retried at the next poll."""
        raise NotImplementedError(f"{self.name} does not write back")

    def setup(self, instance: InstanceT, options: Mapping[str, str]) -> list[str]:
        """Configure the source side idempotently; the steps done, for the operator."""
        raise NotImplementedError(f"{self.name} has no setup; see its deploy/ README")

    def check(self, instance: InstanceT) -> list[CheckStep]:
        """Prove the source side: API reachable with the configured credentials, etc."""
        raise NotImplementedError(f"{self.name} has no check")

    def signed_test(self, instance: InstanceT) -> SignedTest | None:
        """A test webhook the source's routes answer with a `ControlAnswer`, or None."""
        return None
