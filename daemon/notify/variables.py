"""Which variables each event's template may use, and how values become text.

The schema is fixed here rather than inferred from the templates so that a template
naming a variable the daemon never supplies fails when templates are loaded (at start
or by `slad check-config`), not when the first alert arrives at night.

Every instant `x` is offered twice: `${x}` in RFC 3339 UTC for machines and logs, and
`${x_local}` in Asia/Tokyo wall time, worded for the template's locale, for people.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from daemon.notify.events import NotifyEvent

TemplateValue = str | int | float | datetime

LOCAL_ZONE = ZoneInfo("Asia/Tokyo")
LOCAL_SUFFIX = "_local"

# From `[notify.provider]` (SPEC §8 contact points), for the customer's first notice.
PROVIDER_VARIABLES = frozenset(
    {"provider_name", "provider_url", "provider_email", "provider_phone"}
)

_CLOCK_EVENT = frozenset({"case_id", "customer_name", "contract_id", "resource_name", "clock"})

# Caller-supplied names per event; `case_id` is the incident id, or the request id for
# the `support_reply` clock, and `resource_name` is "-" when a case has no resource.
EVENT_VARIABLES: Mapping[NotifyEvent, frozenset[str]] = {
    NotifyEvent.INCIDENT_OPENED: frozenset(
        {
            "incident_id",
            "customer_name",
            "contract_id",
            "plan",
            "resource_name",
            "source",
            "severity",
            "summary",
            "detected_at",
            "contact_slo_due",
            "contact_sla_due",
        }
    ),
    NotifyEvent.INCIDENT_RESOLVED: frozenset(
        {
            "incident_id",
            "customer_name",
            "contract_id",
            "resource_name",
            "source",
            "summary",
            "detected_at",
            "resolved_at",
        }
    ),
    NotifyEvent.WARNING: _CLOCK_EVENT | {"percent", "slo_due", "sla_due"},
    NotifyEvent.SLO_BREACHED: _CLOCK_EVENT | {"slo_due", "sla_due"},
    NotifyEvent.SLA_BREACHED: _CLOCK_EVENT | {"sla_due"},
    NotifyEvent.UNASSIGNED_ALERT: frozenset(
        {"alert_id", "source", "severity", "summary", "resource_ref", "detected_at"}
    ),
    NotifyEvent.CUSTOMER_FIRST_NOTICE: PROVIDER_VARIABLES
    | {"incident_id", "customer_name", "resource_name", "severity", "summary", "detected_at"},
    # Texts come in the reader's language; `ends` is worded ("not announced") when open.
    NotifyEvent.PROVIDER_NOTICE: frozenset(
        {
            "notice_id",
            "revision",
            "source",
            "kind",
            "kind_label",
            "status",
            "status_label",
            "change",
            "title",
            "description",
            "services",
            "regions",
            "customer_name",
            "resources",
            "starts_at",
            "ends",
        }
    ),
}

INSTANT_VARIABLES = frozenset(
    {
        "detected_at",
        "resolved_at",
        "contact_slo_due",
        "contact_sla_due",
        "slo_due",
        "sla_due",
        "starts_at",
    }
)

_CLOCK_LABELS: Mapping[str, Mapping[str, str]] = {
    "ja": {"contact": "障害発生連絡", "report": "障害発生報告", "support_reply": "技術支援・回答"},
    "en": {
        "contact": "customer contact",
        "report": "incident report",
        "support_reply": "support reply",
    },
}
_JA_WEEKDAYS = "月火水木金土日"
_EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def required_variables(event: NotifyEvent) -> frozenset[str]:
    """The names a caller must supply to render `event`."""
    return EVENT_VARIABLES[event]


def allowed_placeholders(event: NotifyEvent) -> frozenset[str]:
    """Every `${name}` a template of `event` may use, derived names included."""
    names = required_variables(event)
    derived = {name + LOCAL_SUFFIX for name in names & INSTANT_VARIABLES}
    if "clock" in names:
        derived.add("clock_label")
    return names | derived


def rfc3339_utc(instant: datetime) -> str:
    """`instant` in UTC as RFC 3339 with a `Z`, the form every API of slad speaks."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def local_time(instant: datetime, locale: str) -> str:
    """`instant` as Asia/Tokyo wall time, worded for a reader of `locale`."""
    local = instant.astimezone(LOCAL_ZONE)
    if locale == "ja":
        weekday = _JA_WEEKDAYS[local.weekday()]
        # full-width brackets are the norm in Japanese business text
        return f"{local.year}年{local.month}月{local.day}日（{weekday}）{local:%H:%M}（日本時間）"  # noqa: RUF001
    weekday = _EN_WEEKDAYS[local.weekday()]
    return f"{local:%Y-%m-%d} ({weekday}) {local:%H:%M} JST"


def text_values(
    event: NotifyEvent, locale: str, variables: Mapping[str, TemplateValue]
) -> dict[str, str]:
    """The string for every placeholder of `event`, or ValueError naming what is wrong.

    Extra variables are ignored (callers may pass a wider context); a missing one, a None,
    or a naive instant is an error, because a notice saying "None" or a time in an
    unknown zone must never reach a customer. An instant given as text (a due instant
    not known yet) is shown as that text in both forms.
    """
    missing = sorted(required_variables(event) - variables.keys())
    if missing:
        raise ValueError(f"{event}: missing template variables: {', '.join(missing)}")
    values: dict[str, str] = {}
    for name in required_variables(event):
        value = variables[name]
        if value is None:
            raise ValueError(f"{event}: template variable {name!r} is None")
        if name in INSTANT_VARIABLES and isinstance(value, str):
            # an instant nobody knows yet (a paused clock's due), already worded
            values[name] = values[name + LOCAL_SUFFIX] = value
        elif name in INSTANT_VARIABLES:
            if not isinstance(value, datetime) or value.utcoffset() is None:
                raise ValueError(f"{event}: {name!r} must be a timezone-aware datetime")
            values[name] = rfc3339_utc(value)
            values[name + LOCAL_SUFFIX] = local_time(value, locale)
        else:
            values[name] = str(value)
    if "clock" in values:
        values["clock_label"] = _CLOCK_LABELS[locale].get(values["clock"], values["clock"])
    return values
