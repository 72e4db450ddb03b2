"""Registry CRUD: customers, contracts, resources. Admin writes, viewers read; audited."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, TypeVar

from fastapi import APIRouter, status
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daemon import audit
from daemon.api.deps import (
    Admin,
    NowDep,
    ReaderDep,
    ServicesDep,
    SessionDep,
    StrictQuery,
    Viewer,
)
from daemon.api.problems import Problem, not_found, problem_responses, unknown_reference
from daemon.api.schemas import (
    ContractIn,
    ContractOut,
    ContractPatch,
    CustomerIn,
    CustomerOut,
    CustomerPatch,
    ResourceIn,
    ResourceOut,
    ResourcePatch,
)
from daemon.api.types import Id
from daemon.charges import (
    charged_in_closed_month,
    check_contract,
    require_reason_for_closed,
)
from daemon.registry import make_selector
from daemon.services import Services
from daemon.store.models import Base, Contract, Customer, Incident, Resource
from sla_engine.contract_terms import earliest_cancellation_date, minimum_term_end

router = APIRouter(prefix="/v1", tags=["registry"], dependencies=[StrictQuery])
CONFLICT = problem_responses(409)
M = TypeVar("M")


def customer_out(c: Customer) -> CustomerOut:
    return CustomerOut(
        id=c.id,
        name=c.name,
        locale=c.locale,
        contact_email=c.contact_email,
        created_at=c.created_at,
    )


def contract_out(c: Contract) -> ContractOut:
    return ContractOut(
        id=c.id,
        customer_id=c.customer_id,
        plan=c.plan,
        professional_support=c.professional_support,
        advisory=c.advisory,
        billing_start=c.billing_start,
        cancellation_date=c.cancellation_date,
        minimum_term_end=minimum_term_end(c.billing_start),
        created_at=c.created_at,
        contract_date=c.contract_date,
        notice_date=c.notice_date,
        earliest_cancellation_date=(
            None if c.notice_date is None else earliest_cancellation_date(c.notice_date)
        ),
        prices=c.prices or {},
        volume_discount=c.volume_discount,
    )


def resource_out(r: Resource) -> ResourceOut:
    return ResourceOut(
        id=r.id,
        contract_id=r.contract_id,
        name=r.name,
        kind=r.kind,
        selectors=[dict(s.match) for s in r.selectors],
        created_at=r.created_at,
        added_on=r.added_on,
        retired_on=r.retired_on,
    )


def _get(session: Session, model: type[M], ident: int, what: str) -> M:
    row = session.get(model, ident)
    if row is None:
        raise not_found(what, ident)
    return row


def _referenced_by(session: Session, model: type[Base], ident: int) -> str | None:
    """The first table with rows that still refer to row `ident` of `model` (cascading
    references aside), whichever table that is: its delete would break them."""
    target = model.__table__
    for table in Base.metadata.sorted_tables:
        for key in table.foreign_keys:
            if key.column.table is not target or (key.ondelete or "").upper() == "CASCADE":
                continue
            if session.scalar(select(func.count()).select_from(table).where(key.parent == ident)):
                return table.name
    return None


def _refuse_if_referenced(session: Session, model: type[Base], ident: int, what: str) -> None:
    table = _referenced_by(session, model, ident)
    if table is not None:
        raise Problem(
            409, "in-use", f"{what} {ident} is still referenced by {table}; {_INSTEAD[model]}"
        )


_INSTEAD: dict[type[Base], str] = {
    Customer: "delete what refers to it first",
    Contract: "set a cancellation_date instead",
    Resource: "set retired_on to retire it and keep its history",
}


def _changes(body: Any) -> dict[str, Any]:
    return {k: v for k, v in body.model_dump(exclude_unset=True).items()}


def _flush_unique(session: Session, detail: str) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        raise Problem(409, "conflict", detail) from exc


@router.post(
    "/customers",
    status_code=status.HTTP_201_CREATED,
    response_model=CustomerOut,
    responses=CONFLICT,
)
def create_customer(body: CustomerIn, session: SessionDep, who: Admin, now: NowDep) -> CustomerOut:
    if session.scalar(select(Customer.id).where(Customer.name == body.name)) is not None:
        raise Problem(409, "conflict", f"a customer named {body.name!r} exists already")
    customer = Customer(**body.model_dump(), created_at=now)
    session.add(customer)
    _flush_unique(session, f"a customer named {body.name!r} exists already")
    audit.record(
        session,
        at=now,
        actor=who.name,
        action="customer.create",
        target_type="customer",
        target_id=customer.id,
        detail=body.model_dump(),
    )
    return customer_out(customer)


@router.get("/customers", response_model=list[CustomerOut])
def list_customers(session: ReaderDep, _who: Viewer) -> list[CustomerOut]:
    return [customer_out(c) for c in session.scalars(select(Customer).order_by(Customer.id))]


@router.get("/customers/{customer_id}", response_model=CustomerOut)
def get_customer(customer_id: Id, session: ReaderDep, _who: Viewer) -> CustomerOut:
    return customer_out(_get(session, Customer, customer_id, "customer"))


@router.patch("/customers/{customer_id}", response_model=CustomerOut, responses=CONFLICT)
def patch_customer(
    customer_id: Id, body: CustomerPatch, session: SessionDep, who: Admin, now: NowDep
) -> CustomerOut:
    customer = _get(session, Customer, customer_id, "customer")
    changes = _changes(body)
    for key, value in changes.items():
        setattr(customer, key, value)
    _flush_unique(session, "a customer with that name exists already")
    audit.record(
        session,
        at=now,
        actor=who.name,
        action="customer.update",
        target_type="customer",
        target_id=customer.id,
        detail=changes,
    )
    return customer_out(customer)


@router.delete(
    "/customers/{customer_id}", status_code=status.HTTP_204_NO_CONTENT, responses=CONFLICT
)
def delete_customer(customer_id: Id, session: SessionDep, who: Admin, now: NowDep) -> None:
    customer = _get(session, Customer, customer_id, "customer")
    if session.scalar(select(func.count()).where(Contract.customer_id == customer_id)):
        raise Problem(409, "in-use", f"customer {customer_id} still has contracts")
    _refuse_if_referenced(session, Customer, customer_id, "customer")
    session.delete(customer)
    audit.record(
        session,
        at=now,
        actor=who.name,
        action="customer.delete",
        target_type="customer",
        target_id=customer_id,
        detail={"name": customer.name},
    )


@router.post("/contracts", status_code=status.HTTP_201_CREATED, response_model=ContractOut)
def create_contract(
    body: ContractIn, session: SessionDep, svc: ServicesDep, who: Admin, now: NowDep
) -> ContractOut:
    if session.get(Customer, body.customer_id) is None:
        raise unknown_reference("customer_id", "customer", body.customer_id)
    contract = Contract(
        **body.model_dump(exclude={"prices", "volume_discount", "reason"}),
        **_price_columns(body.model_dump(mode="json", include={"prices", "volume_discount"})),
        created_at=now,
    )
    check_contract(contract, svc.config.prices, _today(svc, now), cancellation_changed=True)
    require_reason_for_closed(
        session,
        [body.billing_start, body.contract_date, body.cancellation_date],
        body.reason,
        "the new contract",
    )
    session.add(contract)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=who.name,
        action="contract.create",
        target_type="contract",
        target_id=contract.id,
        reason=body.reason,
        detail=body.model_dump(mode="json", exclude={"reason"}),
    )
    return contract_out(contract)


def _price_columns(dumped: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a body's prices: only the fees it sets, hours as strings."""
    columns: dict[str, Any] = {}
    if "prices" in dumped:
        prices = dumped["prices"] or {}
        columns["prices"] = {
            key: (
                {k: v for k, v in value.items() if v is not None}
                if isinstance(value, dict)
                else value
            )
            for key, value in prices.items()
            if value is not None
        }
    if "volume_discount" in dumped:
        discount = dumped["volume_discount"]
        columns["volume_discount"] = (
            None if discount is None else {k: v for k, v in discount.items() if v is not None}
        )
    return columns


def _today(svc: Services, now: datetime) -> date:
    """Today's date on the provider's calendar: the default for dates not given."""
    return now.astimezone(svc.config.calendar.timezone).date()


@router.get("/contracts", response_model=list[ContractOut])
def list_contracts(
    session: ReaderDep, _who: Viewer, customer_id: Id | None = None
) -> list[ContractOut]:
    stmt = select(Contract).order_by(Contract.id)
    if customer_id is not None:
        stmt = stmt.where(Contract.customer_id == customer_id)
    return [contract_out(c) for c in session.scalars(stmt)]


@router.get("/contracts/{contract_id}", response_model=ContractOut)
def get_contract(contract_id: Id, session: ReaderDep, _who: Viewer) -> ContractOut:
    return contract_out(_get(session, Contract, contract_id, "contract"))


@router.patch("/contracts/{contract_id}", response_model=ContractOut)
def patch_contract(
    contract_id: Id,
    body: ContractPatch,
    session: SessionDep,
    svc: ServicesDep,
    who: Admin,
    now: NowDep,
) -> ContractOut:
    """Change a contract. A plan change applies to incidents detected afterwards only;
    a change of plan, options or prices to charges from the first open month."""
    contract = _get(session, Contract, contract_id, "contract")
    changes = _changes(body)
    reason = changes.pop("reason", None)
    changes.update(
        _price_columns(
            body.model_dump(mode="json", include={"prices", "volume_discount"}, exclude_unset=True)
        )
    )
    touched = [
        day
        for key in ("cancellation_date", "contract_date")
        if key in changes
        for day in (getattr(contract, key), changes[key])
    ]
    require_reason_for_closed(session, touched, reason, "the change of dates")
    for key, value in changes.items():
        setattr(contract, key, value)
    check_contract(
        contract,
        svc.config.prices,
        _today(svc, now),
        cancellation_changed="cancellation_date" in changes or "notice_date" in changes,
    )
    audit.record(
        session,
        at=now,
        actor=who.name,
        action="contract.update",
        target_type="contract",
        target_id=contract.id,
        reason=reason,
        detail=body.model_dump(mode="json", exclude_unset=True, exclude={"reason"}),
    )
    return contract_out(contract)


@router.delete(
    "/contracts/{contract_id}", status_code=status.HTTP_204_NO_CONTENT, responses=CONFLICT
)
def delete_contract(contract_id: Id, session: SessionDep, who: Admin, now: NowDep) -> None:
    contract = _get(session, Contract, contract_id, "contract")
    _refuse_if_referenced(session, Contract, contract_id, "contract")
    session.delete(contract)
    audit.record(
        session,
        at=now,
        actor=who.name,
        action="contract.delete",
        target_type="contract",
        target_id=contract_id,
    )


@router.post("/resources", status_code=status.HTTP_201_CREATED, response_model=ResourceOut)
def create_resource(
    body: ResourceIn, session: SessionDep, svc: ServicesDep, who: Admin, now: NowDep
) -> ResourceOut:
    if session.get(Contract, body.contract_id) is None:
        raise unknown_reference("contract_id", "contract", body.contract_id)
    resource = Resource(
        contract_id=body.contract_id,
        name=body.name,
        kind=body.kind,
        created_at=now,
        added_on=body.added_on or _today(svc, now),
        retired_on=body.retired_on,
    )
    _check_resource_dates(session, resource, [resource.added_on, resource.retired_on], body.reason)
    resource.selectors = [make_selector(s) for s in body.selectors]
    session.add(resource)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=who.name,
        action="resource.create",
        target_type="resource",
        target_id=resource.id,
        reason=body.reason,
        detail=body.model_dump(mode="json", exclude={"reason"}),
    )
    return resource_out(resource)


@router.get("/resources", response_model=list[ResourceOut])
def list_resources(
    session: ReaderDep, _who: Viewer, contract_id: Id | None = None
) -> list[ResourceOut]:
    stmt = select(Resource).order_by(Resource.id)
    if contract_id is not None:
        stmt = stmt.where(Resource.contract_id == contract_id)
    return [resource_out(r) for r in session.scalars(stmt)]


@router.get("/resources/{resource_id}", response_model=ResourceOut)
def get_resource(resource_id: Id, session: ReaderDep, _who: Viewer) -> ResourceOut:
    return resource_out(_get(session, Resource, resource_id, "resource"))


@router.patch("/resources/{resource_id}", response_model=ResourceOut)
def patch_resource(
    resource_id: Id, body: ResourcePatch, session: SessionDep, who: Admin, now: NowDep
) -> ResourceOut:
    resource = _get(session, Resource, resource_id, "resource")
    changes = _changes(body)
    reason = changes.pop("reason", None)
    if changes.get("added_on", resource.added_on) is None:
        raise Problem(422, "invalid-dates", "added_on cannot be removed, only moved")
    touched = [
        day
        for key in ("added_on", "retired_on")
        if key in changes
        for day in (getattr(resource, key), changes[key])
    ]
    if "selectors" in changes:
        resource.selectors = [make_selector(s) for s in changes.pop("selectors")]
    for key, value in changes.items():
        setattr(resource, key, value)
    _check_resource_dates(session, resource, touched, reason)
    audit.record(
        session,
        at=now,
        actor=who.name,
        action="resource.update",
        target_type="resource",
        target_id=resource.id,
        reason=reason,
        detail=body.model_dump(mode="json", exclude_unset=True, exclude={"reason"}),
    )
    return resource_out(resource)


@router.delete(
    "/resources/{resource_id}", status_code=status.HTTP_204_NO_CONTENT, responses=CONFLICT
)
def delete_resource(resource_id: Id, session: SessionDep, who: Admin, now: NowDep) -> None:
    resource = _get(session, Resource, resource_id, "resource")
    if session.scalar(select(func.count()).where(Incident.resource_id == resource_id)):
        raise Problem(409, "in-use", f"resource {resource_id} has incidents")
    if charged_in_closed_month(session, resource):
        raise Problem(
            409,
            "in-use",
            f"resource {resource_id} was charged in a closed month; set retired_on to retire"
            " it and keep its history",
        )
    _refuse_if_referenced(session, Resource, resource_id, "resource")
    session.delete(resource)
    audit.record(
        session,
        at=now,
        actor=who.name,
        action="resource.delete",
        target_type="resource",
        target_id=resource_id,
        detail={"name": resource.name},
    )


def _check_resource_dates(
    session: Session, resource: Resource, touched: list[date | None], reason: str | None
) -> None:
    if resource.retired_on is not None and resource.retired_on < resource.added_on:
        raise Problem(422, "invalid-dates", "retired_on lies before added_on")
    require_reason_for_closed(session, touched, reason, "the resource's dates")
