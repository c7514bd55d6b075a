"""The sandbox is one world: a customer found on one platform is the same person, with the same orders,
parcels and subscriptions, on every other. Read through our own connectors over real HTTPS, so what a
policy sees is what is checked."""

from __future__ import annotations

import re
from collections import Counter
from functools import partial
from pathlib import Path

import pytest

from connectors.aftership import get_aftership_orders
from connectors.bigcommerce import (
    bigcommerce_order_details,
    get_bigcommerce_account_details,
    get_bigcommerce_orders,
)
from connectors.helpdesk import HELPDESKS
from connectors.helpdesk.tools import get_helpdesk_account_details
from connectors.shipengine import get_shipengine_orders
from connectors.shopify import get_shopify_orders
from connectors.smartrr import get_smartrr_account_details
from sandbox import world

WORLD = world.load()
ORDER_REFERENCE = re.compile(r"#([A-Z]{0,2}-?\d{4,})")
# one customer of each kind: helpdesk regulars, web store, phone orders, subscribers, Shopify, everyday
SAMPLE = [
    "jane.doe@example.com",
    "omar.haddad@example.com",
    "delivered.eligible@bigcommerce.example",
    "delivered@aftership.example",
    "three.orders@shipengine.example",
    "two.active@smartrr.example",
    "several.orders@shopify.example",
    "aisha.khan@example.com",
    "oscar.nilsson@example.org",
    "nina.petrova@example.com",
    "chris.evans@example.org",
]


@pytest.fixture
def env(sandbox, sandbox_api, monkeypatch) -> None:
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("POLICYDESK_TRACKER", raising=False)


def numbers(orders) -> set[str]:
    return {o.number.lstrip("#") for o in orders}


@pytest.mark.parametrize("email", SAMPLE)
def test_a_customer_is_the_same_person_on_every_helpdesk_the_store_and_the_subscription_app(env, email):
    person = WORLD.customer(email)
    assert person is not None
    for where, lookup in (
        *((desk, partial(get_helpdesk_account_details, helpdesk=desk)) for desk in HELPDESKS),
        ("bigcommerce", get_bigcommerce_account_details),
    ):
        account = lookup(email)
        assert account is not None, where
        assert (account.email or "").casefold() == email and account.name == person.name, where
    smartrr = get_smartrr_account_details(email)
    assert smartrr is not None
    assert {s.id for s in smartrr["subscriptions"]} == {
        s.id for s in WORLD.subscriptions if s.customer.email == email
    }


@pytest.mark.parametrize("email", SAMPLE)
def test_every_order_is_in_its_store_and_every_parcel_in_both_trackers(env, email):
    mine = [o for o in WORLD.orders if o.customer.email == email]
    store = {o.number for o in mine if o.store == "bigcommerce"}
    assert numbers(get_bigcommerce_orders(email)) == store
    assert numbers(get_shopify_orders(email)) == {o.number for o in mine if o.store == "shopify"}
    assert numbers(get_shipengine_orders(email)) == {o.number for o in mine}
    assert numbers(get_aftership_orders(email)) == {o.number for o in mine if o.parcels}


def test_the_trackers_and_the_store_agree_on_each_parcel_of_a_web_store_order(env):
    """The same tracking number everywhere, and the same verdict from both trackers."""
    email = "oscar.nilsson@example.org"
    store = {n: bigcommerce_order_details(n) for n in ("10540", "10541")}
    aftership = {o.number.lstrip("#"): o for o in get_aftership_orders(email)}
    shipengine = {o.number: o for o in get_shipengine_orders(email)}
    for number in ("10540", "10541"):
        tracking = {s.tracking_number for s in store[number].shipments}
        assert tracking == {s.tracking_number for s in aftership[number].shipments}
        assert tracking == {s.tracking_number for s in shipengine[number].shipments}
        assert aftership[number].status == shipengine[number].status
    assert (aftership["10540"].status, aftership["10541"].status) == ("delivered", "in_transit")
    assert shipengine["10542"].status == "processing" and "10542" not in aftership


def test_an_order_lists_the_same_items_and_quantities_in_the_store_and_in_shipstation(env):
    email = "aisha.khan@example.com"
    [store] = get_bigcommerce_orders(email)
    [shipped] = get_shipengine_orders(email)
    items = Counter({(i.sku, i.quantity) for i in store.items})
    assert items == Counter({("MUG-BLU", 2), ("PLT-STN", 1)})
    assert Counter({(i.sku, i.quantity) for i in shipped.items}) == items


def test_a_subscription_delivery_is_the_same_order_in_smartrr_and_shopify(env):
    [order] = get_shopify_orders("chloe.martin@example.com")
    assert order.number == "#2101" and order.id == "gid://shopify/Order/560000002101"
    account = get_smartrr_account_details("chloe.martin@example.com")
    assert [s.id for s in account["subscriptions"]] == ["9100000101"]


def test_a_customer_of_the_phone_orders_has_an_account_in_the_store(env):
    """A "delivered but missing" ticket from a customer the trackers know, routed to a store policy,
    finds the customer instead of "I couldn't find an account with that email address"."""
    assert get_bigcommerce_account_details("delivered@aftership.example") is not None
    assert get_bigcommerce_account_details("nobody.here@example.com") is None


def test_every_ticket_on_a_helpdesk_is_about_its_customers_own_orders():
    for ticket in WORLD.tickets:
        text = " ".join(m.body for m in ticket.messages) + ticket.subject
        for quoted in ORDER_REFERENCE.findall(text):
            order = WORLD.order(quoted)
            assert order is not None and order.customer == ticket.customer, (ticket.subject, quoted)


def test_the_world_refuses_a_reference_that_does_not_resolve(tmp_path: Path):
    for name in ("products", "customers", "subscriptions", "tickets"):
        (tmp_path / f"{name}.yaml").write_text((world.FOLDER / f"{name}.yaml").read_text())
    (tmp_path / "orders.yaml").write_text(
        "- {number: '1', customer: jane.doe@example.com, store: bigcommerce, placed: T-1, status: shipped,"
        " items: [{sku: NOPE-1, quantity: 1}]}\n"
    )
    with pytest.raises(world.WorldError, match="unknown SKU 'NOPE-1'"):
        world.load(tmp_path)
