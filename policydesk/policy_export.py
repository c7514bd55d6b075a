"""`policydesk policies export DIR`: the studio's published policies as files, for a git repository.

Each published policy's live version is written to `DIR/<id>.md`, byte for byte what the studio
holds, so `git diff` shows exactly what was published; one line per policy says its version, author
and message, ready to be a commit message. Policies never published in the studio are not written
(their files are already in the code). Conversations saved as tests on the studio's test screen
go to `DIR/tests/<policy id>/<test id>.yaml`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import redis
import yaml

from policydesk.simulation.policy_tests import write_test
from worker.published_policies import PublishedStore
from worker.saved_tests import SavedTests

__all__ = ["export_published"]


def export_published(client: redis.Redis, folder: Path, out: TextIO) -> int:
    versions = PublishedStore(client).live_versions()
    folder.mkdir(parents=True, exist_ok=True)
    for version in versions:
        (folder / f"{version.policy_id}.md").write_text(version.text, encoding="utf-8")
        when = datetime.fromtimestamp(version.at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        out.write(f"{version.policy_id}: v{version.number} by {version.author}, {when}: {version.message}\n")
    out.write(f"{len(versions)} published polic{'y' if len(versions) == 1 else 'ies'} written to {folder}\n")
    tests = 0
    for saved in SavedTests(client).all().values():
        for text in saved.values():
            write_test(yaml.safe_load(text), folder)  # where `policydesk test --tests-dir DIR` finds it
            tests += 1
    if tests:
        out.write(f"{tests} saved test(s) written to {folder / 'tests'}\n")
    return 0
