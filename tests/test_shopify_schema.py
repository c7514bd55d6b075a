"""The Shopify connector and sandbox against Shopify's own Admin GraphQL 2025-01 schema.

Every document the connector sends must validate (and use no deprecated field); the sandbox's
schema must be a faithful subset of the vendor's; and what the sandbox answers to each of the
connector's operations must fit the vendor's types field by field (nullability, enum values).
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import graphql
import pytest
import requests
from graphql.validation import NoDeprecatedCustomRule

from connectors import shopify
from sandbox import shopify as sandbox_shopify

SHARED = Path(os.environ.get("POLICYDESK_SHARED") or Path(__file__).resolve().parents[2] / "shared")
SCHEMA_FILE = SHARED / "specs" / "shopify" / "admin_schema_2025-01.json.gz"


@pytest.fixture(scope="module")
def vendor() -> graphql.GraphQLSchema:
    if not SCHEMA_FILE.exists():
        pytest.skip(f"vendor schema not found at {SCHEMA_FILE}")
    with gzip.open(SCHEMA_FILE) as handle:
        schema = graphql.build_client_schema(json.load(handle)["data"])
    # Shopify's published schema breaks two type-system rules graphql-core enforces before validating
    # documents (deprecated fields implementing non-deprecated interface fields). They are about the
    # schema, not about our documents, so accept the schema as published.
    schema._validation_errors = []
    return schema


@pytest.mark.parametrize("name", sorted(shopify.OPERATIONS))
def test_every_connector_document_is_valid_and_not_deprecated(vendor, name):
    document = graphql.parse(shopify.OPERATIONS[name])

    assert graphql.validate(vendor, document) == []
    assert graphql.validate(vendor, document, [NoDeprecatedCustomRule]) == []


def test_sandbox_schema_is_a_subset_of_the_vendor_schema(vendor):
    mine = sandbox_shopify.SCHEMA
    assert mine.query_type.name == vendor.query_type.name
    assert mine.mutation_type.name == vendor.mutation_type.name
    problems = []
    for name, kind in mine.type_map.items():
        if name.startswith("__"):
            continue
        theirs = vendor.get_type(name)
        if theirs is None or type(theirs) is not type(kind):
            problems.append(f"type {name}")
            continue
        if isinstance(kind, graphql.GraphQLEnumType):
            problems += [f"{name}.{v}" for v in kind.values if v not in theirs.values]
        if isinstance(kind, graphql.GraphQLObjectType):
            for field_name, field in kind.fields.items():
                other = theirs.fields.get(field_name)
                if other is None or str(other.type) != str(field.type):
                    problems.append(f"{name}.{field_name}: {field.type}")
                    continue
                for arg_name, arg in field.args.items():
                    other_arg = other.args.get(arg_name)
                    if other_arg is None or str(other_arg.type) != str(arg.type):
                        problems.append(f"{name}.{field_name}({arg_name}: {arg.type})")
    assert problems == []


# ---- answers against the vendor's types --------------------------------------------------------


def _fields(
    selection_set: graphql.SelectionSetNode, fragments: dict[str, graphql.FragmentDefinitionNode]
) -> list[graphql.FieldNode]:
    found: list[graphql.FieldNode] = []
    for selection in selection_set.selections:
        if isinstance(selection, graphql.FieldNode):
            found.append(selection)
        elif isinstance(selection, graphql.FragmentSpreadNode):
            found += _fields(fragments[selection.name.value].selection_set, fragments)
        elif isinstance(selection, graphql.InlineFragmentNode):
            found += _fields(selection.selection_set, fragments)
    return found


SCALARS = {"String": str, "ID": str, "Int": int, "Boolean": bool, "DateTime": str, "Decimal": str, "URL": str}


def conformance_problems(
    value: Any,
    kind: graphql.GraphQLOutputType,
    selection_set: graphql.SelectionSetNode | None,
    fragments: dict[str, graphql.FragmentDefinitionNode],
    path: str,
) -> list[str]:
    """Where `value` does not fit the vendor type `kind` for this selection."""
    if isinstance(kind, graphql.GraphQLNonNull):
        if value is None:
            return [f"{path}: null for {kind}"]
        kind = kind.of_type
    if value is None:
        return []
    if isinstance(kind, graphql.GraphQLList):
        if not isinstance(value, list):
            return [f"{path}: not a list"]
        return [
            p
            for i, item in enumerate(value)
            for p in conformance_problems(item, kind.of_type, selection_set, fragments, f"{path}[{i}]")
        ]
    if isinstance(kind, graphql.GraphQLEnumType):
        return [] if value in kind.values else [f"{path}: {value!r} is not a {kind.name}"]
    if isinstance(kind, graphql.GraphQLScalarType):
        expected = SCALARS.get(kind.name, str)
        return [] if isinstance(value, expected) else [f"{path}: {value!r} is not a {kind.name}"]
    assert isinstance(kind, graphql.GraphQLObjectType) and selection_set is not None
    if not isinstance(value, dict):
        return [f"{path}: not an object"]
    problems = []
    selected = _fields(selection_set, fragments)
    keys = {(node.alias or node.name).value for node in selected}
    problems += [f"{path}.{extra}: not selected" for extra in set(value) - keys]
    for node in selected:
        key = (node.alias or node.name).value
        field = kind.fields.get(node.name.value)
        if field is None:
            problems.append(f"{path}.{key}: no such field on {kind.name}")
        elif key not in value:
            problems.append(f"{path}.{key}: missing")
        else:
            problems += conformance_problems(
                value[key], field.type, node.selection_set, fragments, f"{path}.{key}"
            )
    return problems


def post(sandbox, document: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(
        f"{sandbox.url}{sandbox_shopify.PREFIX}{shopify.GRAPHQL_PATH}",
        json={"query": document, "variables": variables},
        headers={"X-Shopify-Access-Token": sandbox_shopify.ACCESS_TOKEN},
        verify=str(sandbox.cert),
        timeout=10,
    )
    assert response.status_code == 200
    return response.json()


CASES = [
    ("orders", {"query": 'email:"several.orders@shopify.example"', "first": shopify.ORDERS_PER_CUSTOMER}),
    ("orders", {"query": 'name:"#1004"', "first": 5}),
    ("order", {"id": "gid://shopify/Order/550000001005"}),
    ("order", {"id": "gid://shopify/Order/1"}),
    ("cancellation", {"id": "gid://shopify/Order/550000001007"}),
    ("cancel", {"orderId": "gid://shopify/Order/550000001001", "reason": "CUSTOMER", "staffNote": "n"}),
    ("cancel", {"orderId": "gid://shopify/Order/550000001005", "reason": "CUSTOMER", "staffNote": "n"}),
]


@pytest.mark.parametrize(("name", "variables"), CASES)
def test_sandbox_answers_fit_the_vendor_types(vendor, sandbox, sandbox_api, name, variables):
    document = graphql.parse(shopify.OPERATIONS[name])
    [operation] = [d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, graphql.FragmentDefinitionNode)
    }
    root = (
        vendor.mutation_type if operation.operation == graphql.OperationType.MUTATION else vendor.query_type
    )

    body = post(sandbox, shopify.OPERATIONS[name], variables)

    assert "errors" not in body
    assert conformance_problems(body["data"], root, operation.selection_set, fragments, "data") == []
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] <= 1000
    assert set(cost["throttleStatus"]) == {"maximumAvailable", "currentlyAvailable", "restoreRate"}


def test_sandbox_answers_carry_real_values(sandbox, sandbox_api):
    """The conformance walk above passes vacuously on nulls; these answers are not null."""
    orders = post(sandbox, shopify.ORDERS_QUERY, CASES[0][1])["data"]["orders"]["nodes"]
    refused = post(sandbox, shopify.CANCEL_MUTATION, CASES[-1][1])["data"]["orderCancel"]

    assert [o["name"] for o in orders] == ["#1043", "#1044", "#1040"]
    assert orders[1]["fulfillments"][0]["trackingInfo"][0]["company"] == "USPS"
    assert refused["job"] is None and refused["orderCancelUserErrors"][0]["code"] == "INVALID"
