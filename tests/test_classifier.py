"""The local ticket classifier on messages written by the team, plus the measurement on shared data.

The messages here are our own, written the way customers write: typos, tweets, Indian English,
HTML from Freshdesk, quoted email threads. None comes from the measurement files.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest

from policies.understanding.classifier import LABELS, Classification, Classifier, LocalClassifier
from policies.understanding.classify_cli import main as classify_main
from policies.understanding.claude_classifier import default_classifier
from policies.understanding.text import clean_text

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("POLICYDESK_SHARED", REPO.parent / "shared"))
THRESHOLD = 0.7  # the worker's default hand-off threshold (CLASSIFIER_MIN_CONFIDENCE)


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return default_classifier()


def check(classifier: Classifier, text: str, label: str, subject: str = "") -> Classification:
    result = classifier.classify(text, subject)
    assert (result.label, result.confidence >= THRESHOLD) == (label, True), (text, result)
    return result


WISMO = [
    "Where is my order? I ordered 10 days ago.",
    "hi pls tell wen will i get my parcel",
    "Till now not received my order, kindly check and revert",
    "When will I get my mattress? It's been a week",
    "@ShopCo my package was supposed to arrive Tuesday and tracking hasn't moved since. #frustrated",
    "Can you give me an update on order #10452? It still says processing.",
    "ordr not recieved yet",
    "how many days for delivery to pin code 560034?",
    "Has my order shipped yet?",
    "the courier never showed up and the tracking says out for delivery since yesterday",
]
SKIP = [
    "Please skip my next box, I'm travelling in June",
    "can u pls skp next months delivery",
    "Kindly postpone my upcoming refill by one month",
    "Could you hold off on the next delivery? We still have plenty left.",
    "pause my subscription for a month please",
]
REPLACEMENT = [
    "My order arrived damaged, the glass was shattered",
    "You sent me the wrong size. I ordered M and got XL",
    "One item is missing from my package",
    "The blender is defective, it won't turn on out of the box",
    "Tracking says delivered but I never got it",
    "@ShopCo box came crushed and the lamp inside is broken 😡 need a new one",
    "recieved dammaged product kindly replace",
    "The package was lost in transit, please send it again",
]
CANCELLATION = [
    "Please cancel my order #10452",
    "i want to canceloing my order",
    "I ordered the wrong colour by mistake, can you cancel it before it ships?",
    "Cancel my subscription immediately",
    "kindly cancel the order, no longer required",
    "how do i cancel an order i just placed",
]
OTHER = [
    "How do I reset my password?",
    "Do you accept PayPal?",
    "I returned the shoes two weeks ago, where is my refund?",
    "Is cash on delivery available?",
    "Can I change the shipping address on my order?",
    "Why was my order cancelled?",
    "Thanks so much, the replacement arrived today and it's perfect!",
    "I need an invoice for my purchase",
]


@pytest.mark.parametrize(
    ("text", "label"),
    [(t, "wismo") for t in WISMO]
    + [(t, "skip_shipment") for t in SKIP]
    + [(t, "replacement") for t in REPLACEMENT]
    + [(t, "cancellation") for t in CANCELLATION]
    + [(t, "other") for t in OTHER],
)
def test_clear_messages_get_their_label_with_confidence(
    classifier: Classifier, text: str, label: str
) -> None:
    check(classifier, text, label)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # Negation: the verb is there, the intent is not.
        ("I don't want to cancel, just push my next shipment back two weeks", "skip_shipment"),
        ("Not cancelling! Please just skip next month", "skip_shipment"),
        ("I did not cancel my order, why does it say cancelled?", "other"),
        # Intent priority: an explicit request beats the complaint that led to it.
        ("It's been two weeks and it still hasn't shipped. Cancel my order.", "cancellation"),
        ("The mug arrived broken, I just want a refund, no replacement please", "other"),
        ("my parcel came smashed, where is the replacement you promised?", "replacement"),
        ("My order never arrived, it has been weeks. Please send another one or refund me.", "replacement"),
        # "Can't cancel" is a failed attempt at the intent, not its negation.
        ("I can't cancel my order on the website, please do it for me", "cancellation"),
    ],
)
def test_negation_and_priority(classifier: Classifier, text: str, label: str) -> None:
    check(classifier, text, label)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # Returns and refund-only wishes go to the refunds team even when the item is damaged.
        ("The lamp came broken, how do I send it back?", "other"),
        ("my kettle arrived cracked, I've already started a return", "other"),
        ("the return pickup for my damaged mixer never came", "other"),
        ("I'd rather have a refund than a replacement for the broken chair", "other"),
        # Waiting for a refund is not waiting for a parcel.
        ("refund for my returned shoes not received yet", "other"),
        ("Returned the jacket 10 days ago and the refund still hasn't come", "other"),
        # ...but an explicit replacement request still wins, and a parcel marked delivered that
        # never came is lost, not late.
        ("mixer arrived damaged, please send a replacement, I don't want to return it", "replacement"),
        ("got the wrong size, I want to return it and get a replacement", "replacement"),
        ("Tracking shows delivered but I did not receive my package", "replacement"),
        ("paid the money but my order not received yet", "wismo"),
        ("I'd rather cancel than wait another month", "cancellation"),
    ],
)
def test_refund_and_return_rubric(classifier: Classifier, text: str, label: str) -> None:
    check(classifier, text, label)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        # Something broken on the shop's site, app or account is tech support, not damaged goods.
        ("The checkout page is broken, I can't pay", "other"),
        ("the link in your last email is broken", "other"),
        # Money back for a damaged item is a refunds case; a new item asked for is a replacement.
        ("my vase arrived broken, I want my money back", "other"),
        ("need help getting store credit for a cracked mug", "other"),
        ("my vase arrived broken, please send another", "replacement"),
        ("the speaker doesn't work, can I exchange it for a new one?", "replacement"),
        ("the seller refused to replace my cracked phone", "replacement"),
        ("you sent the wrong colour twice, I want the right item not a refund", "replacement"),
        # A question about what would happen, and an item that failed after long use, are not cases.
        ("if my order arrives damaged what do I do?", "other"),
        ("my headphones stopped working after 8 months", "other"),
        # Praise for a replacement already made needs a kind answer, not a second replacement.
        ("Amazon replaced my lost parcel in a day, you rock", "other"),
        # Cancellations someone else made, or clicked by mistake, are not requests to cancel.
        ("you cancelled my order without asking, I still want it", "other"),
        ("By mistake I hit cancel on my order but I still want it", "other"),
        ("I accidentally ordered two, please cancel one", "cancellation"),
        ("unsubscribe me from your newsletter", "other"),
        ("please cancel my account", "other"),
        # Questions about cancelling or a refund, not requests.
        ("what is the cancellation fee?", "other"),
        pytest.param(
            "how much does it cost to cancel an order",
            "other",
            marks=pytest.mark.xfail(strict=True, reason="known miss: read as a request to cancel"),
        ),
        ("track my refund", "other"),
        ("can i get a refund for the damaged book instead of a new one?", "other"),
        ("ordered 3 books, only 2 in the parcel. where's the third??", "replacement"),
        # Missed spaces and stretched letters.
        ("I want tocancel my order", "cancellation"),
        ("wheres my orderrr", "wismo"),
        # A negation reaches only the verb it stands before.
        ("I never received my replacement", "replacement"),
        ("package was due today and has not turned up, no tracking updates", "wismo"),
    ],
)
def test_support_questions_that_look_like_cases(classifier: Classifier, text: str, label: str) -> None:
    assert classifier.classify(text).label == label


@pytest.mark.xfail(strict=True, reason="known miss: the learned model reads 'than cancel' as a request")
def test_rather_than_declines_what_follows(classifier: Classifier) -> None:
    """'I'd rather wait than cancel' names a cancellation only to decline it: never act on it."""
    result = classifier.classify("I would rather wait for the order than cancel it")
    assert not (result.label == "cancellation" and result.confidence >= THRESHOLD), result


@pytest.mark.parametrize(
    "text", ["", "   ", "asdkjh qwelkj zxcmnb", "lorem ipsum dolor sit amet", "🙂🙂🙂", "hello"]
)
def test_gibberish_is_not_confident(classifier: Classifier, text: str) -> None:
    result = classifier.classify(text)
    assert result.confidence < THRESHOLD, result
    assert result.label != "cancellation"  # never act on noise


@pytest.mark.parametrize(
    "text",
    [
        "what's the weather in Paris tomorrow?",
        "Who won the football match last night?",
        "The quick brown fox jumps over the lazy dog",
    ],
)
def test_off_topic_is_never_routed_to_a_policy(classifier: Classifier, text: str) -> None:
    """Off-topic text may be confidently "other" (a person reads it either way), never a ticket type."""
    result = classifier.classify(text)
    assert result.label == "other" or result.confidence < THRESHOLD, result


def test_html_from_freshdesk_is_read_as_text(classifier: Classifier) -> None:
    html = (
        "<div>Hi team,<br><br>Kindly cancel my order&nbsp;#10452 &amp; refund to card.<br>"
        "I&#39;ve changed my mind.</div><div>Regards,<br>Priya</div>"
    )
    result = check(classifier, html, "cancellation")
    assert result.facts == {"order_number": "10452"}


def test_quoted_email_history_does_not_vote(classifier: Classifier) -> None:
    reply = (
        "Where is my order? It still has not arrived.\n\n"
        "On Mon, 3 Jun 2024 at 10:02, Shop Support <help@shop.example> wrote:\n"
        "> We're sorry to hear you want to cancel. To cancel your order, reply CANCEL.\n"
        "> Cancel cancel cancel."
    )
    check(classifier, reply, "wismo")


def test_subject_and_body_are_read_together(classifier: Classifier) -> None:
    check(classifier, "Please help, order 5521", "cancellation", subject="Cancel order")
    check(classifier, "it came with a huge crack", "replacement", subject="Order 5521 - lamp")


def test_facts_carry_email_and_order_number(classifier: Classifier) -> None:
    result = classifier.classify("Where is order no. 778812? My email is Ravi.K@example.in", "")
    assert result.label == "wismo"
    assert result.facts == {"email": "ravi.k@example.in", "order_number": "778812"}


def test_scores_are_probabilities_over_all_labels(classifier: Classifier) -> None:
    result = classifier.classify("where is my package")
    assert set(result.scores) == set(LABELS)
    assert abs(sum(result.scores.values()) - 1) < 1e-3
    assert all(0.0 <= v <= 1.0 for v in result.scores.values())
    assert 0.0 <= result.confidence <= 1.0
    assert result.to_dict()["label"] == "wismo"


def test_local_classifier_satisfies_the_protocol() -> None:
    assert isinstance(default_classifier(), Classifier)
    assert default_classifier() is default_classifier()  # built once per process


PRESCRIPTION = [
    "I need to upload my prescription for the contact lenses",
    "where do I send my prescription for the glasses order",
    "my optician gave me a new prescription, can you update it on my order",
    "do you need a prescription before you ship the lenses?",
    "the prescription on my account is out of date",
    "can I email you a photo of my prescription",
    "how do I add my eye prescription at checkout",
    "my lens order is on hold waiting for the prescription",
    "Hi, attaching my prescription for order 4471",
    "which prescription values do you need for toric lenses",
    "can you check my prescription is correct before you make the glasses",
    "the prescription upload button doesn't do anything",
    "I typed the wrong prescription for my left eye",
    "do you accept a prescription from an overseas optician?",
    "my prescription expired, can I still order lenses",
    "please verify my prescription with my doctor",
    "what does PD mean on the prescription form",
    "I sent my prescription last week, has it been approved?",
    "@ShopCo how long does prescription verification take",
    "need to change the prescription on my reading glasses order",
]


@pytest.fixture(scope="module")
def with_prescriptions() -> LocalClassifier:
    return LocalClassifier(extra_examples={"prescription": PRESCRIPTION})


def test_a_store_can_add_a_ticket_type_from_twenty_examples(with_prescriptions: LocalClassifier) -> None:
    """The label set comes from the training data: a new type is learned at load time."""
    assert "prescription" in with_prescriptions.labels
    for text in [
        "Dear team, I have attached my new prescription. Regards, Meera",
        "has my prescription been approved yet?",
        "can I fax the prescription instead",
    ]:
        result = with_prescriptions.classify(text)
        assert result.label == "prescription", (text, result)
        assert set(result.scores) == set(with_prescriptions.labels)
    # ...and the built-in types still read as before.
    for text, label in [
        ("where is my order?", "wismo"),
        ("please cancel my order", "cancellation"),
        ("the lenses arrived cracked, send new ones", "replacement"),
        ("skip my next box please", "skip_shipment"),
    ]:
        assert with_prescriptions.classify(text).label == label, text


def test_a_new_type_needs_twenty_examples() -> None:
    with pytest.raises(ValueError, match="at least 20"):
        LocalClassifier(extra_examples={"prescription": PRESCRIPTION[:5]})


def test_the_claude_tool_offers_the_added_type(with_prescriptions: LocalClassifier) -> None:
    import anthropic

    from policies.understanding.claude_classifier import ClaudeClassifier

    claude = ClaudeClassifier(anthropic.Anthropic(api_key="unused"), with_prescriptions)
    assert claude.tool["input_schema"]["properties"]["label"]["enum"] == list(with_prescriptions.labels)
    assert "prescription" in claude.system


def test_the_shipped_model_was_built_from_the_current_examples() -> None:
    """Edit classifier_examples.md (or the code growing it) and this fails until the model is rebuilt
    with `python -m policies.understanding.classifier_train`; a worker would otherwise train at every
    start."""
    from policies.understanding.classifier_model import LinearModel
    from policies.understanding.classifier_train import MODEL_PATH, sources_fingerprint

    assert LinearModel.load(MODEL_PATH).fingerprint == sources_fingerprint()


def test_runner_up_is_exposed_for_a_clarifying_question(classifier: Classifier) -> None:
    """A message torn between two types shows both, so a policy can ask which one is meant."""
    result = classifier.classify("it came broken, do I return it or get a new one?")
    first, second = result.ranked()[:2]
    assert {first[0], second[0]} == {"replacement", "other"}
    assert second[1] > 0.2 and first[1] < THRESHOLD, result


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "<p>Hello&nbsp;there &amp; thanks</p><p>Second&#39;s line</p>",
            "Hello there & thanks\n\nSecond's line",
        ),
        ("Line one<br/>Line two<br>Line three", "Line one\nLine two\nLine three"),
        ("Mine<blockquote>old thread</blockquote>", "Mine"),
        ('Mine<div class="gmail_quote">On Mon wrote: old</div>', "Mine"),
        ("New text\n-----Original Message-----\nFrom: a\nold text", "New text"),
        ("New text\n\nFrom: Shop <a@b.c>\nSent: Monday\nSubject: x\n\nold", "New text"),
        ("Top\n> quoted\nBottom", "Top\nBottom"),
        ("a   b\t\tc\n\n\n\nd", "a b c\n\nd"),
        ("price < 5 and > 2", "price < 5 and > 2"),
        ("&amp;#39; twice escaped", "' twice escaped"),
        ("unclosed <b>bold <i>text", "unclosed bold text"),
        (None, ""),
    ],
)
def test_clean_text(raw: str | None, expected: str) -> None:
    assert clean_text(raw) == expected


def run_cli(lines: list[str]) -> tuple[int, list[dict[str, object]]]:
    stdout = io.StringIO()
    code = classify_main(io.StringIO("\n".join(lines) + "\n"), stdout)
    return code, [json.loads(line) for line in stdout.getvalue().splitlines()]


def test_cli_streams_one_result_per_line() -> None:
    code, out = run_cli(
        [
            json.dumps({"id": "t1", "text": "where is my order"}),
            "",
            json.dumps({"id": 2, "text": "it came broken", "subject": "Damaged lamp"}),
        ]
    )
    assert code == 0
    assert [(o["id"], o["label"]) for o in out] == [("t1", "wismo"), (2, "replacement")]
    assert all(set(o) == {"id", "label", "confidence"} for o in out)


def test_cli_reports_bad_lines_and_keeps_going() -> None:
    code, out = run_cli(
        [
            "{not json",
            json.dumps(["a", "list"]),
            json.dumps({"id": "t3"}),
            json.dumps({"id": "t4", "text": 42}),
            json.dumps({"id": "t5", "text": "hi", "subject": ["x"]}),
            json.dumps({"id": "t6", "text": "please cancel my order"}),
        ]
    )
    assert code == 1
    assert [o.get("id") for o in out] == [None, None, "t3", "t4", "t5", "t6"]
    assert all("error" in o for o in out[:5])
    assert out[5]["label"] == "cancellation"


def test_cli_as_a_process_never_prints_a_traceback() -> None:
    import subprocess

    payload = b'{"id": "a", "text": "skip my next box"}\n\xff\xfe garbage\n{"id": "b", "text": null}\n'
    proc = subprocess.run(
        [sys.executable, "-m", "policies.understanding.classify_cli"],
        input=payload,
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert b"Traceback" not in proc.stderr
    out = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert out[0] == {"id": "a", "label": "skip_shipment", "confidence": out[0]["confidence"]}
    assert "error" in out[1] and "error" in out[2]


# --- measurement on real messages (licensed for measuring only; read, never copied) -----------------

DATA_FILES = ["tickets-dev.jsonl", "tickets-dev-extra.jsonl"]


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    present = sorted({gold for gold, _ in pairs})
    total = 0.0
    for label in present:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        total += 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return total / len(present)


@pytest.mark.skipif(
    not all((SHARED / "data" / name).is_file() for name in DATA_FILES),
    reason="shared measurement data absent",
)
def test_measured_quality_on_shared_data(classifier: Classifier) -> None:
    """Floors on real messages: macro-F1 0.93 over both files, 0.95 on tickets-dev, 0.90 on tickets-dev-extra.

    The offline classifier measures 0.941 overall, 0.961 on tickets-dev and 0.916 on
    tickets-dev-extra (bench/classify.py). The earlier rule-only classifier measured 0.959 here
    but had been tuned on these files' errors, and reached 0.913 on unseen ones; these floors are for
    a model that was not. Never lower them to let a change through.
    """
    overall: list[tuple[str, str]] = []
    per_file: dict[str, float] = {}
    for name in DATA_FILES:
        pairs = []
        for line in (SHARED / "data" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                pairs.append((record["label"].lower(), classifier.classify(record["text"]).label))
        per_file[name] = macro_f1(pairs)
        overall.extend(pairs)
    figures = {"overall": round(macro_f1(overall), 3), **{k: round(v, 3) for k, v in per_file.items()}}
    floors = {"overall": 0.93, "tickets-dev.jsonl": 0.95, "tickets-dev-extra.jsonl": 0.90}
    assert all(figures[name] >= floor for name, floor in floors.items()), figures


def test_measured_quality_on_held_out_examples(classifier: Classifier) -> None:
    """Our own held-out lines (never trained on): macro-F1 and calibration floors.

    bench/classify.py measures macro-F1 0.876 and expected calibration error 0.067 on them.
    """
    from policies.understanding.classifier_corpus import HELDOUT, build_examples, load_corpus

    pairs, gaps = [], []
    for example in build_examples(load_corpus(), HELDOUT):
        result = classifier.classify(example.text, example.subject)
        pairs.append((example.label, result.label))
        gaps.append((result.confidence, example.label == result.label))
    assert macro_f1(pairs) >= 0.86
    mean_confidence = sum(c for c, _ in gaps) / len(gaps)
    accuracy = sum(ok for _, ok in gaps) / len(gaps)
    assert abs(mean_confidence - accuracy) < 0.08, (mean_confidence, accuracy)
