"""Everything a turn needs that is built once per process, built in the worker's main process before
it forks its pool.

Loading the classifier, the policy library and the language detector's models takes seconds (far more
on a busy machine). Done lazily, every new pool child pays it inside its first task: a child that
replaces one killed by the hard time limit, or a worker restarted after a crash, then spends its time
limit loading instead of working, is killed again, and the ticket never gets an answer. Built before
the fork, every child starts with them ready (shared copy-on-write).
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)

SAMPLE = "Where is my order? It has not arrived yet and I would like to know when it will."


def warm_up() -> float:
    """Build the process-wide classifier, policy library and language models; seconds it took."""
    from policies.engines.router import default_library
    from policies.understanding.claude_classifier import default_classifier
    from policies.understanding.language import detect_language

    started = time.monotonic()
    default_library()
    default_classifier()
    detect_language(SAMPLE)  # the detector loads its language models on first use
    took = time.monotonic() - started
    log.info("warmed up in %.1fs: classifier, policy library, language models", took)
    return took
