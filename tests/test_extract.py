"""Email and order-number extraction on the kinds of text customers really send."""

from __future__ import annotations

import pytest

from policies.understanding.extract import extract_email, extract_order_number, is_tracking_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Where is #1043?", "1043"),
        ("hi my order 10452 is late", "10452"),
        ("Order no: 123456 not received", "123456"),
        ("order no. 123 please check", "123"),
        ("purchase 00123842 arrived broken", "00123842"),
        ("Order Number is #10452", "10452"),
        ("ORDER #55123", "55123"),
        ("ordr #5566 wer is it", "5566"),
        ("order id - 778812", "778812"),
        ("my order (#10452) never came", "10452"),
        ("Amazon order 112-1234567-1234567 arrived damaged", "112-1234567-1234567"),
        ("order BC-10452 status", "BC-10452"),
        ("Re: Your order #1001 has shipped", "1001"),
        ("order number:\n 88231", "88231"),
    ],
)
def test_order_numbers_the_customer_gave(text: str, expected: str) -> None:
    assert extract_order_number(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "where is my order??",
        "I placed my order 3 days ago",
        "ordered in 2023 and still nothing",
        "call me on 555-123-4567",
        "my phone is +91 9876543210",
        "zip 90210",
        "my pin code is 560001, do you deliver?",
        "it cost $104.52 and arrived broken",
        "I paid 1499 rs",
        "tracking 1Z999AA10123456784 shows nothing",
        "order 1Z999AA10123456784",
        "Apt #203, 5th street",
        "order of 250 dollars",
        "order 104.52 dollars",
        "I ordered 2 items",
    ],
)
def test_numbers_that_are_not_order_numbers(text: str) -> None:
    assert extract_order_number(text) is None


def test_the_order_number_wins_over_a_tracking_number_in_the_same_message() -> None:
    text = "Order #1043 - tracking 1Z999AA10123456784 has not moved in a week"
    assert extract_order_number(text) == "1043"


def test_a_bare_number_counts_only_when_we_asked_for_one() -> None:
    assert extract_order_number("10452") is None
    assert extract_order_number("10452", bare=True) == "10452"
    assert extract_order_number("it's 10452 thanks", bare=True) == "10452"
    # Still not a phone number, a year, or one of several loose numbers.
    assert extract_order_number("call 555-123-4567", bare=True) is None
    assert extract_order_number("2023", bare=True) is None
    assert extract_order_number("10452 or maybe 10453", bare=True) is None
    assert extract_order_number("pin 560001", bare=True) is None


@pytest.mark.parametrize(
    "token",
    ["1Z999AA10123456784", "9400111899223817468912", "RR123456789US", "JJD000390007849845637"],
)
def test_tracking_numbers_are_recognised(token: str) -> None:
    assert is_tracking_number(token)
    assert extract_order_number(f"tracking {token}", bare=True) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my email is Jane.Doe+shop@Example.co.uk, thanks", "jane.doe+shop@example.co.uk"),
        ("Email: ravi_k@gmail.com.", "ravi_k@gmail.com"),
        ("<p>reach me at <a href='mailto:a@b.io'>a@b.io</a></p>", "a@b.io"),
        ("john dot smith at gmail dot com", "john.smith@gmail.com"),
        ("jane[at]mail[dot]com", "jane@mail.com"),
    ],
)
def test_emails(text: str, expected: str) -> None:
    assert extract_email(text) == expected


@pytest.mark.parametrize("text", ["", "no email here", "x@y", "@handle on twitter", "I am at home", "a@b."])
def test_no_email(text: str) -> None:
    assert extract_email(text) is None


def test_extractors_accept_none() -> None:
    assert extract_email(None) is None
    assert extract_order_number(None) is None
