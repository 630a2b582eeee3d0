"""Request and response models of the cron job routes (DESIGN §7, seed 004's internal jobs).

Selectors are taken as JSON here and validated by `app.jobs.selectors`, which names the
JSON path of every mistake."""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import Field, StringConstraints

from .models import In, Out, Timestamp
from .models_loyalty import Name, Payload, RuleCode

Cron = Annotated[str, StringConstraints(min_length=9, max_length=120), Field(
    description="five fields: minute hour day-of-month month day-of-week", examples=["0 9 * * *"])]
Zone = Annotated[str, StringConstraints(min_length=1, max_length=64), Field(
    description="IANA time zone of the cron (default: the brand's)", examples=["Europe/Paris"])]
_SELECTOR = Field(description='{"all": [...]} or {"any": [...]} of one-key leaves: birthday_today,'
                  ' created_anniversary_today, inactive_days_gte, status_in, tier_in, lifetime_points_gte, tag_in,'
                  ' customer_ids; {"all": []} selects every customer',
                  examples=[{"all": [{"birthday_today": True}]}])
_CATCH_UP_TEXT = "after downtime: latest runs the latest missed occurrence, skip runs none"


class JobIn(In):
    code: RuleCode
    name: Name
    cron: Cron
    time_zone: Optional[Zone] = None
    active: bool = True
    selector: Any = _SELECTOR
    event_type: RuleCode
    payload: Payload = {}
    catch_up: Literal["latest", "skip"] = Field("latest", description=_CATCH_UP_TEXT)


class JobPatchIn(In):
    name: Optional[Name] = None
    cron: Optional[Cron] = None
    time_zone: Optional[Zone] = None
    active: Optional[bool] = None
    selector: Optional[Any] = None
    event_type: Optional[RuleCode] = None
    payload: Optional[Payload] = None
    catch_up: Optional[Literal["latest", "skip"]] = None


class JobOut(Out):
    code: str
    version: int
    name: str
    cron: str
    time_zone: str
    active: bool
    selector: Any
    event_type: str
    payload: dict[str, Any]
    catch_up: str
    next_bucket: Optional[str]
    next_run_at: Optional[Timestamp]
    created_at: Timestamp
    updated_at: Timestamp
    deleted: bool = False


class PreviewOut(Out):
    bucket: str
    due_at: Timestamp
    matching: int
    sample: list[str]


class RunNowOut(Out):
    run_id: str
    bucket: str
    matched: int
    created: int
    idempotent_existing: int
    failed: int


class JobRunOut(Out):
    id: str
    bucket: str
    due_at: Timestamp
    trigger: Literal["schedule", "manual"]
    status: Literal["running", "done"]
    scanned: int
    matched: int
    created: int
    idempotent_existing: int
    failed: int
    last_error: Optional[str]
    started_at: Timestamp
    finished_at: Optional[Timestamp]
