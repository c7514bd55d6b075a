"""How much of the policy library repeats itself: deterministic counts over the active library.

Per policy: numbered Logic steps, flow steps and flow lines, flow steps that are character-identical
to a step of another policy, and conditions on `$ticket.helpdesk`. Then the replies whose text
stands word for word in several policies (a shared reply, inherited from replies.md, counts once).

    python bench/policy_format.py [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policies.document.layers import active_library  # noqa: E402

_LOGIC_STEP = re.compile(r"^\d+\.\s", re.M)


def step_text(doc, step) -> str:
    """A step as written in the file, from its first line to the line before the next step."""
    lines = doc.source.replace("\r\n", "\n").split("\n")
    steps = doc.flow or []
    index = steps.index(step)
    if index + 1 < len(steps):
        end = steps[index + 1].line - 1
    else:
        end = next(n for n in range(step.line, len(lines)) if lines[n].strip().startswith("```"))
    return "\n".join(line.rstrip() for line in lines[step.line - 1 : end]).strip()


def measure() -> dict:
    library = [doc for doc in active_library() if doc.flow]
    texts = {doc.id: [step_text(doc, step) for step in doc.flow] for doc in library}
    everywhere = Counter(t for doc_texts in texts.values() for t in set(doc_texts))
    rows = []
    for doc in library:
        flow_lines = sum(1 for t in texts[doc.id] for line in t.split("\n") if line.strip())
        rows.append(
            {
                "policy": doc.id,
                "logic_steps": len(_LOGIC_STEP.findall(doc.section_text("logic"))),
                "flow_steps": len(doc.flow),
                "flow_lines": flow_lines,
                "copied_steps": sum(1 for t in texts[doc.id] if everywhere[t] > 1),
                "helpdesk_branches": sum(
                    1
                    for t in texts[doc.id]
                    for line in t.split("\n")
                    if "if:" in line and "$ticket.helpdesk" in line
                ),
            }
        )
    own = (m for doc in active_library() for n, m in doc.macros.items() if n not in doc.inherited)
    macros = Counter(m.text for m in own)  # a shared reply (replies.md) is written once
    return {
        "policies": rows,
        "flow_steps": sum(r["flow_steps"] for r in rows),
        "copied_steps": sum(r["copied_steps"] for r in rows),
        "helpdesk_branches": sum(r["helpdesk_branches"] for r in rows),
        "macros_repeated": sorted(n for n in macros.values() if n > 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    figures = measure()
    if parser.parse_args().json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"{'POLICY':<46} {'LOGIC':>5} {'STEPS':>5} {'LINES':>5} {'COPIED':>6} {'HELPDESK':>8}")
    for row in figures["policies"]:
        print(
            f"{row['policy']:<46} {row['logic_steps']:>5} {row['flow_steps']:>5} {row['flow_lines']:>5} "
            f"{row['copied_steps']:>6} {row['helpdesk_branches']:>8}"
        )
    share = figures["copied_steps"] / figures["flow_steps"] if figures["flow_steps"] else 0
    copied, steps = figures["copied_steps"], figures["flow_steps"]
    print(f"flow steps copied from another policy: {copied} of {steps} ({share:.0%})")
    print(f"branches on $ticket.helpdesk: {figures['helpdesk_branches']}")
    print(f"macros repeated word for word: {len(figures['macros_repeated'])} {figures['macros_repeated']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
