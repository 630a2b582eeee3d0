"""The OpenAPI 3.1 document, generated from the route table and the pydantic models."""
from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from .models import ErrorOut

_PARAM = re.compile(r"\{(\w+)\}")
REF = "#/components/schemas/{model}"


def _schema(model: type[BaseModel], components: dict, mode: str) -> dict:
    schema = model.model_json_schema(ref_template=REF, mode=mode)
    for name, definition in schema.pop("$defs", {}).items():
        components[name] = definition
    components[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _operation(op, path: str, components: dict) -> dict:
    params: list[dict[str, Any]] = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 128}}
        for n in _PARAM.findall(path)]
    params += [{"name": n, "in": "query", "required": False, "description": d, "schema": {"type": "string"}}
               for n, d in op.query.items()]
    if op.access == "brand":
        params.append({"name": "X-Brand", "in": "header", "required": False, "schema": {"type": "string"},
                       "description": "brand code; required with an admin key"})
    out: dict[str, Any] = {"summary": op.summary, "parameters": params, "responses": {}}
    if op.access != "public":
        out["security"] = [{"ApiKey": []}, {"Bearer": []}]
    if op.body is not None:
        params.append({"name": "Idempotency-Key", "in": "header", "required": op.key_required,
                       "schema": {"type": "string", "maxLength": 200},
                       "description": "a replay returns the stored response with Idempotent-Replayed: true"})
        out["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _schema(op.body, components, "validation")}}}
    if op.text_body is not None:
        out["requestBody"] = {"required": True, "content": {op.text_body: {"schema": {"type": "string"}}}}
    ok: dict[str, Any] = {"description": "success"}
    if op.response is not None:
        ok["content"] = {"application/json": {"schema": _schema(op.response, components, "serialization")}}
    out["responses"][str(op.status)] = ok
    error = {"content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorOut")}}}}
    statuses = set(op.errors) | ({400, 401, 403, 429} if op.access != "public" else set())
    if op.body is not None:
        statuses |= {400, 409, 413}
    for status in sorted(statuses):
        out["responses"][str(status)] = {"description": "error", **error}
    return out


def build(route_table: list) -> dict:
    components: dict[str, Any] = {}
    _schema(ErrorOut, components, "serialization")
    paths: dict[str, Any] = {}
    for path, handler in route_table:
        for method, op in handler.OPS.items():
            paths.setdefault(path, {})[method] = _operation(op, path, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Rewards ledger", "version": "1",
                 "description": "Credits, cashback and loyalty points in a double-entry ledger. Amounts are"
                                " decimal strings in units of their asset."},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "Bearer": {"type": "http", "scheme": "bearer"}}},
    }
