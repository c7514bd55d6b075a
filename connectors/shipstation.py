"""ShipStation API v1: where a ShipEngine store's orders live (docs/platforms/shipstation.md).

Only reads: a customer's recent orders, orders by order number, one order by its orderId, and the
shipments (tracking number + carrier code) of an order. Why the lookups are shaped this way:
- List Orders has no email filter (an unknown filter is ignored and every order comes back), so a
  customer's orders are found by the documented `customerName` filter when the helpdesk knows the
  name, else by a newest-first scan bounded by `orderDateStart` and a page budget; either way each
  row's `customerEmail` is compared exactly, case-insensitively, before it counts;
- `orderNumber` is a "starts with" search, so its rows are compared exactly too;
- voided shipments (a label that was cancelled) are not parcels and are dropped;
- ShipStation timestamps are naive Pacific-time strings with seven fractional digits; they are kept
  as local timestamps (fraction dropped) and dates are cut to YYYY-MM-DD.
Auth is HTTP Basic key:secret; 429 carries X-Rate-Limit-Reset in seconds (connectors.ratelimit).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.config import PlatformConfig, tls_verify
from connectors.errors import NotConfigured, NotFound
from connectors.http import HttpClient
from connectors.models import Address, OrderItem
from connectors.tools import register_platform

PLATFORM = "shipstation"
DEFAULT_BASE_URL = "https://ssapi.shipstation.com"
PAGE_SIZE = 500  # the most List Orders / List Shipments return per page
MAX_PAGES = 5
NAME_PAGES = 2  # a name is narrow: two pages of 500 are more orders than one person places
SCAN_PAGES = 4  # a newest-first scan reads at most 2,000 orders (4 of the 40 requests a minute)
LOOKBACK_DAYS = 180  # "recent orders": older ones are not what a support conversation is about

ORDER_STATUSES = (
    "awaiting_payment",
    "awaiting_shipment",
    "pending_fulfillment",
    "shipped",
    "on_hold",
    "cancelled",
    "rejected_fulfillment",
)


def shipstation_config(env: Mapping[str, str] = os.environ) -> PlatformConfig | None:
    key, secret = env.get("SHIPSTATION_API_KEY"), env.get("SHIPSTATION_API_SECRET")
    if not key or not secret:
        return None
    base = env.get("SHIPSTATION_BASE_URL") or DEFAULT_BASE_URL
    return PlatformConfig(PLATFORM, base, {"api_key": key, "api_secret": secret}, tls_verify(env))


register_platform(PLATFORM, shipstation_config)


class ShipStationClient:
    def __init__(self, config: PlatformConfig):
        self.http = HttpClient(
            PLATFORM,
            config.base_url,
            auth=(config.secret("api_key"), config.secret("api_secret")),
            verify=config.verify,
        )

    def _pages(
        self, path: str, key: str, params: Mapping[str, str], max_pages: int = MAX_PAGES
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in range(1, max_pages + 1):
            body = self.http.get_json(path, params={**params, "page": str(page), "pageSize": str(PAGE_SIZE)})
            if not isinstance(body, dict):
                break
            found.extend(row for row in body.get(key) or [] if isinstance(row, dict))
            try:
                pages = int(body.get("pages") or 1)
            except (TypeError, ValueError):
                pages = 1
            if page >= pages:
                break
        return found

    def orders_by_email(self, email: str, name: str | None = None) -> list[dict[str, Any]]:
        """The customer's orders of the last LOOKBACK_DAYS, newest first, each verified by email.

        By `customerName` first when a name is known (one or two requests, whatever the store's
        size); when that finds nothing (no name, or ShipStation holds another spelling of it), by a
        newest-first scan of every order since the lookback date, at most SCAN_PAGES pages.
        """
        recent = {
            "orderDateStart": shipstation_time(datetime.now(UTC) - timedelta(days=LOOKBACK_DAYS)),
            "sortBy": "OrderDate",
            "sortDir": "DESC",
        }
        if name and name.strip():
            by_name = self._pages("/orders", "orders", {**recent, "customerName": name.strip()}, NAME_PAGES)
            mine = _with_email(by_name, email)
            if mine:
                return mine
        return _with_email(self._pages("/orders", "orders", recent, SCAN_PAGES), email)

    def orders_by_number(self, number: str) -> list[dict[str, Any]]:
        wanted = number.strip().casefold()
        rows = self._pages("/orders", "orders", {"orderNumber": number.strip()})
        return [o for o in rows if str(o.get("orderNumber") or "").strip().casefold() == wanted]

    def order(self, order_id: int) -> dict[str, Any] | None:
        try:
            body = self.http.get_json(f"/orders/{order_id}")
        except NotFound:
            return None
        return body if isinstance(body, dict) and body.get("orderId") is not None else None

    def shipments_for(self, order: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Live (not voided) shipments of this order, oldest first."""
        rows = self._pages("/shipments", "shipments", {"orderNumber": str(order.get("orderNumber") or "")})
        mine = [s for s in rows if s.get("orderId") == order.get("orderId") and not s.get("voided")]
        return sorted(mine, key=lambda s: str(s.get("shipDate") or s.get("createDate") or ""))

    def shipment_by_tracking_number(self, number: str) -> dict[str, Any] | None:
        wanted = number.strip().casefold()
        rows = self._pages("/shipments", "shipments", {"trackingNumber": number.strip()})
        live = [
            s for s in rows if str(s.get("trackingNumber") or "").casefold() == wanted and not s.get("voided")
        ]
        return live[-1] if live else None


def _with_email(rows: list[dict[str, Any]], email: str) -> list[dict[str, Any]]:
    wanted = email.strip().casefold()
    return [o for o in rows if (o.get("customerEmail") or "").strip().casefold() == wanted]


def shipstation_time(moment: datetime) -> str:
    """ShipStation's filter format, "2025-03-01 00:00:00" (its own clock is US Pacific; a lookback
    of months does not care about the hours)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def client(env: Mapping[str, str] = os.environ) -> ShipStationClient:
    config = shipstation_config(env)
    if config is None:
        raise NotConfigured(PLATFORM, "SHIPSTATION_API_KEY / SHIPSTATION_API_SECRET are not set")
    return ShipStationClient(config)


# ---- normalizing ------------------------------------------------------------------------------


def local_timestamp(value: Any) -> str | None:
    """ "2025-03-01T10:15:00.0000000" -> "2025-03-01T10:15:00" (ShipStation's naive local time)."""
    if not value or not isinstance(value, str):
        return None
    return value.split(".", 1)[0]


def day(value: Any) -> str | None:
    """A ShipStation date or timestamp as YYYY-MM-DD."""
    if not value or not isinstance(value, str):
        return None
    return value[:10]


def address(ship_to: Any) -> Address | None:
    if not isinstance(ship_to, dict):
        return None
    return Address(
        name=ship_to.get("name"),
        street_1=ship_to.get("street1"),
        street_2=" ".join(p for p in (ship_to.get("street2"), ship_to.get("street3")) if p) or None,
        city=ship_to.get("city"),
        state=ship_to.get("state"),
        zip=ship_to.get("postalCode"),
        country=ship_to.get("country"),
    )


def items(order: Mapping[str, Any]) -> tuple[OrderItem, ...]:
    result = []
    for item in order.get("items") or []:
        if not isinstance(item, dict):
            continue
        price = item.get("unitPrice")
        result.append(
            OrderItem(
                name=str(item.get("name") or item.get("sku") or ""),
                quantity=int(item.get("quantity") or 1),
                sku=item.get("sku"),
                product_id=str(item["productId"]) if item.get("productId") is not None else None,
                price=float(price) if isinstance(price, int | float) else None,
            )
        )
    return tuple(result)
