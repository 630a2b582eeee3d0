"""Catalog: what the rule builder may use (`GET /v1/rules/ui-catalog`), as one pure function.

Generated from the tables that validate, never from a second list: facts from
`facts.FACTS`, operators and their value shapes from `conditions.OPS`, `SHAPES` and
`KIND_OPS`, actions from `actions.ACTIONS` (each model's JSON Schema and example). A form
the catalog describes is a rule the validators accept, and a fact, operator or action
appears here by being added there.
"""
from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any, Mapping, Optional

from .actions import ACTIONS, MAX_ACTIONS
from .conditions import (KIND_LITERALS, KIND_OPS, MAX_CHILDREN, MAX_DEPTH, MAX_LIST_ITEMS, MAX_NODES,
                         MAX_TEXT_CHARS, OPS, SHAPES)
from .effects import BONUS_PERIODS
from .facts import FACTS, KINDS, FactSpec
from .rates import MAX_RATE_BPS, MAX_SOURCE_DECIMALS, ROUNDING_MODES


def ui_catalog(assets: Optional[Mapping[str, int]] = None) -> dict[str, Any]:
    """The catalog as JSON-ready data; with the brand's assets, every `asset` field of an
    action schema lists them as its `enum`."""
    catalog = copy.deepcopy(_catalog())
    if assets is not None:
        for action in catalog["actions"]:
            asset = action["schema"]["properties"].get("asset")
            if asset is not None:
                asset["enum"] = sorted(assets)
    return catalog


@lru_cache(maxsize=1)
def _catalog() -> dict[str, Any]:
    return {
        "facts": [_fact(spec) for spec in FACTS],
        "kinds": [{"kind": kind, "description": text, "operators": list(KIND_OPS[kind]),
                   "literals": list(KIND_LITERALS[kind])} for kind, text in KINDS.items()],
        "operators": [{"op": op, "description": spec.description, "value_shape": spec.shape,
                       "value_description": SHAPES[spec.shape].description,
                       "value_schema": SHAPES[spec.shape].schema, "value_required": op != "present",
                       "example": spec.example} for op, spec in OPS.items()],
        "composites": [{"key": "all", "value": "a list of conditions; every one holds (an empty list: always)"},
                       {"key": "any", "value": "a non-empty list of conditions; at least one holds"},
                       {"key": "not", "value": "one condition; it does not hold"}],
        "actions": [_action(kind) for kind in ACTIONS],
        "rounding": list(ROUNDING_MODES),
        "bonus_periods": list(BONUS_PERIODS),
        "limits": {"max_depth": MAX_DEPTH, "max_conditions": MAX_NODES, "max_children": MAX_CHILDREN,
                   "max_list_items": MAX_LIST_ITEMS, "max_text_chars": MAX_TEXT_CHARS,
                   "max_actions": MAX_ACTIONS, "max_rate_bps": MAX_RATE_BPS,
                   "max_source_decimals": MAX_SOURCE_DECIMALS},
    }


def _fact(spec: FactSpec) -> dict[str, Any]:
    return {"fact": spec.name, "kind": spec.kind, "operators": list(KIND_OPS[spec.kind]),
            "parametrised": "<" in spec.name,
            # JSON Schema / JavaScript spell a named group (?<arg>…), Python (?P<arg>…).
            "pattern": "^(?:" + spec.pattern.replace("(?P<", "(?<").replace("\\Z", "") + ")$",
            "example": spec.example, "description": spec.description}


def _action(kind: str) -> dict[str, Any]:
    spec = ACTIONS[kind]
    schema = spec.model.model_json_schema()
    schema["examples"] = [spec.example]
    return {"type": kind, "description": schema.get("description", ""), "schema": schema,
            "example": spec.example}
