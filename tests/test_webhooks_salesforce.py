"""Salesforce Outbound Message receiver against a real Redis: the exact SOAP Ack, org check, hardened XML."""

from __future__ import annotations

import pytest
import redis
from defusedxml import DefusedXmlException
from flask.testing import FlaskClient
from test_webhooks_common import assert_clean, client_with, fixture_bytes, parsed, queued_events

from policydesk import deliveries
from webhooks import salesforce
from webhooks.app import create_app
from webhooks.responses import SOAP_ACK

PATH = "/webhooks/salesforce"
ORG_18 = "00D5g000004AbCdEAF"


URL_TOKEN = "salesforce-url-secret-for-tests"  # noqa: S105 - conftest's test secret


@pytest.fixture
def client(configured: dict[str, str], redis_client: redis.Redis) -> FlaskClient:
    return create_app().test_client()


def post(client: FlaskClient, body: bytes, token: str | None = URL_TOKEN):
    """POST as Salesforce does, to the endpoint URL that carries our secret (unless `token` is None)."""
    response = client.post(
        PATH,
        data=body,
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
        query_string={"token": token} if token is not None else None,
    )
    assert_clean(response)
    assert response.content_type.startswith("text/xml")
    return response


def assert_fault(response, status: int, message: str) -> None:
    assert response.status_code == status
    body = response.get_data(as_text=True)
    assert "<soapenv:Fault>" in body
    assert f"<faultstring>{message}</faultstring>" in body


def test_case_created_is_acknowledged_exactly_and_queued(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    response = post(client, fixture_bytes("salesforce", "case_created.xml"))
    assert response.status_code == 200
    assert response.get_data() == SOAP_ACK
    assert b"<Ack>true</Ack>" in response.get_data()
    [queued] = queued_events(redis_client)
    assert (queued["helpdesk"], queued["kind"]) == ("salesforce", "created")
    assert (queued["ticket_id"], queued["event_id"]) == ("5005g00000XyZabAAB", "04l5g00000ABCDEAA1")
    assert set(queued) <= {
        "helpdesk",
        "ticket_id",
        "kind",
        "event_id",
        "message_id",
        "occurred_at",
        "received_at",
    }
    [event] = parsed("salesforce", fixture_bytes("salesforce", "case_created.xml"))
    assert event["subject"] == "Where is my order?"
    assert event["text"] == "Hi, my order 10452 has not arrived yet. Can you check where it is?"
    assert event["requester_email"] == "jane.doe@example.com"
    assert event["requester_name"] == "Jane Doe"
    assert event["customer_id"] == "0035g00000AbCdEAAV"
    assert "SessionId" not in event["raw"]


def test_reply_stamp_makes_a_customer_message(client: FlaskClient, redis_client: redis.Redis) -> None:
    assert post(client, fixture_bytes("salesforce", "case_customer_reply.xml")).status_code == 200
    [event] = queued_events(redis_client)
    assert event["kind"] == "customer_message"
    assert event["event_id"] == "04l5g00000ABCDFAA1"
    assert event["occurred_at"] == "2025-03-05T09:01:43.000Z"


def test_every_notification_of_a_batch_is_queued(client: FlaskClient, redis_client: redis.Redis) -> None:
    assert post(client, fixture_bytes("salesforce", "two_notifications.xml")).get_data() == SOAP_ACK
    first, second = parsed("salesforce", fixture_bytes("salesforce", "two_notifications.xml"))
    # A nil reply stamp is no reply.
    assert (first["ticket_id"], first["kind"]) == ("5005g00000XyZacAAB", "created")
    assert (second["ticket_id"], second["kind"]) == ("5005g00000XyZadAAB", "customer_message")
    assert (first["requester_email"], second["requester_email"]) == (
        "sam.lee@example.org",
        "li.wei@example.net",
    )


def test_retried_message_is_acknowledged_and_queued_once(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    body = fixture_bytes("salesforce", "two_notifications.xml")
    assert post(client, body).get_data() == SOAP_ACK
    assert post(client, body).get_data() == SOAP_ACK
    assert len(queued_events(redis_client)) == 2


def test_updates_by_our_integration_user_are_ignored(
    configured: dict[str, str], redis_client: redis.Redis
) -> None:
    body = fixture_bytes("salesforce", "own_update.xml")
    # The configured id is the 15-character form of the 18-character LastModifiedById in the message.
    guarded = client_with(SALESFORCE_INTEGRATION_USER_ID="0055g00000IntgU")
    assert post(guarded, body).get_data() == SOAP_ACK
    assert queued_events(redis_client) == []
    # Without the setting the same update is taken as the customer reply its stamp says it is.
    unguarded = client_with(SALESFORCE_INTEGRATION_USER_ID=None)
    assert post(unguarded, body).get_data() == SOAP_ACK
    assert [e["kind"] for e in queued_events(redis_client)] == ["customer_message"]


def test_reply_field_name_is_configurable(configured: dict[str, str], redis_client: redis.Redis) -> None:
    client = client_with(SALESFORCE_REPLY_FIELD="Customer_Replied_At__c")
    delivery = deliveries.salesforce_customer_reply(
        "5005g00000XyZaeAAB",
        org_id=ORG_18,
        reply_field="Customer_Replied_At__c",
        replied_at="2025-03-07T08:00:00Z",
    )
    assert post(client, delivery.body).status_code == 200
    # The default field means nothing under the custom setting: a stamp there is not a reply.
    default_stamp = deliveries.salesforce_customer_reply("5005g00000XyZafAAB", org_id=ORG_18)
    assert post(client, default_stamp.body).status_code == 200
    custom, default = queued_events(redis_client)
    assert (custom["kind"], custom["occurred_at"]) == ("customer_message", "2025-03-07T08:00:00Z")
    assert default["kind"] == "created"


# --- organization check ------------------------------------------------------------------------------


@pytest.mark.parametrize("configured_org", [ORG_18, ORG_18[:15]])
def test_org_id_matches_on_its_15_character_form(
    configured: dict[str, str], redis_client: redis.Redis, configured_org: str
) -> None:
    client = client_with(SALESFORCE_ORG_ID=configured_org)
    message_15 = fixture_bytes("salesforce", "case_created.xml").replace(
        ORG_18.encode(), ORG_18[:15].encode()
    )
    assert post(client, fixture_bytes("salesforce", "case_created.xml")).status_code == 200
    redis_client.flushdb()
    assert post(client, message_15).status_code == 200


@pytest.mark.parametrize(
    "org_in_message",
    ["00D5g000009ZzZzEAF", "00d5g000004abcdEAF", "00D5g00000", "", "00D5g000004AbC"],
)
def test_other_organizations_are_refused_with_401(
    client: FlaskClient, redis_client: redis.Redis, org_in_message: str
) -> None:
    body = fixture_bytes("salesforce", "case_created.xml").replace(ORG_18.encode(), org_in_message.encode())
    assert_fault(post(client, body), 401, "unknown organization")
    assert queued_events(redis_client) == []


def test_without_a_configured_org_everything_is_refused(
    configured: dict[str, str], redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_with(SALESFORCE_ORG_ID=None)
    assert_fault(
        post(client, fixture_bytes("salesforce", "case_created.xml")), 401, "organization not configured"
    )
    assert "SALESFORCE_ORG_ID is not set" in caplog.text


# --- hostile and malformed XML -----------------------------------------------------------------------

ENTITY_EXPANSION = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>&lol2;</OrganizationId>
</notifications></soapenv:Body></soapenv:Envelope>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>&secret;</OrganizationId>
</notifications></soapenv:Body></soapenv:Envelope>"""


EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE soapenv:Envelope SYSTEM "http://127.0.0.1:9/evil.dtd">
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>"""


@pytest.mark.parametrize(
    "body",
    [ENTITY_EXPANSION, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY],
    ids=["entity-expansion", "external-entity", "external-dtd", "parameter-entity"],
)
def test_dtds_and_entities_are_refused_with_400(
    client: FlaskClient, redis_client: redis.Redis, body: bytes
) -> None:
    assert_fault(post(client, body), 400, "DTDs and entities are not accepted")
    assert queued_events(redis_client) == []


@pytest.mark.parametrize("body", [ENTITY_EXPANSION, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY])
def test_the_parser_keeps_defusedxml_guards(body: bytes) -> None:
    with pytest.raises(DefusedXmlException):
        salesforce.parse_xml(body)


def test_an_undeclared_entity_is_not_well_formed(client: FlaskClient, redis_client: redis.Redis) -> None:
    body = fixture_bytes("salesforce", "case_created.xml").replace(b">00D5g000004AbCdEAF<", b">&secret;<")
    assert_fault(post(client, body), 400, "body is not well-formed XML")
    assert queued_events(redis_client) == []


def test_an_unknown_encoding_is_a_400_not_a_500(client: FlaskClient) -> None:
    body = fixture_bytes("salesforce", "case_created.xml").replace(b'encoding="UTF-8"', b'encoding="UTFv8"')
    assert_fault(post(client, body), 400, "body is not well-formed XML")


def test_plain_doctype_is_refused_too(client: FlaskClient) -> None:
    body = fixture_bytes("salesforce", "case_created.xml").replace(
        b'<?xml version="1.0" encoding="UTF-8"?>',
        b'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE soapenv:Envelope>',
    )
    assert_fault(post(client, body), 400, "DTDs and entities are not accepted")


def _with_notifications(count: int) -> bytes:
    cases = [deliveries.case_fields(f"5005g00000N{i:04d}AAB", subject=f"case {i}") for i in range(count)]
    return deliveries.salesforce_outbound_message(ORG_18, cases).body


def test_zero_or_more_than_100_notifications_are_400(client: FlaskClient, redis_client: redis.Redis) -> None:
    assert_fault(post(client, _with_notifications(0)), 400, "expected 1 to 100 notifications, got 0")
    assert_fault(post(client, _with_notifications(101)), 400, "expected 1 to 100 notifications, got 101")
    assert queued_events(redis_client) == []


def test_a_full_batch_of_100_is_accepted(client: FlaskClient, redis_client: redis.Redis) -> None:
    assert post(client, _with_notifications(100)).get_data() == SOAP_ACK
    assert len(queued_events(redis_client)) == 100


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"this is not xml", "body is not well-formed XML"),
        (b"", "body is not well-formed XML"),
        (b"<a><b></a>", "body is not well-formed XML"),
        (b'{"json": "instead"}', "body is not well-formed XML"),
        (b"<notifications/>", "not a SOAP 1.1 envelope"),
        (
            b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>',
            "not a SOAP 1.1 envelope",
        ),
        (
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>',
            "no outbound-message notifications in the SOAP body",
        ),
    ],
)
def test_malformed_messages_are_400(client: FlaskClient, body: bytes, reason: str) -> None:
    assert_fault(post(client, body), 400, reason)


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (b"<Id>04l5g00000ABCDEAA1</Id>", b"<Id>../etc</Id>", "notification without a valid Id"),
        (b"<Id>04l5g00000ABCDEAA1</Id>", b"", "notification without a valid Id"),
        (b"<sf:Id>5005g00000XyZabAAB</sf:Id>", b"<sf:Id>1 OR 1=1</sf:Id>", "sObject without a valid Id"),
        (b"<sf:Id>5005g00000XyZabAAB</sf:Id>", b'<sf:Id xsi:nil="true"/>', "sObject without a valid Id"),
    ],
)
def test_notifications_without_usable_ids_are_400(
    client: FlaskClient, redis_client: redis.Redis, old: bytes, new: bytes, reason: str
) -> None:
    body = fixture_bytes("salesforce", "case_created.xml").replace(old, new)
    assert_fault(post(client, body), 400, reason)
    assert queued_events(redis_client) == []


# --- which elements count: namespaces, direct children, the first of a repeated field -----------------


def _case_created_with(old: bytes, new: bytes) -> bytes:
    body = fixture_bytes("salesforce", "case_created.xml")
    assert old in body
    return body.replace(old, new)


def test_a_field_counts_only_in_its_own_namespace(client: FlaskClient, redis_client: redis.Redis) -> None:
    body = _case_created_with(
        b"<sf:Id>5005g00000XyZabAAB</sf:Id>", b'<x:Id xmlns:x="urn:other">5005g00000XyZabAAB</x:Id>'
    )
    assert_fault(post(client, body), 400, "sObject without a valid Id")
    assert queued_events(redis_client) == []


def test_notifications_outside_the_outbound_namespace_are_not_read(client: FlaskClient) -> None:
    body = _case_created_with(
        b'<notifications xmlns="http://soap.sforce.com/2005/09/outbound">',
        b'<notifications xmlns="urn:other">',
    )
    assert_fault(post(client, body), 400, "no outbound-message notifications in the SOAP body")


def test_only_direct_children_are_fields(client: FlaskClient, redis_client: redis.Redis) -> None:
    body = _case_created_with(
        b"<sf:SuppliedEmail>jane.doe@example.com</sf:SuppliedEmail>",
        b"<sf:Other><sf:SuppliedEmail>jane.doe@example.com</sf:SuppliedEmail></sf:Other>",
    )
    assert post(client, body).get_data() == SOAP_ACK
    [event] = parsed("salesforce", body)
    assert event["requester_email"] is None


def test_the_first_of_a_repeated_field_wins(client: FlaskClient, redis_client: redis.Redis) -> None:
    body = _case_created_with(
        b"<sf:Subject>Where is my order?</sf:Subject>",
        b"<sf:Subject>Where is my order?</sf:Subject><sf:Subject>Second</sf:Subject>",
    )
    assert post(client, body).get_data() == SOAP_ACK
    [event] = parsed("salesforce", body)
    assert event["subject"] == "Where is my order?"


def test_xsi_nil_counts_only_in_the_schema_instance_namespace(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    body = _case_created_with(
        b"<sf:Subject>Where is my order?</sf:Subject>",
        b'<sf:Subject x:nil="true" xmlns:x="urn:other">Where is my order?</sf:Subject>'
        b'<sf:SuppliedName xsi:nil="true">Jane Doe</sf:SuppliedName>',
    ).replace(b"<sf:SuppliedName>Jane Doe</sf:SuppliedName>", b"")
    assert post(client, body).get_data() == SOAP_ACK
    [event] = parsed("salesforce", body)
    assert (event["subject"], event["requester_name"]) == ("Where is my order?", None)
