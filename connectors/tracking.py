"""Where is my order, whichever tracker the store uses: the parts AfterShip and ShipEngine share.

A store tracks parcels with AfterShip or with ShipEngine (orders from ShipStation), rarely both.
Policies should not care which: `@get_tracking_info(order_id_or_tracking_number)` asks the
configured tracker, and both connectors sum their parcels up into one order status the same way
(`connectors.parcels.summarize`), so "one parcel delivered, one lost" reads identically on either platform.

Which tracker: the only one configured; when both are, POLICYDESK_TRACKER (aftership|shipengine),
defaulting to AfterShip.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from connectors import aftership, shipengine
from connectors.aftership import aftership_config
from connectors.config import PlatformConfig
from connectors.errors import NotConfigured
from connectors.models import Order, Shipment
from connectors.shipengine import shipengine_deployment_config
from connectors.tools import register_platform, tool

log = logging.getLogger(__name__)

PLATFORM = "tracking"
TRACKERS = ("aftership", "shipengine")
DEFAULT_TRACKER = "aftership"
TRACKER_ENV = "POLICYDESK_TRACKER"

# ---- choosing the tracker ---------------------------------------------------------------------


def _tracker_configs(env: Mapping[str, str]) -> dict[str, PlatformConfig]:
    found = {"aftership": aftership_config(env), "shipengine": shipengine_deployment_config(env)}
    return {name: config for name, config in found.items() if config is not None}


def chosen_tracker(env: Mapping[str, str] = os.environ) -> str | None:
    """The tracker to ask, or None when neither is configured."""
    configured = _tracker_configs(env)
    if not configured:
        return None
    if len(configured) == 1:
        return next(iter(configured))
    wanted = (env.get(TRACKER_ENV) or DEFAULT_TRACKER).strip().lower()
    if wanted not in TRACKERS:
        log.warning("%s=%r is not one of %s; using %s", TRACKER_ENV, wanted, TRACKERS, DEFAULT_TRACKER)
        return DEFAULT_TRACKER
    return wanted


def tracking_config(env: Mapping[str, str] = os.environ) -> PlatformConfig | None:
    """The "tracking" platform is on when either tracker is; its config is the chosen tracker's."""
    tracker = chosen_tracker(env)
    return _tracker_configs(env)[tracker] if tracker else None


register_platform(PLATFORM, tracking_config)


@tool(platform=PLATFORM)
def get_tracking_info(order_id_or_tracking_number: str) -> Order | Shipment | None:
    """The order (with its parcels) or the single parcel for an order id/number or a tracking number.

    Asks the store's configured tracker (AfterShip or ShipEngine). Returns null when neither an
    order nor a parcel matches.
    """
    value = (order_id_or_tracking_number or "").strip()
    if not value:
        return None
    tracker = chosen_tracker(os.environ)
    if tracker is None:
        raise NotConfigured(PLATFORM, "neither AfterShip nor ShipEngine is configured")
    if tracker == "aftership":
        return aftership.order_details(value) or aftership.find_shipment(value)
    return shipengine.order_details(value) or shipengine.find_shipment(value)
