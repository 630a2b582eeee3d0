"""Conditions: the rule condition language of DESIGN §6a, parsed strictly, evaluated exactly.

A tree is a composite `{"all": [...]}`, `{"any": [...]}`, `{"not": {...}}` or a leaf
`{"fact", "op", "value"}`. `parse_conditions` checks a tree once and returns the parsed
tree or every problem with its JSON path; `evaluate` runs a tree against `Facts`. One table,
`OPS`, says what value shape each operator takes and what it does; `KIND_OPS` which
operators apply to which kind of fact; the catalog lists both. Seed 004 silently matched
everything on a typo: here an unknown key, fact or operator is a problem, as is `{}`.

Decisions where DESIGN §6a is silent:
- `null` conditions match every event (a rule that always applies); empty `all` matches;
  empty `any` is a problem (it could never match);
- numbers compare as exact decimals: a fact is a number when it is a JSON number (int or
  Decimal) or a decimal string ("100.00"); a float is never a number here (rules refuse
  float literals; a float fact compares as nothing);
- the literal's type says what `eq ne in not_in contains` mean: a number compares
  numerically ("100.0" eq 100), a string as exact text, a boolean only with a boolean;
- `gt gte lt lte between` are numeric only; their literals may be numbers or decimal
  strings; `between` takes `[low, high]`, both included;
- an absent fact (missing path, null, no tier…) makes every operator false except
  `present`, `ne` and `not_in` included, as SQL's NULL <> 'x' is not true. "Absent or
  different" is `{"not": {"fact": …, "op": "eq", …}}`. On a present value, `ne`/`not_in`
  are "not eq/in" (a value of another type is different);
- `contains`: a list fact holds an item equal to the literal, or a text fact holds the text;
- `present` takes an optional boolean (default true); `"value": false` means absent.
"""
from __future__ import annotations

import operator
import re
from functools import lru_cache
from decimal import Decimal
from typing import Any, Callable, Mapping, NamedTuple, Optional, Union

from .facts import ABSENT, FACTS, KINDS, FactRef, Facts, parse_fact, suggest
from .problems import InvalidRule, Problem, item_path, key_path

MAX_DEPTH = 8          # nested all/any/not levels
MAX_NODES = 200        # conditions in one tree, leaves and composites together
MAX_CHILDREN = 50      # items of one all/any
MAX_LIST_ITEMS = 100   # values of one in/not_in
MAX_TEXT_CHARS = 256   # one text literal
DECIMAL_TEXT = r"^-?[0-9]{1,40}(\.[0-9]{1,40})?$"
_DECIMAL_TEXT = re.compile(DECIMAL_TEXT.replace("$", r"\Z"))
_FLOAT = "numbers must be exact: a JSON number (read as Decimal) or a decimal string, never a float"


class Operand(NamedTuple):
    kind: str   # "number" (value: Decimal) | "text" (str) | "boolean" (bool)
    value: Any


class Leaf(NamedTuple):
    fact: FactRef
    op: str
    value: Any  # per the op's shape: Operand, Decimal, (low, high), tuple of Operand, bool


class All(NamedTuple):
    children: tuple


class AnyOf(NamedTuple):
    children: tuple


class Not(NamedTuple):
    child: Any


Condition = Union[Leaf, All, AnyOf, Not]
ALWAYS = All(())


class Parsed(NamedTuple):
    condition: Optional[Condition]  # None when there are problems
    problems: tuple[Problem, ...]


# -- comparing values -------------------------------------------------------------------------
def as_number(value: Any) -> Decimal | None:
    """The exact number a fact's value stands for, or None: JSON numbers and decimal
    strings are numbers; booleans, floats, NaN and other text are not."""
    if type(value) is str:  # the usual case first: a decimal string of the payload
        return _text_number(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str):
        return _text_number(value)
    return None


@lru_cache(maxsize=4096)
def _text_number(text: str) -> Decimal | None:
    """A decimal string's number (events of a brand repeat a few amounts and many rules
    compare the same one: converted once, not once per rule)."""
    return Decimal(text) if len(text) <= 82 and _DECIMAL_TEXT.match(text) else None


def _equals(value: Any, literal: Operand) -> bool:
    if literal.kind == "boolean":
        return isinstance(value, bool) and value is literal.value
    if literal.kind == "number":
        number = as_number(value)
        return number is not None and number == literal.value
    return isinstance(value, str) and value == literal.value


def _compare(test: Callable[[Decimal, Decimal], bool]) -> Callable[[Any, Decimal], bool]:
    def compare(value: Any, bound: Decimal) -> bool:
        number = as_number(value)
        return number is not None and test(number, bound)
    return compare


def _between(value: Any, bounds: tuple[Decimal, Decimal]) -> bool:
    number = as_number(value)
    return number is not None and bounds[0] <= number <= bounds[1]


def _contains(value: Any, literal: Operand) -> bool:
    if isinstance(value, tuple):
        return any(_equals(item, literal) for item in value)
    return isinstance(value, str) and literal.kind == "text" and literal.value in value


# -- value shapes: what each operator's "value" must be -------------------------------------------
_LITERAL_NAMES = {"number": "a number", "text": "a string", "boolean": "true or false"}
KIND_LITERALS = {"number": ("number",), "text": ("text",), "boolean": ("boolean",),
                 "text_list": ("text",), "json": ("number", "text", "boolean")}


def _literal(raw: Any, path: str, fact: FactRef) -> tuple[Any, list[Problem]]:
    if isinstance(raw, bool):
        literal = Operand("boolean", raw)
    elif isinstance(raw, float):
        return None, [Problem(path, _FLOAT)]
    elif isinstance(raw, int) or (isinstance(raw, Decimal) and raw.is_finite()):
        literal = Operand("number", Decimal(raw))
    elif isinstance(raw, str) and len(raw) <= MAX_TEXT_CHARS:
        literal = Operand("text", raw)
    elif isinstance(raw, str):
        return None, [Problem(path, f"text is longer than {MAX_TEXT_CHARS} characters", "limit_exceeded")]
    else:
        return None, [Problem(path, "must be a string, a number or a boolean")]
    allowed = KIND_LITERALS[fact.kind]
    if literal.kind not in allowed:
        names = " or ".join(_LITERAL_NAMES[kind] for kind in allowed)
        return None, [Problem(path, f"{fact.name} is {KINDS[fact.kind]}: compare it with {names}")]
    return literal, []


def _number(raw: Any, path: str, fact: FactRef) -> tuple[Any, list[Problem]]:
    if isinstance(raw, float):
        return None, [Problem(path, _FLOAT)]
    number = as_number(raw)
    if number is None:
        return None, [Problem(path, 'must be a number or a decimal string such as "50.00"')]
    return number, []


def _number_pair(raw: Any, path: str, fact: FactRef) -> tuple[Any, list[Problem]]:
    if not isinstance(raw, (list, tuple)) or len(raw) != 2:
        return None, [Problem(path, "between takes a list of two numbers: [low, high]")]
    low, low_problems = _number(raw[0], item_path(path, 0), fact)
    high, high_problems = _number(raw[1], item_path(path, 1), fact)
    if low_problems or high_problems:
        return None, low_problems + high_problems
    if low > high:
        return None, [Problem(path, "between's low is above its high: it could never match")]
    return (low, high), []


def _literal_list(raw: Any, path: str, fact: FactRef) -> tuple[Any, list[Problem]]:
    if not isinstance(raw, (list, tuple)):
        return None, [Problem(path, "in and not_in take a list of values")]
    if not 1 <= len(raw) <= MAX_LIST_ITEMS:
        code = "limit_exceeded" if raw else "invalid_request"
        return None, [Problem(path, f"the list must hold 1..{MAX_LIST_ITEMS} values", code)]
    items, problems = [], []
    for index, item in enumerate(raw):
        literal, item_problems = _literal(item, item_path(path, index), fact)
        items.append(literal)
        problems.extend(item_problems)
    return (None, problems) if problems else (tuple(items), [])


def _presence(raw: Any, path: str, fact: FactRef) -> tuple[Any, list[Problem]]:
    if not isinstance(raw, bool):
        return None, [Problem(path, "present takes true (the default) or false (absent)")]
    return raw, []


class Shape(NamedTuple):
    parse: Callable[[Any, str, FactRef], tuple[Any, list[Problem]]]
    schema: dict
    description: str


_SCALAR_SCHEMA = {"type": ["string", "number", "boolean"]}
_NUMBER_SCHEMA = {"oneOf": [{"type": "number"}, {"type": "string", "pattern": DECIMAL_TEXT}]}
SHAPES: dict[str, Shape] = {
    "scalar": Shape(_literal, _SCALAR_SCHEMA, "one string, number or boolean (of the fact's kind)"),
    "number": Shape(_number, _NUMBER_SCHEMA, 'a number or a decimal string ("50.00")'),
    "number_pair": Shape(_number_pair, {"type": "array", "items": _NUMBER_SCHEMA, "minItems": 2,
                                        "maxItems": 2}, "[low, high], numbers, low ≤ high"),
    "scalar_list": Shape(_literal_list, {"type": "array", "items": _SCALAR_SCHEMA, "minItems": 1,
                                         "maxItems": MAX_LIST_ITEMS}, "a non-empty list of values"),
    "presence": Shape(_presence, {"type": "boolean", "default": True}, "true (default) or false; may be left out"),
}


# -- the operator table ------------------------------------------------------------------------
class OpSpec(NamedTuple):
    shape: str
    test: Optional[Callable[[Any, Any], bool]]  # (present fact value, parsed value); None: present
    description: str
    example: dict  # a whole leaf that validates


OPS: dict[str, OpSpec] = {
    "eq": OpSpec("scalar", _equals, "equal: numbers as exact decimals, text exactly, booleans as booleans",
                 {"fact": "customer.tier", "op": "eq", "value": "GOLD"}),
    "ne": OpSpec("scalar", lambda v, lit: not _equals(v, lit), "present and not equal (false when absent)",
                 {"fact": "customer.status", "op": "ne", "value": "blocked"}),
    "gt": OpSpec("number", _compare(operator.gt), "greater than",
                 {"fact": "payload.amount", "op": "gt", "value": "50.00"}),
    "gte": OpSpec("number", _compare(operator.ge), "greater than or equal",
                  {"fact": "customer.status_points", "op": "gte", "value": 1000}),
    "lt": OpSpec("number", _compare(operator.lt), "less than", {"fact": "event.hour", "op": "lt", "value": 12}),
    "lte": OpSpec("number", _compare(operator.le), "less than or equal",
                  {"fact": "customer.days_since_last_event", "op": "lte", "value": 30}),
    "between": OpSpec("number_pair", _between, "within [low, high], both ends included",
                      {"fact": "event.weekday", "op": "between", "value": [6, 7]}),
    "in": OpSpec("scalar_list", lambda v, lits: any(_equals(v, lit) for lit in lits), "equal to one of the values",
                 {"fact": "payload.channel", "op": "in", "value": ["web", "app"]}),
    "not_in": OpSpec("scalar_list", lambda v, lits: not any(_equals(v, lit) for lit in lits),
                     "present and equal to none of the values (false when absent)",
                     {"fact": "customer.status", "op": "not_in", "value": ["inactive", "blocked"]}),
    "contains": OpSpec("scalar", _contains, "a list holds the value, or a text holds the text",
                       {"fact": "customer.tags", "op": "contains", "value": "vip"}),
    "present": OpSpec("presence", None, "the fact has a value (not missing, not null); value false: absent",
                      {"fact": "payload.referral_code", "op": "present"}),
}
_ORDERING = ("gt", "gte", "lt", "lte", "between")
KIND_OPS: dict[str, tuple[str, ...]] = {
    "number": ("eq", "ne", *_ORDERING, "in", "not_in", "present"),
    "text": ("eq", "ne", "in", "not_in", "contains", "present"),
    "boolean": ("eq", "ne", "present"),
    "text_list": ("contains", "present"),
    "json": tuple(OPS),
}


# -- parsing -------------------------------------------------------------------------------------
class _Budget:
    """Nodes left to parse in one tree (a mutable counter local to one parse)."""

    def __init__(self) -> None:
        self.left, self.reported = MAX_NODES, False


def parse_conditions(tree: Any, path: str = "conditions") -> Parsed:
    """Check a condition tree (JSON as parsed: dicts, lists, str, int, Decimal, bool) once:
    the parsed tree, or every problem with its JSON path."""
    if tree is None:
        return Parsed(ALWAYS, ())
    problems: list[Problem] = []
    condition = _node(tree, path, 1, problems, _Budget())
    return Parsed(None, tuple(problems)) if problems else Parsed(condition, ())


def validate_conditions(tree: Any, path: str = "conditions") -> list[Problem]:
    return list(parse_conditions(tree, path).problems)


def _node(node: Any, path: str, depth: int, problems: list[Problem], budget: _Budget) -> Any:
    budget.left -= 1
    if budget.left < 0:
        if not budget.reported:
            problems.append(Problem(path, f"a rule holds at most {MAX_NODES} conditions", "limit_exceeded"))
            budget.reported = True
        return None
    if not isinstance(node, Mapping):
        problems.append(Problem(path, 'a condition is an object: {"all": [...]}, {"any": [...]},'
                                      ' {"not": {...}} or {"fact", "op", "value"}'))
        return None
    if "fact" in node or "op" in node:
        return _leaf(node, path, problems)
    if len(node) != 1 or next(iter(node)) not in ("all", "any", "not"):
        keys = ", ".join(repr(key) for key in node) or "no keys"
        problems.append(Problem(path, f"a condition has exactly one of all, any, not, or fact/op/value; got {keys}"))
        return None
    if depth > MAX_DEPTH:
        problems.append(Problem(path, f"conditions nest at most {MAX_DEPTH} levels deep", "limit_exceeded"))
        return None
    key, value = next(iter(node.items()))
    here = key_path(path, key)
    if key == "not":
        child = _node(value, here, depth + 1, problems, budget)
        return Not(child)
    return _group(key, value, here, depth, problems, budget)


def _group(key: str, children: Any, path: str, depth: int, problems: list[Problem], budget: _Budget) -> Any:
    if not isinstance(children, (list, tuple)):
        problems.append(Problem(path, f"{key} takes a list of conditions"))
        return None
    if key == "any" and not children:
        problems.append(Problem(path, "an empty any could never match"))
        return None
    if len(children) > MAX_CHILDREN:
        problems.append(Problem(path, f"{key} holds at most {MAX_CHILDREN} conditions", "limit_exceeded"))
        return None
    parsed = tuple(_node(child, item_path(path, index), depth + 1, problems, budget)
                   for index, child in enumerate(children))
    return All(parsed) if key == "all" else AnyOf(parsed)


def _leaf(node: Mapping, path: str, problems: list[Problem]) -> Leaf | None:
    before = len(problems)
    for key in node:
        if key not in ("fact", "op", "value"):
            problems.append(Problem(key_path(path, str(key)), f"unknown key {key!r}: a leaf has fact, op and value"))
    fact = _fact(node.get("fact"), key_path(path, "fact"), problems)
    op = _op(node.get("op"), fact, key_path(path, "op"), problems)
    value_path = key_path(path, "value")
    if op is not None and op != "present" and "value" not in node:
        problems.append(Problem(value_path, f"{op} needs a value ({SHAPES[OPS[op].shape].description})"))
        return None
    if fact is None or op is None:
        return None
    value, value_problems = SHAPES[OPS[op].shape].parse(node.get("value", True), value_path, fact)
    problems.extend(value_problems)
    return Leaf(fact, op, value) if len(problems) == before else None


def _fact(name: Any, path: str, problems: list[Problem]) -> FactRef | None:
    if not isinstance(name, str):
        problems.append(Problem(path, 'fact is required: a name such as "payload.amount"'))
        return None
    ref = parse_fact(name)
    if ref is None:
        problems.append(Problem(path, _unknown_fact(name)))
    return ref


def _unknown_fact(name: str) -> str:
    close = suggest(name)
    hint = f" (did you mean {close!r}?)" if close else ""
    return f"unknown fact {name[:100]!r}{hint}; facts: {', '.join(spec.name for spec in FACTS)}"


def _op(op: Any, fact: FactRef | None, path: str, problems: list[Problem]) -> str | None:
    if not isinstance(op, str) or op not in OPS:
        shown = "op is required" if op is None else f"unknown operator {str(op)[:40]!r}"
        problems.append(Problem(path, f"{shown}; operators: {', '.join(OPS)}"))
        return None
    if fact is not None and op not in KIND_OPS[fact.kind]:
        problems.append(Problem(path, f"{op} does not apply to {fact.name} ({KINDS[fact.kind]});"
                                      f" use {', '.join(KIND_OPS[fact.kind])}"))
        return None
    return op


# -- evaluating ----------------------------------------------------------------------------------
_PARSED = (Leaf, All, AnyOf, Not)


def evaluate(conditions: Any, facts: Facts) -> bool:
    """Whether the facts satisfy the conditions: a parsed tree, or raw JSON that is parsed
    first (raising `InvalidRule` with every problem when it is not valid; never matching a
    tree it does not understand). Never raises on the facts: absent is a value."""
    if not isinstance(conditions, _PARSED):
        parsed = parse_conditions(conditions)
        if parsed.problems:
            raise InvalidRule.of(parsed.problems)
        conditions = parsed.condition
    return _holds(conditions, facts)


def compile_condition(node: Condition) -> Callable[[Facts], bool]:
    """A parsed tree as one function of the facts, answering what `evaluate` answers: each
    leaf's fact reader, operator and literal are looked up here, once per rule, instead of
    once per event (the engine keeps the function with the rule's parsed conditions)."""
    if isinstance(node, Leaf):
        read, arg, expected = node.fact.spec.read, node.fact.arg, node.value
        if node.op == "present":
            return lambda facts: (read(facts, arg) is not ABSENT) is expected
        test = OPS[node.op].test

        def leaf(facts: Facts) -> bool:
            value = read(facts, arg)
            return value is not ABSENT and test(value, expected)
        return leaf
    if isinstance(node, Not):
        child = compile_condition(node.child)
        return lambda facts: not child(facts)
    parts = tuple(compile_condition(c) for c in node.children)
    if isinstance(node, All):
        def all_of(facts: Facts) -> bool:
            for part in parts:
                if not part(facts):
                    return False
            return True
        return all_of

    def any_of(facts: Facts) -> bool:
        for part in parts:
            if part(facts):
                return True
        return False
    return any_of


def _holds(node: Condition, facts: Facts) -> bool:
    if isinstance(node, Leaf):
        value = node.fact.read(facts)
        if node.op == "present":
            return (value is not ABSENT) is node.value
        return value is not ABSENT and OPS[node.op].test(value, node.value)
    if isinstance(node, All):
        return all(_holds(child, facts) for child in node.children)
    if isinstance(node, AnyOf):
        return any(_holds(child, facts) for child in node.children)
    return not _holds(node.child, facts)
