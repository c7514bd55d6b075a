"""Shopify Admin GraphQL API 2025-01 as the sandbox serves it (docs/platforms/shopify.md).

Mounted at /shopify, so SHOPIFY_BASE_URL is https://host:port/shopify (the shop's origin) and the
endpoint is Shopify's own POST /admin/api/2025-01/graphql.json. Requests are parsed, validated and
executed by graphql-core against SCHEMA below: a subset of the vendor's 2025-01 schema with the same
type, field and argument names and types (tests/test_shopify_schema.py checks it against the vendor
file), resolved from the seeded orders. So the sandbox answers any query within that subset, shaped
exactly as the schema says; it does not know the connector's queries by heart. Faithful where a
connector can get it wrong:
- `X-Shopify-Access-Token` auth: 401 {"errors": "[API] Invalid API key or access token ..."};
- invalid documents: HTTP 200 with `errors` and no data, as GraphQL servers answer;
- `orders(query:)` in Shopify search syntax: `email:`, `name:` (with or without "#"), quoted or not,
  bare words matched loosely against name and email; connections require `first` or `last`;
- a query costing more than 1,000 points is refused with MAX_COST_EXCEEDED;
- `extensions.cost` {requestedQueryCost, actualQueryCost, throttleStatus} on every answer
  (bucket 2000 points, restoring 100 per second, the Standard plan);
- throttling (injected as a fault with status 429) is errors[0].extensions.code THROTTLED with
  currentlyAvailable short of requestedQueryCost by the fault's retry_after (default 0.2 s) of
  restore; a fault `body` replaces the whole answer. The HTTP status of a throttled answer is not
  documented: READINGS "throttle_status" plays "200" (the default) or "429";
- `orderCancel` refuses fulfilled, partially fulfilled and already-cancelled orders with
  `orderCancelUserErrors` (code INVALID) and unknown ids with NOT_FOUND; otherwise it cancels at
  once (cancelledAt, cancelReason, refunded or voided, closed, staff note) and returns a Job with
  done false (it is asynchronous at Shopify); `job(id:)` then reports done true. Only a successful
  cancel is recorded as a write.

Seeded data: the storefront's part of the sandbox's world (sandbox/world/), every order
placed with `store: shopify`, subscription deliveries included. An order's name is "#" + its number
and its id gid://shopify/Order/55000000<number> unless the world gives the id (subscription orders:
gid://shopify/Order/<id>, the id Smartrr shows); the customer is gid://shopify/Customer/<6100000000 +
the customer's number>, as in Smartrr. World statuses map to fulfillment / financial status:
awaiting_payment UNFULFILLED / PENDING; awaiting_fulfillment and awaiting_shipment UNFULFILLED / PAID;
on_hold ON_HOLD / PAID; shipped and completed FULFILLED / PAID; partially_shipped PARTIALLY_FULFILLED
/ PAID; cancelled UNFULFILLED / REFUNDED (cancelled); refunded FULFILLED / REFUNDED; rejected
REQUEST_DECLINED / VOIDED. Each parcel is a fulfillment whose displayStatus follows the parcel:
LABEL_PRINTED, IN_TRANSIT, OUT_FOR_DELIVERY, READY_FOR_PICKUP, DELIVERED, ATTEMPTED_DELIVERY,
FAILURE (address problem) or NOT_DELIVERED (lost).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import graphql
from flask import Blueprint, Response, jsonify, request

from sandbox import world
from sandbox.app import reading, record_write, sandbox_state, section
from sandbox.state import Fault

PLATFORM = "shopify"
PREFIX = "/shopify"
HELPDESK = False

API_VERSION = "2025-01"
ACCESS_TOKEN = "shpat_sandbox0123456789abcdef0123456789"  # noqa: S105 (sandbox only)
SHOP_DOMAIN = "acme-sandbox.myshopify.com"
MAX_AVAILABLE = 2000.0
RESTORE_RATE = 100.0
MUTATION_COST = 10
MAX_QUERY_COST = 1000
THROTTLE_WAIT = 0.2  # seconds of restore an injected throttle asks for

SDL = """
scalar DateTime
scalar Decimal
scalar URL

enum CurrencyCode { USD }
enum CountryCode { US CA }
enum OrderCancelReason { CUSTOMER DECLINED FRAUD INVENTORY STAFF OTHER }
enum OrderCancelUserErrorCode { NO_REFUND_PERMISSION NOT_FOUND INVALID }
enum OrderDisplayFinancialStatus {
  PENDING AUTHORIZED PARTIALLY_PAID PARTIALLY_REFUNDED VOIDED PAID REFUNDED EXPIRED
}
enum OrderDisplayFulfillmentStatus {
  UNFULFILLED PARTIALLY_FULFILLED FULFILLED RESTOCKED PENDING_FULFILLMENT OPEN IN_PROGRESS ON_HOLD
  SCHEDULED REQUEST_DECLINED
}
enum FulfillmentDisplayStatus {
  ATTEMPTED_DELIVERY CANCELED CONFIRMED DELAYED DELIVERED FAILURE FULFILLED IN_TRANSIT LABEL_PRINTED
  LABEL_PURCHASED LABEL_VOIDED MARKED_AS_FULFILLED NOT_DELIVERED OUT_FOR_DELIVERY READY_FOR_PICKUP
  PICKED_UP SUBMITTED
}
enum FulfillmentStatus { PENDING OPEN SUCCESS CANCELLED ERROR FAILURE }
enum OrderSortKeys { CREATED_AT ID ORDER_NUMBER PROCESSED_AT TOTAL_PRICE UPDATED_AT }

type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { presentmentMoney: MoneyV2! shopMoney: MoneyV2! }
type PageInfo { endCursor: String hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String }
type Customer { id: ID! displayName: String! firstName: String lastName: String }
type Product { id: ID! title: String! }
type MailingAddress {
  id: ID! name: String address1: String address2: String city: String province: String
  provinceCode: String zip: String country: String countryCodeV2: CountryCode
}
type FulfillmentTrackingInfo { company: String number: String url: URL }
type Fulfillment {
  id: ID! name: String! status: FulfillmentStatus! displayStatus: FulfillmentDisplayStatus
  createdAt: DateTime! estimatedDeliveryAt: DateTime inTransitAt: DateTime deliveredAt: DateTime
  trackingInfo(first: Int): [FulfillmentTrackingInfo!]!
}
type LineItem {
  id: ID! name: String! title: String! quantity: Int! currentQuantity: Int! sku: String
  product: Product originalUnitPriceSet: MoneyBag!
}
type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection { edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }
type OrderCancellation { staffNote: String }
type Order {
  id: ID! name: String! email: String createdAt: DateTime! processedAt: DateTime!
  cancelledAt: DateTime cancelReason: OrderCancelReason cancellation: OrderCancellation closed: Boolean!
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  customer: Customer totalPriceSet: MoneyBag! shippingAddress: MailingAddress
  lineItems(
    first: Int, after: String, last: Int, before: String, reverse: Boolean = false
  ): LineItemConnection!
  fulfillments(first: Int): [Fulfillment!]!
}
type OrderEdge { cursor: String! node: Order! }
type OrderConnection { edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }
type Job { id: ID! done: Boolean! }
type OrderCancelUserError { code: OrderCancelUserErrorCode field: [String!] message: String! }
type UserError { field: [String!] message: String! }
type OrderCancelPayload {
  job: Job orderCancelUserErrors: [OrderCancelUserError!]! userErrors: [UserError!]!
}
type QueryRoot {
  order(id: ID!): Order
  orders(
    first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
    sortKey: OrderSortKeys = PROCESSED_AT, query: String, savedSearchId: ID
  ): OrderConnection!
  job(id: ID!): Job
}
type Mutation {
  orderCancel(
    orderId: ID!, refund: Boolean!, restock: Boolean!, reason: OrderCancelReason!,
    notifyCustomer: Boolean, staffNote: String
  ): OrderCancelPayload
}
schema { query: QueryRoot mutation: Mutation }
"""

SCHEMA = graphql.build_schema(SDL)

blueprint = Blueprint("shopify", __name__)


# ---- helpers ------------------------------------------------------------------------------------


def _today() -> date:
    return datetime.now(UTC).date()


def _moment(offset_days: int, hour: int = 10) -> str:
    moment = datetime.combine(_today() + timedelta(days=offset_days), datetime.min.time()) + timedelta(
        hours=hour
    )
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _orders() -> dict[str, dict[str, Any]]:
    return section(PLATFORM).setdefault("orders", {})


def _reply(body: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


# ---- cost ---------------------------------------------------------------------------------------


def _argument(node: graphql.FieldNode, name: str, variables: dict[str, Any]) -> Any:
    for arg in node.arguments or ():
        if arg.name.value == name:
            if isinstance(arg.value, graphql.VariableNode):
                return variables.get(arg.value.name.value)
            return graphql.value_from_ast_untyped(arg.value, variables)
    return None


def _selection_cost(
    selection_set: graphql.SelectionSetNode | None,
    parent: graphql.GraphQLObjectType,
    fragments: dict[str, graphql.FragmentDefinitionNode],
    variables: dict[str, Any],
) -> int:
    """Shopify's published rule: 1 per object, a connection or paged list costs `first` x its node
    (plus 2 for a connection); scalars and enums are free."""
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, graphql.FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment:
                total += _selection_cost(fragment.selection_set, parent, fragments, variables)
            continue
        if isinstance(selection, graphql.InlineFragmentNode):
            total += _selection_cost(selection.selection_set, parent, fragments, variables)
            continue
        if not isinstance(selection, graphql.FieldNode):
            continue
        field = parent.fields.get(selection.name.value)
        if field is None:
            continue
        named = graphql.get_named_type(field.type)
        if not isinstance(named, graphql.GraphQLObjectType):
            continue
        inner = _selection_cost(selection.selection_set, named, fragments, variables)
        size = int(_argument(selection, "first", variables) or _argument(selection, "last", variables) or 1)
        if named.name.endswith("Connection"):
            total += 2 + size * inner
        elif selection.name.value in ("nodes", "edges", "node"):
            total += 1 + inner  # one node; the connection multiplies it by `first`
        else:
            total += size * (1 + inner)
    return total


def query_cost(document: graphql.DocumentNode, variables: dict[str, Any]) -> int:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, graphql.FragmentDefinitionNode)
    }
    cost = 0
    for definition in document.definitions:
        if not isinstance(definition, graphql.OperationDefinitionNode):
            continue
        if definition.operation == graphql.OperationType.MUTATION:
            cost += MUTATION_COST
        else:
            cost += _selection_cost(definition.selection_set, QUERY_TYPE, fragments, variables)
    return max(1, cost)


def _cost_extension(requested: int, actual: int | None, available: float) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": MAX_AVAILABLE,
                "currentlyAvailable": available,
                "restoreRate": RESTORE_RATE,
            },
        }
    }


def _request_cost() -> int:
    """The cost of the operation in the current request, or 1 if it cannot be parsed."""
    payload = request.get_json(silent=True) or {}
    try:
        document = graphql.parse(str(payload.get("query") or ""))
        return query_cost(document, payload.get("variables") or {})
    except graphql.GraphQLError:
        return 1


# ---- resolvers ----------------------------------------------------------------------------------

SEARCH_TERM = re.compile(r'(?:(\w+):)?("(?:[^"\\]|\\.)*"|\S+)')


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def _matches(order: dict[str, Any], search: str) -> bool:
    """Shopify search syntax, the part a support lookup uses; terms are AND-ed."""
    for field, raw in SEARCH_TERM.findall(search or ""):
        value = _unquote(raw).casefold()
        if field == "email":
            if (order.get("email") or "").casefold() != value:
                return False
        elif field == "name":
            if order["name"].lstrip("#").casefold() != value.lstrip("#"):
                return False
        elif field == "id":
            if order["id"].rsplit("/", 1)[-1] != value.rsplit("/", 1)[-1]:
                return False
        elif field:
            continue  # a filter this sandbox does not model: Shopify ignores unknown ones with a warning
        elif value.upper() not in ("AND", "OR") and not any(
            value in (order.get(k) or "").casefold() for k in ("name", "email")
        ):
            return False
    return True


def _connection(items: list[Any], first: int | None, last: int | None) -> dict[str, Any]:
    if first is None and last is None:
        raise graphql.GraphQLError("you must provide one of first or last")
    page = items[:first] if first is not None else items[-last:] if last else []
    edges = [{"cursor": str(i), "node": node} for i, node in enumerate(page)]
    return {
        "nodes": page,
        "edges": edges,
        "pageInfo": {
            "hasNextPage": first is not None and len(items) > len(page),
            "hasPreviousPage": last is not None and len(items) > len(page),
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


SORT_FIELDS = {"CREATED_AT": "createdAt", "PROCESSED_AT": "processedAt", "ID": "id", "ORDER_NUMBER": "name"}


def resolve_orders(_root: Any, _info: Any, **args: Any) -> dict[str, Any]:
    with sandbox_state().lock:
        rows = [o for o in _orders().values() if _matches(o, args.get("query") or "")]
    key = SORT_FIELDS.get(args.get("sortKey") or "PROCESSED_AT", "processedAt")
    rows.sort(key=lambda o: str(o.get(key) or ""), reverse=bool(args.get("reverse")))
    return _connection(rows, args.get("first"), args.get("last"))


def resolve_order(_root: Any, _info: Any, id: str) -> dict[str, Any] | None:
    if not id.startswith("gid://shopify/"):
        raise graphql.GraphQLError(f"Invalid global id '{id}'")
    with sandbox_state().lock:
        return _orders().get(id)


def resolve_job(_root: Any, _info: Any, id: str) -> dict[str, Any] | None:
    with sandbox_state().lock:
        job = section(PLATFORM).setdefault("jobs", {}).get(id)
        if job is None:
            return None
        job["done"] = True  # the cancel ran at once; the job reports it on the next look
        return dict(job)


def _refusal(message: str, code: str) -> dict[str, Any]:
    return {
        "job": None,
        "orderCancelUserErrors": [{"field": ["orderId"], "message": message, "code": code}],
        "userErrors": [{"field": ["orderId"], "message": message}],
    }


def resolve_order_cancel(_root: Any, _info: Any, **args: Any) -> dict[str, Any]:
    with sandbox_state().lock:
        order = _orders().get(args["orderId"])
        if order is None:
            return _refusal("Order does not exist", "NOT_FOUND")
        if order.get("cancelledAt"):
            return _refusal("Order has already been cancelled", "INVALID")
        if order["displayFulfillmentStatus"] in ("FULFILLED", "PARTIALLY_FULFILLED"):
            return _refusal("Cannot cancel an order that has been fulfilled", "INVALID")
        order["cancelledAt"] = _now()
        order["cancelReason"] = args["reason"]
        order["closed"] = True
        order["cancellation"] = {"staffNote": args.get("staffNote")}
        if args["refund"]:
            paid = order["displayFinancialStatus"] in ("PAID", "PARTIALLY_PAID", "PARTIALLY_REFUNDED")
            order["displayFinancialStatus"] = "REFUNDED" if paid else "VOIDED"
        job = {"id": f"gid://shopify/Job/{uuid.uuid4()}", "done": False}
        section(PLATFORM).setdefault("jobs", {})[job["id"]] = dict(job)
        record_write(PLATFORM, {"operation": "orderCancel", "variables": dict(args)}, order=order["name"])
    return {"job": job, "orderCancelUserErrors": [], "userErrors": []}


def _sliced(key: str):
    def resolve(obj: dict[str, Any], _info: Any, first: int | None = None, **_: Any) -> list[Any]:
        values = obj.get(key) or []
        return values[:first] if first is not None else values

    return resolve


def _line_items(obj: dict[str, Any], _info: Any, **args: Any) -> dict[str, Any]:
    return _connection(obj.get("lineItems") or [], args.get("first"), args.get("last"))


def _object_type(found: graphql.GraphQLNamedType | None) -> graphql.GraphQLObjectType:
    """One of our schema's object types; anything else means the schema file is broken."""
    if not isinstance(found, graphql.GraphQLObjectType):
        raise TypeError(f"the Shopify schema has no object type here: {found!r}")
    return found


QUERY_TYPE = _object_type(SCHEMA.query_type)
QUERY_TYPE.fields["orders"].resolve = resolve_orders
QUERY_TYPE.fields["order"].resolve = resolve_order
QUERY_TYPE.fields["job"].resolve = resolve_job
_object_type(SCHEMA.mutation_type).fields["orderCancel"].resolve = resolve_order_cancel
_object_type(SCHEMA.get_type("Order")).fields["fulfillments"].resolve = _sliced("fulfillments")
_object_type(SCHEMA.get_type("Order")).fields["lineItems"].resolve = _line_items
_object_type(SCHEMA.get_type("Fulfillment")).fields["trackingInfo"].resolve = _sliced("trackingInfo")


# ---- API ----------------------------------------------------------------------------------------


def _bucket_after(cost: int) -> float:
    return MAX_AVAILABLE - cost


@blueprint.post(f"/admin/api/{API_VERSION}/graphql.json")
def graphql_endpoint():
    if request.headers.get("X-Shopify-Access-Token") != ACCESS_TOKEN:
        return _reply(
            {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}, 401
        )
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return _reply({"errors": {"query": "Required parameter missing or invalid"}}, 400)
    variables = payload.get("variables") or {}
    if not isinstance(variables, dict):
        return _reply({"errors": {"variables": "must be an object"}}, 400)
    try:
        document = graphql.parse(payload["query"])
    except graphql.GraphQLError as exc:
        return _reply({"errors": [exc.formatted], "extensions": _cost_extension(0, 0, MAX_AVAILABLE)})
    problems = graphql.validate(SCHEMA, document)
    if problems:
        return _reply(
            {"errors": [p.formatted for p in problems], "extensions": _cost_extension(0, 0, MAX_AVAILABLE)}
        )
    cost = query_cost(document, variables)
    if cost > MAX_QUERY_COST:
        message = f"Query cost is {cost}, which exceeds the single query max cost limit ({MAX_QUERY_COST})."
        error = {"message": message, "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost}}
        return _reply({"errors": [error], "extensions": _cost_extension(cost, None, MAX_AVAILABLE)})
    result = graphql.execute_sync(
        SCHEMA, document, variable_values=variables, operation_name=payload.get("operationName")
    )
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [e.formatted for e in result.errors]
    body["extensions"] = _cost_extension(cost, cost, _bucket_after(cost))
    return _reply(body)


READINGS = {"throttle_status": ("200", "429")}


def fault_response(fault: Fault) -> Response:
    """429 means THROTTLED in the body, with HTTP 200 or 429 (READINGS "throttle_status").

    The bucket is reported just short of the query's cost, by `retry_after` seconds of restore
    (default THROTTLE_WAIT), so the wait the connector computes is that long.
    """
    if fault.status == 429:
        status = int(reading(PLATFORM, "throttle_status"))
        if fault.body is not None:
            return _reply(fault.body, status)
        cost = _request_cost()
        wait = THROTTLE_WAIT if fault.retry_after is None else max(0.0, float(fault.retry_after))
        available = max(0.0, cost - wait * RESTORE_RATE)
        return _reply(
            {
                "errors": [
                    {
                        "message": "Throttled",
                        "extensions": {
                            "code": "THROTTLED",
                            "documentation": "https://shopify.dev/api/usage/rate-limits",
                        },
                    }
                ],
                "extensions": _cost_extension(cost, None, available),
            },
            status,
        )
    if fault.body is not None:
        return _reply(fault.body, fault.status)
    messages = {401: "[API] Invalid API key or access token", 404: "Not Found"}
    return _reply({"errors": messages.get(fault.status, "Internal error")}, fault.status)


def client_env(base_url: str) -> dict[str, str]:
    return {"SHOPIFY_BASE_URL": f"{base_url}{PREFIX}", "SHOPIFY_ACCESS_TOKEN": ACCESS_TOKEN}


# ---- seeded data --------------------------------------------------------------------------------

CARRIERS = {
    "ups": ("UPS", "https://www.ups.com/track?tracknum={}"),
    "usps": ("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={}"),
    "fedex": ("FedEx", "https://www.fedex.com/fedextrack/?trknbr={}"),
    "dhl": ("DHL Express", "https://www.dhl.com/us-en/home/tracking.html?tracking-id={}"),
}
STATUSES = {  # world order status -> (displayFulfillmentStatus, displayFinancialStatus)
    "awaiting_payment": ("UNFULFILLED", "PENDING"),
    "awaiting_fulfillment": ("UNFULFILLED", "PAID"),
    "awaiting_shipment": ("UNFULFILLED", "PAID"),
    "on_hold": ("ON_HOLD", "PAID"),
    "shipped": ("FULFILLED", "PAID"),
    "completed": ("FULFILLED", "PAID"),
    "partially_shipped": ("PARTIALLY_FULFILLED", "PAID"),
    "cancelled": ("UNFULFILLED", "REFUNDED"),
    "refunded": ("FULFILLED", "REFUNDED"),
    "rejected": ("REQUEST_DECLINED", "VOIDED"),
}
DISPLAY_STATUSES = {  # world parcel status -> fulfillment displayStatus
    "label_created": "LABEL_PRINTED",
    "picked_up": "IN_TRANSIT",
    "in_transit": "IN_TRANSIT",
    "at_local_hub": "IN_TRANSIT",
    "out_for_delivery": "OUT_FOR_DELIVERY",
    "available_for_pickup": "READY_FOR_PICKUP",
    "delivered": "DELIVERED",
    "attempt_failed": "ATTEMPTED_DELIVERY",
    "address_problem": "FAILURE",
    "lost": "NOT_DELIVERED",
}


def order_gid(order: world.Order) -> str:
    return f"gid://shopify/Order/{order.id or '55000000' + order.number}"


def customer_gid(customer: world.Customer) -> str:
    return f"gid://shopify/Customer/{6100000000 + customer.id}"


def _money(amount: str) -> dict[str, Any]:
    return {
        "shopMoney": {"amount": amount, "currencyCode": "USD"},
        "presentmentMoney": {"amount": amount, "currencyCode": "USD"},
    }


def _fulfillment(number: str, index: int, parcel: world.Parcel) -> dict[str, Any]:
    company, link = CARRIERS[parcel.carrier]
    delivered = parcel.delivered if parcel.status == "delivered" else None
    return {
        "id": f"gid://shopify/Fulfillment/66000{number}{index}",
        "name": f"#{number}-F{index}",
        "status": "SUCCESS",
        "displayStatus": DISPLAY_STATUSES[parcel.status],
        "createdAt": _moment(parcel.shipped, 15),
        "estimatedDeliveryAt": _moment(parcel.estimated, 20) if parcel.estimated is not None else None,
        "inTransitAt": _moment(parcel.shipped + 1, 8),
        "deliveredAt": _moment(delivered, 14) if delivered is not None else None,
        "trackingInfo": [
            {"company": company, "number": parcel.tracking, "url": link.format(parcel.tracking)}
        ],
    }


def _order(order: world.Order) -> dict[str, Any]:
    number, customer, address = order.number, order.customer, order.customer.address
    fulfillment, financial = STATUSES[order.status]
    lines = [
        {
            "id": f"gid://shopify/LineItem/77{number}{i}",
            "name": line.product.name,
            "title": line.product.name,
            "quantity": line.quantity,
            "currentQuantity": line.quantity,
            "sku": line.product.sku,
            "product": {"id": f"gid://shopify/Product/{line.product.id}", "title": line.product.name},
            "originalUnitPriceSet": _money(f"{line.product.price:.2f}"),
        }
        for i, line in enumerate(order.items)
    ]
    cancelled = order.cancelled if order.status == "cancelled" else None
    return {
        "id": order_gid(order),
        "name": f"#{number}",
        "email": customer.email,
        "createdAt": _moment(order.placed, 9),
        "processedAt": _moment(order.placed, 9),
        "cancelledAt": _moment(cancelled, 11) if cancelled is not None else None,
        "cancelReason": "CUSTOMER" if cancelled is not None else None,
        "cancellation": {"staffNote": "Customer changed their mind"} if cancelled is not None else None,
        "closed": cancelled is not None or fulfillment == "FULFILLED",
        "displayFinancialStatus": financial,
        "displayFulfillmentStatus": fulfillment,
        "customer": {
            "id": customer_gid(customer),
            "displayName": customer.name,
            "firstName": customer.first_name,
            "lastName": customer.last_name,
        },
        "totalPriceSet": _money(f"{order.total:.2f}"),
        "shippingAddress": {
            "id": f"gid://shopify/MailingAddress/88{number}",
            "name": customer.name,
            "address1": address.street,
            "address2": address.street2 or None,
            "city": address.city,
            "province": address.state_name,
            "provinceCode": address.state,
            "zip": address.zip,
            "country": address.country_name,
            "countryCodeV2": address.country,
        },
        "lineItems": lines,
        "fulfillments": [_fulfillment(number, i, p) for i, p in enumerate(order.parcels, 1)],
    }


def seed(data: dict[str, Any]) -> None:
    data.clear()
    data["orders"] = {order_gid(order): _order(order) for order in world.load().orders_in("shopify")}
    data["jobs"] = {}
