"""Proof of fidelity: every response the simulator serves validates against the official specs.

The simulator (`pipedrive_sim`) is started on 127.0.0.1 and queried over real HTTP for every
endpoint of the extraction set (both API versions, v1 under `/v1` and `/api/v1`, several
parameter combinations, every page, several account sizes), and for the error statuses the
client must handle (400, 401, 404, 429). Each response is validated with openapi-core's response
validation against `openapi-v1.yaml` / `openapi-v2.yaml` (found through `PIPEDRIVE_SPEC_DIR`,
see `tests/spec_files.py`; without them the tests skip, and fail under `CI=true`).

Known differences between the spec and the real API are handled one by one below, each citing
`FACTS.md` (the section is given as FACTS §N); validation is never loosened globally:

* Server base path (FACTS §1): the v1 spec server is `/v1`, the real API also serves `/api/v1`.
  Requests to either prefix are validated against the same spec operation.
* v1 timestamps (FACTS §10): v1 renders times as `YYYY-MM-DD HH:MM:SS` (UTC), although several v1
  schemas declare `format: date-time`; the spec's own examples use the space form. For the v1
  spec only, `date-time` accepts exactly that form in addition to RFC 3339.
* v1 pagination (FACTS §2): some v1 schemas (`/leads`, `/deals/{id}/flow`, `/dealFields`) put
  `start/limit/more_items_in_collection` directly under `additional_data`, while the API (and the
  `/dealFields` example) nests them in `additional_data.pagination`. When such a schema meets a
  nested `pagination` object, that object is additionally validated against the spec's flat
  properties, so the nested form is checked as strictly as the flat one.
* End of cursor lists (FACTS §2 [PAG]): `additional_data.next_cursor` is `null` on the last
  page, while the spec types it as a non-nullable string. Only that property is made nullable
  (`_allow_null_next_cursor`); a non-null cursor must still be a string.
* Nulls the spec forbids but the real API sends (`NULL_IN_REAL_API`): Pipedrive sends the key
  with `null` when a record has no value, e.g. a deal without a person has `person_id: null`,
  an open deal `won_time: null`, an activity without a time `due_time: null`. Many of these
  properties are declared non-nullable; the specs under-document (FACTS §8: the v2 spec
  documents almost nothing beyond the happy path). Only the (api, operation, property) triples
  of that table are made nullable, each with its reason; a null anywhere else still fails.
* Error responses (FACTS §8): v2 documents almost no errors and v1 only a few. A status the
  operation documents is validated by openapi-core against that schema; an error status the
  operation does not document is validated against the error body of FACTS §8 [RESP]
  (`ERROR_BODY_SCHEMA`), never waved through.

Environment knobs: `FIDELITY_SIZES` (comma list, default `tiny,small,medium`; medium requests
first pages only) and `FIDELITY_REPORT` (path: write every violation found as JSON, for
`docs/fidelity-findings.md`).
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jsonschema
import pytest
import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from tests.spec_files import SPEC_FILES, find_spec_dir, load_spec, spec_dir
#: Spec `servers` URLs (FACTS §1). Requests are re-addressed to these before validation.
SPEC_SERVER = {"v1": "https://api.pipedrive.com/v1", "v2": "https://api.pipedrive.com/api/v2"}
#: Path prefixes the simulator serves each version under (FACTS §1: v1 both, v2 only /api/v2).
SIM_PREFIXES = {"v1": ("/v1", "/api/v1"), "v2": ("/api/v2",)}
TOKEN = "fidelity-token"

# --------------------------------------------------------------------------------------------
# The endpoint set the connector needs (DESIGN.md section 2 table names, FACTS.md section 4).
# --------------------------------------------------------------------------------------------

NEEDED_GET: dict[str, tuple[str, ...]] = {
    "v2": (
        "/deals", "/deals/archived", "/persons", "/organizations", "/activities", "/products",
        "/pipelines", "/stages", "/projects", "/projects/archived", "/tasks", "/deals/products",
        "/deals/{id}/followers", "/deals/{id}/products",
        "/dealFields", "/personFields", "/organizationFields", "/activityFields",
        "/productFields", "/projectFields",
    ),
    "v1": (
        "/recents", "/activityTypes", "/currencies", "/users", "/users/me", "/filters", "/notes",
        "/files", "/leads", "/leads/archived", "/leadLabels", "/leadSources", "/goals/find",
        "/callLogs", "/roles", "/deals/{id}/participants", "/deals/{id}/flow",
        "/deals/{id}/changelog",
        "/dealFields", "/personFields", "/organizationFields", "/activityFields",
        "/productFields", "/leadFields", "/noteFields",
    ),
}

# --------------------------------------------------------------------------------------------
# Spec loading (cached per session; C YAML loader: ~1 s for both files)
# --------------------------------------------------------------------------------------------


def get_operations(api: str) -> dict[str, dict[str, Any]]:
    """Return `path template -> GET operation` of one spec."""
    return {p: item["get"] for p, item in load_spec(api)["paths"].items() if "get" in item}


_V1_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def _rfc3339_or_v1_timestamp(value: object) -> bool:
    """`date-time` check for the v1 spec only: RFC 3339, or v1's `YYYY-MM-DD HH:MM:SS` (UTC).

    FACTS §10 [DATE]: v1 renders times as "2019-01-22 08:55:59 (same as 2019-01-22T08:55:59)",
    UTC without offset, and the v1 spec's own examples for `format: date-time` fields use that
    form (e.g. GET /dealFields `add_time`). Anything else still fails.
    """
    if not isinstance(value, str):
        return True  # formats only constrain strings (JSON Schema semantics)
    if _V1_TIMESTAMP.match(value):
        text = value
    elif _RFC3339.match(value):
        text = re.sub(r"(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", "", value).replace("t", "T")
        text = text.replace("T", " ")
    else:
        return False
    try:
        datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return False
    return True


def _allow_null_next_cursor(paths: dict[str, dict[str, Any]]) -> list[str]:
    """Mark `additional_data.next_cursor` nullable in the 200 schemas of the given GET operations.

    FACTS §2 [PAG][V2]: "`additional_data.next_cursor`. It is `null` at the end of the data",
    while the spec types it as a plain, non-nullable `string`. This is the only change: the
    schema is copied (the cached spec stays intact) and the cursor must still be a string when
    it is not null. Returns the amended path templates.

    Args:
        paths: `path -> {"get": operation, ...}`; the operations are replaced by amended copies.
    """
    amended = []
    for path, item in paths.items():
        schema = (item["get"].get("responses", {}).get("200", {}).get("content", {})
                  .get("application/json", {}).get("schema"))
        if not schema:
            continue
        additional = _find_property(schema, "additional_data") or {}
        cursor = (additional.get("properties") or {}).get("next_cursor")
        if not cursor or cursor.get("nullable") or cursor.get("type") != "string":
            continue
        operation = copy.deepcopy(item["get"])
        new_schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        new_additional = _find_property(new_schema, "additional_data")
        assert new_additional is not None
        new_additional["properties"]["next_cursor"]["nullable"] = True
        paths[path] = {**item, "get": operation}
        amended.append(path)
    return amended


# Reasons of the NULL_IN_REAL_API table (FACTS §8: the specs document little beyond the happy
# path; the real API sends the key with null rather than leaving it out or sending 0/"").
_REF = "reference to a record that is not linked: the API sends the id as null"
_EMBED = "embedded object of a reference that is not linked: null like the id"
_NOT_YET = "time of an event that has not happened (open deal, activity not done): null"
_NO_VALUE = "optional value the user never entered: null"
_NO_TIME = "activity without a time of day (all-day): due_time and duration are null"
_NO_MEETING = "activity without a video call: the conference meeting properties are null"
_NO_ADDRESS = "no address entered (or a part the geocoder did not resolve): null"
_V1_FLAT_ADDRESS = "v1 flattens an address into `<key>_<part>` siblings; without an address all are null"
_EMPTY_LIST = ("an empty v1 list with the `additional_data.pagination` envelope is `data: null` (FACTS §2 [RESP]: "
               "the Responses page's success schema; e.g. the participants of a deal without any)")
_ADDRESS_PARTS = ("country", "admin_area_level_1", "admin_area_level_2", "locality", "sublocality",
                  "route", "street_number", "subpremise", "postal_code")


def _nulls(reason: str, *names: str) -> dict[str, str]:
    return {name: reason for name in names}


def _v1_address(key: str) -> dict[str, str]:
    parts = (*_ADDRESS_PARTS, "formatted_address")
    return _nulls(_V1_FLAT_ADDRESS, key, *(f"{key}_{part}" for part in parts))


_V2_DEAL_NULLS = _nulls(_REF, "person_id", "org_id") | _nulls(_NOT_YET, "won_time", "lost_time")

#: (api, GET operation) -> {property: why the real API sends null although the spec declares the
#: property non-nullable}. The property is made nullable (nothing else about it changes) wherever
#: it is declared in that operation's 200 schema; see `_allow_real_api_nulls`.
NULL_IN_REAL_API: dict[tuple[str, str], dict[str, str]] = {
    ("v2", "/deals"): _V2_DEAL_NULLS,
    ("v2", "/deals/archived"): _V2_DEAL_NULLS,
    ("v2", "/persons"): _nulls(_REF, "org_id", "picture_id")
    | _nulls(_NO_VALUE, "notes", "birthday", "job_title")
    | _nulls(_NO_ADDRESS, "postal_address", *_ADDRESS_PARTS),
    ("v2", "/organizations"): _nulls(_NO_ADDRESS, "address", *_ADDRESS_PARTS),
    ("v2", "/activities"): _nulls(_REF, "deal_id", "lead_id", "person_id", "org_id", "project_id")
    | _nulls(_NO_TIME, "due_time", "duration") | _nulls(_NOT_YET, "marked_as_done_time")
    | _nulls(_NO_MEETING, "conference_meeting_client", "conference_meeting_url", "conference_meeting_id")
    | _nulls(_NO_VALUE, "priority") | _nulls(_NO_ADDRESS, "location", *_ADDRESS_PARTS),
    ("v1", "/notes"): _nulls(_REF, "deal_id", "person_id", "org_id", "lead_id", "project_id", "task_id")
    | _nulls(_EMBED, "deal", "person", "organization") | _nulls(_EMPTY_LIST, "data"),
    ("v1", "/deals/{id}/participants"): _nulls(_EMPTY_LIST, "data"),
    ("v1", "/files"): _nulls(_REF, "deal_id", "person_id", "org_id", "product_id", "activity_id", "lead_id",
                             "project_id"),
    ("v1", "/callLogs"): _nulls(_REF, "deal_id", "person_id"),
    # the mail message of deal flow items (FLOW_DATA_SOURCES): a party that is a user or an
    # unknown address has no linked person
    ("v1", "/mailbox/mailMessages/{id}"): _nulls(_REF, "linked_person_id"),
    # /recents carries v1 deals, persons, organizations, activities, products, stages, files, notes.
    ("v1", "/recents"): _nulls(_REF, "person_id", "org_id", "deal_id", "lead_id", "activity_id", "product_id",
                               "project_id", "task_id")
    | _nulls(_EMBED, "deal", "person", "organization")
    | _nulls(_NOT_YET, "won_time", "lost_time", "first_won_time", "marked_as_done_time")
    | _nulls(_NO_TIME, "due_time", "duration")
    | _nulls(_NO_MEETING, "conference_meeting_client", "conference_meeting_url", "conference_meeting_id")
    | _nulls(_NO_VALUE, "label", "category", "rotten_days")
    | _v1_address("address") | _v1_address("location"),
}


def _mark_nullable(node: Any, names: dict[str, str]) -> None:
    """Set `nullable: true` on every declared property named in `names` (in place, recursive)."""
    if isinstance(node, dict):
        for name, prop in (node.get("properties") or {}).items():
            if name in names and isinstance(prop, dict):
                prop["nullable"] = True
        for value in node.values():
            _mark_nullable(value, names)
    elif isinstance(node, list):
        for value in node:
            _mark_nullable(value, names)


def _allow_real_api_nulls(api: str, paths: dict[str, dict[str, Any]]) -> list[str]:
    """Apply `NULL_IN_REAL_API` to the 200 schemas of `api`'s GET operations (copies them).

    Returns:
        The amended path templates.
    """
    amended = []
    for (table_api, path), names in NULL_IN_REAL_API.items():
        if table_api != api or path not in paths:
            continue
        operation = copy.deepcopy(paths[path]["get"])
        _mark_nullable(operation["responses"]["200"], names)
        paths[path] = {**paths[path], "get": operation}
        amended.append(path)
    return amended


@lru_cache(maxsize=None)
def amended_spec(api: str) -> dict[str, Any]:
    """One spec pruned to its GET operations, with the FACTS handling applied (cached).

    Only GET operations are under test, so the other methods are dropped before the path finder
    sees them; `next_cursor` and the `NULL_IN_REAL_API` properties are made nullable.
    """
    spec = load_spec(api)
    pruned = {k: v for k, v in spec.items() if k != "paths"}
    pruned["paths"] = {
        path: {k: v for k, v in item.items() if k in ("get", "parameters")}
        for path, item in spec["paths"].items()
        if "get" in item
    }
    amended = _allow_null_next_cursor(pruned["paths"])
    assert api != "v2" or amended, "expected v2 cursor schemas with a string next_cursor"
    nulls = _allow_real_api_nulls(api, pruned["paths"])
    assert len(nulls) == sum(a == api for a, _ in NULL_IN_REAL_API), "NULL_IN_REAL_API names unknown operations"
    return pruned


@lru_cache(maxsize=None)
def openapi_for(api: str) -> OpenAPI:
    """Build the openapi-core validator for one spec (`amended_spec`; cached).

    The spec document itself is not validated (`spec_validator_cls=None`): it is an input
    here, not the object under test.
    """
    extra_formats = {"date-time": _rfc3339_or_v1_timestamp} if api == "v1" else None
    config = Config(spec_validator_cls=None, extra_format_validators=extra_formats)
    return OpenAPI.from_dict(amended_spec(api), config=config)


@lru_cache(maxsize=None)
def openapi_complete_for(api: str) -> OpenAPI:
    """Like `openapi_for`, but every documented response property is required.

    Used only by the completeness test, and only for operations whose own 200 example passes
    this stricter reading (`completeness_applies`): there the spec shows the full record.
    """
    base = openapi_for(api)
    config = Config(
        spec_validator_cls=None,
        extra_format_validators=base.config.extra_format_validators,
        response_properties_default_policy="required",
    )
    return OpenAPI(base.spec, config=config)


@lru_cache(maxsize=None)
def completeness_applies(api: str, path: str) -> bool:
    """True when the spec's own 200 example of the operation carries every documented property."""
    content = get_operations(api)[path]["responses"].get("200", {}).get("content", {})
    example = content.get("application/json", {}).get("example")
    if example is None:
        return False
    request = spec_request(api, re.sub(r"\{[^}]+\}", "1", path))
    return not list(openapi_complete_for(api).iter_response_errors(request, PayloadResponse(200, example)))


def include_only_properties(api: str, spec_path: str, query: str) -> frozenset[str]:
    """Properties the operation returns only when named in `include_fields` (FACTS §3) and the
    request did not name: they are legitimately absent from every record."""
    optional: set[str] = set()
    for param in get_operations(api)[spec_path].get("parameters", []):
        if param.get("name") == "include_fields":
            optional.update(param.get("schema", {}).get("enum", []))
    requested = {
        name
        for key, value in (pair.split("=", 1) for pair in query.split("&") if "=" in pair)
        if key == "include_fields"
        for name in value.replace("%2C", ",").split(",")
    }
    return frozenset(optional - requested)


def missing_documented_properties(api: str, spec_path: str, rel_path: str, query: str, response: Any) -> list[Violation]:
    """Properties the spec documents (and its example shows) that a 200 response lacks.

    Properties that only `include_fields` turns on are not expected unless the query asks.
    """
    out = []
    opt_in = include_only_properties(api, spec_path, query)
    request = spec_request(api, rel_path, query)
    url = rel_path + (f"?{query}" if query else "")
    for error in openapi_complete_for(api).iter_response_errors(request, response):
        for schema_error in getattr(error.__cause__, "schema_errors", None) or ():
            for leaf in _leaf_errors(schema_error):
                # openapi-core reports the enforced properties under the `properties` keyword.
                if leaf.message.endswith("is a required property") and leaf.message.split("'")[1] not in opt_in:
                    out.append(Violation(api, spec_path, url, int(response.status_code),
                                         _json_path(leaf.absolute_path), leaf.message))
    return out


#: The generic error body, FACTS §8 [RESP]: {"success": false, "error": "<message>",
#: "error_info": "Please check developers.pipedrive.com", "data": null, "additional_data": null}.
#: Used only for error statuses the operation does not document (see module docstring).
ERROR_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["success", "error", "error_info", "data", "additional_data"],
    "properties": {
        "success": {"const": False},
        "error": {"type": "string", "minLength": 1},
        "error_info": {"type": "string"},
        "data": {"type": "null"},
        "additional_data": {"type": "null"},
        "code": {"type": "string"},
    },
}

# --------------------------------------------------------------------------------------------
# The validation helper
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """One way a response differs from the spec.

    Attributes:
        api: "v1" or "v2".
        spec_path: the spec path template of the operation.
        url: path and query string of the request as sent.
        status: HTTP status of the response.
        json_path: where in the body (`$` for the whole body or a non-body problem).
        message: what is wrong.
    """

    api: str
    spec_path: str
    url: str
    status: int
    json_path: str
    message: str

    def __str__(self) -> str:
        return f"{self.api} GET {self.spec_path} [{self.status}] {self.url}: {self.json_path}: {self.message}"


def _json_path(parts: Iterable[Any]) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _leaf_errors(error: jsonschema.ValidationError) -> Iterator[jsonschema.ValidationError]:
    """Descend into anyOf/oneOf contexts so the reported paths point at the offending values.

    For an anyOf/oneOf failure, the branch meant for the value is taken to be the one whose
    shallowest error lies deepest (e.g. in `/recents` the branch whose `item` enum matched fails
    only inside `data`); its errors are reported. A oneOf that matched several branches has no
    context and is reported as is.
    """
    if not error.context:
        yield error
        return
    branches: dict[Any, list[jsonschema.ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.schema_path[0] if sub.schema_path else None, []).append(sub)

    def rank(errors: list[jsonschema.ValidationError]) -> tuple[int, int]:
        return (min(len(e.relative_path) for e in errors), -len(errors))

    best = max(branches.values(), key=rank)
    for sub in best:
        yield from _leaf_errors(sub)


def _find_property(schema: dict[str, Any], name: str) -> dict[str, Any] | None:
    """Find property `name` of an object schema, looking through allOf members."""
    props = schema.get("properties") or {}
    if name in props:
        return props[name]
    for member in schema.get("allOf") or ():
        found = _find_property(member, name)
        if found is not None:
            return found
    return None


def _flat_pagination_schema(operation: dict[str, Any], status: int) -> dict[str, Any] | None:
    """Return the spec's `additional_data` schema if it puts paging fields directly under it.

    FACTS §2: some v1 schemas lack the `pagination` wrapper that the API actually returns.
    """
    response = operation.get("responses", {}).get(str(status)) or {}
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    if not schema:
        return None
    additional = _find_property(schema, "additional_data")
    if not additional:
        return None
    props = additional.get("properties") or {}
    if "pagination" in props or not {"start", "limit"} & set(props):
        return None
    return additional


def spec_request(api: str, rel_path: str, query: str = "") -> RequestsOpenAPIRequest:
    """Build the openapi-core request for `rel_path` (relative to the version base) on the spec server."""
    url = SPEC_SERVER[api] + rel_path + (f"?{query}" if query else "")
    prepared = requests.Request("GET", url, headers={"x-api-token": TOKEN}).prepare()
    return RequestsOpenAPIRequest(prepared)


def sim_to_spec_relative(api: str, sim_path: str) -> str:
    """Strip the simulator's version prefix (FACTS §1: v1 under /v1 or /api/v1, v2 under /api/v2)."""
    for prefix in sorted(SIM_PREFIXES[api], key=len, reverse=True):
        if sim_path == prefix or sim_path.startswith(prefix + "/"):
            return sim_path[len(prefix):]
    raise AssertionError(f"{sim_path!r} is not under a {api} prefix {SIM_PREFIXES[api]}")


class PayloadResponse:
    """A response given as a status and a JSON-able body (for checking the harness itself).

    Implements the openapi-core `Response` protocol; used only on the spec's own examples.
    """

    def __init__(self, status_code: int, body: Any) -> None:
        self.status_code = status_code
        self.data = json.dumps(body).encode()
        self.content_type = "application/json"
        self.headers = {"Content-Type": "application/json"}


def validate_payload(
    api: str,
    spec_path: str,
    rel_path: str,
    query: str,
    response: Any,
) -> list[Violation]:
    """Validate one response (openapi-core `Response` protocol) against the GET operation.

    Args:
        api: "v1" or "v2".
        spec_path: spec path template the request targets (for reporting; the path finder
            resolves the operation itself, and a mismatch is reported).
        rel_path: concrete path relative to the version base, e.g. "/deals/3/flow".
        query: the query string as sent.
        response: object with `status_code`, `data` (bytes), `content_type`, `headers`.

    Returns:
        The violations found (empty when the response conforms).
    """
    status = int(response.status_code)
    url = rel_path + (f"?{query}" if query else "")

    def violation(json_path: str, message: str) -> Violation:
        return Violation(api, spec_path, url, status, json_path, message)

    operation = get_operations(api).get(spec_path)
    if operation is None:
        return [violation("$", "the spec has no GET operation with this path template")]
    ctype = (response.content_type or "").split(";")[0].strip().lower()
    if ctype != "application/json":
        return [violation("$", f"content type {response.content_type!r}, expected application/json")]
    try:
        body = json.loads(response.data)
    except ValueError as exc:
        return [violation("$", f"body is not JSON: {exc}")]

    documented = str(status) in operation.get("responses", {}) or "default" in operation.get(
        "responses", {}
    )
    out: list[Violation] = []
    if documented:
        request = spec_request(api, rel_path, query)
        for error in openapi_for(api).iter_response_errors(request, response):
            schema_errors = getattr(error.__cause__, "schema_errors", None)
            if not schema_errors:
                out.append(violation("$", f"{type(error).__name__}: {error}"))
                continue
            for schema_error in schema_errors:
                for leaf in _leaf_errors(schema_error):
                    out.append(violation(_json_path(leaf.absolute_path), leaf.message))
        flat = _flat_pagination_schema(operation, status)
        nested = (body.get("additional_data") or {}) if isinstance(body, dict) else {}
        if flat is not None and isinstance(nested, dict) and "pagination" in nested:
            # FACTS §2: validate the nested `pagination` object against the spec's flat fields.
            for err in OAS30Validator(flat).iter_errors(nested["pagination"]):
                path = ["additional_data", "pagination", *err.absolute_path]
                out.append(violation(_json_path(path), f"{err.message} (FACTS §2 flat schema)"))
        # OAS 3.0 null checks report a null twice ("None for not nullable" and "None is not of
        # type 'x'"); keep one message per path.
        nulls = {v.json_path for v in out if v.message == "None for not nullable"}
        out = [v for v in out if not (v.json_path in nulls and v.message.startswith("None is not of type"))]
    elif status >= 400:
        # Undocumented error status: FACTS §8 [RESP] error body (see ERROR_BODY_SCHEMA).
        for err in jsonschema.Draft7Validator(ERROR_BODY_SCHEMA).iter_errors(body):
            out.append(violation(_json_path(err.absolute_path), f"{err.message} (FACTS §8 error body)"))
    else:
        out.append(violation("$", f"status {status} is not documented for this operation"))
    return out


# --------------------------------------------------------------------------------------------
# Checking the harness itself on the spec's own examples (no simulator needed)
# --------------------------------------------------------------------------------------------


def _example_cases() -> list[tuple[str, str, str]]:
    cases = []
    for api, paths in NEEDED_GET.items():
        for path in paths:
            op = get_operations(api).get(path)
            if op is None:
                continue
            for status, resp in op.get("responses", {}).items():
                if "example" in resp.get("content", {}).get("application/json", {}):
                    cases.append((api, path, status))
    return cases


def _concrete(path: str, value: str = "1") -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def _example(api: str, path: str, status: str) -> Any:
    content = get_operations(api)[path]["responses"][status]["content"]["application/json"]
    return copy.deepcopy(content["example"])


def _specs_available() -> bool:
    """Whether the specs can be read at collection time (if not, the tests skip, or fail in CI)."""
    return find_spec_dir() is not None


@pytest.mark.parametrize(("api", "path", "status"),
                         _example_cases() if _specs_available() else [("v1", "/specs-missing", "200")])
def test_harness_accepts_spec_examples(api: str, path: str, status: str) -> None:
    """The spec's own examples of the needed endpoints pass the helper (with the FACTS handling)."""
    spec_dir()
    body = _example(api, path, status)
    found = validate_payload(api, path, _concrete(path), "", PayloadResponse(int(status), body))
    assert not found, "\n".join(map(str, found))


def test_harness_rejects_wrong_types_with_json_path() -> None:
    """A corrupted example is rejected, and the violation names the offending JSON path."""
    body = _example("v2", "/deals", "200")
    body["data"][0]["id"] = "not-an-int"
    body["additional_data"]["next_cursor"] = 5
    found = validate_payload("v2", "/deals", "/deals", "", PayloadResponse(200, body))
    paths = {v.json_path for v in found}
    assert "$.data[0].id" in paths, found
    assert "$.additional_data.next_cursor" in paths, found


def test_harness_keeps_v1_timestamps_strict() -> None:
    """The v1 date-time exception accepts only the documented forms."""
    good = _example("v1", "/dealFields", "200")
    assert not validate_payload("v1", "/dealFields", "/dealFields", "", PayloadResponse(200, good))
    for bad_value in ("2019-02-04", "04.02.2019 13:58", "2019-02-30 10:00:00", "yesterday"):
        body = copy.deepcopy(good)
        body["data"][0]["add_time"] = bad_value
        found = validate_payload("v1", "/dealFields", "/dealFields", "", PayloadResponse(200, body))
        assert [v.json_path for v in found] == ["$.data[0].add_time"], (bad_value, found)
    # v2 keeps the stock RFC 3339 check: the v1 form is not a v2 date-time (v2 /dealFields
    # declares options[].add_time as `format: date-time`).
    body = _example("v2", "/dealFields", "200")
    index = next(i for i, item in enumerate(body["data"]) if item.get("options"))
    body["data"][index]["options"][0]["add_time"] = "2019-02-04 13:58:03"
    found = validate_payload("v2", "/dealFields", "/dealFields", "", PayloadResponse(200, body))
    assert [v.json_path for v in found] == [f"$.data[{index}].options[0].add_time"], found
    body["data"][index]["options"][0]["add_time"] = "2019-02-04T13:58:03Z"
    assert not validate_payload("v2", "/dealFields", "/dealFields", "", PayloadResponse(200, body))


def test_harness_checks_nested_pagination_on_flat_schemas() -> None:
    """FACTS §2 handling: a wrongly typed nested `pagination` fails on flat-schema endpoints."""
    body = _example("v1", "/leads", "200")
    body["additional_data"] = {"pagination": {"start": "0", "limit": 100, "more_items_in_collection": False}}
    found = validate_payload("v1", "/leads", "/leads", "", PayloadResponse(200, body))
    assert [v.json_path for v in found] == ["$.additional_data.pagination.start"], found


def test_harness_validates_undocumented_errors_against_facts_error_body() -> None:
    """Undocumented error statuses must carry the FACTS §8 error body; documented ones use the spec."""
    good = {
        "success": False,
        "error": "Unauthorized",
        "error_info": "Please check developers.pipedrive.com",
        "data": None,
        "additional_data": None,
    }
    assert not validate_payload("v2", "/deals", "/deals", "", PayloadResponse(401, good))
    bad = {"success": False, "message": "nope"}
    found = validate_payload("v2", "/deals", "/deals", "", PayloadResponse(429, bad))
    assert found and all("FACTS §8" in v.message for v in found), found
    # /users/me documents its own 401 shape (FACTS §8): openapi-core validates it.
    me401 = {"success": False, "error": "unauthorized access", "errorCode": 401}
    assert not validate_payload("v1", "/users/me", "/users/me", "", PayloadResponse(401, me401))
    me401["errorCode"] = "401"
    found = validate_payload("v1", "/users/me", "/users/me", "", PayloadResponse(401, me401))
    assert [v.json_path for v in found] == ["$.errorCode"], found


def test_harness_rejects_undocumented_success_status_and_unknown_path() -> None:
    """A 2xx the operation does not document, or a path outside the spec, is a violation."""
    found = validate_payload("v2", "/deals", "/deals", "", PayloadResponse(204, {}))
    assert found and "not documented" in found[0].message
    found = validate_payload("v2", "/no/such/path", "/no/such/path", "", PayloadResponse(200, {}))
    assert found and "no GET operation" in found[0].message


# --------------------------------------------------------------------------------------------
# The simulator under test
# --------------------------------------------------------------------------------------------

SIZES = tuple(s.strip() for s in os.environ.get("FIDELITY_SIZES", "tiny,small,medium").split(",") if s.strip())
#: Sizes whose lists are only checked on their first page (to stay within the time budget).
FIRST_PAGE_ONLY = {"medium", "large"}
#: Upper bound on pages followed per case and prefix on the other sizes.
MAX_PAGES = 25
#: Every violation seen in this session (written to $FIDELITY_REPORT at the end).
ALL_VIOLATIONS: list[Violation] = []
#: Number of responses validated in this session, per (api, spec path, status).
VALIDATED: dict[tuple[str, str, int], int] = {}


@dataclass(frozen=True)
class Case:
    """A request to the simulator (all pages of it) and what status it must produce.

    Attributes:
        name: test id.
        api: "v1" or "v2".
        path: spec path template; `{id}` is filled with a deal id chosen by `deal`.
        params: query parameters; values may contain `{deal_ids}`, `{pipeline_id}`.
        deal: which record fills `{id}`: the deal "rich" (most child rows), "first", "bare" (no
            participants), "missing" (no such id), or "person" / "organization" (one with a
            generated field history).
        expect: the status(es) the simulator must answer with.
        token: the API token to send (None: no token header).
        paged: follow the pagination to further pages.
    """

    name: str
    api: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    deal: str = "rich"
    expect: tuple[int, ...] = (200,)
    token: str | None = TOKEN
    paged: bool = True


def _list_cases() -> list[Case]:
    v2_since = "2000-01-01T00:00:00Z"
    v1_since = "2000-01-01 00:00:00"
    cases: list[Case] = []

    def add(api: str, path: str, *param_sets: dict[str, str], **kw: Any) -> None:
        for params in param_sets or ({},):
            suffix = ",".join(f"{k}={v}" for k, v in params.items()) or "default"
            cases.append(Case(f"{api}{path}?{suffix}", api, path, params, **kw))

    small_pages = {"limit": "3"}
    for path in ("/deals", "/persons", "/organizations", "/activities"):
        add("v2", path, {}, small_pages, {"updated_since": v2_since, "limit": "7"},
            {"sort_by": "update_time", "sort_direction": "desc", "limit": "5"})
    add("v2", "/deals", {"status": "deleted"}, {"status": "won", "limit": "4"},
        {"include_option_labels": "true", "limit": "5"}, {"updated_until": "2100-01-01T00:00:00Z"})
    # include-only properties (FACTS §3) must validate when asked for
    add("v2", "/deals", {"include_fields": "products_count,first_won_time", "limit": "50"})
    add("v2", "/activities", {"include_fields": "attendees", "limit": "50"})
    add("v2", "/deals/archived", {}, small_pages)
    add("v2", "/products", {}, small_pages, {"updated_since": v2_since})
    add("v2", "/pipelines", {}, {"limit": "1"})
    add("v2", "/stages", {}, {"limit": "2"}, {"pipeline_id": "{pipeline_id}"},
        {"sort_by": "order_nr"})
    add("v2", "/projects", {}, small_pages)
    add("v2", "/projects/archived", {}, {"limit": "1"}, {"status": "open,completed,canceled"})
    add("v2", "/tasks", {}, small_pages)
    add("v2", "/deals/products", {"deal_ids": "{deal_ids}"}, {"deal_ids": "{deal_ids}", "limit": "2"})
    add("v2", "/deals/{id}/followers", {}, {"limit": "1"})
    add("v2", "/deals/{id}/products", {}, {"limit": "1"})
    for path in ("/dealFields", "/personFields", "/organizationFields", "/activityFields",
                 "/productFields", "/projectFields"):
        add("v2", path, {}, {"limit": "10"})

    add("v1", "/recents", {"since_timestamp": v1_since},
        {"since_timestamp": v1_since, "limit": "5"},
        *({"since_timestamp": v1_since, "items": item, "limit": "50"}
          for item in ("deal", "person", "organization", "activity", "product", "note", "file",
                       "user", "pipeline", "stage", "activityType", "filter")))
    for path in ("/activityTypes", "/currencies", "/users", "/users/me", "/filters", "/leadLabels",
                 "/leadSources", "/activityFields", "/noteFields", "/goals/find"):
        add("v1", path)
    add("v1", "/filters", {"type": "deals"})
    for path in ("/notes", "/files", "/callLogs", "/roles", "/leads", "/leads/archived",
                 "/dealFields", "/personFields", "/organizationFields", "/productFields",
                 "/leadFields"):
        add("v1", path, {}, {"limit": "3"})
    add("v1", "/notes", {"updated_since": v1_since, "limit": "10"}, {"start": "1000000"})
    add("v1", "/leads", {"updated_since": v2_since, "limit": "10"})
    add("v1", "/deals/{id}/flow", {}, {"limit": "3"}, {"all_changes": "1", "limit": "10"})
    add("v1", "/deals/{id}/changelog", {}, {"limit": "2"})
    add("v1", "/deals/{id}/participants", {}, {"limit": "1"})
    cases.append(Case("v1/deals/{id}/participants?deal=bare", "v1", "/deals/{id}/participants", deal="bare"))
    add("v1", "/persons/{id}/changelog", {}, {"limit": "1"}, deal="person")
    add("v1", "/organizations/{id}/changelog", {}, {"limit": "1"}, deal="organization")
    return cases


def _error_cases() -> list[Case]:
    bad = "not-the-token"
    return [
        # 401: wrong or missing token (v1 /users/me documents its own 401 body, FACTS §8).
        Case("401 v2 /deals bad token", "v2", "/deals", token=bad, expect=(401,), paged=False),
        Case("401 v2 /persons no token", "v2", "/persons", token=None, expect=(401,), paged=False),
        Case("401 v2 /dealFields bad token", "v2", "/dealFields", token=bad, expect=(401,), paged=False),
        Case("401 v1 /users/me bad token", "v1", "/users/me", token=bad, expect=(401,), paged=False),
        Case("401 v1 /recents no token", "v1", "/recents", {"since_timestamp": "2000-01-01 00:00:00"},
             token=None, expect=(401,), paged=False),
        Case("401 v1 /deals/{id}/flow bad token", "v1", "/deals/{id}/flow", token=bad, expect=(401,),
             paged=False),
        # 400: invalid parameters.
        Case("400 v2 /deals limit>500", "v2", "/deals", {"limit": "501"}, expect=(400,), paged=False),
        Case("400 v2 /persons limit=abc", "v2", "/persons", {"limit": "abc"}, expect=(400,), paged=False),
        Case("400 v2 /activities bad cursor", "v2", "/activities", {"cursor": "%%%not-a-cursor"},
             expect=(400,), paged=False),
        Case("400 v2 /deals/products no deal_ids", "v2", "/deals/products", expect=(400,), paged=False),
        Case("400 v1 /recents no since_timestamp", "v1", "/recents", expect=(400,), paged=False),
        Case("400 v1 /notes start=abc", "v1", "/notes", {"start": "abc"}, expect=(400,), paged=False),
        # 404: a deal that does not exist.
        Case("404 v1 /deals/{id}/flow", "v1", "/deals/{id}/flow", deal="missing", expect=(404,), paged=False),
        Case("404 v1 /deals/{id}/changelog", "v1", "/deals/{id}/changelog", deal="missing", expect=(404,),
             paged=False),
        Case("404 v1 /deals/{id}/participants", "v1", "/deals/{id}/participants", deal="missing",
             expect=(404,), paged=False),
        Case("404 v2 /deals/{id}/followers", "v2", "/deals/{id}/followers", deal="missing", expect=(404,),
             paged=False),
        Case("404 v2 /deals/{id}/products", "v2", "/deals/{id}/products", deal="missing", expect=(404,),
             paged=False),
        Case("404 v1 /persons/{id}/changelog", "v1", "/persons/{id}/changelog", deal="missing", expect=(404,),
             paged=False),
        Case("404 v1 /organizations/{id}/changelog", "v1", "/organizations/{id}/changelog", deal="missing",
             expect=(404,), paged=False),
    ]


LIST_CASES = _list_cases()
ERROR_CASES = _error_cases()
MISSING_DEAL_ID = 987_654_321


@dataclass
class Sim:
    """A running simulator plus what the cases need to know about its account."""

    size: str
    account: Any
    server: Any
    session: requests.Session
    deal_ids: dict[str, int]
    pipeline_id: int
    some_deal_ids: str

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT` of the running server."""
        return str(self.server.base_url)


def _pick_deals(account: Any) -> tuple[dict[str, int], str]:
    """Choose the deal whose flow/changelog/participants/followers/products are richest (and a
    person and an organization with a field history)."""
    deals = [d for d in account.records("deals") if not d.get("is_deleted") and not d.get("is_archived")]
    assert deals, "the generated account has no deals"
    best, best_score = deals[0]["id"], -1
    for deal in deals[:300]:
        did = deal["id"]
        score = sum(
            min(len(getter(did)), 5)
            for getter in (account.deal_flow, account.deal_changelog, account.deal_participants,
                           account.deal_followers, account.deal_products)
        )
        if score > best_score:
            best, best_score = did, score
    ids = ",".join(str(d["id"]) for d in deals[:20])
    bare = next(d["id"] for d in deals if not account.deal_participants(d["id"]))
    with_history = {e: account.edge_cases[f"{e}s:with_history"][0] for e in ("person", "organization")}
    return {"rich": best, "first": deals[0]["id"], "bare": bare, "missing": MISSING_DEAL_ID, **with_history}, ids


@pytest.fixture(scope="module", params=SIZES)
def sim(request: pytest.FixtureRequest) -> Iterator[Sim]:
    """A simulator for one account size, on 127.0.0.1 (module scope: one server per size)."""
    from pipedrive_sim import Account, SimServer  # noqa: PLC0415

    spec_dir()
    account = Account.generate(size=request.param, seed=11)
    deal_ids, some = _pick_deals(account)
    pipelines = account.records("pipelines")
    # Burst limit and budget are lifted here: the 429s are exercised by their own test.
    with SimServer(account, token=TOKEN, plan="ultimate", burst_limit=1_000_000,
                   daily_budget=10**9) as server, requests.Session() as session:
        yield Sim(request.param, account, server, session, deal_ids,
                  pipelines[0]["id"] if pipelines else 1, some)


def _resolve(sim: Sim, case: Case) -> tuple[str, dict[str, str]]:
    rel = case.path.replace("{id}", str(sim.deal_ids[case.deal]))
    params = {
        k: v.replace("{deal_ids}", sim.some_deal_ids).replace("{pipeline_id}", str(sim.pipeline_id))
        for k, v in case.params.items()
    }
    return rel, params


def fetch_and_validate(sim: Sim, case: Case, prefix: str, rel: str, params: dict[str, str]) -> tuple[requests.Response, list[Violation]]:
    """GET one page from the simulator and validate it; a burst 429 is validated, then retried."""
    headers = {"x-api-token": case.token} if case.token is not None else {}
    query = urlencode(params)
    url = f"{sim.base_url}{prefix}{rel}" + (f"?{query}" if query else "")
    violations: list[Violation] = []
    for _attempt in range(5):
        resp = sim.session.get(url, headers=headers, timeout=60)
        sent_query = urlsplit(resp.url).query
        found = validate_payload(case.api, case.path, rel, sent_query, RequestsOpenAPIResponse(resp))
        sent_url = urlsplit(resp.url).path + (f"?{sent_query}" if sent_query else "")
        found = [replace(v, url=sent_url) for v in found]
        VALIDATED[(case.api, case.path, resp.status_code)] = VALIDATED.get((case.api, case.path, resp.status_code), 0) + 1
        violations.extend(found)
        if resp.status_code == 429 and 429 not in case.expect:
            time.sleep(float(resp.headers.get("x-ratelimit-reset", "1")))
            continue
        break
    return resp, violations


def _next_page(api: str, params: dict[str, str], body: Any) -> dict[str, str] | None:
    """The params of the next page, or None at the end (v2/v1 cursor or v1 offset)."""
    additional = body.get("additional_data") if isinstance(body, dict) else None
    if not isinstance(additional, dict):
        return None
    if additional.get("next_cursor"):
        return {**params, "cursor": str(additional["next_cursor"])}
    page = additional.get("pagination") if isinstance(additional.get("pagination"), dict) else additional
    if page.get("more_items_in_collection") and page.get("next_start") is not None:
        return {**params, "start": str(page["next_start"])}
    return None


def run_case(sim: Sim, case: Case) -> tuple[list[Violation], int]:
    """Run one case under every prefix of its version and all its pages.

    Returns:
        The violations and the number of responses validated.
    """
    violations: list[Violation] = []
    responses = 0
    rel, base_params = _resolve(sim, case)
    for prefix in SIM_PREFIXES[case.api]:
        params: dict[str, str] | None = dict(base_params)
        pages = 0
        while params is not None:
            resp, found = fetch_and_validate(sim, case, prefix, rel, params)
            responses += 1
            pages += 1
            violations.extend(found)
            if resp.status_code not in case.expect:
                sent = urlsplit(resp.url)
                violations.append(Violation(
                    case.api, case.path, sent.path + (f"?{sent.query}" if sent.query else ""),
                    resp.status_code, "$",
                    f"expected status {'/'.join(map(str, case.expect))}, got {resp.status_code}: {resp.text[:200]}",
                ))
                break
            if not case.paged or sim.size in FIRST_PAGE_ONLY or pages >= MAX_PAGES:
                break
            try:
                params = _next_page(case.api, params, resp.json())
            except ValueError:
                break
    ALL_VIOLATIONS.extend(violations)
    return violations, responses


def _fmt(violations: list[Violation], limit: int = 25) -> str:
    unique = list(dict.fromkeys(f"{v.json_path}: {v.message} [{v.status}] {v.url}" for v in violations))
    more = f"\n... and {len(unique) - limit} more" if len(unique) > limit else ""
    return "\n".join(unique[:limit]) + more


@pytest.mark.parametrize("case", LIST_CASES, ids=[c.name for c in LIST_CASES])
def test_list_responses_match_spec(sim: Sim, case: Case) -> None:
    """Every page of every list endpoint (both v1 prefixes) validates against the spec."""
    violations, responses = run_case(sim, case)
    assert responses >= len(SIM_PREFIXES[case.api])
    assert not violations, f"{case.name} ({sim.size}):\n{_fmt(violations)}"


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c.name for c in ERROR_CASES])
def test_error_responses_match_spec(sim: Sim, case: Case) -> None:
    """Error responses have the documented status and body (spec schema, else FACTS §8 body)."""
    violations, _ = run_case(sim, case)
    assert not violations, f"{case.name} ({sim.size}):\n{_fmt(violations)}"


def test_unknown_path_error_body(sim: Sim) -> None:
    """A path outside the API answers 404 with the FACTS §8 error body."""
    for url in (f"{sim.base_url}/api/v2/noSuchThing", f"{sim.base_url}/v1/noSuchThing"):
        resp = sim.session.get(url, headers={"x-api-token": TOKEN}, timeout=30)
        assert resp.status_code == 404, (url, resp.status_code, resp.text[:200])
        errors = [e.message for e in jsonschema.Draft7Validator(ERROR_BODY_SCHEMA).iter_errors(resp.json())]
        assert not errors, (url, errors)


def test_burst_429_matches_error_body() -> None:
    """Exceeding the 2-second burst limit yields 429s whose bodies match FACTS §8 (both versions)."""
    from pipedrive_sim import Account, SimServer  # noqa: PLC0415

    spec_dir()
    account = Account.generate(size="tiny", seed=11)
    # plan "lite": 20 requests per rolling 2 s window per API token (FACTS §7).
    with SimServer(account, token=TOKEN, plan="lite", seats=1000) as server, requests.Session() as session:
        sim = Sim("tiny", account, server, session, {"rich": 1, "first": 1, "bare": 1, "missing": MISSING_DEAL_ID}, 1, "1")
        seen: dict[str, int] = {}
        violations: list[Violation] = []
        for case in (Case("429 v2 /pipelines", "v2", "/pipelines", expect=(200, 429), paged=False),
                     Case("429 v1 /users", "v1", "/users", expect=(200, 429), paged=False)):
            for _ in range(30):
                resp, found = fetch_and_validate(sim, case, SIM_PREFIXES[case.api][-1], case.path, {})
                violations.extend(found)
                seen[case.api] = seen.get(case.api, 0) + (resp.status_code == 429)
                if resp.status_code == 429:
                    for header in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
                        assert header in resp.headers, (case.name, header)
            time.sleep(2.1)
        ALL_VIOLATIONS.extend(violations)
        assert seen.get("v1") and seen.get("v2"), f"no 429 after 30 rapid requests: {seen}"
        assert not violations, _fmt(violations)


def test_budget_429_matches_error_body() -> None:
    """A spent daily token budget yields 429s with the FACTS §8 body on both versions (FACTS §7)."""
    from pipedrive_sim import Account, SimServer  # noqa: PLC0415

    spec_dir()
    account = Account.generate(size="tiny", seed=11)
    # /api/v2/deals costs 10 tokens: a 25-token budget is spent after two or three requests.
    with SimServer(account, token=TOKEN, burst_limit=1_000_000, daily_budget=25) as server, \
            requests.Session() as session:
        sim = Sim("tiny", account, server, session, {"rich": 1, "first": 1, "bare": 1, "missing": MISSING_DEAL_ID}, 1, "1")
        statuses = []
        violations: list[Violation] = []
        for case in (Case("budget v2 /deals", "v2", "/deals", expect=(200, 429), paged=False),
                     Case("budget v2 /deals", "v2", "/deals", expect=(200, 429), paged=False),
                     Case("budget v2 /deals", "v2", "/deals", expect=(200, 429), paged=False),
                     Case("budget v1 /users", "v1", "/users", expect=(200, 429), paged=False)):
            for prefix in SIM_PREFIXES[case.api]:
                resp, found = fetch_and_validate(sim, case, prefix, case.path, {})
                statuses.append(resp.status_code)
                violations.extend(found)
        ALL_VIOLATIONS.extend(violations)
        # Whether a request costing more than the remainder still passes is not documented, so
        # only the shape is asserted: some 200s, then 429 for everything (v1 included).
        first = statuses.index(429) if 429 in statuses else len(statuses)
        assert 0 < first < len(statuses) - 1, statuses
        assert set(statuses[first:]) == {429}, statuses
        assert not violations, _fmt(violations)


def test_needed_get_operations_exist_in_spec() -> None:
    """Each needed endpoint is a GET operation of the current spec (catches typos in NEEDED_GET)."""
    missing = [(api, p) for api, paths in NEEDED_GET.items() for p in paths if p not in get_operations(api)]
    assert not missing, missing


def test_every_needed_endpoint_is_served_and_covered(sim: Sim) -> None:
    """The simulator serves all needed GET operations, each answering 200 under every prefix.

    `test_every_served_route_has_fidelity_cases` prints the spec GET operations not served.
    """
    not_served = []
    for api, paths in NEEDED_GET.items():
        for path in paths:
            params = {"since_timestamp": "2000-01-01 00:00:00"} if path == "/recents" else {}
            if path == "/deals/products":
                params = {"deal_ids": sim.some_deal_ids}
            case = Case(f"served {api}{path}", api, path, params, paged=False)
            for prefix in SIM_PREFIXES[api]:
                resp, _ = fetch_and_validate(sim, case, prefix, _resolve(sim, case)[0], params)
                if resp.status_code != 200:
                    not_served.append((api, prefix + path, resp.status_code))
    covered = {(c.api, c.path) for c in LIST_CASES}
    uncovered = [(api, p) for api, paths in NEEDED_GET.items() for p in paths if (api, p) not in covered]
    assert not uncovered, f"needed endpoints without a fidelity case: {uncovered}"
    assert not not_served, f"needed GET operations the simulator does not serve: {not_served}"


def test_every_served_route_has_fidelity_cases() -> None:
    """Every endpoint the simulator implements (its route table) is exercised by a list case.

    Also prints the spec GET operations the simulator does not serve (`-s` to see them).
    """
    from pipedrive_sim.http.routes import ROUTES  # noqa: PLC0415

    served = {(r.api, r.path) for r in ROUTES}
    covered = {(c.api, c.path) for c in LIST_CASES}
    assert not served - covered, f"served endpoints without a fidelity case: {sorted(served - covered)}"
    not_in_spec = sorted(op for op in served if op[1] not in get_operations(op[0]))
    assert not not_in_spec, f"served endpoints that are not GET operations of the spec: {not_in_spec}"
    needed = {(api, p) for api, paths in NEEDED_GET.items() for p in paths}
    assert not needed - served, f"needed endpoints missing from the route table: {sorted(needed - served)}"
    unserved = sorted((api, p) for api in SPEC_FILES for p in get_operations(api) if (api, p) not in served)
    print(f"\n{len(unserved)} spec GET operations not served by the simulator:")
    for api, path in unserved:
        print(f"  {api} GET {path}")


def test_server_charges_spec_token_costs(sim: Sim) -> None:
    """Each served request is charged its operation's `x-token-cost` (server.log, real requests)."""
    from pipedrive_sim.http.routes import token_cost  # noqa: PLC0415

    sim.server.reset_log()
    case = Case("cost v1 /deals/{id}/flow", "v1", "/deals/{id}/flow", paged=False)
    for case in (case, Case("cost v2 /deals", "v2", "/deals", paged=False),
                 Case("cost v2 /pipelines", "v2", "/pipelines", paged=False),
                 Case("cost v1 /users/me", "v1", "/users/me", paged=False)):
        rel, params = _resolve(sim, case)
        for prefix in SIM_PREFIXES[case.api]:
            resp, _ = fetch_and_validate(sim, case, prefix, rel, params)
            assert resp.status_code == 200
    # The server may append the log entry just after sending the response
    # (docs/sim-http-requests.md item 1), so give it a moment.
    deadline = time.monotonic() + 5
    while True:
        entries = [e for e in sim.server.log if e.status == 200]
        if len(entries) >= 6 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert len(entries) == 6, sim.server.log
    for entry in entries:
        api, template = entry.endpoint.split(" ", 1)
        assert entry.token_cost == token_cost(api, "GET", template), entry


# --------------------------------------------------------------------------------------------
# Deal flow items: each `object` kind's `data` against the spec schema of that object
# --------------------------------------------------------------------------------------------

#: GET /deals/{id}/flow declares `data` only as `type: object`. The spec documents the objects
#: elsewhere; each kind is validated against that schema (`NULL_IN_REAL_API` applies there too):
#: kind -> (api, operation, where): "list" = the operation's `data[]` item, "single" = its
#: `data`, otherwise the `/recents` branch whose `item` is that value. None: the spec names the
#: kind (the operation's `object` description / `items` parameter) but documents no shape.
FLOW_DATA_SOURCES: dict[str, tuple[str, str, str] | None] = {
    "deal": ("v1", "/recents", "deal"),
    "activity": ("v1", "/recents", "activity"),
    "plannedActivity": ("v1", "/recents", "activity"),
    "note": ("v1", "/notes", "list"),
    "file": ("v1", "/files", "list"),
    "call": ("v1", "/callLogs", "list"),
    "follower": ("v1", "/deals/{id}/followers", "list"),
    "participant": ("v1", "/deals/{id}/participants", "list"),
    "mailMessage": ("v1", "/mailbox/mailMessages/{id}", "single"),
    "invoice": None,
    "document": None,
}
#: `dealChange` has no schema of its own: its keys and their types come from the spec's example
#: of GET /deals/{id}/flow (the other values vary with the changed field).
DEAL_CHANGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "item_id", "user_id", "field_key", "old_value", "new_value", "is_bulk_update_flag",
                 "log_time", "change_source", "change_source_user_agent", "additional_data"],
    "properties": {
        "id": {"type": "integer"}, "item_id": {"type": "integer"}, "user_id": {"type": "integer"},
        "field_key": {"type": "string", "minLength": 1}, "log_time": {"type": "string", "format": "date-time"},
        "change_source": {"type": "string"}, "change_source_user_agent": {"type": "string", "nullable": True},
        "additional_data": {"type": "array"},
    },
}
_V1_FORMATS = jsonschema.FormatChecker(formats=())
_V1_FORMATS.checkers = dict(oas30_format_checker.checkers)
_V1_FORMATS.checks("date-time")(_rfc3339_or_v1_timestamp)  # FACTS §10, as for whole responses


def _operation_data_schema(api: str, path: str, where: str) -> dict[str, Any]:
    """The schema of one record of a GET operation's 200 response (`amended_spec`)."""
    schema = amended_spec(api)["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    data = _find_property(schema, "data")
    assert data is not None, (api, path)
    if where == "list":
        return data["items"]
    if where == "single":
        return data
    branch = next(b for b in data["items"]["anyOf"] if b["properties"]["item"].get("enum") == [where])
    return branch["properties"]["data"]


@lru_cache(maxsize=None)
def flow_data_validator(kind: str) -> OAS30Validator:
    """Validator of the `data` of a flow item of `kind` (KeyError: a kind the spec does not name)."""
    if kind == "dealChange":
        return OAS30Validator(DEAL_CHANGE_SCHEMA, format_checker=_V1_FORMATS)
    source = FLOW_DATA_SOURCES[kind]
    schema = {"type": "object"} if source is None else _operation_data_schema(*source)
    return OAS30Validator(schema, format_checker=_V1_FORMATS)


def flow_item_violations(item: Any, where: str) -> list[str]:
    """Problems of one flow item: envelope keys, v1 timestamp, known kind, `data` shape."""
    if not isinstance(item, dict) or set(item) != {"object", "timestamp", "data"}:
        return [f"{where}: not an {{object, timestamp, data}} item: {str(item)[:120]}"]
    out = []
    if not isinstance(item["timestamp"], str) or not _V1_TIMESTAMP.match(item["timestamp"]):
        out.append(f"{where}.timestamp: {item['timestamp']!r} is not a v1 timestamp")
    if item["object"] != "dealChange" and item["object"] not in FLOW_DATA_SOURCES:
        return [*out, f"{where}.object: {item['object']!r} is not a kind the spec names"]
    errors = [(f"{where}.data{_json_path(e.absolute_path)[1:]}", e.message)
              for e in flow_data_validator(item["object"]).iter_errors(item["data"])]
    nulls = {path for path, message in errors if message == "None for not nullable"}  # reported twice
    out += [f"{path} ({item['object']}): {message}" for path, message in errors
            if not (path in nulls and message.startswith("None is not of type"))]
    return out


def test_harness_flow_items_are_checked_per_kind() -> None:
    """The spec's own flow example passes the per-kind check; broken items fail at their path."""
    items = _example("v1", "/deals/{id}/flow", "200")["data"]
    assert {i["object"] for i in items} == {"dealChange", "activity", "mailMessage"}
    assert not [v for k, i in enumerate(items) for v in flow_item_violations(i, f"$.data[{k}]")]
    change, activity, mail_msg = (copy.deepcopy(i) for i in items)
    change["data"]["item_id"] = "120"
    activity["data"]["done"] = "no"
    activity["data"]["title"] = None  # not a documented property: anything goes
    mail_msg["data"]["read_flag"] = 2
    mail_msg["object"] = "telegram"
    assert [v.split(" ")[0] for v in flow_item_violations(change, "$")] == ["$.data.item_id"]
    assert [v.split(" ")[0] for v in flow_item_violations(activity, "$")] == ["$.data.done"]
    assert [v.split(":")[0] for v in flow_item_violations(mail_msg, "$")] == ["$.object"]
    mail_msg["object"] = "mailMessage"
    assert [v.split(" ")[0] for v in flow_item_violations(mail_msg, "$")] == ["$.data.read_flag"]
    activity = copy.deepcopy(items[1])
    activity["data"]["deal_id"] = None  # NULL_IN_REAL_API (via /recents): allowed
    activity["data"]["subject"] = None  # not listed: fails
    assert [v.split(" ")[0] for v in flow_item_violations(activity, "$")] == ["$.data.subject"]


def _flow_deals(account: Any) -> list[int]:
    """A few listed deals whose flows together contain every kind the simulator produces."""
    deals = [d["id"] for d in account.records("deals") if not d.get("is_archived")]
    chosen: list[int] = []
    seen: set[str] = set()
    every = {"dealChange", *FLOW_DATA_SOURCES}
    for deal_id in deals:
        kinds = {i["object"] for i in account.deal_flow(deal_id)}
        if kinds - seen or len(chosen) < 3:
            chosen.append(deal_id)
            seen |= kinds
        if seen >= every and len(chosen) >= 3:
            break
    return chosen


def test_deal_flow_serves_every_kind_shaped_per_spec(sim: Sim) -> None:
    """Every flow `object` kind the spec names is served (tiny: as far as the data allows),
    each item's `data` matches the spec's schema of that object, and `items`/`all_changes`
    select per the spec."""
    violations: list[str] = []
    served: set[str] = set()
    for deal_id in _flow_deals(sim.account):
        url = f"{sim.base_url}/v1/deals/{deal_id}/flow"
        every = sim.session.get(url, params={"all_changes": "1", "limit": "500"},
                                headers={"x-api-token": TOKEN}, timeout=30).json()["data"]
        served |= {i["object"] for i in every}
        for k, item in enumerate(every):
            violations += flow_item_violations(item, f"deal {deal_id} $.data[{k}]")
        default = sim.session.get(url, params={"limit": "500"}, headers={"x-api-token": TOKEN}, timeout=30)
        custom = [i for i in every
                  if i["object"] == "dealChange" and re.fullmatch(r"[0-9a-f]{40}", i["data"]["field_key"])]
        assert len(default.json()["data"]) == len(every) - len(custom), deal_id
        picked = sim.session.get(url, params={"all_changes": "1", "items": "change,note,dealFollower",
                                              "limit": "500"}, headers={"x-api-token": TOKEN}, timeout=30).json()["data"]
        assert picked == [i for i in every if i["object"] in ("dealChange", "note", "follower")], deal_id
    assert not violations, "\n".join(violations[:25])
    expected = {"dealChange", *FLOW_DATA_SOURCES}
    if sim.size != "tiny":
        assert served == expected, f"flow kinds not served: {sorted(expected - served)}"
    assert {"dealChange", "deal", "activity", "follower", "participant"} <= served


@pytest.fixture(scope="module", autouse=True)
def _write_report() -> Iterator[None]:
    """Write all violations of the module to $FIDELITY_REPORT (JSON) when it is set."""
    yield
    target = os.environ.get("FIDELITY_REPORT")
    if target:
        Path(target).write_text(json.dumps({
            "validated": {f"{a} {p} {s}": n for (a, p, s), n in sorted(VALIDATED.items())},
            "violations": [asdict(v) for v in ALL_VIOLATIONS],
        }, indent=1))


COMPLETENESS_CASES = [
    c for c in LIST_CASES
    if (not c.params or c.path == "/deals/products" and "limit" not in c.params)
    and (not _specs_available() or completeness_applies(c.api, c.path))
]


def _count_at(node: Any, parts: list[str]) -> int:
    """Count the JSON objects at a wildcard path (`["data", "*", "location"]`) of a body."""
    if not parts:
        return 1 if isinstance(node, dict) else 0
    head, rest = parts[0], parts[1:]
    if head == "*":
        return sum(_count_at(item, rest) for item in node) if isinstance(node, list) else 0
    return _count_at(node.get(head), rest) if isinstance(node, dict) else 0


def _pattern(json_path: str) -> str:
    return re.sub(r"\[\d+\]", "[*]", json_path)


def _pattern_parts(pattern: str) -> list[str]:
    return [p for p in re.split(r"\.|\[|\]", pattern.removeprefix("$")) if p]


#: The completeness check needs an account with some variety: tiny has a handful of records.
COMPLETENESS_SIZES = [s for s in SIZES if s == "small"] or list(SIZES[:1])


@pytest.mark.parametrize("sim", COMPLETENESS_SIZES, indirect=True)
@pytest.mark.parametrize("case", COMPLETENESS_CASES, ids=[c.name for c in COMPLETENESS_CASES])
def test_records_carry_every_documented_property(sim: Sim, case: Case) -> None:
    """Each documented record property appears in at least one record of the listing.

    Stricter than the spec's schemas (which mark almost nothing `required`), so it is applied
    only to operations whose own 200 example carries every documented property (openapi-core's
    `response_properties_default_policy = "required"` passes on it): there the spec shows what a
    complete record looks like. The data layer sends every documented key (null when there is
    no value, see `NULL_IN_REAL_API`); a property absent from every record of the listing means
    the simulator never produces it.
    Only properties under `$.data` (the records) are checked; all pages are read (first page
    only for the large sizes).
    """
    assert completeness_applies(case.api, case.path)
    rel, params = _resolve(sim, case)
    missing: dict[tuple[str, str], int] = {}
    parents: dict[str, int] = {}
    examples: dict[tuple[str, str], Violation] = {}
    bodies: list[Any] = []
    page_params: dict[str, str] | None = dict(params)
    pages = 0
    while page_params is not None and pages < MAX_PAGES:
        resp, _ = fetch_and_validate(sim, case, SIM_PREFIXES[case.api][-1], rel, page_params)
        assert resp.status_code == 200, resp.text[:200]
        body = resp.json()
        pages += 1
        found = missing_documented_properties(case.api, case.path, rel, urlsplit(resp.url).query,
                                              RequestsOpenAPIResponse(resp))
        for v in found:
            pattern = _pattern(v.json_path)
            if not pattern.startswith("$.data"):
                continue
            prop = v.message.split("'")[1]
            missing[(pattern, prop)] = missing.get((pattern, prop), 0) + 1
            examples.setdefault((pattern, prop), v)
        bodies.append(body)
        if sim.size in FIRST_PAGE_ONLY:
            break
        page_params = _next_page(case.api, page_params, body)
    for pattern in {p for p, _ in missing}:
        parents[pattern] = sum(_count_at(b, _pattern_parts(pattern)) for b in bodies)
    never = [
        replace(examples[key], json_path=key[0],
                message=f"documented property '{key[1]}' is absent from all {parents[key[0]]} "
                        f"objects at {key[0]} ({pages} page(s); completeness)")
        for key, count in sorted(missing.items()) if count >= parents.get(key[0], 0)
    ]
    ALL_VIOLATIONS.extend(never)
    assert not never, f"{case.name} ({sim.size}):\n{_fmt(never)}"


def test_harness_allows_null_next_cursor_only() -> None:
    """FACTS §2 handling: `next_cursor: null` (last page) passes; other non-strings still fail."""
    body = _example("v2", "/deals", "200")
    body["additional_data"]["next_cursor"] = None
    assert not validate_payload("v2", "/deals", "/deals", "", PayloadResponse(200, body))
    body["additional_data"]["next_cursor"] = ["x"]
    found = validate_payload("v2", "/deals", "/deals", "", PayloadResponse(200, body))
    assert {v.json_path for v in found} == {"$.additional_data.next_cursor"}, found


def test_harness_allows_listed_real_api_nulls_only() -> None:
    """`NULL_IN_REAL_API`: a listed property may be null; the same null elsewhere still fails."""
    body = _example("v2", "/deals", "200")
    for name in NULL_IN_REAL_API[("v2", "/deals")]:
        body["data"][0][name] = None
    assert not validate_payload("v2", "/deals", "/deals", "", PayloadResponse(200, body))
    for name in ("title", "stage_id", "add_time"):  # non-nullable and not listed
        broken = copy.deepcopy(body)
        broken["data"][0][name] = None
        found = validate_payload("v2", "/deals", "/deals", "", PayloadResponse(200, broken))
        assert [(v.json_path, v.message) for v in found] == [(f"$.data[0].{name}", "None for not nullable")], found
    # listed for /activities only: a null `deal_id` on a v2 deal-product row still fails
    rows = _example("v2", "/deals/products", "200")
    rows["data"][0]["deal_id"] = None
    found = validate_payload("v2", "/deals/products", "/deals/products", "", PayloadResponse(200, rows))
    assert [v.json_path for v in found] == ["$.data[0].deal_id"], found


def _declared(node: Any, name: str) -> list[dict[str, Any]]:
    """Every declaration of property `name` in a schema tree."""
    if isinstance(node, list):
        return [d for value in node for d in _declared(value, name)]
    if not isinstance(node, dict):
        return []
    own = [(node.get("properties") or {}).get(name)] if name in (node.get("properties") or {}) else []
    return [d for d in own if isinstance(d, dict)] + [d for value in node.values() for d in _declared(value, name)]


def test_null_allowlist_is_narrow() -> None:
    """Each `NULL_IN_REAL_API` entry names a property the operation declares non-nullable (an
    entry the spec already allows, or does not declare, would be dead weight) and gives a reason."""
    dead = []
    for (api, path), names in NULL_IN_REAL_API.items():
        schema = get_operations(api)[path]["responses"]["200"]
        for name, reason in names.items():
            declared = _declared(schema, name)
            if not reason or not declared or all(d.get("nullable") for d in declared):
                dead.append((api, path, name))
    assert not dead, dead


def test_harness_completeness_check_reports_missing_property() -> None:
    """The completeness check names a documented property that a record lacks."""
    body = _example("v2", "/deals", "200")
    assert not missing_documented_properties("v2", "/deals", "/deals", "", PayloadResponse(200, body))
    del body["data"][0]["person_id"]
    found = missing_documented_properties("v2", "/deals", "/deals", "", PayloadResponse(200, body))
    assert [(v.json_path, v.message) for v in found] == [("$.data[0]", "'person_id' is a required property")]


@pytest.mark.parametrize(("api", "path", "prefix"), [
    ("v2", "/deals", "/api/v2"), ("v2", "/activities", "/api/v2"), ("v1", "/leads", "/api/v1"),
    ("v1", "/notes", "/v1"), ("v1", "/dealFields", "/v1"), ("v1", "/users", "/api/v1"),
])
def test_corrupted_simulator_payload_is_rejected(sim: Sim, api: str, path: str, prefix: str) -> None:
    """Guard against a vacuous pass: a real simulator page passes, the same page with one
    record's `id` turned into a list fails at exactly that path."""
    resp = sim.session.get(f"{sim.base_url}{prefix}{path}", headers={"x-api-token": TOKEN}, timeout=30)
    assert resp.status_code == 200, resp.text[:200]
    body = resp.json()
    assert not validate_payload(api, path, path, "", PayloadResponse(200, body))
    assert body["data"], f"{path} returned no records to corrupt"
    body["data"][0]["id"] = [body["data"][0]["id"]]
    found = validate_payload(api, path, path, "", PayloadResponse(200, body))
    assert "$.data[0].id" in {v.json_path for v in found}, found
