"""Reconcile CloudWatch alarms with what slad was pushed: the changes the pushes missed.

Each poll reads, per region, every metric and composite alarm (``describe_alarms``) and
the ``StateUpdate`` history since the stored watermark (``describe_alarm_history``).
A connector never reads the store, so it cannot ask which alarms slad has as firing;
it does not need to. Events are idempotent by their key, which is the one the push
carries for the same change (alarm ARN, new state, the instant of the change: the
history item's ``Timestamp`` and the alarm's ``StateTransitionedTimestamp`` are the
instant SNS sends as ``StateChangeTime``), so re-sending a change slad already has is a
no-op, and a problem for an alarm slad has firing is a repeat. The poll sends:

- every alarm now in ``ALARM``, as a problem detected at its last transition: an alarm
  whose push was lost fires in slad at the instant it fired in AWS;
- every transition since the watermark (history, and the current state if it changed
  since then): a recovery that was never pushed resolves slad's alert at the instant AWS
  recorded it, and a flap (ALARM → OK → ALARM) becomes a recovery and a new problem;
- each recovery together with the problem it ends (the alarm's previous firing
  transition, read from the history when it lies before the watermark), so a recovery
  never arrives for an alarm slad has never seen firing: an alarm that fired and
  recovered while no push came through is recorded as the incident it was. A recovery
  whose alarm was not firing before it (``OK`` after ``INSUFFICIENT_DATA`` counted as a
  recovery) is not sent. A recovery whose previous transitions are past the history's
  retention is sent alone.

``INSUFFICIENT_DATA`` counts as the instance's `insufficient_data` says; as an update
(the default) it changes nothing the poll reconciles and is not sent.

The poll also lists, as findings shown in ``GET /v1/sources``, alarms that notify one of
the instance's topics on ``ALARM`` but not on ``OK``: their recoveries never come by push.

With `health_api`, AWS Health's API is asked for the events updated since the watermark
(`health_notices`); an account without the support plan it needs is a finding, not a
failure, and its notices come only through EventBridge.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.aws.alarms import UnmappableMessage, event_kind, state_change_event
from connectors.aws.api import AwsApi, HealthUnavailable
from connectors.aws.config import AwsInstance
from connectors.aws.health import api_notice
from connectors.events import AlertEvent, EventKind
from connectors.notices import ProviderNotice

PREVIOUS_STATES = 20
"""How many of an alarm's earlier state changes are read to find the problem a recovery ends."""
MAX_FINDINGS = 50


@dataclass(frozen=True, order=True)
class Transition:
    """One alarm entering one state at one instant, as the API tells it."""

    at: datetime
    state: str
    name: str = field(compare=False)
    via: str = field(compare=False)
    reason: str = field(compare=False, default="")


@dataclass
class Reconciliation:
    """The events one poll found, and the findings about the instance's alarms."""

    events: list[AlertEvent] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)


def reconcile(instance: AwsInstance, api: AwsApi, since: datetime, now: datetime) -> Reconciliation:
    """Every region's alarm events in [since, now], oldest first, and its findings."""
    result = Reconciliation()
    for region in instance.regions:
        alarms = {alarm["AlarmName"]: alarm for alarm in api.alarms(region)}
        result.findings.extend(recoveries_not_pushed(instance, region, alarms.values()))
        history = api.state_history(region, since, now)
        events = _RegionPoll(instance, api, region, alarms, since, now).events(history)
        result.events.extend(events)
    result.events.sort(key=lambda event: event.detected_at)
    if len(result.findings) > MAX_FINDINGS:
        rest = len(result.findings) - MAX_FINDINGS + 1
        result.findings[MAX_FINDINGS - 1 :] = [f"... and {rest} more alarms like these"]
    return result


def health_notices(
    api: AwsApi, since: datetime, now: datetime
) -> tuple[list[ProviderNotice], list[str]]:
    """The Health events updated in [since, now] as notices, and the findings about them."""
    try:
        events = api.health_events(since, now)
        arns = [str(event["arn"]) for event in events]
        details = api.health_details(arns)
        entities = api.health_entities(arns)
    except HealthUnavailable as exc:
        return [], [
            f"Health API unavailable for this account ({exc}): AWS Health notices arrive "
            "only by EventBridge (an aws.health rule targeting the topic or /events)"
        ]
    notices, findings = [], []
    for event in events:
        arn = str(event["arn"])
        description = ((details.get(arn) or {}).get("eventDescription") or {}).get(
            "latestDescription", ""
        )
        try:
            notices.append(api_notice(api.instance, event, description, entities.get(arn, [])))
        except UnmappableMessage as exc:
            findings.append(f"Health event {arn} cannot be read: {exc}")
    return notices, findings


def recoveries_not_pushed(
    instance: AwsInstance, region: str, alarms: Iterable[Mapping[str, Any]]
) -> list[str]:
    """Alarms that notify the instance's topics on ALARM but not on OK, one line each."""
    findings = []
    for alarm in alarms:
        if alarm.get("ActionsEnabled") is False:
            continue
        topics = instance.topic_arns
        on_alarm = sorted(topics & set(alarm.get("AlarmActions") or ()))
        on_ok = topics & set(alarm.get("OKActions") or ())
        if on_alarm and not on_ok:
            findings.append(
                f"alarm {alarm['AlarmName']!r} in {region} notifies {on_alarm[0]} on ALARM but "
                "not on OK: its recoveries arrive only by polling (add the topic to its OK "
                "actions)"
            )
    return findings


class _RegionPoll:
    """One region's alarms and history, turned into events."""

    def __init__(
        self,
        instance: AwsInstance,
        api: AwsApi,
        region: str,
        alarms: Mapping[str, Mapping[str, Any]],
        since: datetime,
        now: datetime,
    ) -> None:
        self.instance = instance
        self.api = api
        self.region = region
        self.alarms = alarms
        self.since = since
        self.now = now

    def events(self, history: Iterable[Mapping[str, Any]]) -> list[AlertEvent]:
        changes: dict[str, set[Transition]] = {}
        for item in history:
            transition = _from_history(item)
            if transition is not None:
                changes.setdefault(transition.name, set()).add(transition)
        for alarm in self.alarms.values():
            transition = _current(alarm)
            if transition is None:
                continue
            firing = self._kind(transition.state) is EventKind.PROBLEM
            if firing or transition.at >= self.since:
                changes.setdefault(transition.name, set()).add(transition)
        events: list[AlertEvent] = []
        for name, transitions in sorted(changes.items()):
            events.extend(self._alarm_events(name, sorted(transitions)))
        return events

    def _alarm_events(self, name: str, transitions: Sequence[Transition]) -> list[AlertEvent]:
        sent: list[Transition] = []
        for index, transition in enumerate(transitions):
            kind = self._kind(transition.state)
            if kind is EventKind.PROBLEM:
                sent.append(transition)
            elif kind is EventKind.RECOVERY:
                before = self._previous(transitions[:index])
                if before is None:
                    before = self._previous_in_history(name, transition.at)
                if before is not None and self._kind(before.state) is EventKind.RECOVERY:
                    continue  # the alarm was not firing: nothing to recover
                if before is not None and before not in sent:
                    sent.append(before)
                sent.append(transition)
        return [self._event(name, t) for t in sorted(set(sent))]

    def _previous(self, transitions: Sequence[Transition]) -> Transition | None:
        """The last transition that changed firing (problem or recovery), if any."""
        for transition in reversed(transitions):
            if self._kind(transition.state) is not EventKind.UPDATE:
                return transition
        return None

    def _previous_in_history(self, name: str, before: datetime) -> Transition | None:
        items = self.api.last_states(self.region, name, before, PREVIOUS_STATES)
        earlier = [t for t in map(_from_history, items) if t is not None and t.at < before]
        return self._previous(sorted(earlier))

    def _kind(self, state: str) -> EventKind:
        try:
            return event_kind(self.instance, state)
        except UnmappableMessage:
            return EventKind.UPDATE

    def _event(self, name: str, transition: Transition) -> AlertEvent:
        alarm = self.alarms.get(name, {})
        arn = alarm.get("AlarmArn") or self._arn(name)
        dimensions: list[Any] = [alarm.get("Dimensions")]
        for metric in alarm.get("Metrics") or ():
            metric_stat = metric.get("MetricStat") or {}
            dimensions.append((metric_stat.get("Metric") or {}).get("Dimensions"))
        raw = {
            "AlarmArn": arn,
            "AlarmName": name,
            "StateValue": transition.state,
            "StateChangeTime": transition.at.isoformat(),
            "StateReason": transition.reason,
            "polled": transition.via,
        }
        return state_change_event(
            self.instance,
            arn=arn,
            state=transition.state,
            changed_at=transition.at,
            name=name,
            dimensions=dimensions,
            raw=raw,
            received_at=self.now,
        )

    def _arn(self, name: str) -> str:
        """The ARN of an alarm deleted since its history was written."""
        partition = "aws"
        if self.region.startswith("cn-"):
            partition = "aws-cn"
        elif self.region.startswith("us-gov-"):
            partition = "aws-us-gov"
        return f"arn:{partition}:cloudwatch:{self.region}:{self.instance.account_id}:alarm:{name}"


def _current(alarm: Mapping[str, Any]) -> Transition | None:
    """The alarm's current state, entered at ``StateTransitionedTimestamp``.

    ``StateUpdatedTimestamp`` also moves when only the evaluation state changes; it
    stands in only where an API gives no transition time (emulators).
    """
    state = alarm.get("StateValue")
    at = alarm.get("StateTransitionedTimestamp") or alarm.get("StateUpdatedTimestamp")
    if not isinstance(state, str) or not isinstance(at, datetime):
        return None
    return Transition(
        _utc(at),
        state,
        str(alarm["AlarmName"]),
        "describe_alarms",
        str(alarm.get("StateReason", "")),
    )


def _from_history(item: Mapping[str, Any]) -> Transition | None:
    """The state a ``StateUpdate`` item records the alarm entering (``HistoryData.newState``)."""
    at = item.get("Timestamp")
    name = item.get("AlarmName")
    if not isinstance(at, datetime) or not isinstance(name, str):
        return None
    try:
        data = json.loads(item.get("HistoryData") or "{}")
        new_state = data["newState"]
        state = new_state["stateValue"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(state, str):
        return None
    reason = new_state.get("stateReason", "") if isinstance(new_state, dict) else ""
    return Transition(_utc(at), state, name, "describe_alarm_history", str(reason))


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)
