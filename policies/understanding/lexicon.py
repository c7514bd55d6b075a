"""The local reader's phrase lists: how customers say yes, no, "not yet", "send it again", "a human".

Patterns run over canonical text (policies.understanding.text.words joined by spaces: lower case, contractions
expanded so "don't" is "do not", chat spellings expanded, numbers as `<num>`, sentence ends as "."), so
one pattern covers "dont", "don't" and "do not". Each list is written from how people write to a shop,
not from any one message; the labelled replies in tests/data/replies.jsonl check them.
"""

from __future__ import annotations

import re

__all__ = [
    "ACTION_WORDS",
    "AFFIRM",
    "CONDITION",
    "DECLINE",
    "FACT_PATTERNS",
    "INTENT_PATTERNS",
    "NEGATED_AFFIRM",
    "PROBLEM_PATTERNS",
    "UNCERTAIN",
]


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


# ---- yes and no ---------------------------------------------------------------------------------

AFFIRM = _any(
    r"^(?:yes|yess+|yes+ please|yea|yeah|yeh|yep|yup|ya|yah|ye|y|sure|ok|okay|okey|k|kk|alright|all right|"
    r"right|correct|exactly|absolutely|definitely|certainly|indeed|affirmative|confirm|confirmed|agreed|"
    r"perfect|great|fine|good|cool|deal|done|please|please do|go|go ahead)\b",
    r"\b(?:yes|yeah|yep|yup|yea|sure|ok|okay|alright|absolutely|definitely|of course|certainly|"
    r"affirmative)\b",
    r"\bgo (?:ahead|for it)\b",
    r"\bplease do\b",
    r"\bdo it\b",
    r"\bsounds (?:good|great|fine|perfect|ok|okay)\b",
    r"\b(?:that|this|it) (?:works|would work|would be (?:great|good|fine|perfect|lovely)|is fine)\b",
    r"\bworks for me\b",
    r"\bi (?:confirm|agree|accept)\b",
    r"\b(?:that is|it is|that would be|that will be) (?:right|correct|fine|perfect|great)\b",
    r"\blet us do (?:it|that)\b",
    r"\bwhy not\b",
    r"\bi would like that\b",
    r"\bi will take (?:it|that|the)\b",
    r"\bplease (?:proceed|continue)\b",
    r"\bproceed\b",
    r"^(?:the )?same (?:address|one|place)\b",
    r"\b(?:that|this|it) is (?:my|the right|the correct) address\b",
)
"""A yes. `^`-anchored forms are short replies ("ok", "fine") that only mean yes at the start."""

DECLINE = _any(
    r"^(?:no|nope|nah|naw|nay|negative|n|not really|not now|not yet|no thanks|no thank you|never|pass)\b"
    r"(?! (?:problem|problems|worries|worry|rush|hurry|doubt|biggie)\b)",
    r"\b(?:no|nope|nah)\b(?! (?:problem|problems|worries|worry|rush|hurry|doubt|issue|issues|biggie)\b)",
    r"\bnot (?:really|now|yet|interested|needed|necessary|for me|this time|at the moment|right now)\b",
    r"\bno (?:thanks|thank you|need|longer)\b",
    r"\bi am (?:good|fine|ok|okay|all set)(?: thanks| thank you)?\b",
    r"\bi would rather not\b",
    r"\b(?:do not|please do not|dont) (?:bother|do (?:it|that|anything)|want|need)\b",
    r"\b(?:leave|keep) (?:it|things|everything) (?:as it is|as is|like that|the way it is)\b",
    r"\bforget (?:it|about it)\b",
    r"\b(?:do not|dont)(?: \.)*$",
    r"\bnever ?mind\b",
    r"\bhold off\b",
    r"\bno\b.{0,12}\b(?:that is|it is|i am) (?:fine|ok|okay|good)\b",
    r"\bleave it (?:paused|as it is|as is|like that|alone)\b",
)
"""A no, or declining what was offered. "no problem" and "no worries" are not a no."""

NEGATED_AFFIRM = re.compile(
    r"\b(?:not|never|no) (?:ok|okay|fine|good|correct|right|great|sure|agreed|alright)\b"
)
"""A yes-word under a negation ("not ok", "not correct") is a no; "not sure" is uncertainty (below)."""

UNCERTAIN = _any(
    r"\bnot sure\b",
    r"\b(?:maybe|perhaps|possibly|probably|dunno|idk|unsure)\b",
    r"\bi (?:do not|dont) know\b",
    r"\bi (?:guess|suppose)\b",
    r"\bi think so\b",
    r"\blet me (?:think|check|see|ask)\b",
    r"\bi will (?:think|check|see|let you know)\b",
    r"\bnot (?:certain|decided)\b",
    r"\bhave to (?:think|check|ask)\b",
)

CONDITION = _any(
    r"\bif\b",
    r"\bas long as\b",
    r"\bonly (?:if|when|after|once)\b",
    r"\bprovided\b",
    r"\bunless\b",
    r"\bdepends\b",
    r"\bon condition\b",
    r"\bassuming\b",
)
"""A condition attached to the answer: "yes if it ships today" authorises nothing."""

CONTRAST = re.compile(r"\b(?:but|though|although|however|except|only)\b")
BENIGN_TAIL = re.compile(
    r"^(?:but |though |however )?(?:thanks?|thank you|thx|cheers|please|pls|asap|quickly|hurry|"
    r"no rush|appreciate it)\b[\w ]{0,20}$"
)
"""What may follow "but" without making a yes conditional: "yes but thanks", "yes please, quickly"."""

MIXED = re.compile(
    r"\byes and no\b|\bsort of\b|\bkind of\b|\bpartly\b|\bpartially\b|\bsome of (?:it|them)\b|"
    r"\bone (?:box|parcel|package) (?:came|arrived)\b|\bhalf of\b"
)
"""Yes and no at once: "one box came", "sort of"."""

CHANGED = re.compile(
    r"\binstead\b|\b(?:too|as well)\b(?: \.)*$|\band (?:also )?the (?:next|other|one after)\b|\balso\b"
)
"""After a yes: more or other than what was asked ("two plates instead of one", "and the one after too")."""

KEEP_INSTEAD: dict[str, re.Pattern[str]] = {
    "cancel": re.compile(r"\b(?:keep|changed my mind|leave)\b"),
    "skip": re.compile(r"\b(?:keep|leave) (?:it|the delivery|that one)\b"),
}
"""Saying no to a cancel or a skip in other words: "I changed my mind, keep the order"."""

QUESTION = _any(
    r"\?",
    r"^(?:what|how|why|when|which|who|can you|could you|would you|will it|is it|is there|do you|does it)\b",
)

# ---- what the customer asks for ----------------------------------------------------------------

_ORDERISH = (
    r"(?:order|orders|purchase|package|parcel|delivery|shipment|item|items|it|them|this|that|everything|both)"
)

INTENT_PATTERNS: dict[str, re.Pattern[str]] = {
    "human": _any(
        r"\b(?:talk|speak|chat|speaking|talking|connect me|put me through|transfer me) (?:to|with) "
        r"(?:a |an |some |the |your |one of your )?(?:real |actual |live |human |customer service )?"
        r"(?:human|person|people|agent|representative|rep|someone|somebody|manager|supervisor|operator|"
        r"employee|staff|team member|customer service|support)\b",
        r"\b(?:real|actual|live) (?:human|person|agent|people)\b",
        r"^(?:a )?(?:human|agent|person|representative|operator|real person|live agent|customer service)"
        r"(?: please| pls| now| asap)?(?: \.)?$",
        r"\b(?:human|agent|representative|operator|person) (?:please|pls|now|asap)\b",
        r"\b(?:want|need|get|like|give me) (?:to talk to |to speak to |to speak with |)"
        r"(?:a |an )?(?:human|real person|representative|agent|manager|supervisor)\b",
        r"\b(?:not|stop) (?:talking to |chatting with )?(?:a |another |this |the )?(?:bot|robot|"
        r"machine|automated)\b",
        r"\btransfer me\b",
        r"\bcall me\b",
        r"\b(?:hablar con|persona real|un agente|humano)\b",
        r"\b(?:parler (?:a|à) (?:un|une|quelqu)|conseiller|un humain|une personne)\b",
        r"\b(?:mit einem menschen|mitarbeiter|einen menschen|echten person)\b",
    ),
    "cancel_subscription": _any(
        r"\bcancel\w* (?:my |the |this |our )?(?:\w+ )?(?:subscription|subscriptions|membership|plan|box)\b",
        r"\b(?:subscription|membership) cancel\w*\b",
        r"\bunsubscribe\b",
        r"\bstop (?:my |the )?(?:subscription|membership|deliveries)\b",
    ),
    "cancel_order": _any(
        r"\bcancel(?:l?ing)?\b(?! (?:my |the |this |our )?(?:\w+ )?(?:subscription|subscriptions|"
        r"membership|plan)\b)",
        r"\bcancell?ation\b",
        r"\b(?:want|need|get|have) (?:it|them|this|that|the order|my order|both|everything) cancel+ed\b",
        r"\b(?:do not|dont|no longer) (?:want|need) (?:it|them|the order|this order|my order|this|that)"
        r"(?: anymore| any more)?\b",
        r"\bcall (?:it|the order) off\b",
        r"\bstop (?:the|my|this) order\b",
    ),
    "skip_delivery": _any(
        r"\bskip\w*\b",
        r"\b(?:postpone|push back|delay) (?:my |the |our )?(?:next )?(?:delivery|deliveries|box|"
        r"boxes|shipment|order)\b",
        r"\b(?:do not|dont) (?:send|ship) (?:me )?(?:the |my )?next\b",
    ),
    "pause_subscription": _any(
        # "leave it paused", "it is already paused": a state, not a request
        r"(?<!leave it )(?<!keep it )(?<!stay )(?<!stays )(?<!is )(?<!already )(?<!been )(?<!was )"
        r"(?<!remain )(?<!remains )\bpause\w*\b",
        r"\bput (?:it|my subscription) on hold\b",
    ),
    "refund": _any(
        r"\brefund\w*\b",
        r"\bmoney back\b",
        r"\breimburs\w*\b",
        r"\b(?:give|send|pay) (?:me )?(?:back )?my money\b",
        r"\bmy money\b",
        r"\bcredit (?:it |me )?back\b",
    ),
    "replacement": _any(
        r"\breplace\w*\b",
        r"\b(?:re ?send|re ?ship|resend|reship)\w*\b",
        r"\bsend (?:me )?(?:it |them |one |another one |a new one |new ones )?(?:again|out again)\b",
        r"\bsend (?:me )?(?:a |an )?(?:new|another|replacement|fresh|second)\b",
        r"\bsend (?:me )?(?:the )?(?:right|correct|proper|missing)\b",
        r"\b(?:new|another) one\b",
        r"\bexchange\w*\b",
    ),
    "return": _any(
        r"\breturn (?:it|them|this|that|the|my|an|a)\b",
        r"\bsend (?:it|them|this) back\b",
        r"\breturn label\b",
        r"\bwant to return\b",
    ),
    "where_is_order": _any(
        r"\bwhere (?:is|are|s)\b",
        r"\b(?:were|wher|whr|wer) (?:s|is) (?:my|the|our)\b",
        r"\bwhere (?:it|they) (?:is|are)\b",
        r"\bjust checking\b",
        r"\bwhere\b.{0,20}\b(?:order|package|parcel|stuff|delivery|shipment)\b",
        r"\btrack\w*\b",
        r"\bstatus\b",
        r"\bany (?:update|updates|news)\b",
        r"\bwhen (?:will|is|does|would|can|should|do) .{0,40}(?:arrive|come|ship|deliver|get here|"
        r"be here|reach)",
        r"\bhas it shipped\b",
        r"\bchecking (?:on|in on) (?:my |an |the )?order\b",
        r"\bcheck (?:on|up on|in on) (?:my |an |the |our )?(?:order|package|parcel|delivery|shipment)\b",
        r"\b(?:delivery|shipping|shipment) (?:exception|delay|delayed|attempt|failed)\b",
        r"\b(?:failed|attempted|missed) delivery\b",
        r"\bheard nothing\b",
    ),
    "change_address": _any(
        r"\bi (?:have |just )?moved\b",
        r"\b(?:new|different|another|updated|correct) address\b",
        r"\b(?:change|update|correct) (?:my |the )?(?:shipping |delivery )?address\b",
        r"\baddress (?:is|has) changed\b",
        r"\bwrong address\b",
        r"\b(?:send|ship|deliver) (?:it |them )?to (?:my )?(?:new|work|office|other|<num>)\b",
    ),
    "more_discount": _any(
        r"\b(?:more|bigger|better|larger|higher) (?:of a )?(?:discount|deal|offer|off)\b",
        r"\bcan you do (?:better|more)\b",
        r"\b(?:only|would) (?:stay|keep it|keep the order) (?:for|if|with)\b",
        r"\b<num> ?(?:percent|%) off\b",
        r"\bat least <num>\b",
    ),
}
"""Request intents. A negation right before the verb cancels the request (see local._negated)."""

INSIST = _any(
    r"\bi (?:already )?(?:said|told you|asked)\b",
    r"\bjust (?:cancel|skip|refund|send|want|do)\b",
    r"\b(?:cancel|skip|refund) it already\b",
    r"\b(?:stop|quit) (?:offering|the offers|asking)\b",
    r"\bno (?:more )?offers\b",
    r"\bnot interested in (?:any |the |your )?(?:offers|offer|discount|deals|coupon)\b",
    r"\bi (?:just |only )?want (?:it|to|the order|my order) (?:cancel|gone)",
    r"\bjust do (?:it|what i asked)\b",
    r"\bwhat part of\b",
)
"""The customer repeats a request the bot did not follow: offers stop, the request goes ahead."""

REPEATED = re.compile(
    r"\bi (?:already )?(?:said|told you|asked)\b|\balready\b|\bstop offering\b|\bwhat part of\b"
)
"""Saying it again: "what? I said cancel" is no question, whatever its question mark."""

# ---- what happened ------------------------------------------------------------------------------

_ARRIVE = (
    r"(?:arrive|arrived|arriving|receive|received|come|came|got|gotten|get|delivered|show up|showed up|"
    r"shown up|turn up|turned up|reach|reached|here)"
)
FACT_PATTERNS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    # fact: (says true, says false)
    "received": (
        _any(
            r"\b(?:it|they|package|parcel|order|everything|box|delivery|stuff) (?:has |have |"
            r"just |finally |did |already )*"
            r"(?:arrived|came|showed up|turned up|got here|been delivered)\b",
            r"\b(?:i|we) (?:have |just |finally |did )*(?:got|received|gotten) (?:it|them|the|my|"
            r"our|everything)\b",
            r"\b(?:got|received) it\b",
            r"\bfound (?:it|them|the)\b",
            r"\bit is here\b",
            r"\bit came\b",
        ),
        _any(
            rf"\b(?:not|never) (?:yet |still |even |actually )?(?:been )?{_ARRIVE}\b",
            rf"\b(?:did not|has not|have not|had not|was not|is not|were not|does not) "
            rf"(?:\w+ ){{0,2}}{_ARRIVE}\w*",
            r"\bnever (?:got|received|came|arrived|showed|turned up|delivered)\b",
            r"\b(?:still|been) waiting\b",
            r"\bnothing (?:has |have )?(?:arrived|came|come|showed up|turned up)\b",
            r"\b(?:no sign|not a sign) of\b",
            r"\bstill (?:nothing|no package|no parcel|no order)\b",
            r"\b(?:lost|stolen|missing|vanished|disappeared|nowhere to be found)\b",
            r"\bwas not there\b",
            r"\bnot (?:here|there)\b",
        ),
    ),
    "found": (
        _any(
            r"\bfound (?:it|them|the (?:package|parcel|box|order))\b",
            r"\b(?:neighbou?r|neighbors|neighbours|son|daughter|husband|wife|partner|roommate|flatmate|mum|mom|dad|"
            r"concierge|front desk|reception|building) (?:had|has|took|picked|grabbed|signed)\b",
            r"\b(?:it|they) (?:was|were) (?:with|at|in|on|behind|under|next to) (?:my |the |our )?\w+",
            r"\b(?:turned up|showed up|it is here|got it)\b",
        ),
        _any(
            r"\b(?:not|nowhere) (?:there|anywhere|to be found)\b",
            r"\bnowhere\b",
            r"\b(?:can not|could not|cannot|did not|have not) (?:find|locate|see)\b",
            r"\bchecked (?:everywhere|all over|around|with (?:my |the |all )?(?:neighbou?rs?|"
            r"family|household|building|"
            r"concierge|front desk)|the (?:porch|mailbox|garage|locker|mail ?room|front desk|"
            r"reception|building))\b",
            r"\blooked (?:everywhere|all over|around|for it)\b",
            r"\basked (?:my |the |all )?(?:neighbou?rs?|family|household|building|concierge)\b",
            r"\b(?:no one|nobody|noone) (?:has|had|took|saw)\b",
            r"\bstolen\b",
            r"\bon (?:my |the )?(?:camera|ring|video|doorbell)\b",
            r"\b(?:camera|doorbell|cctv|video) (?:shows|showed)\b",
        ),
    ),
    "wants_replacement": (
        INTENT_PATTERNS["replacement"],
        _any(
            r"\b(?:do not|dont|no) (?:want|need) (?:a |another |the )?(?:replacement|new one|another one)\b",
            r"\bno replacement\b",
            r"\b(?:instead of|rather than) (?:a |the )?(?:replacement|new one|sending)\b",
        ),
    ),
    "wants_refund": (
        INTENT_PATTERNS["refund"],
        _any(r"\b(?:do not|dont|no) (?:want|need) (?:a |my )?refund\b", r"\bno refund\b"),
    ),
}

DAMAGE = (
    r"(?:damaged|damage|broken|broke|smashed|crushed|cracked|crack|cracks|shattered|torn|ripped|dented|dent|"
    r"leaking|leaked|leak|spilled|spilt|chipped|chip|scratched|scratch|bent|destroyed|ruined|defective|faulty|"
    r"dead on arrival|doa|not working|stopped working|does not work|do not work|in pieces|snapped|split)"
)
PROBLEM_PATTERNS: dict[str, re.Pattern[str]] = {
    "damaged": re.compile(rf"\b{DAMAGE}\b"),
    "wrong_item": _any(
        r"\bwrong (?:item|items|size|colou?r|product|one|thing|model|flavou?r|order|mug|plate)\b",
        r"\bwrong\b",
        r"\bnot what i (?:ordered|bought|paid for)\b",
        r"\b(?:received|got|sent me) (?:a |an |the )?\w+(?: \w+)? instead\b",
        r"\bdifferent (?:item|product|colou?r|size) (?:than|from|to)\b",
        r"\bsomeone else s (?:order|package)\b",
    ),
    "missing_item": _any(
        r"\b(?:is|was|are|were) missing\b",
        r"\bmissing (?:an |one |a |the |<num> |two |some )?(?:item|items|piece|pieces|part|parts|"
        r"mug|plate|one)\b",
        r"\bonly (?:<num>|one|two|three|half) (?:\w+ )?(?:of|in|came|arrived|were|was)\b",
        r"\bnot in the (?:box|package|parcel)\b",
        r"\b(?:forgot|forgotten|left out) (?:to include|to pack|the)\b",
        r"\bincomplete\b",
    ),
    "lost": _any(
        r"\blost\b",
        r"\bstolen\b",
        r"\b(?:package|parcel|order|delivery|shipment|box) (?:is |was |has gone )?missing\b",
        r"\bmissing (?:package|parcel|order|delivery|shipment)\b",
        r"\bnever (?:arrived|came|showed up|got here|received)\b",
    ),
}

# ---- the action a confirmation question names ---------------------------------------------------

ACTION_WORDS: dict[str, tuple[str, ...]] = {
    "cancel": ("cancel", "cancelled", "canceled", "cancelling", "canceling", "stop it", "stop the order"),
    "skip": ("skip", "skipped", "skipping"),
    "send": ("send", "sent", "ship", "replace", "replacement", "resend", "reship", "dispatch", "release"),
    "discount": ("discount", "off", "percent", "%"),
    "upgrade": ("upgrade", "express", "faster"),
    "coupon": ("coupon", "code", "voucher"),
    "claim": ("claim", "investigate", "investigation", "file", "open"),
    "release": ("release", "send", "ship", "dispatch", "go ahead"),
}
"""Words that name each kind of write in a reply: "just send it" is a yes to a replacement."""

TOOL_ACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"cancel"), "cancel"),
    (re.compile(r"skip"), "skip"),
    (re.compile(r"set_order_to_paid|release"), "release"),
    (re.compile(r"create_\w*order|reship|replacement"), "send"),
    (re.compile(r"discount"), "discount"),
    (re.compile(r"upgrade"), "upgrade"),
    (re.compile(r"coupon"), "coupon"),
    (re.compile(r"claim"), "claim"),
)
"""Which kind of write a tool is, by its name."""

ACTION_INTENTS: dict[str, str] = {
    "cancel_order": "cancel",
    "cancel_subscription": "cancel",
    "skip_delivery": "skip",
    "replacement": "send",
    "refund": "refund",
    "return": "return",
    "more_discount": "discount",
    "pause_subscription": "pause",
}
"""The kind of write each request intent asks for: a request for another kind is not a yes."""
