"""The web process's access log, as the Procfile runs it, names each request's path but never its query
string, where a helpdesk's URL secret travels (Salesforce's `?token=`)."""

from __future__ import annotations

from pathlib import Path

import requests

from policydesk.stack import WebProcess

SECRET = "url-secret-that-must-not-be-logged-5d1f"


def test_a_url_secret_never_reaches_the_access_log(base_env, data_dir: Path) -> None:
    env = {**base_env, "SALESFORCE_WEBHOOK_URL_SECRET": SECRET}
    web = WebProcess(env, log_dir=data_dir / "access-log").start()
    try:
        for token in (SECRET, "a-wrong-guess"):
            answer = requests.post(f"{web.url}/webhooks/salesforce?token={token}", data=b"<x/>", timeout=10)
            assert answer.status_code in (400, 401)
    finally:
        web.stop()
    log = web.log_path.read_text()
    assert log.count('"POST /webhooks/salesforce HTTP/1.1"') == 2, log
    assert SECRET not in log and "a-wrong-guess" not in log
