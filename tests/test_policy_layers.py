"""Where policies come from: the built-in library, a store's folders over it, any other layer over those;
and the versions a conversation keeps."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
import redis

from connectors.tools import load_all_tools
from policies.document.layers import (
    BUILT_IN,
    FolderLayer,
    active_library,
    library_layers,
    register_layer_source,
    resolve_layers,
)
from policies.document.library import LIBRARY_DIR
from policies.document.lint import validate_main
from policies.document.loader import PolicyDocument, parse_policy
from policydesk.cli import main as policydesk_main
from worker.policy_versions import PolicyVersions, pinned_library, policy_closure

WISMO = "wismo-kustomer-shipengine"


def store_folder(tmp_path: Path) -> Path:
    """A store's folder: the wismo policy with its own reply, and one policy of its own."""
    folder = tmp_path / "ours"
    folder.mkdir()
    text = (LIBRARY_DIR / f"{WISMO}.md").read_text()
    (folder / f"{WISMO}.md").write_text(text.replace("has shipped!", "is on its way to you!"))
    own = text.replace(f"id: {WISMO}", "id: wismo-gift-cards").replace("handles: [wismo]", "handles: [other]")
    (folder / "gift-cards.md").write_text(own)
    return folder


def test_a_folder_overrides_by_id_and_adds_its_own(tmp_path: Path) -> None:
    folder = store_folder(tmp_path)
    library = active_library({"POLICYDESK_POLICIES": str(folder)})
    wismo = library.get(WISMO)
    assert wismo is not None and "is on its way to you!" in wismo.macros["shipped"].text
    assert wismo.origin == str(folder.resolve())
    assert [d.origin for d in library.overridden[WISMO]] == [BUILT_IN]
    assert library.get("wismo-gift-cards") is not None
    assert library.get("refund-policy").origin == BUILT_IN  # the rest is still the built-in library
    assert len(library) == len(active_library({})) + 1


def test_a_folders_policy_is_routed_before_a_built_in_one_for_the_same_tickets(tmp_path: Path) -> None:
    folder = tmp_path / "ours"
    folder.mkdir()
    text = (LIBRARY_DIR / f"{WISMO}.md").read_text().replace(f"id: {WISMO}", "id: wismo-ours")
    (folder / "wismo-ours.md").write_text(text)
    library = active_library({"POLICYDESK_POLICIES": str(folder)})
    assert library.for_ticket("wismo", "kustomer").id == "wismo-ours"
    assert active_library({}).for_ticket("wismo", "kustomer").id == WISMO


def test_several_folders_later_ones_win(tmp_path: Path) -> None:
    first = store_folder(tmp_path)
    second = tmp_path / "brand"
    second.mkdir()
    text = (first / f"{WISMO}.md").read_text().replace("is on its way to you!", "ships from our brand!")
    (second / f"{WISMO}.md").write_text(text)
    import os

    library = active_library({"POLICYDESK_POLICIES": f"{first}{os.pathsep}{second}"})
    assert "ships from our brand!" in library.get(WISMO).macros["shipped"].text
    assert [d.origin for d in library.overridden[WISMO]] == [BUILT_IN, str(first.resolve())]


def test_a_git_checkout_gives_each_policy_its_commit(tmp_path: Path) -> None:
    folder = store_folder(tmp_path)
    git = ["git", "-C", str(folder), "-c", "user.email=cx@example.com", "-c", "user.name=CX"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "our policies"], check=True)
    commit = subprocess.run([*git, "log", "-1", "--format=%h"], capture_output=True, text=True).stdout.strip()
    layer = FolderLayer(folder, "ours")
    assert {d.commit for d in layer.documents()} == {commit}
    (folder / "gift-cards.md").write_text((folder / "gift-cards.md").read_text() + "\n")
    commits = {d.id: d.commit for d in layer.documents()}
    assert commits == {WISMO: commit, "wismo-gift-cards": f"{commit}+changes"}


class StoredLayer:
    """A layer kept elsewhere than in files: all a layer needs is a name, a revision and documents."""

    name = "published"

    def __init__(self, texts: dict[str, str]):
        self.texts = texts

    def revision(self) -> str:
        return str(sorted(self.texts.items()))

    def documents(self) -> list[PolicyDocument]:
        docs = [parse_policy(text, f"published:{name}") for name, text in self.texts.items()]
        for doc in docs:
            doc.origin = self.name
        return docs


def test_another_layer_goes_over_the_folders_and_changes_are_seen(tmp_path: Path) -> None:
    folder = store_folder(tmp_path)
    text = (LIBRARY_DIR / f"{WISMO}.md").read_text().replace("has shipped!", "was published!")
    layer = StoredLayer({WISMO: text})
    remove = register_layer_source(lambda env: layer if env.get("PUBLISHED") else None)
    try:
        env = {"POLICYDESK_POLICIES": str(folder), "PUBLISHED": "1"}
        assert [type(x).__name__ for x in library_layers(env)] == [
            "FolderLayer",
            "FolderLayer",
            "StoredLayer",
        ]
        assert "was published!" in active_library(env).get(WISMO).macros["shipped"].text
        layer.texts[WISMO] = text.replace("was published!", "was published again!")
        assert "was published again!" in active_library(env).get(WISMO).macros["shipped"].text
        assert "was published" not in active_library({}).get(WISMO).macros["shipped"].text
    finally:
        remove()


def test_two_policies_with_one_id_in_one_folder_are_reported(tmp_path: Path) -> None:
    folder = store_folder(tmp_path)
    (folder / "copy.md").write_text((folder / f"{WISMO}.md").read_text())
    library = resolve_layers([FolderLayer(LIBRARY_DIR, BUILT_IN), FolderLayer(folder, "ours")])
    assert any("is also used by" in p.message for p in library.problems)


def test_validate_checks_the_active_library(tmp_path: Path) -> None:
    load_all_tools()
    folder = store_folder(tmp_path)
    broken = (folder / "gift-cards.md").read_text().replace("@get_shipengine_orders", "@get_shipengin_orders")
    (folder / "gift-cards.md").write_text(broken)
    out = io.StringIO()
    assert validate_main([], out, env={"POLICYDESK_POLICIES": str(folder)}) == 1
    assert "gift-cards.md" in out.getvalue() and "unknown tool" in out.getvalue()
    assert f"{len(active_library({})) + 1} policies checked" in out.getvalue()


def test_init_copies_the_library_and_never_overwrites(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "new"
    assert policydesk_main(["policies", "init", str(folder)]) == 0
    assert {p.name for p in folder.glob("*.md")} == {p.name for p in LIBRARY_DIR.glob("*.md")}
    (folder / f"{WISMO}.md").write_text("mine")
    assert policydesk_main(["policies", "init", str(folder)]) == 0
    assert (folder / f"{WISMO}.md").read_text() == "mine"
    second = capsys.readouterr().out.split("copied 0 files")[1]
    assert "left as they were (already there): " in second and f"{WISMO}.md" in second


@pytest.fixture
def kept(redis_url: str) -> PolicyVersions:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    return PolicyVersions(client)


def test_a_conversation_keeps_the_versions_it_started_on(tmp_path: Path, kept: PolicyVersions) -> None:
    before = active_library({})
    started = {doc.id: doc.version for doc in policy_closure(before, "send-replacement-bigcommerce-kustomer")}
    assert {"reshipment-policy", "refund-policy", "shipment-not-received"} <= set(started)
    for doc in policy_closure(before, "send-replacement-bigcommerce-kustomer"):
        kept.keep(doc)

    folder = tmp_path / "deployed"
    folder.mkdir()
    changed = (
        (LIBRARY_DIR / "reshipment-policy.md").read_text().replace("## Macros", "## Macros\n\n### new\nNew.")
    )
    (folder / "reshipment-policy.md").write_text(changed)
    after = active_library({"POLICYDESK_POLICIES": str(folder)})
    assert after.get("reshipment-policy").version != started["reshipment-policy"]

    pinned = pinned_library(after, started, kept)
    assert pinned.get("reshipment-policy").version == started["reshipment-policy"]
    assert "new" not in pinned.get("reshipment-policy").macros
    assert [d.id for d in pinned] == [d.id for d in after]
    assert pinned_library(after, {"reshipment-policy": after.get("reshipment-policy").version}, kept) is after
    assert [v for v, _ in kept.history("reshipment-policy")] == [started["reshipment-policy"]]


def test_diff_shows_what_changed_between_two_versions(
    tmp_path: Path, kept: PolicyVersions, monkeypatch, capsys, redis_url: str
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    kept.keep(active_library({}).get("refund-policy"))
    folder = tmp_path / "ours"
    folder.mkdir()
    text = (LIBRARY_DIR / "refund-policy.md").read_text()
    (folder / "refund-policy.md").write_text(text.replace("## Macros", "## Macros\n\n### sorry\nSo sorry."))
    monkeypatch.setenv("POLICYDESK_POLICIES", str(folder))
    assert policydesk_main(["policies", "diff", "refund-policy"]) == 0
    out = capsys.readouterr().out
    assert "+### sorry" in out and "+So sorry." in out
    old = active_library({}).get("refund-policy").version
    assert f"version {old} first used" in out
    assert policydesk_main(["policies", "diff", "refund-policy", "current", old[:6]]) == 0
    assert "-### sorry" in capsys.readouterr().out
    assert policydesk_main(["policies", "diff", "refund-policy", "abcdef12", "current"]) == 1
