"""`policydesk validate`: check policies against the tool registry and each other, with file:line.

Errors are things that would make a policy misbehave on a live ticket (an unknown tool, policy or
variable, a flow step pointing at nothing); they fail the command so CI stops them. Warnings are about
this deployment rather than the text (a platform without credentials, an agent policy without an API
key): the policy is fine, but tickets it would handle go to humans until the setting is fixed.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

from connectors.config import HELPDESK_CONFIGS
from connectors.tools import PLATFORM_CONFIGS, Tool, ToolRegistry, normalize
from policies.document.anchors import LEFT_TO, LogicStep, flow_anchors, logic_numbers, logic_steps
from policies.document.layers import active_library
from policies.document.library import PolicyLibrary
from policies.document.loader import LineDict, PolicyDocument, Problem, Step, macro_name, scan_references
from policies.document.tool_menu import load_tools
from policies.language.expressions import (
    CONTEXT_ROOTS,
    ExpressionError,
    compile_expression,
    template_variables,
)
from policies.understanding import SLOT_TYPES

__all__ = ["lint_document", "lint_library", "platform_configured", "validate_main"]

_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
MACRO_ONLY_ROOTS = ("choices",)  # filled in by ask steps with a list to choose from


def platform_configured(platform: str, registry: ToolRegistry, env: Mapping[str, str]) -> bool | None:
    """True/False when we know how to tell; None for a platform nothing in this install connects to."""
    tools = [tool for tool in registry.all() if tool.platform == platform]
    if tools:
        return any(tool.configured(env) for tool in tools)
    if platform in PLATFORM_CONFIGS:
        return PLATFORM_CONFIGS[platform](env) is not None
    if platform in HELPDESK_CONFIGS:
        return HELPDESK_CONFIGS[platform](env) is not None
    return None


class _Checker:
    def __init__(
        self, doc: PolicyDocument, library: PolicyLibrary, registry: ToolRegistry, env: Mapping[str, str]
    ):
        self.doc = doc
        self.library = library
        self.registry = registry
        self.env = env
        self.problems: list[Problem] = list(doc.problems)
        self.steps = {step.id for step in doc.flow or ()}
        self.defined = self._defined_names()
        self.confirmed_tools = self._confirmed_tools()
        self.used_platforms: set[str] = set()

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.doc.path, line, message))

    def warn(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.doc.path, line, message, "warning"))

    def _defined_names(self) -> set[str]:
        names = set(CONTEXT_ROOTS) | set(self.doc.inputs)
        for step in self.doc.flow or ():
            if step.action == "policy" and isinstance(step.value, str):
                called = self.library.resolve_mention(step.value.strip())
                names.update(called.results if called is not None else ())
            if step.action == "ask" and isinstance(step.value, str):
                names.add(step.value)
            if step.action == "call" and isinstance(step.data.get("save_as"), str):
                names.add(step.data["save_as"])
        return names

    def _confirmed_tools(self) -> set[str]:
        """Tools some yes/no question of this flow asks the customer to agree to (`confirms:`)."""
        tools = set()
        for step in self.doc.flow or ():
            spec = step.data.get("confirms") if step.action == "ask" else None
            if isinstance(spec, Mapping) and isinstance(spec.get("tool"), str):
                tools.add(normalize(spec["tool"].lstrip("@")))
        return tools

    # -- references ------------------------------------------------------------------------------

    def check_tool(self, name: str, line: int) -> None:
        tool = self.registry.resolve(name)
        if tool is None:
            known = {normalize(t.name): t.name for t in self.registry.all()}
            close = difflib.get_close_matches(normalize(name), list(known), n=1)
            hint = f" (did you mean @{known[close[0]]}?)" if close else ""
            self.error(line, f"unknown tool @{name.lstrip('@')}{hint}")
        else:
            self.used_platforms.add(tool.platform)

    def check_policy(self, mention: str, line: int, *, needs_flow: bool = False) -> None:
        target = self.library.resolve_mention(mention)
        if target is None:
            self.error(line, f"unknown policy reference #{mention.lstrip('#')}")
        elif needs_flow and not target.flow:
            self.error(line, f"policy #{target.id} has no flow, so a flow cannot switch to it")

    def check_variable(self, path: str, line: int, extra: Iterable[str] = ()) -> None:
        root = path.split(".", 1)[0]
        if root not in self.defined and root not in extra:
            known = ", ".join(sorted(self.defined))
            self.error(line, f"unknown variable ${path} (known here: {known})")

    def check_template(self, text: Any, line: int, extra: Iterable[str] = ()) -> None:
        for path in template_variables(str(text or "")):
            self.check_variable(path, line, extra)

    def check_expression(self, source: Any, line: int, extra: Iterable[str] = ()) -> None:
        try:
            expression = compile_expression(source)
        except ExpressionError as exc:
            self.error(line, f"bad condition: {exc}")
            return
        for path in expression.variables:
            self.check_variable(path, line, extra)

    def check_macro(self, name: Any, line: int, what: str) -> None:
        if not isinstance(name, str) or not name.strip():
            self.error(line, f"{what} needs a macro name")
        elif macro_name(name) not in self.doc.macros:
            known = ", ".join(sorted(self.doc.macros)) or "none defined"
            self.error(line, f"unknown macro {name!r} (macros: {known})")

    def check_step_ref(self, target: Any, line: int, what: str) -> None:
        if not isinstance(target, str | int) or str(target) not in self.steps:
            self.error(line, f"{what} goes to unknown step {target!r}")

    # -- the document ----------------------------------------------------------------------------

    def run(self) -> list[Problem]:
        for ref in self.doc.references:
            if ref.kind == "tool":
                self.check_tool(ref.name, ref.line)
            elif ref.kind == "policy":
                self.check_policy(ref.name, ref.line)
            else:
                self.check_variable(ref.name, ref.line, MACRO_ONLY_ROOTS)
        for step in self.doc.flow or ():
            if step.data.get("next") is not None:
                self.check_step_ref(step.data["next"], step.line_of("next"), f"step {step.id!r}")
            getattr(self, f"step_{step.action}")(step)
        for name in self.defined - set(CONTEXT_ROOTS):
            if not _IDENTIFIER.fullmatch(name):
                self.error(self.doc.flow_line or 1, f"{name!r} is not a valid name (letters, digits, _)")
        self.check_anchors()
        if self.doc.id:  # without a readable header there is no deployment to talk about
            self.check_deployment()
        return self.problems

    def step_ask(self, step: Step) -> None:
        line = step.line_of("ask")
        slot = step.value
        if not isinstance(slot, str) or not _IDENTIFIER.fullmatch(slot):
            self.error(line, f"step {step.id!r}: ask needs a slot name")
            return
        if slot in CONTEXT_ROOTS:
            self.error(line, f"step {step.id!r}: slot {slot!r} would hide ${slot}")
        kind = step.data.get("type", slot if slot in SLOT_TYPES else None)
        if kind not in SLOT_TYPES:
            self.error(
                step.line_of("type") if "type" in step.data else line,
                f"step {step.id!r}: say which type of answer {slot!r} is ({', '.join(SLOT_TYPES)})",
            )
        self.check_macro(step.data.get("macro"), step.line_of("macro"), f"ask step {step.id!r}")
        if step.data.get("reask_macro") is not None:
            self.check_macro(step.data["reask_macro"], step.line_of("reask_macro"), f"ask step {step.id!r}")
        tries = step.data.get("tries", 2)
        if not isinstance(tries, int) or isinstance(tries, bool) or tries < 1:
            self.error(step.line_of("tries"), f"step {step.id!r}: tries must be a whole number of at least 1")
        prefill = step.data.get("prefill")
        if prefill not in (None, True, False):
            self.check_expression(prefill, step.line_of("prefill"))
        if kind in ("choice", "items"):
            if step.data.get("from") is None:
                self.error(line, f"step {step.id!r}: a {kind} question needs 'from: $list' to choose from")
            else:
                self.check_expression(step.data["from"], step.line_of("from"))
        if step.data.get("show") is not None:
            self.check_template(step.data["show"], step.line_of("show"), ("item",))
        for key in ("on_fail", "on_change"):
            if step.data.get(key) is not None:
                self.check_step_ref(step.data[key], step.line_of(key), f"step {step.id!r} {key}")
        if step.data.get("on_change") is not None and kind != "yes_no":
            self.error(step.line_of("on_change"), f"step {step.id!r}: only a yes_no question has on_change")
        if "confirms" in step.data:
            self.check_confirms(step, kind)

    def check_confirms(self, step: Step, kind: Any) -> None:
        """A yes to this question is what lets a write run, so it must name a real write and its args."""
        line = step.line_of("confirms")
        spec = step.data["confirms"]
        if kind != "yes_no":
            self.error(line, f"step {step.id!r}: only a yes_no question can confirm a change")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("tool"), str) or "args" not in spec:
            self.error(line, f"step {step.id!r}: confirms needs 'tool: <name>' and 'args: {{...}}'")
            return
        self.check_tool(spec["tool"], line)
        tool = self.registry.resolve(spec["tool"])
        if tool is not None and not tool.writes:
            self.error(line, f"step {step.id!r}: @{tool.name} changes nothing, so nothing to confirm")
        self.check_args(step, tool, spec["args"], line)

    def check_args(self, step: Step, tool: Tool | None, args: Any, line: int) -> bool:
        """Arguments of a call or of the call a question confirms; False when they are not a mapping."""
        if not isinstance(args, dict):
            self.error(line, f"step {step.id!r}: args must be 'name: value' pairs")
            return False
        for name, value in args.items():
            arg_line = args.line_of(name) if isinstance(args, LineDict) else line
            if tool is not None and name not in tool.arguments:
                self.error(
                    arg_line, f"@{tool.name} has no argument {name!r} (it takes {', '.join(tool.arguments)})"
                )
            if isinstance(value, str):
                self.check_template(value, arg_line)
        return True

    def step_call(self, step: Step) -> None:
        line = step.line_of("call")
        if not isinstance(step.value, str) or not step.value.strip():
            self.error(line, f"step {step.id!r}: call needs a tool name")
            return
        self.check_tool(step.value, line)
        tool = self.registry.resolve(step.value)
        args = step.data.get("args") or {}
        if not self.check_args(step, tool, args, step.line_of("args")):
            return
        if tool is not None:
            for name in tool.policy_schema.get("required", []):
                if name not in args:
                    self.error(line, f"step {step.id!r}: @{tool.name} needs argument {name!r}")
            if "confirmed" in tool.guards and normalize(tool.name) not in self.confirmed_tools:
                # At run time the guard refuses the call without that yes; say so before a ticket does.
                self.error(
                    line,
                    f"step {step.id!r}: @{tool.name} runs only after the customer agrees; ask first with a "
                    f"yes_no step that carries 'confirms: {{tool: {tool.name}, args: {{...}}}}'",
                )
        save_as = step.data.get("save_as")
        if save_as is not None and (not isinstance(save_as, str) or save_as in CONTEXT_ROOTS):
            self.error(step.line_of("save_as"), f"step {step.id!r}: save_as {save_as!r} is not a usable name")

    def step_branch(self, step: Step) -> None:
        cases = step.value
        if not isinstance(cases, list) or not cases:
            self.error(
                step.line_of("branch"), f"step {step.id!r}: branch needs a list of '- if: ... goto: ...'"
            )
            return
        for case in cases:
            line = case.line if isinstance(case, LineDict) else step.line
            if not isinstance(case, dict):
                self.error(line, f"step {step.id!r}: each branch case is '- if: condition' + 'goto: step'")
            elif "if" in case:
                self.check_expression(case["if"], case.line_of("if") if isinstance(case, LineDict) else line)
                self.check_step_ref(case.get("goto", case.get("then")), line, f"branch {step.id!r}")
            elif "else" in case:
                self.check_step_ref(case["else"], line, f"branch {step.id!r} else")
            else:
                self.error(line, f"step {step.id!r}: a branch case needs 'if' or 'else'")

    def step_reply(self, step: Step) -> None:
        self.check_macro(step.value, step.line_of("reply"), f"reply step {step.id!r}")

    def step_handoff(self, step: Step) -> None:
        if not isinstance(step.value, str) or not step.value.strip():
            self.error(step.line_of("handoff"), f"step {step.id!r}: handoff needs a reason for the agent")
        else:
            self.check_template(step.value, step.line_of("handoff"))
        if step.data.get("macro") is not None:
            self.check_macro(step.data["macro"], step.line_of("macro"), f"handoff step {step.id!r}")

    def step_goto(self, step: Step) -> None:
        self.check_step_ref(step.value, step.line_of("goto"), f"step {step.id!r}")

    def step_policy(self, step: Step) -> None:
        if not isinstance(step.value, str) or not step.value.strip():
            self.error(step.line_of("policy"), f'step {step.id!r}: policy needs a "#Policy Name" (in quotes)')
            return
        self.check_policy(step.value.strip(), step.line_of("policy"), needs_flow=True)
        target = self.library.resolve_mention(step.value.strip())
        arguments = step.data.get("with")
        if arguments is None or target is None:
            return
        if not isinstance(arguments, dict):
            self.error(step.line_of("with"), f"step {step.id!r}: with must be 'name: value' pairs")
            return
        for name, value in arguments.items():
            line = arguments.line_of(name) if isinstance(arguments, LineDict) else step.line_of("with")
            if name not in target.inputs:
                known = ", ".join(target.inputs) or "none"
                self.error(line, f"step {step.id!r}: #{target.title} has no input {name!r} (inputs: {known})")
            self.check_template(value, line)

    def step_end(self, step: Step) -> None:
        if step.value not in ("resolved", True, None):
            self.error(step.line_of("end"), f"step {step.id!r}: end is 'end: resolved'")
        if step.data.get("macro") is not None:
            self.check_macro(step.data["macro"], step.line_of("macro"), f"end step {step.id!r}")

    # -- deployment warnings ---------------------------------------------------------------------

    # -- the numbered steps and the flow as one (policies.document.anchors) -------------------------

    def check_anchors(self) -> None:
        """Both ways: every numbered step is implemented by the flow (or left to a person or to Claude),
        every tool and policy the flow uses is named in the prose, every tool the prose names is called."""
        steps = logic_steps(self.doc)
        if not self.doc.flow or not steps:
            return
        numbers = {step.number for step in steps}
        anchors = flow_anchors(self.doc)
        for step in self.doc.flow:
            logic = step.data.get("logic")
            if logic is not None and (not logic_numbers(step) or set(logic_numbers(step)) - numbers):
                self.error(step.line_of("logic"), f"step {step.id!r}: there is no numbered step {logic!r}")
        if self.doc.flow[0].data.get("logic") is None:
            self.warn(
                self.doc.flow[0].line,
                f"step {self.doc.flow[0].id!r}: say which numbered step it implements (logic: N)",
            )
        implemented = {number for numbers_of in anchors.values() for number in numbers_of}
        for logic in steps:
            if logic.left_to is None and logic.number not in implemented:
                self.error(
                    logic.line,
                    f"numbered step {logic.number} is not implemented by the flow: tag the flow steps that "
                    f"do it with 'logic: {logic.number}', or add '(left to a person)' to the step",
                )
        self.check_tools_both_ways(steps)
        self.check_policies_in_prose()

    def check_tools_both_ways(self, steps: list[LogicStep]) -> None:
        flow_tools: dict[str, Step] = {}
        for step in self.doc.flow or ():
            names = [step.value] if step.action == "call" else []
            spec = step.data.get("confirms")
            if isinstance(spec, Mapping):
                names.append(spec.get("tool"))
            for name in names:
                tool = self.registry.resolve(str(name or ""))
                if tool is not None:
                    flow_tools.setdefault(tool.name, step)
        prose: dict[str, int] = {}
        for ref in self.doc.references:
            tool = self.registry.resolve(ref.name) if ref.kind == "tool" else None
            if tool is not None:
                prose.setdefault(tool.name, ref.line)
        # a misspelt tool is reported where it is written; the halves are compared once both resolve
        unknown_in_flow = any(
            step.action == "call" and self.registry.resolve(str(step.value or "")) is None
            for step in self.doc.flow or ()
        )
        unknown_in_prose = any(
            ref.kind == "tool" and self.registry.resolve(ref.name) is None for ref in self.doc.references
        )
        if unknown_in_flow or unknown_in_prose:
            return
        for name, step in flow_tools.items():
            if name not in prose:
                self.error(
                    step.line, f"step {step.id!r}: the flow calls @{name}, which the prose does not name"
                )
        by_person = {
            tool.name
            for logic in steps
            for number, text in logic.lines
            if LEFT_TO.search(text) or logic.left_to
            for ref in scan_references(text, number)
            if ref.kind == "tool" and (tool := self.registry.resolve(ref.name)) is not None
        }
        followed = self.tools_of_followed_policies()
        for name, line in prose.items():
            if name not in flow_tools and name not in by_person and name not in followed:
                self.error(
                    line,
                    f"@{name} is named in the prose but the flow never calls it (mark the line "
                    "'(left to a person)' when a colleague does it)",
                )

    def tools_of_followed_policies(self) -> set[str]:
        """Tools the policies this flow follows call (their own prose names them too), transitively."""
        seen: set[str] = {self.doc.id}
        pending = [self.doc]
        tools: set[str] = set()
        while pending:
            doc = pending.pop()
            for step in doc.flow or ():
                tool = self.registry.resolve(str(step.value or "")) if step.action == "call" else None
                if tool is not None and doc is not self.doc:
                    tools.add(tool.name)
                if step.action == "policy" and isinstance(step.value, str):
                    target = self.library.resolve_mention(step.value.strip())
                    if target is not None and target.id not in seen:
                        seen.add(target.id)
                        pending.append(target)
        return tools

    def check_policies_in_prose(self) -> None:
        named = {
            target.id
            for ref in self.doc.references
            if ref.kind == "policy" and (target := self.library.resolve_mention(ref.name)) is not None
        }
        for step in self.doc.flow or ():
            if step.action != "policy" or not isinstance(step.value, str):
                continue
            target = self.library.resolve_mention(step.value.strip())
            if target is not None and target.id not in named:
                self.error(
                    step.line,
                    f"step {step.id!r}: the flow follows #{target.title}, which the prose does not name",
                )

    def check_deployment(self) -> None:
        doc = self.doc
        for platform in sorted((set(doc.platforms) | self.used_platforms) - set(doc.helpdesks)):
            configured = platform_configured(platform, self.registry, self.env)
            line = doc.field_line("platforms")
            if configured is None:
                self.warn(line, f"no connector provides platform {platform!r}")
            elif not configured:
                self.warn(line, f"platform {platform!r} is not configured (no credentials): policy disabled")
        for helpdesk in doc.helpdesks:
            if helpdesk in HELPDESK_CONFIGS and HELPDESK_CONFIGS[helpdesk](self.env) is None:
                self.warn(
                    doc.field_line("helpdesks"),
                    f"helpdesk {helpdesk!r} is not configured: its tickets cannot use this policy",
                )
        needs_agent = doc.engine == "agent" or (doc.engine == "auto" and not doc.flow)
        if needs_agent and not self.env.get("ANTHROPIC_API_KEY"):
            # policies.engines.engine runs the flow of an `engine: agent` policy when there is no key
            self.warn(
                doc.field_line("engine"),
                "prefers the Claude agent but ANTHROPIC_API_KEY is not set: its flow runs instead"
                if doc.flow
                else "needs the Claude agent but ANTHROPIC_API_KEY is not set: tickets go to humans",
            )


def lint_document(
    doc: PolicyDocument, library: PolicyLibrary, registry: ToolRegistry, env: Mapping[str, str] = os.environ
) -> list[Problem]:
    return _Checker(doc, library, registry, env).run()


def lint_library(
    library: PolicyLibrary,
    registry: ToolRegistry,
    env: Mapping[str, str] = os.environ,
    only: Iterable[str] | None = None,
) -> list[Problem]:
    """Problems of every document (or of those whose path is in `only`), sorted by file and line."""
    wanted = {str(Path(p).resolve()) for p in only} if only is not None else None
    problems: list[Problem] = []
    for doc in library:
        if wanted is None or str(Path(doc.path).resolve()) in wanted:
            problems.extend(lint_document(doc, library, registry, env))
    problems.extend(p for p in library.problems if wanted is None or str(Path(p.path).resolve()) in wanted)
    return sorted(problems, key=lambda p: (p.path, p.line, p.severity, p.message))


def _policy_files(paths: Iterable[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.glob("*.md") if p.name.lower() != "readme.md"))
        else:
            files.append(path)
    return files


def _display(path: str) -> str:
    """Paths relative to where the command runs, as editors and CI annotations expect."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


def validate_main(
    paths: list[str],
    out: TextIO,
    *,
    registry: ToolRegistry | None = None,
    env: Mapping[str, str] = os.environ,
) -> int:
    """Lint the library (or the given files/folders); print `file:line: severity: message`; 1 on errors.

    Without paths: the active library (the built-in policies and the store's folders, policies.layers).
    Given files are checked in the company of the active library, so their `#references` to it resolve.
    """
    failed: list[str] = []
    if registry is None:
        registry, failed = load_tools()
    if paths:
        files = _policy_files(paths)
        checked = PolicyLibrary.load(files)
        ids = {doc.id for doc in checked}
        given = {str(f.resolve()) for f in files}
        others = [
            doc
            for doc in active_library(env)
            if doc.id not in ids and str(Path(doc.path).resolve()) not in given
        ]
        library = PolicyLibrary([*checked.documents, *others], active_library(env).replies)
        count = len(files)
        problems = lint_library(library, registry, env, only=[str(f) for f in files])
    else:
        library = active_library(env)
        count = len(library)
        problems = lint_library(library, registry, env)
    for module in failed:
        out.write(f"error: could not load tools from {module}\n")
    for problem in problems:
        out.write(
            Problem(_display(problem.path), problem.line, problem.message, problem.severity).format() + "\n"
        )
    errors = sum(1 for p in problems if p.severity == "error") + len(failed)
    warnings = sum(1 for p in problems if p.severity == "warning")
    out.write(f"{count} policies checked: {errors} error(s), {warnings} warning(s)\n")
    return 1 if errors else 0
