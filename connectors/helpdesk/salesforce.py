"""Salesforce Service Cloud as a Helpdesk, through simple-salesforce (docs/platforms/salesforce.md).

A ticket is a Case. Replies go out with the standard `emailSimple` action, addressed to the Case's
requester, logged on the Case, and carrying Email-to-Case's thread token (in the subject by default,
SALESFORCE_THREADING_TOKEN), so that in an org that threads by token the customer's answer lands on
the same Case instead of opening a new one; internal notes are private CaseComments; tags live in a custom
multi-select picklist (Case has no tags field); hand-off is a change of OwnerId to a queue.

Every Case update carries `Sforce-Auto-Assign: FALSE`: the REST API runs the org's active assignment
rule on updates by default, which would move a Case we just handed to humans back to wherever the
rule sends it (and it fires on *any* update, a tag change included).

Errors are mapped to connectors.errors by what the caller should do next:
- 403 REQUEST_LIMIT_EXCEEDED is the org's rolling 24 h API allocation (or its concurrent long-request
  cap) being used up. Salesforce gives no wait hint, and sleeping a few seconds in-process cannot
  help a daily allocation, so it becomes RateLimited with a long `retry_after` (default 900 s,
  SALESFORCE_LIMIT_RETRY_AFTER): above the in-process wait cap, so it is not retried here but handed
  up for the task to be retried later without holding a worker. The concurrent-request variant
  gets a short hint and is retried in-process.
- Other 403s are missing permissions and 401s are dead sessions (simple-salesforce already re-logs
  in when it holds a password or client credentials): AuthFailed.
- 5xx and dropped connections: PlatformUnavailable (retried) on reads and updates, which are safe to
  repeat; OutcomeUnknown on creates and emailSimple, which are never repeated blindly.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlparse

import requests
from simple_salesforce import Salesforce, format_soql
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from connectors.config import PlatformConfig
from connectors.errors import (
    AuthFailed,
    NotFound,
    OutcomeUnknown,
    PlatformError,
    PlatformUnavailable,
    RateLimited,
    Rejected,
)
from connectors.helpdesk.base import TicketStatus, UpdatesInOneWrite, messages_after
from connectors.helpdesk.salesforce_identity import IdentityUnavailable, SessionRefused, userinfo
from connectors.helpdesk.turn_reads import remember, remembered, revise
from connectors.http import make_retrying
from connectors.models import Customer, Message, Ticket
from connectors.text import clean_message, same_text

log = logging.getLogger(__name__)

T = TypeVar("T")

PLATFORM = "salesforce"
DEFAULT_API_VERSION = "59.0"
DEFAULT_TAGS_FIELD = "Policydesk_Tags__c"
DEFAULT_STATUSES: dict[str, str] = {"open": "Working", "pending": "Waiting on Customer", "resolved": "Closed"}
NO_AUTO_ASSIGN = {"Sforce-Auto-Assign": "FALSE"}
COMMENT_MAX_BYTES = 4000  # CaseComment.CommentBody limit
QUERY_PAGE = 2000  # records one SOQL query answer holds before nextRecordsUrl
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
ID_PATTERN = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
CASE_FIELDS = (
    "Id, CaseNumber, Subject, Description, Status, OwnerId, ContactId, SuppliedEmail, SuppliedName, "
    "IsClosed, CreatedDate"
)
DAILY_LIMIT_SHARE = 0.8  # of the org's daily API allocation; above it automatic work stops


class _Session(requests.Session):
    """The session simple-salesforce sends through, with the timeouts and TLS trust it never sets.

    `verify` is passed on every request because requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
    silently override a Session's own `verify`, which would reject the sandbox's certificate (or
    a deliberately pinned bundle) on machines that set those variables.
    """

    def __init__(self, timeout: tuple[float, float], verify: bool | str):
        super().__init__()
        self.timeout = timeout
        self.verify = verify
        self.headers["User-Agent"] = "policydesk/0.1"

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)


class SalesforceClient(UpdatesInOneWrite):
    """The Helpdesk interface over one Salesforce org."""

    name = PLATFORM

    def __init__(self, config: PlatformConfig, env: Mapping[str, str] = os.environ):
        self.config = config
        self.handoff_group: str | None = env.get("SALESFORCE_HANDOFF_QUEUE_ID") or None
        self.tags_field = env.get("SALESFORCE_TAGS_FIELD") or DEFAULT_TAGS_FIELD
        if not FIELD_NAME.match(self.tags_field):  # it is spliced into SOQL, so it must be a plain name
            raise ValueError("SALESFORCE_TAGS_FIELD must be a field API name such as Policydesk_Tags__c")
        self.statuses = {
            key: env.get(f"SALESFORCE_STATUS_{key.upper()}") or value
            for key, value in DEFAULT_STATUSES.items()
        }
        self.sender_address = env.get("SALESFORCE_SENDER_ADDRESS") or None
        self.threading_inputs = threading_inputs(env.get("SALESFORCE_THREADING_TOKEN"))
        self.limit_retry_after = float(env.get("SALESFORCE_LIMIT_RETRY_AFTER") or 900)
        self.daily_limit_share = float(env.get("SALESFORCE_DAILY_LIMIT_SHARE") or DAILY_LIMIT_SHARE)
        self.usage: tuple[int, int] | None = None  # (used, total) of the daily allocation, last seen
        self.attempts = 4
        self.max_wait = 30.0
        self.session = _Session((5.0, 30.0), config.verify)
        self._sf: Salesforce | None = None
        self._login_lock = threading.Lock()
        self._own_user: str | None = None

    # ------------------------------------------------------------ Helpdesk interface

    def reply(self, ticket_id: str, body: str) -> str:
        """emailSimple to the requester, logged on the Case so agents see what the customer got."""
        case = self._case(ticket_id)
        email = case.get("SuppliedEmail") or self._contact_email(case.get("ContactId"))
        if not email:
            raise Rejected(PLATFORM, "the case has no requester email to reply to")
        original = re.sub(r"^(?:re:\s*)+", "", case.get("Subject") or "", flags=re.IGNORECASE).strip()
        subject = (
            f"Re: {original} [Case {case['CaseNumber']}]" if original else f"Re: [Case {case['CaseNumber']}]"
        )
        self._email_simple(
            {
                "emailAddresses": email,
                "emailSubject": subject,
                "emailBody": body,
                "relatedRecordId": case["Id"],
                "logEmailOnSend": True,
                **self.threading_inputs,
            }
        )
        # emailSimple answers without the EmailMessage it logs; asking for it would cost a call
        return f"emailSimple:{case['Id']}"

    def send_email(self, ticket_id: str, to: str, subject: str, body: str) -> str:
        """emailSimple to an address that is not the requester's (a one-time code), not logged on the
        Case, so the code is not shown to agents; one attempt, never repeated blindly."""
        self._email_simple(
            {"emailAddresses": to, "emailSubject": subject, "emailBody": body, "logEmailOnSend": False}
        )
        return f"emailSimple:{_checked_id(ticket_id)}"

    def _email_simple(self, action_input: dict[str, Any]) -> None:
        """One emailSimple call from our org-wide address (when set); one attempt, never repeated."""
        if self.sender_address:
            action_input.update(senderType="OrgWideEmailAddress", senderAddress=self.sender_address)
        result = self._once(
            "emailSimple",
            lambda sf: sf.restful(
                "actions/standard/emailSimple", method="POST", json={"inputs": [action_input]}
            ),
        )
        outcome = result[0] if isinstance(result, list) and result else {}
        if not outcome.get("isSuccess"):
            raise Rejected(PLATFORM, "emailSimple refused the email", detail=_action_errors(outcome))

    def add_note(self, ticket_id: str, body: str, *, and_update: Mapping[str, Any] | None = None) -> str:
        """A private CaseComment; bodies beyond the 4,000-byte field limit are cut, not refused.

        With `and_update` (the arguments of `update`), the Case update goes in the same composite
        request, one call against the daily limit; a later `update` with the same arguments then
        finds nothing left to change. If only that part fails, the later `update` makes it alone."""
        case_id = _checked_id(ticket_id)
        comment = {
            "ParentId": case_id,
            "CommentBody": _truncate_bytes(body, COMMENT_MAX_BYTES),
            "IsPublished": False,
        }
        fields = self._case_changes(case_id, **and_update)[0] if and_update else {}
        if not fields:
            created = self._once("CaseComment.create", lambda sf: sf.CaseComment.create(comment))
        else:
            note, change = self._composite(
                "CaseComment.create+Case.update",
                [
                    {"method": "POST", "url": "sobjects/CaseComment", "referenceId": "note", "body": comment},
                    {
                        "method": "PATCH",
                        "url": f"sobjects/Case/{case_id}",
                        "referenceId": "case",
                        "body": fields,
                        "httpHeaders": NO_AUTO_ASSIGN,
                    },
                ],
                safe=False,
            )
            created = note.get("body") if note.get("httpStatusCode") == 201 else None
            if change.get("httpStatusCode") == 204:
                revise(_case_key(case_id), lambda held: held[0].update(fields))
            else:
                log.warning("salesforce case update in a composite failed: %s", change.get("httpStatusCode"))
        if not created or not created.get("success"):
            raise Rejected(PLATFORM, "CaseComment was not created", detail=str((created or {}).get("errors")))
        return str(created["id"])

    def update(
        self,
        ticket_id: str,
        *,
        status: TicketStatus | None = None,
        group: str | None = None,
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
    ) -> list[str]:
        """One Case update for owner (a queue), status and the tags picklist together; only what differs
        is sent. The picklist is merged with the Case's own values, read in this turn's Case read."""
        case_id = _checked_id(ticket_id)
        fields, merged = self._case_changes(case_id, status, group, add_tags, remove_tags)
        if fields:
            self._update_case(case_id, fields)
            revise(_case_key(case_id), lambda held: held[0].update(fields))
        return merged

    def _case_changes(
        self,
        case_id: str,
        status: TicketStatus | None = None,
        group: str | None = None,
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
    ) -> tuple[dict[str, Any], list[str]]:
        """The Case fields `update` would write (only those that differ) and the merged tags."""
        if status is not None and status not in self.statuses:
            raise ValueError(f"unknown ticket status {status!r}")
        case = self._case(case_id)
        existing = _split_tags(case.get(self.tags_field))
        dropped = {t for t in (_tag(v) for v in remove_tags) if t}
        merged = [t for t in existing if t not in dropped]
        merged += [t for t in (_tag(v) for v in add_tags) if t and t not in merged and t not in dropped]
        fields: dict[str, Any] = {}
        if merged != existing:
            fields[self.tags_field] = ";".join(merged) or None
        if group is not None and case.get("OwnerId") != _checked_id(group, what="queue"):
            fields["OwnerId"] = _checked_id(group, what="queue")
        if status is not None and case.get("Status") != self.statuses[status]:
            fields["Status"] = self.statuses[status]
        return fields, merged

    def tickets_created(self, since: datetime, until: datetime, limit: int) -> list[str]:
        """The Cases created in the range, by a SOQL query on CreatedDate (a read; one page, since
        the LIMIT stays under the query's page size)."""
        soql = format_soql(
            "SELECT Id FROM Case WHERE CreatedDate >= {} AND CreatedDate < {} "
            "ORDER BY CreatedDate ASC LIMIT {:literal}",
            since,
            until,
            str(min(max(1, limit), QUERY_PAGE)),
        )
        return [str(record["Id"]) for record in self._records(soql)]

    def get_ticket(self, ticket_id: str) -> Ticket:
        case = self._case(ticket_id)
        email, name = case.get("SuppliedEmail"), case.get("SuppliedName")
        if not email and case.get("ContactId"):
            contact = self._contact(case["ContactId"])
            email, name = (contact or {}).get("Email"), name or (contact or {}).get("Name")
        owner = case.get("OwnerId") or ""
        return Ticket(
            helpdesk=PLATFORM,
            id=case["Id"],
            subject=case.get("Subject") or "",
            description=case.get("Description") or "",
            requester_email=email,
            requester_name=name,
            customer_id=case.get("ContactId"),
            status=case.get("Status"),
            tags=tuple(_split_tags(case.get(self.tags_field))),
            group_id=owner if owner.startswith("00G") else None,
            assignee_id=owner if owner.startswith("005") else None,
        )

    def assignee_id(self, ticket_id: str) -> str | None:
        owner = self._case(ticket_id).get("OwnerId") or ""
        return owner if owner.startswith("005") else None

    def latest_customer_message(self, ticket_id: str) -> Message | None:
        """Newest incoming EmailMessage; a Case with none (web/phone origin) falls back to its Description."""
        messages = self.customer_messages(ticket_id)
        return messages[-1] if messages else None

    def customer_messages(self, ticket_id: str, after: str | None = None) -> list[Message]:
        """Incoming EmailMessages oldest first; a Case with none (web/phone origin) has its Description."""
        case_id = _checked_id(ticket_id)
        emails = self._case_and_incoming(case_id)[1]
        messages = [
            Message(
                id=email["Id"],
                text=clean_message(email.get("TextBody") or "") or clean_message(email.get("HtmlBody") or ""),
                incoming=True,
                created_at=email.get("MessageDate"),
                author_email=email.get("FromAddress"),
            )
            for email in emails
        ]
        if not messages:
            case = self._case(case_id)
            text = clean_message(case.get("Description") or "")
            if text:
                messages.append(
                    Message(
                        id=case["Id"],
                        text=text,
                        incoming=True,
                        created_at=case.get("CreatedDate"),
                        author_email=case.get("SuppliedEmail"),
                    )
                )
        return messages_after(messages, after)

    def paused_for_budget(self) -> str | None:
        """Above SALESFORCE_DAILY_LIMIT_SHARE (80%) of the org's daily API allocation, as the last
        answer's `Sforce-Limit-Info: api-usage=used/total` said: an exhausted allocation blocks every
        integration of the org until it recovers, so the rest is left to them."""
        usage = self.usage
        if usage is None or not usage[1] or usage[0] / usage[1] < self.daily_limit_share:
            return None
        return (
            f"Salesforce's daily API limit is {usage[0] / usage[1]:.0%} used ({usage[0]}/{usage[1]}), "
            f"above the {self.daily_limit_share:.0%} policydesk may use: automatic work is paused so the "
            "org's other integrations keep what is left"
        )

    def own_user_id(self) -> str | None:
        """The user our session belongs to, from the org's UserInfo endpoint (salesforce_identity)."""
        if self._own_user is None:
            sf = self._api()
            try:
                info = userinfo(
                    f"https://{sf.sf_instance}",
                    sf.session_id,
                    session=self.session,
                    verify=self.config.verify,
                )
            except (SessionRefused, IdentityUnavailable) as exc:
                raise PlatformUnavailable(PLATFORM, f"userinfo: {exc}") from None
            self._own_user = str(info.get("user_id") or "")
        return self._own_user or None

    def find_customer(self, email: str) -> Customer | None:
        email = (email or "").strip()
        if "@" not in email:
            return None

        def read() -> dict[str, Any] | None:
            contacts = self._records(
                format_soql(
                    "SELECT Id, Name, Email, AccountId FROM Contact WHERE Email = {} "
                    "ORDER BY CreatedDate ASC LIMIT 1",
                    email,
                )
            )
            return contacts[0] if contacts else None

        contact = remembered(("salesforce", "contact-by-email", email.casefold()), read)
        if not contact:
            return None
        return Customer(
            platform=PLATFORM,
            id=contact["Id"],
            email=contact.get("Email"),
            name=contact.get("Name"),
            extra={"account_id": contact.get("AccountId")},
        )

    def find_reply(self, ticket_id: str, body: str) -> str | None:
        """Replies are logged on the Case as outgoing EmailMessages (emailSimple with logEmailOnSend)."""
        sent = self._records(
            format_soql(
                "SELECT Id, TextBody FROM EmailMessage WHERE ParentId = {} AND Incoming = false "
                "ORDER BY MessageDate DESC LIMIT 50",
                _checked_id(ticket_id),
            )
        )
        return next((e["Id"] for e in sent if same_text(body, e.get("TextBody") or "")), None)

    def find_note(self, ticket_id: str, marker: str) -> bool:
        if not marker:
            raise ValueError("find_note needs a non-empty marker")
        comments = self._records(
            format_soql(
                "SELECT Id FROM CaseComment WHERE ParentId = {} AND IsPublished = false "
                "AND CommentBody LIKE '%{:like}%' LIMIT 1",
                _checked_id(ticket_id),
                marker,
            )
        )
        return bool(comments)

    # ------------------------------------------------------------ reads and writes

    def _case(self, ticket_id: str) -> dict[str, Any]:
        return self._case_and_incoming(_checked_id(ticket_id))[0]

    def _case_and_incoming(self, case_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The Case and its incoming EmailMessages: two queries in one composite request, one call
        against the daily limit; read once per turn (turn_reads)."""

        def read() -> tuple[dict[str, Any], list[dict[str, Any]]]:
            case_query = format_soql(
                "SELECT {:literal}, {:literal} FROM Case WHERE Id = {}", CASE_FIELDS, self.tags_field, case_id
            )
            emails_query = format_soql(
                "SELECT Id, FromAddress, TextBody, HtmlBody, MessageDate FROM EmailMessage "
                "WHERE ParentId = {} AND Incoming = true ORDER BY MessageDate ASC, CreatedDate ASC LIMIT 200",
                case_id,
            )
            case, emails = self._retrying(
                lambda: self._composite(
                    "query Case+EmailMessage",
                    [
                        {"method": "GET", "url": f"query?q={quote(case_query)}", "referenceId": "case"},
                        {"method": "GET", "url": f"query?q={quote(emails_query)}", "referenceId": "emails"},
                    ],
                    safe=True,
                )
            )
            records = [_query_records(case, "Case"), _query_records(emails, "EmailMessage")]
            if not records[0]:
                raise NotFound(PLATFORM, f"case {case_id} not found")
            return records[0][0], records[1]

        return remembered(_case_key(case_id), read)

    def _composite(
        self, operation: str, subrequests: list[dict[str, Any]], *, safe: bool
    ) -> list[dict[str, Any]]:
        """Several subrequests in one `composite` request (counted once against the org's daily limit),
        each answered on its own; `allOrNone` false, so one failing leaves the others done. Sub-URLs are
        given relative to the API version here."""
        sf = self._api()
        version = f"/services/data/v{sf.sf_version}/"
        body = {
            "allOrNone": False,
            "compositeRequest": [{**sub, "url": version + sub["url"]} for sub in subrequests],
        }
        result = self._call(
            operation, lambda api: api.restful("composite", method="POST", json=body), safe=safe
        )
        answers = list((result or {}).get("compositeResponse") or [])
        if len(answers) != len(subrequests):
            raise (PlatformUnavailable if safe else OutcomeUnknown)(
                PLATFORM, f"incomplete answer to {operation}"
            )
        return answers

    def _contact(self, contact_id: str) -> dict[str, Any] | None:
        if not ID_PATTERN.match(contact_id or ""):
            return None

        def read() -> dict[str, Any] | None:
            records = self._records(
                format_soql("SELECT Id, Name, Email, AccountId FROM Contact WHERE Id = {}", contact_id)
            )
            contact = records[0] if records else None
            if contact and contact.get("Email"):  # find_customer need not ask again
                remember(("salesforce", "contact-by-email", contact["Email"].casefold()), contact)
            return contact

        return remembered(("salesforce", "contact", contact_id), read)

    def _contact_email(self, contact_id: str | None) -> str | None:
        return (self._contact(contact_id) or {}).get("Email") if contact_id else None

    def _records(self, soql: str, *, retry: bool = True) -> list[dict[str, Any]]:
        """One page is enough: every query we send has a LIMIT or selects by Id.

        `retry=False` inside a sequence that is itself retried as a whole, so attempts do not multiply.
        """

        def run() -> Any:
            return self._call("query", lambda sf: sf.query(soql), safe=True)

        result = self._retrying(run) if retry else run()
        records = (result or {}).get("records") or []
        return [dict(r) for r in records]

    def _update_case(self, case_id: str, fields: dict[str, Any]) -> None:
        self._retrying(
            lambda: self._call(
                "Case.update", lambda sf: sf.Case.update(case_id, fields, headers=NO_AUTO_ASSIGN), safe=True
            )
        )

    def _retrying(self, func: Callable[[], T]) -> T:
        return make_retrying(attempts=self.attempts, max_wait=self.max_wait)(func)

    # sObjects are reached by attribute name (sf.Case, sf.CaseComment), which simple_salesforce's
    # types cannot express; the calls below take the client as Any for that reason.
    def _once(self, operation: str, func: Callable[[Any], T]) -> T:
        """A create: one attempt, ambiguous failures are OutcomeUnknown."""
        return self._call(operation, func, safe=False)

    def _call(self, operation: str, func: Callable[[Any], T], *, safe: bool) -> T:
        sf = self._api()
        try:
            result = func(sf)
        except SalesforceError as exc:
            raise self._error(operation, exc, safe) from exc
        except (requests.ConnectTimeout, requests.exceptions.SSLError) as exc:
            raise PlatformUnavailable(PLATFORM, f"could not connect for {operation}") from exc
        except (requests.Timeout, requests.ConnectionError) as exc:
            if safe or _never_sent(exc):
                raise PlatformUnavailable(PLATFORM, f"{type(exc).__name__} on {operation}") from exc
            raise OutcomeUnknown(
                PLATFORM, f"{type(exc).__name__} during {operation}; effect unknown"
            ) from exc
        except ValueError as exc:  # a 2xx whose body is not JSON (a proxy or maintenance page)
            if safe:
                raise PlatformUnavailable(PLATFORM, f"unreadable answer to {operation}") from exc
            raise OutcomeUnknown(PLATFORM, f"unreadable answer to {operation}; effect unknown") from exc
        self._watch_usage(sf)
        return result

    def _error(self, operation: str, exc: SalesforceError, safe: bool) -> PlatformError:
        status = int(getattr(exc, "status", 0) or 0)
        code, message = _first_error(exc.content)
        detail = f"{code}: {message}"[:500]
        if code == "REQUEST_LIMIT_EXCEEDED" or status == 429:
            concurrent = "concurrent" in message.lower()
            return RateLimited(
                PLATFORM,
                f"API request limit exceeded on {operation}",
                status=status,
                detail=detail,
                retry_after=5.0 if concurrent else self.limit_retry_after,
            )
        if isinstance(exc, SalesforceAuthenticationFailed) or status == 401:
            return AuthFailed(
                PLATFORM, f"session refused on {operation}", status=status or 401, detail=detail
            )
        if status == 403:
            return AuthFailed(PLATFORM, f"permission refused on {operation}", status=status, detail=detail)
        if status == 404:
            return NotFound(PLATFORM, f"not found on {operation}", status=status, detail=detail)
        if status >= 500:
            if safe:
                return PlatformUnavailable(
                    PLATFORM, f"server error on {operation}", status=status, detail=detail
                )
            return OutcomeUnknown(
                PLATFORM, f"server error during {operation}; effect unknown", status=status, detail=detail
            )
        return Rejected(PLATFORM, f"{operation} rejected", status=status or None, detail=detail)

    def _watch_usage(self, sf: Salesforce) -> None:
        """Every answer carries the org's daily usage (`Sforce-Limit-Info`, parsed by simple-salesforce)."""
        usage = sf.api_usage.get("api-usage") if sf.api_usage else None
        if usage and usage.total:
            self.usage = (int(usage.used), int(usage.total))
            if usage.used / usage.total >= self.daily_limit_share:
                log.warning("salesforce API usage at %s/%s of the daily allocation", usage.used, usage.total)

    # ------------------------------------------------------------ login

    def _api(self) -> Salesforce:
        """Logged in on first use, so building the client never touches the network."""
        if self._sf is None:
            with self._login_lock:
                if self._sf is None:
                    self._sf = self._login()
        return self._sf

    def _login(self) -> Salesforce:
        creds = self.config.credentials
        version = creds.get("api_version") or DEFAULT_API_VERSION
        common: dict[str, Any] = {"version": version, "session": self.session}
        try:
            if "username" in creds and "password" in creds:
                if "consumer_key" in creds and "consumer_secret" in creds:
                    return Salesforce(
                        username=creds["username"],
                        password=creds["password"],
                        consumer_key=creds["consumer_key"],
                        consumer_secret=creds["consumer_secret"],
                        domain=creds.get("domain"),
                        **common,
                    )
                return Salesforce(
                    username=creds["username"],
                    password=creds["password"],
                    security_token=creds.get("security_token", ""),
                    domain=creds.get("domain"),
                    **common,
                )
            if "consumer_key" in creds and "consumer_secret" in creds and "domain" in creds:
                return Salesforce(
                    consumer_key=creds["consumer_key"],
                    consumer_secret=creds["consumer_secret"],
                    domain=creds["domain"],
                    **common,
                )
            if "instance_url" in creds and "access_token" in creds:
                # `instance`, not `instance_url`: simple-salesforce keeps only the host of instance_url,
                # which would drop a path prefix such as the sandbox's /salesforce.
                return Salesforce(
                    instance=_instance(creds["instance_url"]), session_id=creds["access_token"], **common
                )
        except SalesforceAuthenticationFailed as exc:
            raise AuthFailed(PLATFORM, "login refused", detail=str(exc.code or "")) from exc
        except SalesforceError as exc:
            raise self._error("login", exc, True) from exc
        except requests.RequestException as exc:
            raise PlatformUnavailable(PLATFORM, f"{type(exc).__name__} during login") from exc
        raise AuthFailed(PLATFORM, "no usable Salesforce credentials")


def _case_key(case_id: str) -> tuple[str, str, str]:
    return ("salesforce", "case+incoming", case_id)


def _query_records(answer: Mapping[str, Any], sobject: str) -> list[dict[str, Any]]:
    """The records of a query subrequest's answer; an error answer raises what the caller should do."""
    status = int(answer.get("httpStatusCode") or 0)
    if status == 200:
        return [dict(r) for r in ((answer.get("body") or {}).get("records") or [])]
    code, message = _first_error(answer.get("body"))
    if status >= 500:
        raise PlatformUnavailable(PLATFORM, f"server error reading {sobject}", status=status, detail=code)
    if code == "REQUEST_LIMIT_EXCEEDED":
        raise RateLimited(
            PLATFORM, f"API request limit exceeded reading {sobject}", status=status, detail=code
        )
    raise Rejected(PLATFORM, f"query of {sobject} rejected", status=status, detail=f"{code}: {message}"[:500])


def _instance(instance_url: str) -> str:
    """host[:port][/path] of the instance URL, the form simple-salesforce puts after https://."""
    parsed = urlparse(instance_url if "://" in instance_url else f"https://{instance_url}")
    return f"{parsed.netloc}{parsed.path.rstrip('/')}"


def _checked_id(value: str, what: str = "case") -> str:
    """Salesforce ids are 15 or 18 letters and digits; anything else cannot name a record."""
    value = (value or "").strip()
    if not ID_PATTERN.match(value):
        raise NotFound(PLATFORM, f"{what} id {value[:40]!r} is not a Salesforce id")
    return value


def _tag(value: str) -> str:
    """A multi-select picklist value: ';' separates values, so it cannot be part of one."""
    return " ".join(str(value).replace(";", " ").split())[:255]


def _split_tags(value: str | None) -> list[str]:
    return [t for t in (value or "").split(";") if t]


def _truncate_bytes(text: str, limit: int) -> str:
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[: limit - 3].decode(errors="ignore") + "…"


def _first_error(content: Any) -> tuple[str, str]:
    """errorCode and message of the first error in a Salesforce error body (a list of objects)."""
    if isinstance(content, list) and content and isinstance(content[0], Mapping):
        first = content[0]
        nested = first.get("errors")  # an action's result: [{actionName, errors: [{statusCode, message}]}]
        if isinstance(nested, list) and nested and isinstance(nested[0], Mapping):
            return str(nested[0].get("statusCode") or ""), str(nested[0].get("message") or "")
        return str(first.get("errorCode") or ""), str(first.get("message") or "")
    if isinstance(content, Mapping):
        return str(content.get("errorCode") or content.get("error") or ""), str(content.get("message") or "")
    return "", str(content or "")[:200]


THREADING_TOKEN_PLACES = {
    "subject": {"addThreadingTokenToSubject": True},
    "body": {"addThreadingTokenToBody": True},
    "both": {"addThreadingTokenToSubject": True, "addThreadingTokenToBody": True},
    "none": {},
}


def threading_inputs(setting: str | None) -> dict[str, bool]:
    """emailSimple inputs for SALESFORCE_THREADING_TOKEN: subject (the default), body, both or none."""
    place = (setting or "subject").strip().lower()
    if place not in THREADING_TOKEN_PLACES:
        raise ValueError(f"SALESFORCE_THREADING_TOKEN must be one of {', '.join(THREADING_TOKEN_PLACES)}")
    return dict(THREADING_TOKEN_PLACES[place])


def _action_errors(outcome: Mapping[str, Any]) -> str:
    errors = outcome.get("errors") or []
    return "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in errors if isinstance(e, Mapping))


def _never_sent(exc: BaseException) -> bool:
    """A refused connection means the request never left us, so repeating it cannot double a write."""
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text
