"""Turn daemon events into outbox rows, in the transaction of the event that causes them.

The notifier renders each message when the event happens (so the text says what was
true then), routes it by event, plan and contract, and writes one outbox row per
channel and recipient with a deterministic idempotency key: the same event can never
produce a second row, and a re-sent row carries the same key for the receiver.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.config import Config
from daemon.ingest import Ingestor
from daemon.notify.compose import compose_message
from daemon.notify.config import EmailChannelConfig, NotifyConfig, channels_for
from daemon.notify.events import NotifyEvent
from daemon.notify.templates import TemplateSet, resolve_locale
from daemon.notify.variables import TemplateValue
from daemon.store.models import (
    Alert,
    Clock,
    Contract,
    Customer,
    Incident,
    OutboxMessage,
    Resource,
    SupportRequest,
)
from sla_engine.policy import PlanPolicy

log = logging.getLogger("slad.notify")

UNKNOWN_DUE = {
    "ja": "未定（終了未定の期間で停止中）",  # noqa: RUF001 (full-width brackets in Japanese text)
    "en": "none yet (paused by a window with no end)",
}
CLOCK_EVENTS = {"slo_breached": NotifyEvent.SLO_BREACHED, "sla_breached": NotifyEvent.SLA_BREACHED}


def due_text(due: datetime | None, locale: str | None) -> TemplateValue:
    """A due instant, or, while a window with no end pauses the clock before it, the
    words saying so: a message never shows a deadline nobody can know."""
    return due if due is not None else UNKNOWN_DUE[resolve_locale(locale)]


@dataclass
class Notifier:
    """Writes outbox rows; a daemon without a `[notify]` section has no channels."""

    config: NotifyConfig
    templates: TemplateSet

    def recipients(self, channel: str) -> tuple[str, ...]:
        """A channel's fixed recipients: an e-mail channel's `to`, else the channel itself."""
        settings = self.config.channels[channel]
        if isinstance(settings, EmailChannelConfig):
            return settings.to
        return ("",)

    def _enqueue(
        self,
        session: Session,
        event: NotifyEvent,
        *,
        key: str,
        plan: str | None,
        contract_id: int | None,
        locale: str | None,
        variables: Mapping[str, TemplateValue],
        now: datetime,
        incident_id: int | None = None,
    ) -> int:
        count = 0
        for channel in channels_for(
            self.config.routes, event, plan, None if contract_id is None else str(contract_id)
        ):
            for recipient in self.recipients(channel):
                count += self._add(
                    session,
                    event,
                    channel,
                    recipient,
                    key,
                    locale,
                    variables,
                    now,
                    incident_id,
                    "notify",
                )
        return count

    def _add(
        self,
        session: Session,
        event: NotifyEvent,
        channel: str,
        recipient: str,
        key: str,
        locale: str | None,
        variables: Mapping[str, TemplateValue],
        now: datetime,
        incident_id: int | None,
        purpose: str,
    ) -> int:
        row = self.queue(
            session, event, channel, recipient, key, locale, variables, now, incident_id, purpose
        )
        return 0 if row is None else 1

    def queue(
        self,
        session: Session,
        event: NotifyEvent,
        channel: str,
        recipient: str,
        key: str,
        locale: str | None,
        variables: Mapping[str, TemplateValue],
        now: datetime,
        incident_id: int | None = None,
        purpose: str = "notify",
    ) -> OutboxMessage | None:
        """The outbox row of `key` on `channel` for `recipient`, or None if it was queued
        before (whatever became of it since): one event never yields a second message."""
        idempotency_key = f"slad.{key}.{channel}" + (f".{recipient}" if recipient else "")
        idempotency_key = "".join(c if c.isalnum() or c in "._-@" else "_" for c in idempotency_key)
        exists = select(OutboxMessage.id).where(OutboxMessage.idempotency_key == idempotency_key)
        if session.scalar(exists) is not None:
            return None
        message = compose_message(self.templates, event, locale, variables, idempotency_key)
        row = OutboxMessage(
            idempotency_key=idempotency_key,
            event=str(event),
            purpose=purpose,
            channel=channel,
            recipient=recipient,
            message=message.as_dict(),
            incident_id=incident_id,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(row)
        return row

    def _incident_event(
        self,
        session: Session,
        event: NotifyEvent,
        incident: Incident,
        customer: Customer,
        variables: Mapping[str, TemplateValue],
        now: datetime,
    ) -> None:
        """Route an incident's event by its plan and contract, in the customer's language."""
        self._enqueue(
            session,
            event,
            key=f"incident.{incident.id}.{event.value.removeprefix('incident_')}",
            plan=incident.plan,
            contract_id=incident.contract_id,
            locale=customer.locale,
            variables=variables,
            now=now,
            incident_id=incident.id,
        )

    def _routed(self, event: NotifyEvent, incident: Incident | None) -> tuple[str, ...]:
        """The channels `event` goes to; checked first so an unrouted event costs nothing
        on the ingest path (no look-ups, no rendering)."""
        if incident is None:
            return channels_for(self.config.routes, event, None, None)
        return channels_for(self.config.routes, event, incident.plan, str(incident.contract_id))

    def _context(self, session: Session, incident: Incident) -> tuple[Customer, Resource]:
        customer = session.get(Customer, incident.customer_id)
        resource = session.get(Resource, incident.resource_id)
        assert customer is not None and resource is not None
        return customer, resource

    def incident_opened(self, session: Session, incident: Incident, now: datetime) -> None:
        if not self._routed(NotifyEvent.INCIDENT_OPENED, incident):
            return
        customer, resource = self._context(session, incident)
        contact = next((c for c in incident.clocks if c.name == "contact"), None)
        variables: dict[str, TemplateValue] = {
            "incident_id": incident.id,
            "customer_name": customer.name,
            "contract_id": incident.contract_id,
            "plan": incident.plan,
            "resource_name": resource.name,
            "source": incident.source,
            "severity": incident.severity,
            "summary": incident.title,
            "detected_at": incident.detected_at,
            "contact_slo_due": due_text(contact.slo_due_at, customer.locale)
            if contact
            else incident.detected_at,
            "contact_sla_due": due_text(contact.sla_due_at, customer.locale)
            if contact
            else incident.detected_at,
        }
        self._incident_event(
            session, NotifyEvent.INCIDENT_OPENED, incident, customer, variables, now
        )

    def auto_contact(self, session: Session, incident: Incident, now: datetime) -> bool:
        """Queue the customer's first notice; its acceptance records the contact."""
        channels = self._routed(NotifyEvent.CUSTOMER_FIRST_NOTICE, incident)
        provider = self.config.provider
        if provider is None or not channels:
            return False
        customer, resource = self._context(session, incident)
        if not customer.contact_email:
            log.warning(
                "auto contact skipped: customer has no contact_email",
                extra={"incident_id": incident.id, "customer_id": customer.id},
            )
            return False
        variables: dict[str, TemplateValue] = {
            "incident_id": incident.id,
            "customer_name": customer.name,
            "resource_name": resource.name,
            "severity": incident.severity,
            "summary": incident.title,
            "detected_at": incident.detected_at,
            **provider.variables(),
        }
        queued = 0
        for channel in channels:
            queued += self._add(
                session,
                NotifyEvent.CUSTOMER_FIRST_NOTICE,
                channel,
                customer.contact_email,
                f"incident.{incident.id}.first-notice",
                customer.locale,
                variables,
                now,
                incident.id,
                "auto_contact",
            )
        return queued > 0

    def incident_resolved(self, session: Session, incident: Incident, now: datetime) -> None:
        if not self._routed(NotifyEvent.INCIDENT_RESOLVED, incident):
            return
        customer, resource = self._context(session, incident)
        assert incident.resolved_at is not None
        variables: dict[str, TemplateValue] = {
            "incident_id": incident.id,
            "customer_name": customer.name,
            "contract_id": incident.contract_id,
            "resource_name": resource.name,
            "source": incident.source,
            "summary": incident.title,
            "detected_at": incident.detected_at,
            "resolved_at": incident.resolved_at,
        }
        self._incident_event(
            session, NotifyEvent.INCIDENT_RESOLVED, incident, customer, variables, now
        )

    def alert_unassigned(self, session: Session, alert: Alert, now: datetime) -> None:
        if not self._routed(NotifyEvent.UNASSIGNED_ALERT, None):
            return
        reference = ", ".join(f"{k}={v}" for k, v in sorted(alert.resource_ids.items())) or "-"
        variables: dict[str, TemplateValue] = {
            "alert_id": alert.id,
            "source": alert.source,
            "severity": alert.severity,
            "summary": alert.title or "-",
            "resource_ref": reference,
            "detected_at": alert.detected_at,
        }
        self._enqueue(
            session,
            NotifyEvent.UNASSIGNED_ALERT,
            key=f"alert.{alert.id}.unassigned",
            plan=None,
            contract_id=None,
            locale=None,
            variables=variables,
            now=now,
        )

    def clock_mark(
        self,
        session: Session,
        clock: Clock,
        mark: str,
        at: datetime,
        fraction: float | None,
        now: datetime,
    ) -> None:
        """A warning or breach of an incident's or support request's clock fell due.

        Its route is looked up first, so a mark no channel takes costs no look-ups."""
        event = NotifyEvent.WARNING if fraction is not None else CLOCK_EVENTS[mark]
        incident: Incident | None = None
        request: SupportRequest | None = None
        if clock.incident_id is not None:
            incident = session.get(Incident, clock.incident_id)
            assert incident is not None
            routed_contract = incident.contract_id
        else:
            request = session.get(SupportRequest, clock.support_request_id)
            assert request is not None
            routed_contract = request.contract_id
        if not channels_for(self.config.routes, event, clock.plan, str(routed_contract)):
            return
        if incident is not None:
            customer, resource = self._context(session, incident)
            case, contract_id, resource_name = (
                f"I-{incident.id}",
                incident.contract_id,
                resource.name,
            )
            incident_id: int | None = incident.id
        else:
            assert request is not None
            contract = session.get(Contract, request.contract_id)
            assert contract is not None
            customer = contract.customer
            case, contract_id, resource_name = f"S-{request.id}", contract.id, "-"
            incident_id = None
        variables: dict[str, TemplateValue] = {
            "case_id": case,
            "customer_name": customer.name,
            "contract_id": contract_id,
            "resource_name": resource_name,
            "clock": clock.name,
            "slo_due": due_text(clock.slo_due_at, customer.locale),
            "sla_due": due_text(clock.sla_due_at, customer.locale),
        }
        if fraction is not None:
            variables["percent"] = round(fraction * 100)
        elif event is NotifyEvent.SLA_BREACHED:
            del variables["slo_due"]
        self._enqueue(
            session,
            event,
            key=f"clock.{clock.id}.{mark}",
            plan=clock.plan,
            contract_id=contract_id,
            locale=customer.locale,
            variables=variables,
            now=now,
            incident_id=incident_id,
        )


@dataclass
class NotifyingHooks:
    """The ingest hooks: notify, and send the first notice on auto-contact plans."""

    notifier: Notifier
    plans: Mapping[str, PlanPolicy]

    def incident_opened(self, session: Session, incident: Incident, now: datetime) -> None:
        self.notifier.incident_opened(session, incident, now)
        plan = self.plans.get(incident.plan)
        if plan is not None and plan.auto_contact:
            self.notifier.auto_contact(session, incident, now)

    def incident_resolved(self, session: Session, incident: Incident, now: datetime) -> None:
        self.notifier.incident_resolved(session, incident, now)

    def alert_unassigned(self, session: Session, alert: Alert, now: datetime) -> None:
        self.notifier.alert_unassigned(session, alert, now)


def notifying_ingestor(config: Config, notifier: Notifier) -> Ingestor:
    """The ingestor the daemon correlates with, wherever the correlator runs."""
    plans = dict(config.plans)
    return Ingestor(
        plans=plans,
        horizon=timedelta(days=config.ingest.window_horizon_days),
        hooks=NotifyingHooks(notifier, plans),
        fault_exclusion=config.sla.fault_exclusion,
        max_skew=timedelta(seconds=config.ingest.max_clock_skew_seconds),
    )
