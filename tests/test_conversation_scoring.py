"""How the conversation suite reads the sandbox's write log and scores a conversation: the rules the
suite's figures rest on, checked on their own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from policydesk import conversation_suite as suite
from sandbox import world

WORLD = world.load()


def test_conversations_sharing_a_customer_never_share_a_wave():
    conversations = suite.load()
    for wave in suite.waves(conversations):
        seen: set[str] = set()
        for conversation in wave:
            touched = conversation.touches(WORLD)
            assert not seen & touched, (conversation.id, seen & touched)
            seen |= touched
    assert sum(len(w) for w in suite.waves(conversations)) == len(conversations)


def test_an_order_or_email_typed_in_a_message_counts_as_touching_its_customer():
    [anonymous] = [c for c in suite.load() if c.id == "d-cancel-anonymous-kus"]
    assert anonymous.touches(WORLD) == {"jack.wilson@example.com"}


def test_store_writes_become_plain_records_given_to_the_customer_concerned():
    created: dict[str, str] = {}
    cancel = {
        "platform": "bigcommerce",
        "method": "PUT",
        "path": "/bigcommerce/stores/h/v2/orders/10530",
        "body": {"status_id": 5},
    }
    replacement = {
        "platform": "bigcommerce",
        "method": "POST",
        "path": "/bigcommerce/stores/h/v2/orders",
        "order_id": 5101,
        "body": {
            "staff_notes": "Replacement for order 10520 (pd-1)",
            "billing_address": {"email": "aisha.khan@example.com", "street_1": "3100 Montrose Boulevard"},
            "products": [{"product_id": 111, "quantity": 1}],
        },
    }
    release = {
        "platform": "bigcommerce",
        "method": "PUT",
        "path": "/bigcommerce/stores/h/v2/orders/5101",
        "body": {"status_id": 11},
    }
    assert suite.describe_write(cancel, WORLD, created) == ({"cancel": "10530"}, "jack.wilson@example.com")
    record, email = suite.describe_write(replacement, WORLD, created)
    assert email == "aisha.khan@example.com"
    assert record == {
        "replacement": {"order": "10520", "items": {"MUG-BLU": 1}, "address": "3100 Montrose Boulevard"}
    }
    assert suite.describe_write(release, WORLD, created) == (None, None)  # part of the replacement


def test_writes_match_exactly_with_alternatives_and_report_what_nobody_asked_for():
    offers = {"one_of": [{"discount": "10538", "percent": 10}, {"shipping_upgrade": "10538"}, {"coupon": 20}]}
    assert suite.match_writes([offers], [{"shipping_upgrade": "10538"}]) == ([], [])
    missing, extra = suite.match_writes([{"cancel": "10538"}], [{"discount": "10538", "percent": 10}])
    assert missing == [{"cancel": "10538"}] and extra == [{"discount": "10538", "percent": 10}]
    whole = {"replacement": {"order": "10520", "items": {"MUG-BLU": 2, "PLT-STN": 1}, "address": "x"}}
    one_mug = {"replacement": {"order": "10520", "items": {"MUG-BLU": 1}}}
    assert suite.match_writes([one_mug], [whole]) == ([one_mug], [whole])


def test_a_reply_reads_as_the_language_it_is_written_in():
    assert suite.reads_as("Hola, su pedido está en camino y llegará por la mañana. Gracias") == "es"
    assert suite.reads_as("Your order is on its way and should arrive by Friday.") == "en"
    assert suite.reads_as("Ihre Bestellung ist unterwegs, bitte haben Sie noch etwas Geduld.") == "de"
    assert suite.reads_as("ok") is None


def test_the_suite_refuses_a_file_outside_its_schema_or_its_world(tmp_path: Path):
    shutil.copy(suite.SUITE / "schema.json", tmp_path / "schema.json")
    (tmp_path / "dev").mkdir()
    spec = {
        "id": "x",
        "helpdesk": "kustomer",
        "type": "wismo",
        "customer": "nobody@example.com",
        "opener": {"text": "hi"},
        "expect": {"state": "resolved", "writes": []},
    }
    (tmp_path / "dev" / "x.yaml").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match="not a customer"):
        suite.load(tmp_path, sets=["dev"])
    spec["expect"]["state"] = "closed"
    (tmp_path / "dev" / "x.yaml").write_text(json.dumps(spec))
    with pytest.raises(ValueError, match=r"x.yaml: 'closed' is not valid .* \(at expect/state\)"):
        suite.load(tmp_path, sets=["dev"])
