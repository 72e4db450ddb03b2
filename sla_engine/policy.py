"""Plans and the response-time clocks they promise, as plain data.

The daemon never hard-codes a target: it reads a `PlanPolicy` (defaults below, adjusted
per plan by `apply_overrides` from config) and, when an incident is detected, stores the
`ClockPolicy` values then in force with the incident (`to_dict`/`clocks_to_dicts`). A later
config change builds new policies and leaves those snapshots alone, so an incident is always
judged by the promise that held when it began.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
from itertools import pairwise
from types import MappingProxyType
from typing import TypeVar

_E = TypeVar("_E", bound=StrEnum)

PROFESSIONAL_SUPPORT = "professional_support"
"""The contract option that brings the `support_reply` clock."""


class ClockName(StrEnum):
    """The clocks the service specification promises."""

    CONTACT = "contact"  # 障害発生連絡: detection -> first contact with the customer
    REPORT = "report"  # 障害発生報告: first contact -> incident report delivered
    SUPPORT_REPLY = "support_reply"  # 技術支援・回答: request received -> first reply


class GroupBy(StrEnum):
    """What one incident of a plan stands for (`PlanPolicy.group_by`)."""

    RESOURCE = "resource"  # one failure of a resource, whatever its alerts' problems
    PROBLEM = "problem"  # one problem of a resource


class CalendarKind(StrEnum):
    """What a clock counts: elapsed wall time, or business days."""

    ELAPSED = "elapsed"
    BUSINESS_DAYS = "business_days"


_UNIT = {CalendarKind.ELAPSED: "seconds", CalendarKind.BUSINESS_DAYS: "business_days"}
# Each clock's meaning fixes how it counts; the engine has one evaluator per calendar.
_CALENDAR_OF = {
    ClockName.CONTACT: CalendarKind.ELAPSED,
    ClockName.REPORT: CalendarKind.ELAPSED,
    ClockName.SUPPORT_REPLY: CalendarKind.BUSINESS_DAYS,
}


@dataclass(frozen=True, slots=True)
class ClockPolicy:
    """The targets and triggers of one clock.

    `slo` and `sla` are whole numbers in the unit of `calendar`: seconds for an elapsed
    clock, business days for a business-day clock (`slo_delta`/`sla_delta` give the
    elapsed targets as timedeltas). Both targets are inclusive. `warn_fractions` are the
    shares of the SLO after which a warning is due, strictly increasing inside (0, 1).
    `requires_option` names the contract option without which the clock does not apply.
    """

    name: ClockName
    calendar: CalendarKind
    start_event: str
    stop_event: str
    slo: int
    sla: int
    warn_fractions: tuple[float, ...] = (0.5, 0.8)
    enabled: bool = True
    requires_option: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _member(ClockName, self.name, "clock name"))
        object.__setattr__(self, "calendar", _member(CalendarKind, self.calendar, "calendar"))
        expected = _CALENDAR_OF[self.name]
        if self.calendar is not expected:
            raise ValueError(f"clock {self.name} counts in {expected}, not {self.calendar}")
        where = f"clock {self.name}"
        _text(self.start_event, f"{where} start_event")
        _text(self.stop_event, f"{where} stop_event")
        if self.start_event == self.stop_event:
            raise ValueError(f"{where} must start and stop on different events")
        slo = _positive_int(self.slo, f"{where} slo")
        sla = _positive_int(self.sla, f"{where} sla")
        if sla < slo:
            unit = _UNIT[self.calendar]
            raise ValueError(
                f"{where}: sla ({sla} {unit}) must not be shorter than slo ({slo} {unit})"
            )
        object.__setattr__(
            self, "warn_fractions", _fractions(self.warn_fractions, f"{where} warn_fractions")
        )
        _boolean(self.enabled, f"{where} enabled")
        if self.requires_option is not None:
            _text(self.requires_option, f"{where} requires_option")

    @property
    def unit(self) -> str:
        """The unit of `slo` and `sla`: `seconds` or `business_days`."""
        return _UNIT[self.calendar]

    @property
    def slo_delta(self) -> timedelta:
        """The SLO of an elapsed clock as a timedelta."""
        return timedelta(seconds=self._elapsed_target(self.slo))

    @property
    def sla_delta(self) -> timedelta:
        """The SLA of an elapsed clock as a timedelta."""
        return timedelta(seconds=self._elapsed_target(self.sla))

    def _elapsed_target(self, value: int) -> int:
        if self.calendar is not CalendarKind.ELAPSED:
            raise ValueError(f"clock {self.name} counts business days, not elapsed time")
        return value

    def applies_with(self, options: Collection[str]) -> bool:
        """Whether the clock runs for a contract holding `options`."""
        return self.enabled and (self.requires_option is None or self.requires_option in options)

    def to_dict(self) -> dict[str, object]:
        """A JSON-able snapshot; `from_dict` reads it back unchanged."""
        return {
            "name": str(self.name),
            "calendar": str(self.calendar),
            "start_event": self.start_event,
            "stop_event": self.stop_event,
            "unit": self.unit,
            "slo": self.slo,
            "sla": self.sla,
            "warn_fractions": list(self.warn_fractions),
            "enabled": self.enabled,
            "requires_option": self.requires_option,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> ClockPolicy:
        """Read a snapshot written by `to_dict`; ValueError names what is wrong.

        Every key is required: a snapshot is the exact promise of its time, so a key
        missing from it must not silently take today's default.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"clock policy snapshot must be a mapping, got {data!r}")
        missing = _SNAPSHOT_KEYS - data.keys()
        if missing:
            raise ValueError(f"clock policy snapshot lacks {', '.join(sorted(missing))}")
        unknown = data.keys() - _SNAPSHOT_KEYS
        if unknown:
            raise ValueError(f"clock policy snapshot has unknown {', '.join(sorted(unknown))}")
        requires_option = data["requires_option"]
        policy = cls(
            name=_member(ClockName, data["name"], "clock name"),
            calendar=_member(CalendarKind, data["calendar"], "calendar"),
            start_event=_text(data["start_event"], "start_event"),
            stop_event=_text(data["stop_event"], "stop_event"),
            slo=_positive_int(data["slo"], "slo"),
            sla=_positive_int(data["sla"], "sla"),
            warn_fractions=_fractions(data["warn_fractions"], "warn_fractions"),
            enabled=_boolean(data["enabled"], "enabled"),
            requires_option=None
            if requires_option is None
            else _text(requires_option, "requires_option"),
        )
        if data["unit"] != policy.unit:
            raise ValueError(
                f"clock {policy.name} snapshot gives unit {data['unit']!r}, "
                f"but its calendar counts {policy.unit}"
            )
        return policy


_SNAPSHOT_KEYS = frozenset(
    {
        "name",
        "calendar",
        "start_event",
        "stop_event",
        "unit",
        "slo",
        "sla",
        "warn_fractions",
        "enabled",
        "requires_option",
    }
)


def clocks_to_dicts(clocks: Iterable[ClockPolicy]) -> list[dict[str, object]]:
    """JSON-able snapshot of several clock policies, in order."""
    return [clock.to_dict() for clock in clocks]


def clocks_from_dicts(data: Iterable[Mapping[str, object]]) -> tuple[ClockPolicy, ...]:
    """Read a snapshot written by `clocks_to_dicts`; a clock named twice is refused."""
    clocks = tuple(ClockPolicy.from_dict(item) for item in data)
    _unique_names(clocks, "clock policy snapshot")
    return clocks


@dataclass(frozen=True, slots=True)
class PlanPolicy:
    """A managed-service plan: what it costs, what it accepts and which clocks it runs.

    `initial_fee_yen` is the price list's "from" figure; `monthly_fee_yen` is per
    monitored resource. `auto_contact` marks plans whose service *is* the automated
    failure notification, so the notification itself is the first contact.

    `group_by` says what one incident stands for: `resource` (the default) collects
    every alert of a resource into its open incident, and re-opens the incident it had
    resolved less than `reopen_minutes` before the new alert's detection (0: never), so
    the customer is contacted once per failure; `problem` opens one incident per
    resource and problem and never re-opens one.
    """

    key: str
    name: str
    initial_fee_yen: int
    monthly_fee_yen: int
    accepts_customer_incidents: bool
    accepts_operations_requests: bool
    auto_contact: bool
    clocks: tuple[ClockPolicy, ...]
    group_by: GroupBy = GroupBy.RESOURCE
    reopen_minutes: int = 30

    def __post_init__(self) -> None:
        where = f"plan {self.key!r}"
        object.__setattr__(self, "group_by", _member(GroupBy, self.group_by, "group_by"))
        _non_negative_int(self.reopen_minutes, f"{where} reopen_minutes")
        _text(self.key, "plan key")
        _text(self.name, f"{where} name")
        _non_negative_int(self.initial_fee_yen, f"{where} initial_fee_yen")
        _non_negative_int(self.monthly_fee_yen, f"{where} monthly_fee_yen")
        _boolean(self.accepts_customer_incidents, f"{where} accepts_customer_incidents")
        _boolean(self.accepts_operations_requests, f"{where} accepts_operations_requests")
        _boolean(self.auto_contact, f"{where} auto_contact")
        object.__setattr__(self, "clocks", tuple(self.clocks))
        for clock in self.clocks:
            if not isinstance(clock, ClockPolicy):
                raise ValueError(f"{where} clocks must be ClockPolicy values, got {clock!r}")
        _unique_names(self.clocks, where)

    def clock(self, name: ClockName | str) -> ClockPolicy:
        """The plan's policy for clock `name`; ValueError when the plan has none."""
        wanted = _member(ClockName, name, "clock name")
        for clock in self.clocks:
            if clock.name is wanted:
                return clock
        raise ValueError(f"plan {self.key!r} has no clock {wanted}")


def clocks_for(plan: PlanPolicy, options: Collection[str]) -> tuple[ClockPolicy, ...]:
    """The enabled clocks of `plan` that apply to a contract holding `options`."""
    return tuple(clock for clock in plan.clocks if clock.applies_with(options))


_PLAN_BOOL_KEYS = ("accepts_customer_incidents", "accepts_operations_requests", "auto_contact")
_PLAN_COUNT_KEYS = ("initial_fee_yen", "monthly_fee_yen", "reopen_minutes")  # whole numbers >= 0
# Config names a target in a human unit; each maps to (field, seconds or days per unit).
_TARGET_KEYS = {
    CalendarKind.ELAPSED: {"slo_minutes": ("slo", 60), "sla_minutes": ("sla", 60)},
    CalendarKind.BUSINESS_DAYS: {
        "slo_business_days": ("slo", 1),
        "sla_business_days": ("sla", 1),
    },
}


def apply_overrides(
    plans: Mapping[str, PlanPolicy], overrides: Mapping[str, Mapping[str, object]]
) -> dict[str, PlanPolicy]:
    """Plans with config overrides applied; the inputs are left untouched.

    `overrides` maps a plan key to changed plan fields (`name`, fees, the three flags,
    `group_by`, `reopen_minutes`) and, under `clocks`, a clock name to changed clock
    settings: `enabled`, `warn_fractions`, and the targets as `slo_minutes`/`sla_minutes`
    for elapsed clocks or `slo_business_days`/`sla_business_days` for business-day
    clocks. Anything unknown or ill-typed raises ValueError naming its place, e.g.
    `plans.basic.clocks.contact`.
    """
    result = dict(plans)
    for plan_key, changes in overrides.items():
        where = f"plans.{plan_key}"
        if plan_key not in result:
            raise ValueError(f"unknown plan {where}; known plans: {', '.join(sorted(result))}")
        if not isinstance(changes, Mapping):
            raise ValueError(f"{where} must be a table of settings, got {changes!r}")
        result[plan_key] = _override_plan(result[plan_key], changes, where)
    return result


def _override_plan(plan: PlanPolicy, changes: Mapping[str, object], where: str) -> PlanPolicy:
    fields: dict[str, object] = {}
    for key, value in changes.items():
        place = f"{where}.{key}"
        if key == "clocks":
            fields["clocks"] = _override_clocks(plan, value, place)
        elif key == "name":
            fields["name"] = _text(value, place)
        elif key in _PLAN_BOOL_KEYS:
            fields[key] = _boolean(value, place)
        elif key in _PLAN_COUNT_KEYS:
            fields[key] = _non_negative_int(value, place)
        elif key == "group_by":
            fields[key] = _member(GroupBy, value, place)
        else:
            allowed = ", ".join(["name", *_PLAN_COUNT_KEYS, *_PLAN_BOOL_KEYS, "group_by", "clocks"])
            raise ValueError(f"unknown setting {place}; allowed: {allowed}")
    try:
        return replace(plan, **fields)  # type: ignore[arg-type]
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from error


def _override_clocks(plan: PlanPolicy, value: object, where: str) -> tuple[ClockPolicy, ...]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a table of clocks, got {value!r}")
    clocks = {clock.name: clock for clock in plan.clocks}
    for name, changes in value.items():
        place = f"{where}.{name}"
        if name not in ClockName.__members__.values():
            known = ", ".join(member.value for member in ClockName)
            raise ValueError(f"unknown clock {place}; known clocks: {known}")
        clock_name = ClockName(name)
        if clock_name not in clocks:
            raise ValueError(f"plan {plan.key!r} has no clock {place}")
        if not isinstance(changes, Mapping):
            raise ValueError(f"{place} must be a table of settings, got {changes!r}")
        clocks[clock_name] = _override_clock(clocks[clock_name], changes, place)
    return tuple(clocks[clock.name] for clock in plan.clocks)


def _override_clock(clock: ClockPolicy, changes: Mapping[str, object], where: str) -> ClockPolicy:
    targets = _TARGET_KEYS[clock.calendar]
    fields: dict[str, object] = {}
    for key, value in changes.items():
        place = f"{where}.{key}"
        if key == "enabled":
            fields["enabled"] = _boolean(value, place)
        elif key == "warn_fractions":
            fields["warn_fractions"] = _fractions(value, place)
        elif key in targets:
            field_name, scale = targets[key]
            fields[field_name] = _positive_int(value, place) * scale
        else:
            allowed = ", ".join(["enabled", "warn_fractions", *targets])
            raise ValueError(f"unknown setting {place}; allowed: {allowed}")
    try:
        return replace(clock, **fields)  # type: ignore[arg-type]
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from error


def _unique_names(clocks: Iterable[ClockPolicy], where: str) -> None:
    seen: set[ClockName] = set()
    for clock in clocks:
        if clock.name in seen:
            raise ValueError(f"{where} names clock {clock.name} twice")
        seen.add(clock.name)


def _member(kind: type[_E], value: object, what: str) -> _E:
    if isinstance(value, kind):
        return value
    if isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            pass
    known = ", ".join(member.value for member in kind)
    raise ValueError(f"unknown {what} {value!r}; known: {known}")


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _boolean(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{what} must be true or false, got {value!r}")
    return value


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{what} must be a positive whole number, got {value!r}")
    return value


def _non_negative_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a whole number of at least 0, got {value!r}")
    return value


def _fractions(value: object, what: str) -> tuple[float, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValueError(f"{what} must be a list of fractions, got {value!r}")
    items = tuple(value)
    fractions: list[float] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | float) or not 0 < item < 1:
            raise ValueError(f"{what} must hold numbers strictly between 0 and 1, got {item!r}")
        fractions.append(float(item))
    if any(later <= earlier for earlier, later in pairwise(fractions)):
        raise ValueError(f"{what} must be strictly increasing, got {list(items)!r}")
    return tuple(fractions)


CONTACT = ClockPolicy(
    name=ClockName.CONTACT,
    calendar=CalendarKind.ELAPSED,
    start_event="detected",
    stop_event="contacted",
    slo=30 * 60,
    sla=60 * 60,
)
REPORT = ClockPolicy(
    name=ClockName.REPORT,
    calendar=CalendarKind.ELAPSED,
    start_event="contacted",
    stop_event="reported",
    slo=60 * 60,
    sla=180 * 60,
)
SUPPORT_REPLY = ClockPolicy(
    name=ClockName.SUPPORT_REPLY,
    calendar=CalendarKind.BUSINESS_DAYS,
    start_event="received",
    stop_event="replied",
    slo=2,
    sla=5,
    requires_option=PROFESSIONAL_SUPPORT,
)
_DEFAULT_CLOCKS = (CONTACT, REPORT, SUPPORT_REPLY)

DEFAULT_PLANS: Mapping[str, PlanPolicy] = MappingProxyType(
    {
        "basic": PlanPolicy(
            key="basic",
            name="ベーシック",
            initial_fee_yen=30_000,
            monthly_fee_yen=5_000,
            accepts_customer_incidents=False,
            accepts_operations_requests=False,
            auto_contact=True,
            clocks=_DEFAULT_CLOCKS,
        ),
        "standard": PlanPolicy(
            key="standard",
            name="スタンダード",
            initial_fee_yen=100_000,
            monthly_fee_yen=30_000,
            accepts_customer_incidents=True,
            accepts_operations_requests=True,
            auto_contact=False,
            clocks=_DEFAULT_CLOCKS,
        ),
        "full_managed": PlanPolicy(
            key="full_managed",
            name="フルマネージド",
            initial_fee_yen=100_000,
            monthly_fee_yen=50_000,
            accepts_customer_incidents=True,
            accepts_operations_requests=True,
            auto_contact=False,
            clocks=_DEFAULT_CLOCKS,
        ),
    }
)
