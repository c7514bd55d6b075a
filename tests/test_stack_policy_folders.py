"""A store's own policy folder, end to end: the worker runs the folder's version of a policy, and a
conversation started before a deploy that changed it finishes on the version it started with.

The web process and the worker run as real processes with POLICYDESK_POLICIES pointing at a folder
made with `policydesk policies init`; "deploying" is editing that folder and restarting the worker.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import redis
from conversations import lifecycle, open_and_wait, reply_and_wait

from policies.document.layers import active_library
from policydesk.cli import main as policydesk_main
from policydesk.stack import WebProcess, WorkerProcess

WISMO = "wismo-kustomer-shipengine.md"
SHIPPED_BEFORE = "Good news: order $order.number has shipped!"
SHIPPED_OURS = "Great news from our own folder: order $order.number is on its way!"
SHIPPED_AFTER = "After the deploy: order $order.number has left our warehouse."


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("store-policies")
    assert policydesk_main(["policies", "init", str(folder)]) == 0
    edit(folder / WISMO, SHIPPED_BEFORE, SHIPPED_OURS)
    return folder


@pytest.fixture(scope="module")
def folder_env(base_env: dict[str, str], folder: Path) -> dict[str, str]:
    url = base_env["REDIS_URL"].rsplit("/", 1)[0] + "/5"
    redis.Redis.from_url(url).flushdb()
    return {**base_env, "REDIS_URL": url, "POLICYDESK_POLICIES": str(folder), "POLICYDESK_LOCK_WAIT": "5"}


@pytest.fixture(scope="module")
def folder_stack(folder_env: dict[str, str], data_dir: Path):
    logs = data_dir / "folder-logs"
    running = {"web": WebProcess(folder_env, log_dir=logs).start()}
    running["worker"] = WorkerProcess(folder_env, log_dir=logs).start()
    yield running
    running["worker"].stop()
    running["web"].stop()


@pytest.fixture(scope="module")
def folder_customers(sandbox, folder_env):
    from policydesk.customers import SandboxCustomers

    return SandboxCustomers(sandbox.url, str(sandbox.cert), folder_env)


def ask(web, customers, email: str, text: str):
    return open_and_wait(web, customers, "kustomer", email, text, "Where is my order?", "Sam Rivera")


def test_the_folder_overrides_the_built_in_policy_and_a_conversation_keeps_its_version(
    folder_stack, folder_customers, folder: Path, folder_env: dict[str, str], data_dir: Path
) -> None:
    web = folder_stack["web"]
    ticket, view = ask(web, folder_customers, "shipped@shipengine.example", "Where is my order?")
    assert "Great news from our own folder" in view["replies"][-1], view["replies"]

    waiting, view = ask(web, folder_customers, "three.orders@shipengine.example", "Where are my orders at?")
    assert lifecycle(view) == "pd-waiting" and "SS-1021" in view["replies"][-1]
    before = len(view["replies"])

    # a deploy: the policy changes and the worker restarts while the customer is thinking
    edit(folder / WISMO, SHIPPED_OURS, SHIPPED_AFTER)
    folder_stack["worker"].stop()
    folder_stack["worker"] = WorkerProcess(folder_env, log_dir=data_dir / "folder-logs").start()

    view = reply_and_wait(web, folder_customers, waiting, "The second one please", before)
    assert "SS-1021" in view["replies"][-1]
    assert "Great news from our own folder" in view["replies"][-1], view["replies"]  # the version it began on

    ticket, view = ask(web, folder_customers, "shipped@shipengine.example", "Where is my order?")
    assert "After the deploy" in view["replies"][-1], view["replies"]  # a new conversation: the new version


def test_a_hand_off_note_names_the_policy_version(folder_stack, folder_customers, folder: Path) -> None:
    web = folder_stack["web"]
    ticket, view = ask(web, folder_customers, "in-transit.late@shipengine.example", "Where is my order?")
    assert lifecycle(view) == "pd-handed-off"
    version = active_library({"POLICYDESK_POLICIES": str(folder)}).get("wismo-kustomer-shipengine").version
    assert any(f"version {version}" in note for note in view["notes"]), view["notes"]


def test_policies_lists_where_each_policy_came_from(folder: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("POLICYDESK_POLICIES", str(folder))
    (folder / "refund-policy.md").unlink()
    shutil.copyfile(folder / WISMO, folder / "extra.md")
    edit(folder / "extra.md", "id: wismo-kustomer-shipengine", "id: wismo-extra")
    assert policydesk_main(["policies"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:-1]}
    assert rows["refund-policy"].endswith("built-in")
    assert f"{folder} (overrides built-in)" in rows["wismo-kustomer-shipengine"]
    assert rows["wismo-extra"].endswith(str(folder))
