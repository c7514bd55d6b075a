"""The sandbox's ShipEngine answers conform to ShipEngine's own OpenAPI document.

If they do, a connector that works against the sandbox parses what the real API sends. The spec
lives in the shared folder (POLICYDESK_SHARED, else <repo>/../shared); without it these tests skip.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SHARED = Path(os.environ.get("POLICYDESK_SHARED") or Path(__file__).resolve().parents[2] / "shared")
SPEC = SHARED / "specs" / "shipengine" / "openapi.yaml"
SPEC_URI = "urn:shipengine-openapi"

pytestmark = pytest.mark.skipif(not SPEC.exists(), reason=f"ShipEngine OpenAPI document not found at {SPEC}")


def _drop_ineffective_additional_properties(node: Any) -> None:
    """`additionalProperties: false` beside `allOf` and no `properties` rejects every property under
    JSON Schema's rules (it only sees sibling `properties`), though the spec means "nothing beyond the
    allOf members". Those members (tracking_information) carry their own additionalProperties: false,
    so dropping the ineffective copy keeps the check strict."""
    if isinstance(node, dict):
        if node.get("additionalProperties") is False and "allOf" in node and "properties" not in node:
            del node["additionalProperties"]
        for value in node.values():
            _drop_ineffective_additional_properties(value)
    elif isinstance(node, list):
        for value in node:
            _drop_ineffective_additional_properties(value)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    document = yaml.safe_load(SPEC.read_text())
    _drop_ineffective_additional_properties(document)
    return document


def validator(spec: dict[str, Any], pointer: str) -> OAS30ReadValidator:
    registry = Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT4))
    return OAS30ReadValidator(
        {"$ref": f"{SPEC_URI}#{pointer}"}, registry=registry, format_checker=oas30_format_checker
    )


def response_schema(spec: dict[str, Any], status: str) -> OAS30ReadValidator:
    """The schema the spec declares for GET /v1/tracking answering `status`."""
    answer = spec["paths"]["/v1/tracking"]["get"]["responses"][status]
    if "$ref" in answer:
        return validator(spec, answer["$ref"].lstrip("#") + "/content/application~1json/schema")
    return validator(
        spec, "/paths/~1v1~1tracking/get/responses/" + status + "/content/application~1json/schema"
    )


@pytest.fixture
def track(sandbox, sandbox_api):
    base = f"{sandbox.url}/shipengine"
    key = sandbox.env()["SHIPENGINE_API_KEY"]

    def call(params: dict[str, str], api_key: str | None = key):
        headers = {"API-Key": api_key} if api_key else {}
        return sandbox_api.get(f"{base}/v1/tracking", params=params, headers=headers)

    return call


@pytest.mark.parametrize(
    ("carrier", "number", "status_code"),
    [
        ("ups", "1Z999SE10000001005", "AC"),
        ("stamps_com", "9405511899220000001006", "IT"),
        ("fedex", "771000001008", "AT"),
        ("stamps_com", "9405511899220000001009", "DE"),
        ("ups", "1Z999SE10000001010", "SP"),
        ("fedex", "771000001013", "EX"),
        ("stamps_com", "9405511899220000001014", "EX"),
        ("stamps_com", "9405511899220000001021", "NY"),
    ],
)
def test_tracking_logs_match_get_tracking_log_response_body(spec, track, carrier, number, status_code):
    response = track({"carrier_code": carrier, "tracking_number": number})

    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == status_code
    response_schema(spec, "200").validate(body)


@pytest.mark.parametrize(
    ("params", "status", "error_code"),
    [
        ({"carrier_code": "ups"}, "400", "field_value_required"),
        ({"carrier_code": "pigeon_post", "tracking_number": "1"}, "400", "invalid_field_value"),
        ({"carrier_code": "ups", "tracking_number": "1Z000000000000000"}, "404", "invalid_identifier"),
    ],
)
def test_errors_match_the_declared_error_responses(spec, track, params, status, error_code):
    response = track(params)

    assert response.status_code == int(status)
    body = response.json()
    assert body["errors"][0]["error_code"] == error_code
    response_schema(spec, status).validate(body)


def test_auth_and_rate_limit_errors_use_the_shared_error_body(spec, track, sandbox_api):
    errors = validator(spec, "/components/schemas/error_response_body")

    denied = track({"carrier_code": "ups", "tracking_number": "1Z999SE10000001005"}, api_key="wrong")
    assert denied.status_code == 401
    errors.validate(denied.json())

    sandbox_api.post(
        f"{sandbox_api.base_url}/_sandbox/faults",
        json={"platform": "shipengine", "status": 429, "retry_after": 7},
    ).raise_for_status()
    throttled = track({"carrier_code": "ups", "tracking_number": "1Z999SE10000001005"})
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "7")
    errors.validate(throttled.json())


def test_the_check_is_strict_enough_to_catch_drift(spec, track):
    """Guard against a vacuous check: plausible mistakes in a tracking log must fail validation."""
    good = track({"carrier_code": "ups", "tracking_number": "1Z999SE10000001007"}).json()
    schema = response_schema(spec, "200")

    def mutated(change) -> dict[str, Any]:
        body = copy.deepcopy(good)
        change(body)
        return body

    mistakes = [
        mutated(lambda b: b.pop("carrier_id")),
        mutated(lambda b: b.update(status_code="XX")),
        mutated(lambda b: b.update(actual_delivery_date=None)),
        mutated(lambda b: b.update(estimated_delivery_date="2026-03-04")),
        mutated(lambda b: b.update(unexpected="field")),
        mutated(lambda b: b["events"][0].pop("city_locality")),
    ]
    for body in mistakes:
        with pytest.raises(ValidationError):
            schema.validate(body)
