"""Pull an email address and an order number out of free customer text.

These feed lookups that act on a customer's account, so a wrong value is worse than none: a number is
only taken as an order number when the words around it say so (`order 10452`, `order no: 123`,
`purchase 00123842`) or it has the store-style `#1043` form. Phone numbers, zip/pin codes, prices,
years and carrier tracking numbers are rejected. When the conversation has just asked for the order
number, `bare=True` also accepts a lone number ("it's 10452").
"""

from __future__ import annotations

import re

__all__ = ["extract_email", "extract_order_number", "extract_order_numbers", "is_tracking_number"]

_EMAIL_RE = re.compile(
    r"(?<![\w.+-])([A-Za-z0-9][A-Za-z0-9._%+-]{0,63})@([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24})(?![\w-])"
)
# "john dot smith at gmail dot com" / "john[at]gmail[dot]com": customers dodging spam filters.
_SPOKEN_EMAIL_RE = re.compile(
    r"(?<![\w.])([a-z0-9][a-z0-9._+-]{0,63}(?:\s*(?:\[dot\]|\(dot\)|\s+dot\s+)\s*[a-z0-9_+-]+)*)"
    r"\s*(?:\[at\]|\(at\)|\s+at\s+)\s*"
    r"([a-z0-9-]+(?:\s*(?:\[dot\]|\(dot\)|\s+dot\s+|\.)\s*[a-z0-9-]+)+)(?![\w])",
    re.I,
)
_SPOKEN_DOT = re.compile(r"\s*(?:\[dot\]|\(dot\)|\s+dot\s+)\s*", re.I)


def extract_email(text: str | None) -> str | None:
    """The first email address in the text, lower-cased; None when there is none."""
    if not text:
        return None
    match = _EMAIL_RE.search(text)
    if match:
        local = match.group(1).strip(".")
        return f"{local}@{match.group(2)}".lower()
    spoken = _SPOKEN_EMAIL_RE.search(text)
    if spoken and re.search(r"\[dot\]|\(dot\)|\sdot\s|\.", spoken.group(2), re.I):
        local = _SPOKEN_DOT.sub(".", spoken.group(1))
        domain = _SPOKEN_DOT.sub(".", spoken.group(2)).replace(" ", "")
        candidate = f"{local}@{domain}".lower()
        if _EMAIL_RE.fullmatch(candidate) and domain.rsplit(".", 1)[-1].isalpha():
            return candidate
    return None


# Carrier tracking numbers: UPS 1Z..., USPS 20-22 digits starting 9, 420+zip prefixes, S10 (RR123456789US),
# FedEx 12/15/20/22 digit numbers are only rejected when called tracking (they look like order ids).
_TRACKING_RES = [
    re.compile(r"1Z[0-9A-Z]{16}", re.I),
    re.compile(r"9[1-5]\d{18,24}"),
    re.compile(r"420\d{5}(\d{4})?9\d{20,24}"),
    re.compile(r"[A-Z]{2}\d{9}[A-Z]{2}", re.I),
    re.compile(r"T\d{10}", re.I),  # UPS Mail Innovations / some DHL eCommerce ids
    re.compile(r"JJD\d{15,20}|JVGL\d{12,20}", re.I),  # DHL
]


def is_tracking_number(token: str) -> bool:
    """True when the token has the shape of a carrier tracking number rather than a shop order id."""
    compact = token.replace(" ", "").replace("-", "")
    return any(pattern.fullmatch(compact) for pattern in _TRACKING_RES)


# Words that introduce an order number. Typos customers really make are included.
_ORDER_WORD = r"(?:order|ordr|oder|orde|odr|ordre|purchase|purchse|po|booking|confirmation)"
# What may sit between the word and the number: "no.", "number", "#", "id", "is", ":" ...
_LINK = (
    r"(?:\s*(?:no\b\.?|nos\b\.?|num(?:ber)?\b\.?|nbr\b\.?|nr\b\.?|#|id\b|ref(?:erence)?\b|code\b|"
    r"is\b|was\b|being\b|:|-|\(|=)\s*){0,4}"
)
# The number itself: optional short letter prefix (BC-10452, SO123456), digits, optional dash groups
# (Amazon-style 112-1234567-1234567). Not followed by decimals, currency or percent: that is a price.
_NUMBER = (
    r"(?P<num>(?:[A-Za-z]{1,4}-?)?\d[\d]{2,24}(?:-\d{2,12}){0,3})"
    r"(?![\w.,]\d)(?![\w-])(?!\s*(?:%|usd\b|dollars?\b|bucks\b|rs\b|inr\b|eur\b|euros?\b|gbp\b|pounds?\b))"
)
_ANCHORED_RE = re.compile(rf"\b{_ORDER_WORD}s?\b{_LINK}\s*{_NUMBER}", re.I)
_HASH_RE = re.compile(r"(?<![\w&#])#\s?(?P<num>\d{3,15})(?![\w.,]\d)(?![\w-])")
_BARE_RE = re.compile(r"(?<![\w#$£€₹.,-])(?P<num>\d{3,15}|[A-Za-z]{1,4}-?\d{3,15})(?![\w.,]\d)(?![\w-])")

# Words right before a number that make it something else than an order number.
_NOT_ORDER_BEFORE = re.compile(
    r"(?:\b(?:apt|apartment|suite|ste|unit|room|flat|floor|house|building|bldg|lot|box|street|st|"
    r"zip|zipcode|postcode|postal|pin|pincode|code|phone|mobile|cell|tel|call|whatsapp|contact|"
    r"tracking|track|awb|waybill|shipment|parcel|package|invoice|ticket|case|account|acct|card|"
    r"ending|year|since|in|on|from|by|rs|inr|usd|eur|gbp|sku|model|item|product|qty|quantity)\b"
    r"|[$£€₹])\s*(?:no\b\.?|num(?:ber)?\b|#|:|-|is\b)?\s*$",
    re.I,
)
_YEAR_RE = re.compile(r"^(19|20)\d{2}$")


def _looks_like_other_number(text: str, start: int, number: str) -> bool:
    """True when the context or shape says phone, zip/pin, price, year, tracking or an address part."""
    if is_tracking_number(number):
        return True
    before = text[max(0, start - 24) : start]
    if _NOT_ORDER_BEFORE.search(before):
        return True
    # +91 98xxxxxxxx style phone
    return number.isdigit() and len(number) in (10, 11, 12) and bool(re.search(r"\+\s*$", before))


def _is_phone_shape(text: str, start: int, end: int) -> bool:
    """555-123-4567, (555) 123 4567, +1 555 123 4567 written around the candidate."""
    window = text[max(0, start - 6) : min(len(text), end + 10)]
    return bool(re.search(r"\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}", window))


def extract_order_number(text: str | None, *, bare: bool = False) -> str | None:
    """The order number the customer gave, without the leading `#`; None when unsure.

    bare=True: the customer was just asked for an order number, so a lone number counts too.
    """
    if not text:
        return None
    for match in _ANCHORED_RE.finditer(text):
        number = match.group("num")
        if is_tracking_number(number):
            continue
        before = text[: match.start("num")]
        if _YEAR_RE.match(number) and re.search(r"\b(in|since|from|of)\s*$", before, re.I):
            continue
        return number
    for match in _HASH_RE.finditer(text):
        number = match.group("num")
        if _looks_like_other_number(text, match.start(), number):
            continue
        return number
    if not bare:
        return None
    candidates: list[str] = []
    for match in _BARE_RE.finditer(text):
        number = match.group("num")
        if _looks_like_other_number(text, match.start(), number):
            continue
        if _is_phone_shape(text, match.start(), match.end()) or _YEAR_RE.match(number):
            continue
        if number.isdigit() and len(number) in (5, 6) and re.search(r"\b(zip|pin|postal)", text, re.I):
            continue
        candidates.append(number)
    # A lone candidate is the answer; several numbers without an anchor word are ambiguous.
    return candidates[0] if len(candidates) == 1 else None


# "orders 5001 and 5002", "#5001, #5002 & #5003": numbers listed after an anchored one belong with it.
_LISTED_RE = re.compile(
    r"^\s*(?:,|&|and|or|plus|\+|/)\s*(?:#\s?)?(?P<num>(?:[A-Za-z]{1,4}-?)?\d{3,25})(?![\w.,]\d)(?![\w-])",
    re.I,
)


# "cancel 5007", "track 1043": a number right after what is to be done to an order is that order.
_ACTION_NUMBER_RE = re.compile(
    r"\b(?:cancel|track|refund|replace|return|reship|resend|check on|"
    r"check)\s+#?(?P<num>\d{3,15})(?![\w.,]\d)(?![\w-])",
    re.I,
)


def extract_order_numbers(text: str | None, *, bare: bool = False) -> list[str]:
    """Every order number the customer gave, in order, without duplicates; [] when unsure.

    The same evidence as extract_order_number, for each mention, plus numbers listed right after an
    anchored one ("orders 5001 and 5002"). bare=True (the customer was just asked for an order number)
    also accepts lone numbers, but then only when they are all that could be meant.
    """
    if not text:
        return []
    found: list[tuple[int, str]] = []

    def listed_after(end: int) -> None:
        rest = text[end:]
        while True:
            match = _LISTED_RE.match(rest)
            if not match or _looks_like_other_number(rest, match.start("num"), match.group("num")):
                return
            found.append((end + match.start("num"), match.group("num")))
            end += match.end()
            rest = text[end:]

    for match in _ANCHORED_RE.finditer(text):
        number = match.group("num")
        before = text[: match.start("num")]
        if is_tracking_number(number) or (
            _YEAR_RE.match(number) and re.search(r"\b(in|since|from|of)\s*$", before, re.I)
        ):
            continue
        found.append((match.start("num"), number))
        listed_after(match.end("num"))
    for match in _HASH_RE.finditer(text):
        number = match.group("num")
        if not _looks_like_other_number(text, match.start(), number):
            found.append((match.start("num"), number))
            listed_after(match.end("num"))
    for match in _ACTION_NUMBER_RE.finditer(text):
        number = match.group("num")
        if not is_tracking_number(number) and not _YEAR_RE.match(number):
            found.append((match.start("num"), number))
            listed_after(match.end("num"))
    if not found and bare:
        single = extract_order_number(text, bare=True)
        return [single] if single else []
    numbers: list[str] = []
    for _, number in sorted(found):
        if number not in numbers:
            numbers.append(number)
    return numbers
