"""Reading, editing and publishing policies in the studio: what a CX manager sees and what tickets run."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient
from studio_client import PASSWORD, csrf_token, log_in
from test_webhooks_common import env

from policies.document import LIBRARY_DIR
from policies.engines import router
from policydesk.policy_export import export_published
from studio.web import create_app
from worker.published_policies import PublishedLayer, PublishedStore, pinned

POLICY = "wismo-kustomer-shipengine"
SHIPPED = "Good news: order $order.number has shipped!"


@pytest.fixture
def client(configured: dict[str, str], redis_client: redis.Redis) -> FlaskClient:
    with env(POLICYDESK_STUDIO_PASSWORD=PASSWORD, POLICYDESK_STUDIO_USERS=None):
        client = create_app().test_client()
    log_in(client, "Ana")
    return client


def built_in_text(policy_id: str = POLICY) -> str:
    return (LIBRARY_DIR / f"{policy_id}.md").read_text()


def publish(client: FlaskClient, text: str, message: str, policy_id: str = POLICY):
    token = csrf_token(client, f"/studio/policy/{policy_id}/edit")
    return client.post(
        f"/studio/policy/{policy_id}/publish", data={"text": text, "message": message, "csrf_token": token}
    )


def lint(client: FlaskClient, text: str, policy_id: str = POLICY) -> dict:
    token = csrf_token(client, "/studio/library")
    response = client.post(
        "/studio/api/lint", json={"policy": policy_id, "text": text}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 200
    return response.get_json()


def test_the_policy_page_marks_tools_policies_and_values_and_explains_the_flow(client: FlaskClient) -> None:
    page = client.get("/studio/policy/shipment-not-received").get_data(as_text=True)
    assert '<a class="ref tool write" href="#tool-file_carrier_claim"' in page
    assert '<a class="ref tool read" href="#tool-get_tracking_info"' in page
    assert '<a class="ref policy" href="/studio/policy/reshipment-policy">#Reshipment Policy</a>' in page
    assert '<mark class="ref value" title="context value $order">$order.status</mark>' in page
    # the tool panel: arguments and read/write
    tool_panel = page.split('id="tool-file_carrier_claim"')[1].split("</div>")[0]
    assert "writes" in tool_panel and "platform helpdesk" in tool_panel
    # the flow as numbered sentences (the verification is the #Verify Customer building block's)
    block = client.get("/studio/policy/verify-customer").get_data(as_text=True)
    assert "Call @get_helpdesk_account_details(email: $email) and keep the result as $account." in block
    assert "Ask the customer for email (email) with the macro “ask_email”" in block


def test_the_library_page_says_a_store_folder_policy_comes_from_that_folder(
    client: FlaskClient, tmp_path: Path
) -> None:
    folder = tmp_path / "store-policies"
    folder.mkdir()
    (folder / f"{POLICY}.md").write_text(built_in_text().replace("has shipped!", "is on its way!"))
    with env(POLICYDESK_POLICIES=str(folder)):
        page = client.get("/studio/library").get_data(as_text=True)
    row = page.split(f"/studio/policy/{POLICY}")[1].split("</tr>")[0]
    assert f"<td>{folder}</td>" in row
    other = page.split("/studio/policy/shipment-not-received")[1].split("</tr>")[0]
    assert "<td>built-in</td>" in other


def test_live_lint_finds_an_unknown_tool_at_its_line_and_the_diff_shows_the_change(
    client: FlaskClient,
) -> None:
    text = built_in_text()
    assert lint(client, text)["problems"] == [] or all(
        p["severity"] == "warning" for p in lint(client, text)["problems"]
    )
    broken = text.replace("call: get_shipengine_orders", "call: get_shipengin_orders", 1)
    line = broken.splitlines().index("  call: get_shipengin_orders") + 1
    result = lint(client, broken)
    errors = [p for p in result["problems"] if p["severity"] == "error"]
    assert errors[0]["line"] == line
    assert "unknown tool @get_shipengin_orders (did you mean @get_shipengine_orders?)" in errors[0]["message"]
    assert {"kind": "add", "text": "+  call: get_shipengin_orders"} in result["diff"]
    assert {"kind": "del", "text": "-  call: get_shipengine_orders"} in result["diff"]


def test_lint_needs_a_login_and_a_csrf_token(configured: dict[str, str], redis_client: redis.Redis) -> None:
    with env(POLICYDESK_STUDIO_PASSWORD=PASSWORD):
        anonymous = create_app().test_client()
    assert anonymous.post("/studio/api/lint", json={"policy": POLICY, "text": ""}).status_code == 401
    log_in(anonymous)
    assert anonymous.post("/studio/api/lint", json={"policy": POLICY, "text": ""}).status_code == 400


def test_publishing_makes_a_version_with_author_and_message_and_rolling_back_republishes(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    v1 = built_in_text().replace(SHIPPED, "Order $order.number is on its way!")
    assert publish(client, v1, "Shorter shipped message").status_code == 302
    library = client.get("/studio/library").get_data(as_text=True)
    assert "published here" in library and "<code>v1</code>" in library
    page = client.get(f"/studio/policy/{POLICY}").get_data(as_text=True)
    assert "v1 by Ana" in page and "Shorter shipped message" in page
    assert "is on its way!" in page

    v2 = v1.replace("is on its way!", "is on its way to you!")
    assert publish(client, v2, "Warmer").status_code == 302
    store = PublishedStore(redis_client)
    assert [v.number for v in store.versions(POLICY)] == [1, 2]

    token = csrf_token(client, f"/studio/policy/{POLICY}/edit")
    rolled = client.post(f"/studio/policy/{POLICY}/rollback", data={"version": "1", "csrf_token": token})
    assert rolled.status_code == 302
    live = store.live(POLICY)
    assert live is not None and live.number == 3 and live.text == v1.replace("\r\n", "\n")
    assert live.author == "Ana" and live.message == "roll back to version 1"


def test_a_text_with_lint_errors_or_no_message_is_kept_as_a_draft_not_published(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    broken = built_in_text().replace("call: get_shipengine_orders", "call: get_shipengin_orders", 1)
    response = publish(client, broken, "Typo")
    assert response.status_code == 302
    assert "lint error" in client.get(response.headers["Location"]).get_data(as_text=True)
    fine = built_in_text().replace(SHIPPED, "Shipped!")
    publish(client, fine, "")
    store = PublishedStore(redis_client)
    assert store.versions(POLICY) == []
    draft = store.draft(POLICY)
    assert draft is not None and draft.text.startswith("---") and "Shipped!" in draft.text
    assert "A draft by Ana is waiting" in client.get(f"/studio/policy/{POLICY}").get_data(as_text=True)


def test_a_forged_csrf_token_publishes_nothing(client: FlaskClient, redis_client: redis.Redis) -> None:
    response = client.post(
        f"/studio/policy/{POLICY}/publish",
        data={"text": built_in_text().replace(SHIPPED, "x"), "message": "m", "csrf_token": "forged"},
    )
    assert response.status_code == 400
    assert PublishedStore(redis_client).versions(POLICY) == []


def test_tickets_run_on_the_published_version_and_a_running_conversation_keeps_its_own(
    configured: dict[str, str], redis_client: redis.Redis
) -> None:
    store = PublishedStore(redis_client)
    layer = PublishedLayer(lambda: redis_client)
    router.add_layer(layer)
    try:
        assert SHIPPED in router.default_library().get(POLICY).macros["shipped"].text
        store.publish(POLICY, built_in_text().replace(SHIPPED, "Version one!"), "Ana", "one")
        with pinned(redis_client, "kustomer", "running-ticket"):
            assert "Version one!" in router.default_library().get(POLICY).macros["shipped"].text
        store.publish(POLICY, built_in_text().replace(SHIPPED, "Version two!"), "Ana", "two")
        with pinned(redis_client, "kustomer", "running-ticket"):
            assert "Version one!" in router.default_library().get(POLICY).macros["shipped"].text
        with pinned(redis_client, "kustomer", "new-ticket"):
            assert "Version two!" in router.default_library().get(POLICY).macros["shipped"].text
        assert "Version two!" in router.default_library().get(POLICY).macros["shipped"].text
    finally:
        router.remove_layer(layer)


def test_export_writes_each_published_policy_as_a_file(redis_client: redis.Redis, tmp_path: Path) -> None:
    text = built_in_text().replace(SHIPPED, "Exported!")
    PublishedStore(redis_client).publish(POLICY, text, "Ana", "for git")
    out = io.StringIO()
    assert export_published(redis_client, tmp_path / "policies", out) == 0
    assert (tmp_path / "policies" / f"{POLICY}.md").read_text() == text
    assert f"{POLICY}: v1 by Ana" in out.getvalue() and "for git" in out.getvalue()
