"""The language policies are written in: `$variables`, conditions and templates.

Entry point: `compile_expression`, `render_template` and `CONTEXT_ROOTS` (the `$` names every policy
can read). It is the lowest part of `policies/`: the document loader, the reader of customer
messages and the engines all use it, and it uses none of them.
"""

from policies.language.expressions import (
    CONTEXT_ROOTS,
    ExpressionError,
    compile_expression,
    render_template,
    template_variables,
)

__all__ = ["CONTEXT_ROOTS", "ExpressionError", "compile_expression", "render_template", "template_variables"]
