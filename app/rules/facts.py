"""Facts: what a rule may ask about an event and its customer, and how each is read.

`Facts` is the immutable snapshot the shell builds before the rules run: the event (type,
`occurred_at` already in the brand's time zone, payload), the customer as it was before
this event, and `today` (the brand-local date the rules run for; the shell passes the
local date of `occurred_at`, so a replay or a dry run sees the same facts). Nothing here
reads a clock.

`FACTS` is the one table of fact names: conditions parse against it, the catalog lists it.
Each fact has a kind (`number`, `text`, `boolean`, `text_list`, `json`) that decides which
operators and literals apply to it (see `conditions`). A fact with no value is `ABSENT`:
a missing payload path, a JSON null, a customer with no tier or no earlier event.

Decisions where DESIGN §6a is silent:
- day counts are calendar days in the brand's time zone between the local date of the
  moment and `today`, never negative (a customer created "after" a backdated event is 0);
- `customer.birthday_today` is false without a birthdate; a 29 February birthday is
  celebrated on 28 February in other years;
- `customer.referred` is the one fact that can reflect the event itself: a PURCHASE or
  SIGNUP naming an ambassador's referral code links the customer before the rules run, so
  the commission rule pays on that very purchase;
- `customer.events.<TYPE>` counts earlier events only: the one being processed is not in
  it, so `eq 0` means "first";
- path segments index objects by key and arrays by a decimal index (`payload.items.0.sku`).
"""
from __future__ import annotations

import difflib
from functools import lru_cache
import re
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from types import MappingProxyType
from typing import Any, Callable, Mapping, NamedTuple

MAX_PATH_SEGMENTS = 8
_SEGMENT = r"[A-Za-z0-9_-]{1,64}"
_PATH = rf"{_SEGMENT}(?:\.{_SEGMENT}){{0,{MAX_PATH_SEGMENTS - 1}}}"
# Event types, bonus codes and reward codes as rules name them.
CODE_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
CODE = re.compile(rf"^{CODE_PATTERN}\Z")

KINDS = {
    "number": "a number",
    "text": "text",
    "boolean": "true or false",
    "text_list": "a list of text",
    "json": "any JSON value from the event or the customer",
}


class _Absent:
    """The value of a fact that has none. Falsy, equal only to itself."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT: Any = _Absent()


# The mapping types JSON arrives as here (checked by type first: an isinstance against the
# abstract Mapping costs more than the rest of a lookup).
_PLAIN_MAPPINGS = (dict, MappingProxyType)


def _is_mapping(value: Any) -> bool:
    return type(value) in _PLAIN_MAPPINGS or isinstance(value, Mapping)


def freeze(value: Any) -> Any:
    """A deep read-only copy of JSON: objects become mappings that refuse writes, arrays tuples."""
    if _is_mapping(value):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(item) for item in value)
    return value


def _require_aware(name: str, moment: datetime | None) -> None:
    if moment is not None and (not isinstance(moment, datetime) or moment.utcoffset() is None):
        raise ValueError(f"{name} must be a datetime with a time zone")


@dataclass(frozen=True, slots=True)
class EventFacts:
    type: str
    occurred_at: datetime  # aware, already in the brand's time zone
    payload: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require_aware("occurred_at", self.occurred_at)
        object.__setattr__(self, "payload", freeze(self.payload))


@dataclass(frozen=True, slots=True)
class CustomerSnapshot:
    """The customer as it was before the event (the event itself is in no count)."""

    created_at: datetime
    status: str = "active"
    tier: str | None = None
    tags: tuple[str, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=dict)
    status_points: int = 0
    lifetime_points: int = 0
    last_event_at: datetime | None = None
    birthdate: date | None = None
    event_counts: Mapping[str, int] = field(default_factory=dict)  # earlier events by type
    bonuses_awarded: frozenset[str] = frozenset()  # bonus codes awarded in their current period
    referred: bool = False  # linked to a referring ambassador (seed 001's referral network)

    def __post_init__(self) -> None:
        _require_aware("created_at", self.created_at)
        _require_aware("last_event_at", self.last_event_at)
        object.__setattr__(self, "tags", tuple(sorted(set(self.tags))))
        object.__setattr__(self, "attributes", freeze(self.attributes))
        object.__setattr__(self, "event_counts", MappingProxyType(dict(self.event_counts)))
        object.__setattr__(self, "bonuses_awarded", frozenset(self.bonuses_awarded))


@dataclass(frozen=True, slots=True)
class Facts:
    event: EventFacts
    customer: CustomerSnapshot
    today: date  # the brand-local date the rules run for

    def __post_init__(self) -> None:
        if isinstance(self.today, datetime) or not isinstance(self.today, date):
            raise ValueError("today must be a date (the brand-local day), not a datetime")

    @property
    def zone(self) -> tzinfo:
        return self.event.occurred_at.tzinfo  # type: ignore[return-value]


# -- reading values -------------------------------------------------------------------------
def lookup(root: Any, path: str) -> Any:
    """The value at a dot path in JSON, or ABSENT (a missing key, an index out of range,
    a step into a scalar, a null)."""
    value = root
    for segment in _segments(path):
        if _is_mapping(value):
            value = value.get(segment, ABSENT)
        elif isinstance(value, tuple) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return ABSENT
        if value is None or value is ABSENT:
            return ABSENT
    return value


def _days_since(moment: datetime | None, facts: Facts) -> Any:
    if moment is None:
        return ABSENT
    return max(0, (facts.today - moment.astimezone(facts.zone).date()).days)


def _birthday_today(facts: Facts) -> bool:
    return is_anniversary(facts.customer.birthdate, facts.today)


def is_anniversary(day: date | None, today: date) -> bool:
    """`today` is the day's anniversary (a 29 February one: 28 February in other years)."""
    if day is None:
        return False
    if (day.month, day.day) == (2, 29) and not _is_leap(today.year):
        return (today.month, today.day) == (2, 28)
    return (day.month, day.day) == (today.month, today.day)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _or_absent(value: Any) -> Any:
    return ABSENT if value is None else value


# -- the table ------------------------------------------------------------------------------
Reader = Callable[[Facts, str], Any]


class FactSpec(NamedTuple):
    name: str         # as the catalog shows it: "payload.<path>"
    pattern: str      # regular expression over the whole fact name; group "arg" when it takes one
    kind: str
    read: Reader      # (facts, argument or "") → value or ABSENT
    example: str      # a concrete fact name
    description: str


def _fixed(name: str, kind: str, read: Callable[[Facts], Any], description: str) -> FactSpec:
    return FactSpec(name, re.escape(name), kind, lambda facts, _arg: read(facts), name, description)


FACTS: tuple[FactSpec, ...] = (
    FactSpec("payload.<path>", rf"payload\.(?P<arg>{_PATH})", "json",
             lambda f, arg: lookup(f.event.payload, arg), "payload.amount",
             "a value of the event's payload by dot path; numbers and decimal strings compare exactly"),
    _fixed("event.type", "text", lambda f: f.event.type, "the event's type, e.g. PURCHASE"),
    _fixed("event.weekday", "number", lambda f: f.event.occurred_at.isoweekday(),
           "day of the week the event occurred, 1 = Monday … 7 = Sunday, in the brand's time zone"),
    _fixed("event.hour", "number", lambda f: f.event.occurred_at.hour,
           "hour the event occurred, 0..23, in the brand's time zone"),
    _fixed("customer.status", "text", lambda f: f.customer.status, "active, inactive or blocked"),
    _fixed("customer.tier", "text", lambda f: _or_absent(f.customer.tier),
           "the code of the tier the customer holds; absent when none"),
    _fixed("customer.tags", "text_list", lambda f: f.customer.tags, "the customer's tags"),
    FactSpec("customer.attributes.<key>", rf"customer\.attributes\.(?P<arg>{_PATH})", "json",
             lambda f, arg: lookup(f.customer.attributes, arg), "customer.attributes.city",
             "a value of the customer's attributes by key (dot path)"),
    _fixed("customer.status_points", "number", lambda f: f.customer.status_points,
           "points that count toward the tier (before this event)"),
    _fixed("customer.lifetime_points", "number", lambda f: f.customer.lifetime_points,
           "every tier point ever earned (before this event)"),
    _fixed("customer.days_since_created", "number", lambda f: _days_since(f.customer.created_at, f),
           "calendar days since the customer was created, in the brand's time zone"),
    _fixed("customer.days_since_last_event", "number", lambda f: _days_since(f.customer.last_event_at, f),
           "calendar days since the customer's previous event; absent before the first"),
    _fixed("customer.birthday_today", "boolean", _birthday_today,
           "today is the customer's birthday (29 February: 28 February in other years); false without a birthdate"),
    _fixed("customer.referred", "boolean", lambda f: f.customer.referred,
           "an ambassador referred the customer (linked by the referral_code of this or an earlier"
           " PURCHASE or SIGNUP)"),
    FactSpec("customer.events.<EVENT_TYPE>", rf"customer\.events\.(?P<arg>{CODE_PATTERN})", "number",
             lambda f, arg: f.customer.event_counts.get(arg, 0), "customer.events.PURCHASE",
             "how many earlier events of that type the customer has (eq 0: this is the first)"),
    FactSpec("bonus.<CODE>.awarded", rf"bonus\.(?P<arg>{CODE_PATTERN})\.awarded", "boolean",
             lambda f, arg: arg in f.customer.bonuses_awarded, "bonus.WELCOME.awarded",
             "the bonus was already awarded to the customer in its current period"),
)
_COMPILED = tuple((re.compile(rf"^(?:{spec.pattern})\Z"), spec) for spec in FACTS)


class FactRef(NamedTuple):
    """A parsed fact name: its spec and its argument (the path, event type or bonus code)."""

    name: str
    spec: FactSpec
    arg: str

    @property
    def kind(self) -> str:
        return self.spec.kind

    def read(self, facts: Facts) -> Any:
        return self.spec.read(facts, self.arg)


@lru_cache(maxsize=4096)
def _segments(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


@lru_cache(maxsize=4096)
def parse_fact(name: str) -> FactRef | None:
    """The fact a name refers to, or None when no fact has that name (memoised: a pure
    function of the name, asked once per event by every rate action)."""
    for pattern, spec in _COMPILED:
        match = pattern.match(name)
        if match:
            return FactRef(name, spec, match.groupdict().get("arg") or "")
    return None


def suggest(name: str) -> str | None:
    """The fact name closest to a mistyped one ("paylod.amount" → "payload.amount")."""
    name = name[:200]  # a hint is for a typo, not for a megabyte of text
    candidates = []
    for spec in FACTS:
        head, marker, _ = spec.name.partition("<")
        if not marker:
            candidates.append(spec.name)
            continue
        parts = name.split(".", head.count("."))
        if len(parts) > head.count("."):
            tail = parts[-1].rsplit(".", 1)[0] if not spec.name.endswith(">") else parts[-1]
            candidates.append(re.sub(r"<[^>]*>", tail, spec.name))
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
    return close[0] if close else None
