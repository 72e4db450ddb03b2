"""Bodies of the charges API and the price fields of a contract (OpenAPI schema)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from daemon.api.types import Text
from daemon.api.utc import Instant

OptionKey = Literal["professional_support", "advisory"]
MAX_YEN = 10**12  # a trillion yen: beyond any fee, well inside every integer type
Yen = Field(default=None, ge=0, le=MAX_YEN)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OptionPricesIn(_Strict):
    """An option's negotiated fees; unset fields keep the list price."""

    initial_fee_yen: int | None = Yen
    monthly_fee_yen: int | None = Yen
    included_hours: Decimal | None = Field(default=None, ge=0, le=10_000, decimal_places=2)
    hourly_rate_yen: int | None = Yen


class ContractPricesIn(_Strict):
    """The contract's negotiated prices ("from ¥…" in the seed); unset fields keep the
    list price of `[prices]` in config."""

    initial_fee_yen: int | None = Yen
    monthly_fee_yen: int | None = Field(
        default=None, ge=0, le=MAX_YEN, description="per resource and month"
    )
    professional_support: OptionPricesIn | None = None
    advisory: OptionPricesIn | None = None


class DiscountTierIn(_Strict):
    min_resources: int = Field(ge=1, le=1_000_000)
    percent: int = Field(ge=0, le=100)


class VolumeDiscountIn(_Strict):
    """Standard and full-managed only: a fixed `percent`, or `tiers` by the most
    resources under contract on one day of the month (the highest tier reached wins)."""

    percent: int | None = Field(default=None, ge=0, le=100)
    tiers: list[DiscountTierIn] | None = Field(default=None, min_length=1, max_length=50)

    @model_validator(mode="after")
    def _one_kind(self) -> VolumeDiscountIn:
        if (self.percent is None) == (self.tiers is None):
            raise ValueError("give either percent or tiers")
        if self.tiers is not None:
            counts = [tier.min_resources for tier in self.tiers]
            if counts != sorted(set(counts)):
                raise ValueError("tiers need strictly increasing min_resources")
        return self


class ChargeLineOut(BaseModel):
    kind: str = Field(
        description="initial_fee, option_initial_fee, monthly_fee, option_monthly_fee,"
        " option_hours, early_cancellation_fee, volume_discount or adjustment"
    )
    key: str = Field(description="the item within its contract, e.g. monthly_fee:resource:12")
    description: str
    quantity: float = Field(description="resources, hours or 1")
    unit_price_yen: int
    days_charged: int | None = Field(
        description="days of the month charged; of an adjustment, the change in days"
    )
    days_in_month: int | None
    amount_yen: int
    adjusts_month: str | None = Field(description="the closed month an adjustment corrects")
    reason: str | None


class ContractChargesOut(BaseModel):
    contract_id: int
    customer_id: int
    customer: str
    plan: str
    lines: list[ChargeLineOut]
    total_yen: int


class ChargesOut(BaseModel):
    month: str
    invoice_date: date = Field(description="the 3rd business day of the next month")
    status: Literal["open", "closed"]
    closed_at: Instant | None
    closed_by: str | None
    contracts: list[ContractChargesOut]
    total_yen: int


class HoursIn(_Strict):
    option: OptionKey
    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM, the month worked")
    hours: Decimal = Field(
        ge=-10_000,
        le=10_000,
        decimal_places=2,
        description="hours worked; a negative entry corrects an earlier one",
    )
    note: Text = Field(min_length=1, max_length=2000, description="what the hours were for")
    reason: Text | None = Field(
        default=None, max_length=2000, description="required for a month already closed"
    )


class HoursOut(BaseModel):
    id: int
    contract_id: int
    option: str
    month: str
    hours: float
    note: str
    actor: str
    recorded_at: Instant
    month_total_hours: float
