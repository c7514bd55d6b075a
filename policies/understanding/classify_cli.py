"""`policydesk classify`: classify a stream of tickets, one JSON object per line.

In:  {"id": ..., "text": "...", "subject": "..."}   (subject optional)
Out: {"id": ..., "label": "wismo", "confidence": 0.93}
A line that cannot be classified yields {"id": ..., "error": "..."} in its place on stdout, so a
caller joining results to inputs by id (or by position) never loses track; the exit code is then 1.
The stream never stops on bad input and never prints a traceback.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from policies.understanding.classifier import Classifier
from policies.understanding.claude_classifier import default_classifier

__all__ = ["main", "classify_line"]

MAX_LINE_CHARS = 1_000_000  # a ticket is never this long; refuse rather than spend memory on it


def _error(record_id: Any, message: str) -> dict[str, Any]:
    return {"id": record_id, "error": message}


def classify_line(line: str, classifier: Classifier) -> dict[str, Any]:
    """One input line to one output object; problems become an error object, never an exception."""
    if len(line) > MAX_LINE_CHARS:
        return _error(None, f"line longer than {MAX_LINE_CHARS} characters")
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return _error(None, "not valid JSON")
    if not isinstance(record, dict):
        return _error(None, "expected a JSON object")
    record_id = record.get("id")
    if isinstance(record_id, (dict, list)):
        return _error(None, '"id" must be a string or a number')
    text, subject = record.get("text"), record.get("subject", "")
    if not isinstance(text, str):
        return _error(record_id, 'missing or non-string "text"')
    if subject is None:
        subject = ""
    if not isinstance(subject, str):
        return _error(record_id, '"subject" must be a string')
    try:
        result = classifier.classify(text, subject)
    except Exception as exc:  # a classifier bug must not end the stream; say which line hit it
        return _error(record_id, f"classification failed: {type(exc).__name__}")
    return {"id": record_id, "label": result.label, "confidence": result.confidence}


def main(stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Read JSON lines from stdin, write one result line per non-blank input line; 1 if any failed."""
    if stdin is None:
        stdin = sys.stdin
        if hasattr(stdin, "reconfigure"):
            stdin.reconfigure(errors="replace")  # undecodable bytes must not end the stream
    stdout = sys.stdout if stdout is None else stdout
    classifier = default_classifier()
    failed = False
    for line in stdin:
        if not line.strip():
            continue
        result = classify_line(line, classifier)
        failed = failed or "error" in result
        stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
