#!/usr/bin/env python3
"""Fail on a breaking change of the OpenAPI document that is not declared.

Usage: spec_compat.py [--base api-spec/openapi.landed.json] [--compat api-spec/compat.json] [NEW]

The base is the document of the last landed version, kept in the repository
(api-spec/openapi.landed.json; api-spec/compat.json names its commit), so the check needs no
git history. Every break found between the two must be listed, word for word, in compat.json's
`accepted` (with a reason); anything else fails, and so does a declared break that is no longer
found. When a version lands, the next change copies its document to openapi.landed.json,
records its commit and empties `accepted`.

What breaks a client, generated or written by hand:
- an operation or a parameter removed; a parameter or a request property made required;
- a request property removed from a closed object (`additionalProperties: false`, which the
  server enforces), or its type changed; an enum value a request could send removed;
- a response property removed or no longer required, or its type changed; an enum value a
  response may carry added (generated clients map enums to closed types: openapi-python-client
  raises on a value it does not know, so clients must be regenerated).
"""

import argparse
import json
import sys
from pathlib import Path

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def resolve(doc: dict, schema: dict) -> dict:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 20:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc.get("components", {}).get("schemas", {}).get(name, {})
        seen += 1
    return schema if isinstance(schema, dict) else {}


def refs_in(node, found: set) -> None:
    if isinstance(node, dict):
        if "$ref" in node:
            found.add(node["$ref"].rsplit("/", 1)[-1])
        for value in node.values():
            refs_in(value, found)
    elif isinstance(node, list):
        for value in node:
            refs_in(value, found)


def reachable(doc: dict, roots: set) -> set:
    """Every component schema reachable from `roots`."""
    schemas = doc.get("components", {}).get("schemas", {})
    done, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in done or name not in schemas:
            continue
        done.add(name)
        more: set = set()
        refs_in(schemas[name], more)
        todo.extend(more - done)
    return done


def sides(doc: dict) -> tuple[set, set]:
    """Component schemas used in requests, and in responses."""
    request, response = set(), set()
    for item in doc.get("paths", {}).values():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            refs_in(operation.get("requestBody", {}), request)
            refs_in(operation.get("parameters", []), request)
            refs_in(operation.get("responses", {}), response)
    return reachable(doc, request), reachable(doc, response)


def types_of(doc: dict, schema: dict) -> tuple:
    schema = resolve(doc, schema)
    kind = schema.get("type")
    if isinstance(kind, list):
        return tuple(sorted(kind))
    if kind:
        return (kind,)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return tuple(sorted({t for s in schema[key] for t in types_of(doc, s)}))
    if "$ref" in schema or "allOf" in schema or "properties" in schema:
        return ("object",)
    return ()


def enum_of(doc: dict, schema: dict) -> set:
    values = set()
    schema = resolve(doc, schema)
    if "enum" in schema:
        values.update(json.dumps(v) for v in schema["enum"])
    for key in ("oneOf", "anyOf"):
        for option in schema.get(key, []):
            option = resolve(doc, option)
            if "const" in option:
                values.add(json.dumps(option["const"]))
            if "enum" in option:
                values.update(json.dumps(v) for v in option["enum"])
    return values


def compare_schema(name: str, old_doc: dict, new_doc: dict, request: bool, response: bool, breaks: list) -> None:
    old = resolve(old_doc, old_doc["components"]["schemas"][name])
    new = resolve(new_doc, new_doc["components"]["schemas"].get(name, {}))
    if not new:
        breaks.append(f"{name}: schema removed")
        return
    old_enum, new_enum = enum_of(old_doc, old), enum_of(new_doc, new)
    if old_enum or new_enum:
        if request:
            for value in sorted(old_enum - new_enum):
                breaks.append(f"{name}: enum value removed from a request: {value}")
        if response:
            for value in sorted(new_enum - old_enum):
                breaks.append(f"{name}: enum value added in a response: {value}")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for prop, old_schema in old_props.items():
        if prop not in new_props:
            if response:
                breaks.append(f"{name}.{prop}: removed from a response")
            if request and new.get("additionalProperties") is False:
                breaks.append(f"{name}.{prop}: removed from a closed request object")
            continue
        if types_of(old_doc, old_schema) != types_of(new_doc, new_props[prop]) and types_of(old_doc, old_schema):
            breaks.append(
                f"{name}.{prop}: type changed from {list(types_of(old_doc, old_schema))} to {list(types_of(new_doc, new_props[prop]))}"
            )
        if response and prop in old_required and prop not in new_required:
            breaks.append(f"{name}.{prop}: no longer required in a response")
    if request:
        for prop in sorted(new_required - old_required):
            breaks.append(f"{name}.{prop}: newly required in a request")


def compare(old: dict, new: dict) -> list:
    breaks: list = []
    for path, item in old.get("paths", {}).items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            new_operation = new.get("paths", {}).get(path, {}).get(method)
            if new_operation is None:
                breaks.append(f"{where}: operation removed")
                continue
            old_params = {(p.get("in"), p.get("name")): p for p in operation.get("parameters", [])}
            new_params = {(p.get("in"), p.get("name")): p for p in new_operation.get("parameters", [])}
            for key in old_params:
                if key not in new_params:
                    breaks.append(f"{where}: parameter {key[1]} ({key[0]}) removed")
            for key, param in new_params.items():
                if param.get("required") and not old_params.get(key, {}).get("required"):
                    breaks.append(f"{where}: parameter {key[1]} ({key[0]}) newly required")
    old_request, old_response = sides(old)
    new_request, new_response = sides(new)
    for name in sorted(old.get("components", {}).get("schemas", {})):
        request = name in old_request or name in new_request
        response = name in old_response or name in new_response
        if request or response:
            compare_schema(name, old, new, request, response, breaks)
    return breaks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("new", nargs="?", default="api-spec/openapi.json")
    parser.add_argument("--base", default="api-spec/openapi.landed.json")
    parser.add_argument("--compat", default="api-spec/compat.json")
    args = parser.parse_args()
    compat = json.loads(Path(args.compat).read_text())
    base = compat["landed_commit"]
    old = json.loads(Path(args.base).read_text())
    new = json.loads(Path(args.new).read_text())
    accepted = {entry["break"]: entry["reason"] for entry in compat.get("accepted", [])}
    found = compare(old, new)
    undeclared = [b for b in found if b not in accepted]
    for item in found:
        mark = "accepted" if item in accepted else "BREAKING"
        print(f"spec-compat: {mark}: {item}" + (f" — {accepted[item]}" if item in accepted else ""))
    stale = sorted(set(accepted) - set(found))
    for item in stale:
        print(f"spec-compat: declared but not found (remove it): {item}")
    if undeclared or stale:
        print(
            f"spec-compat: {len(undeclared)} undeclared breaking change(s) against {base[:12]}; "
            f"declare them in {args.compat} with a reason, or keep the document compatible",
            file=sys.stderr,
        )
        return 1
    print(f"spec-compat: OK against {base[:12]} ({len(found)} declared break(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
