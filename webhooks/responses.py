"""How the receivers answer: short JSON for Kustomer and Freshdesk, SOAP for Salesforce.

Senders only look at the status code (and Salesforce at the Ack), so bodies stay short and never
carry internals: no tracebacks, no echo of the request. The input helpers at the end are here because
they decide when a delivery is refused, and every receiver must refuse and clean input the same way.
"""

from __future__ import annotations

import hmac
import json
import re
from typing import Any
from xml.sax.saxutils import escape

from flask import Response, jsonify

SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"

# Exactly the acknowledgement Salesforce documents; anything else is treated as a failed delivery.
SOAP_ACK = b"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
  <soapenv:Body>
    <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">
      <Ack>true</Ack>
    </notificationsResponse>
  </soapenv:Body>
</soapenv:Envelope>
"""

_SOAP_FAULT = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
  <soapenv:Body>
    <soapenv:Fault>
      <faultcode>soapenv:{code}</faultcode>
      <faultstring>{message}</faultstring>
    </soapenv:Fault>
  </soapenv:Body>
</soapenv:Envelope>
"""


class WebhookError(Exception):
    """A delivery we refuse; `status` tells the sender whether a retry can help (4xx no, 503 yes)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def json_error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def json_ack(outcome: str) -> Response:
    """202 when work was queued, 200 for a duplicate or an ignored event: all 2xx, so no retries."""
    response = jsonify({"ok": True, "status": outcome})
    response.status_code = 202 if outcome == "accepted" else 200
    return response


def soap_ack() -> Response:
    return Response(SOAP_ACK, status=200, content_type=SOAP_CONTENT_TYPE)


def soap_fault(status: int, message: str) -> Response:
    """A SOAP 1.1 Fault; Client for the sender's mistakes, Server when retrying later can help."""
    code = "Client" if 400 <= status < 500 else "Server"
    body = _SOAP_FAULT.format(code=code, message=escape(message))
    return Response(body.encode(), status=status, content_type=SOAP_CONTENT_TYPE)


# --- untrusted input: the same hygiene in every receiver ------------------------------------------

_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[^@\s<>\"']{1,190}$")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


def clean_email(value: object) -> str | None:
    """An address the worker may look customers up by, or None: a wrong one is worse than none."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if value.startswith("{{"):  # a Freshdesk placeholder that did not render
        return None
    return value if _EMAIL.match(value) else None


def log_value(value: object, limit: int = 80) -> str:
    """Sender-chosen text (event names) made safe for one log line: printable ASCII, bounded."""
    text = value if isinstance(value, str) else type(value).__name__
    return _UNPRINTABLE.sub("?", text[:limit])


def load_json_object(body: bytes) -> dict[str, Any]:
    """json.loads that turns every way a body can be wrong (encoding, syntax, nesting, type) into a 400."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # ValueError covers JSONDecodeError and UnicodeDecodeError
        raise WebhookError(400, "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise WebhookError(400, "body must be a JSON object")
    return data


def secret_equal(given: str, expected: str) -> bool:
    """Constant-time comparison of a presented secret with the configured one."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8", "replace"))
