"""The layering rule of docs/architecture.md holds: dependencies point one way, a deployment never
imports the sandbox, and no package has an import circle. The contracts are `[tool.importlinter]` in
pyproject.toml; a broken one prints the offending import chains."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(no_cache=True, no_logo=True))"
)


def test_the_import_contracts_hold():
    # In its own process: import-linter reconfigures logging, which would silence the other tests' logs.
    done = subprocess.run([sys.executable, "-c", LINT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"an import breaks the layering rule:\n{done.stdout}{done.stderr}"


DEPLOYED_IMPORTS = """
import sys
from webhooks.app import create_app
from worker.celery_app import app as celery_app
import worker.tasks
from connectors.tools import load_all_tools
create_app()
celery_app.loader.import_default_modules()
load_all_tools()
import policydesk.cli
print(sorted(m for m in sys.modules if m == "sandbox" or m.startswith("sandbox.")))
"""


def test_the_web_app_and_the_worker_run_without_importing_the_sandbox():
    """What the Procfile starts (and the tools it loads at run time, by name) never imports the
    sandbox, so a deployment can leave it and its dependencies out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLICYDESK", "REDIS"))}
    done = subprocess.run(
        [sys.executable, "-c", DEPLOYED_IMPORTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
