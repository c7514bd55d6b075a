"""The README must match the code: every environment variable read and every Procfile process."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("webhooks", "worker", "policies", "connectors", "policydesk", "sandbox", "studio")
PREFIXES = (
    "POLICYDESK",
    "REDIS",
    "FRESHDESK",
    "KUSTOMER",
    "SALESFORCE",
    "AFTERSHIP",
    "SHIPENGINE",
    "SHIPSTATION",
    "SMARTRR",
    "BIGCOMMERCE",
    "SHOPIFY",
    "ANTHROPIC",
    "CLASSIFIER",
    "LOG",
    "FLOWER",
)
ENV_NAME = re.compile(r"[\"'](?:{})_[A-Z0-9_]+[\"']".format("|".join(PREFIXES)))
NOT_ENV = {"POLICYDESK_WEBHOOKS"}  # a Flask config key


def env_names_in_code() -> set[str]:
    names: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            names.update(m.group(0).strip("\"'") for m in ENV_NAME.finditer(path.read_text()))
    return names - NOT_ENV


def test_every_environment_variable_is_documented():
    readme = (ROOT / "README.md").read_text()
    missing = sorted(name for name in env_names_in_code() if f"`{name}`" not in readme and name not in readme)
    assert not missing, f"README does not mention: {missing}"


def test_every_procfile_process_is_documented():
    readme = (ROOT / "README.md").read_text()
    for procfile in ("Procfile", "Procfile.flower"):
        for line in (ROOT / procfile).read_text().splitlines():
            if line.strip():
                assert f"`{line.split(':', 1)[0]}`" in readme or procfile in readme
    assert "Procfile.flower" in readme


def test_readme_names_the_two_commands_the_makefile_has():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo", "test"):
        assert f"make {target}" in readme
        assert re.search(rf"^{target}:", makefile, re.M)


PATH_IN_BACKTICKS = re.compile(r"`([A-Za-z_.][\w./-]*(?:/|\.py|\.md|\.yaml|\.toml))[`:\s]")


def named_paths(text: str) -> set[str]:
    """Repository paths a document names in backticks; placeholders like `<vendor>` are skipped."""
    return {m.group(1) for m in PATH_IN_BACKTICKS.finditer(text) if "<" not in m.group(1)}


def layout_section(readme: str) -> str:
    start = readme.index("## Layout")
    end = readme.find("\n## ", start + 1)
    return readme[start : end if end != -1 else len(readme)]


def test_every_path_the_layout_docs_name_exists():
    readme = (ROOT / "README.md").read_text()
    layout = layout_section(readme)
    folders = {line.split()[0] for line in layout.splitlines() if re.match(r"^[a-z]+/\s", line)}
    contributing = (ROOT / "CONTRIBUTING.md").read_text()
    architecture = (ROOT / "docs/architecture.md").read_text()
    start, end = architecture.index("## How a ticket moves"), architecture.index("## The layering")
    ticket_path = architecture[start:end]
    named = folders | named_paths(layout) | named_paths(contributing) | named_paths(ticket_path)
    assert len(named) > 20
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert not missing, f"documented paths that do not exist: {missing}"
