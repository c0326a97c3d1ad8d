#!/usr/bin/env python3
"""Validate an OpenAPI document as OpenAPI 3.1.

Usage: validate_spec.py [PATH]   (default: api-spec/openapi.json)

Prints "OK: ..." and exits 0 when the document is valid; otherwise prints every
problem the validator finds (with where in the document it is) and exits 1.
"""

import json
import sys
from pathlib import Path

from jsonschema_path import SchemaPath
from openapi_spec_validator import OpenAPIV31SpecValidator


def location(error) -> str:
    path = "/".join(str(part) for part in getattr(error, "absolute_path", []) or [])
    return f"#/{path}" if path else "#"


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "api-spec/openapi.json")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        print(f"{path}: cannot read: {err}", file=sys.stderr)
        return 1
    if not text.strip():
        print(f"{path}: empty file", file=sys.stderr)
        return 1
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as err:
        print(f"{path}: not JSON: {err}", file=sys.stderr)
        return 1
    if not isinstance(spec, dict):
        print(f"{path}: the document is not a JSON object", file=sys.stderr)
        return 1
    version = str(spec.get("openapi", ""))
    if not version.startswith("3.1."):
        print(f"{path}: \"openapi\" is {version!r}, expected 3.1.x", file=sys.stderr)
        return 1

    validator = OpenAPIV31SpecValidator(SchemaPath.from_dict(spec))
    problems = []
    try:
        for error in validator.iter_errors():
            problems.append(f"{location(error)}: {error.message}")
    except Exception as err:  # the validator stops at the first reference it cannot follow
        ref = getattr(err, "ref", None)
        detail = f"cannot resolve $ref {ref!r}" if ref else str(err)[:500]
        problems.append(f"{type(err).__name__}: {detail} (validation stopped here)")
    if problems:
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        print(f"{path}: {len(problems)} problem(s) found (validated as OpenAPI {version})", file=sys.stderr)
        return 1

    paths = spec.get("paths") or {}
    operations = sum(
        1
        for item in paths.values()
        if isinstance(item, dict)
        for method in item
        if method in {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    )
    schemas = len((spec.get("components") or {}).get("schemas") or {})
    print(f"OK: {path} is a valid OpenAPI {version} document ({len(paths)} paths, {operations} operations, {schemas} schemas)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
