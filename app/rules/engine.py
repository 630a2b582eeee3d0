"""Engine: which of a brand's rules run for an event, in which order, and what they ask for.

`run(rules, facts, assets, now=…)` returns an `Outcome`: per matched rule an `Execution`
(rule code, version, effects), every effect in order, or the problems that refuse the
event. Pure: `now` and the snapshot are given; the shell applies the effects in the one
transaction that stores the event, then asks `tiers.next_tier_event` whether a tier
event runs next (through `run` again, at most `tiers.MAX_TIER_DEPTH` deep).

Selection and order (DESIGN §6a, and decisions where it is silent):
- a rule runs for its `event_type` only, when `active`, and within `starts_at <= now <
  ends_at` (each bound optional; half-open so that back-to-back campaigns never overlap;
  the shell chooses `now`: the processing time, so a backdated event cannot reopen a
  closed campaign);
- by `priority`, lower first, ties by `code`, so the order never depends on storage;
- `stop_after`: once that rule matched, no later rule runs (same priority included: later
  by code is later);
- every rule sees the same snapshot, the customer before this event: effects of earlier
  rules are not visible to later conditions (a rule's outcome never depends on whether
  another rule's tag landed first). One exception keeps DESIGN's "at most once per
  period": a bonus awarded by an earlier rule of the same run is not awarded again;
- a problem anywhere (a stored rule that no longer validates, a source amount missing
  from the payload) refuses the whole event: the outcome has the problems and no
  executions or effects, never a partial run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Optional

from .actions import BonusDefinition, ParsedActions, parse_actions, plan
from .conditions import Parsed, compile_condition, parse_conditions
from .effects import AwardBonus, Effect
from .facts import Facts, freeze
from .problems import Problem


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    event_type: str
    conditions: Any = None   # the JSON tree as stored; None matches every event
    actions: Any = ()        # the JSON list as stored
    priority: int = 0
    active: bool = True
    version: int = 1
    starts_at: Optional[datetime] = None   # aware
    ends_at: Optional[datetime] = None     # aware, excluded
    stop_after: bool = False
    # Parsed once per rule value (rules are loaded once per brand configuration): the
    # condition tree, and the actions per (assets, bonuses) mapping they were checked against.
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "conditions", freeze(self.conditions))
        object.__setattr__(self, "actions", freeze(self.actions))

    def parsed_conditions(self) -> Parsed:
        found = self._memo.get("conditions")
        if found is None:
            found = self._memo["conditions"] = parse_conditions(self.conditions, f"rules[{self.code}].conditions")
        return found

    def predicate(self) -> Callable[[Facts], bool]:
        """The parsed conditions as one function of the facts (`compile_condition`); only for a
        rule whose conditions parse without problems."""
        found = self._memo.get("predicate")
        if found is None:
            found = self._memo["predicate"] = compile_condition(self.parsed_conditions().condition)
        return found

    def parsed_actions(self, assets: Mapping[str, int], bonuses: Optional[Mapping[str, BonusDefinition]]) -> ParsedActions:
        """The actions parsed against these very mappings (kept while they are the same objects:
        a shell passes the ones of one configuration, which it never changes)."""
        found = self._memo.get("actions")
        if found is None or found[0] is not assets or found[1] is not bonuses:
            parsed = parse_actions(self.actions, assets, bonuses=bonuses or {}, path=f"rules[{self.code}].actions")
            found = self._memo["actions"] = (assets, bonuses, parsed)
        return found[2]


class Execution(NamedTuple):
    rule_code: str
    rule_version: int
    effects: tuple[Effect, ...]


class Outcome(NamedTuple):
    executions: tuple[Execution, ...]
    effects: tuple[Effect, ...]       # every execution's effects, in order
    problems: tuple[Problem, ...]     # non-empty: refuse the event; nothing else is set

    @property
    def ok(self) -> bool:
        return not self.problems


def applicable(rules: Iterable[Rule], event_type: str, now: datetime) -> list[Rule]:
    """The rules that may run for an event of `event_type` at `now`, in the order they run."""
    return [rule for rule in _in_order(rules, event_type)
            if (rule.starts_at is None or rule.starts_at <= now) and (rule.ends_at is None or now < rule.ends_at)]


# The active rules of an event type in the order they run, per tuple of rules (a brand's
# configuration holds one tuple while it is current): sorted once, not once per event.
_ORDERED: dict[tuple[int, str], tuple[tuple[Rule, ...], tuple[Rule, ...]]] = {}


def _in_order(rules: Iterable[Rule], event_type: str) -> tuple[Rule, ...]:
    key = (id(rules), event_type)
    found = _ORDERED.get(key)
    if found is not None and found[0] is rules:
        return found[1]
    ordered = tuple(sorted((rule for rule in rules if rule.event_type == event_type and rule.active),
                           key=lambda rule: (rule.priority, rule.code)))
    if isinstance(rules, tuple):  # immutable, Rule values too: safe to keep (with the tuple, so its id stays its own)
        if len(_ORDERED) > 1024:
            _ORDERED.clear()
        _ORDERED[key] = (rules, ordered)
    return ordered


def run(rules: Iterable[Rule], facts: Facts, assets: Mapping[str, int], *, now: datetime,
        bonuses: Optional[Mapping[str, BonusDefinition]] = None) -> Outcome:
    """Evaluate the applicable rules against the facts and plan the matched ones' actions."""
    if now.utcoffset() is None:
        raise ValueError("now must be a datetime with a time zone")
    executions: list[Execution] = []
    problems: list[Problem] = []
    awarded = set(facts.customer.bonuses_awarded)
    for rule in applicable(rules, facts.event.type, now):
        parsed = rule.parsed_conditions()
        if parsed.problems:
            problems.extend(parsed.problems)
            continue
        if not rule.predicate()(facts):
            continue
        planned = plan(rule.actions, facts, assets, bonuses=bonuses, rule_code=rule.code,
                       path=f"rules[{rule.code}].actions", parsed=rule.parsed_actions(assets, bonuses))
        problems.extend(planned.problems)
        effects = _first_awards(planned.effects, awarded)
        executions.append(Execution(rule.code, rule.version, effects))
        if rule.stop_after:
            break
    if problems:
        return Outcome((), (), tuple(problems))
    return Outcome(tuple(executions), tuple(e for ex in executions for e in ex.effects), ())


def _first_awards(effects: tuple[Effect, ...], awarded: set) -> tuple[Effect, ...]:
    """The effects without a bonus this run already awarded; records the ones it awards."""
    kept = []
    for effect in effects:
        if isinstance(effect, AwardBonus):
            if effect.bonus in awarded:
                continue
            awarded.add(effect.bonus)
        kept.append(effect)
    return tuple(kept)
