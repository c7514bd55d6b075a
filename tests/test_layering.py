"""The layering rule of docs/architecture.md holds: dependencies point one way, a deployment never
imports the sandbox, and no package has an import circle. The contracts are `[tool.importlinter]` in
pyproject.toml; a broken one prints the offending import chains."""

from __future__ import annotations

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
