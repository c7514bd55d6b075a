"""The worker builds what every turn needs before it forks its pool, so a pool child (a fresh worker's,
or one replacing a child the hard time limit killed) spends its first task's time on the ticket, not
on loading the classifier, the policy library and the language models."""

from __future__ import annotations

import multiprocessing
from typing import Any

from celery import signals

from policies.document import layers
from policies.engines.router import default_library
from policies.understanding.claude_classifier import default_classifier
from policies.understanding.language import _detector, detect_language
from worker.tasks import warm_before_forking
from worker.warmup import warm_up

CACHES = {"classifier": default_classifier, "language detector": _detector}


def first_turn_in_a_child(results: Any) -> None:
    before = {name: cache.cache_info().misses for name, cache in CACHES.items()}
    warmed_libraries = list(layers._cache.values())  # held, so a rebuilt library cannot reuse an address
    label = default_classifier().classify("Where is my order? It has not arrived.").label
    language = detect_language("Where is my order? It has not arrived yet, can you check?")
    library = default_library()
    policies = len(library.documents)
    built = {name: cache.cache_info().misses - before[name] for name, cache in CACHES.items()}
    built["policy library"] = 0 if any(library is warmed for warmed in warmed_libraries) else 1
    results.put({"built": built, "label": label, "language": language, "policies": policies})


def test_a_pool_child_forked_after_the_warm_up_builds_nothing_and_answers():
    warm_up()
    context = multiprocessing.get_context("fork")  # how Celery's prefork pool makes its children
    results = context.Queue()
    child = context.Process(target=first_turn_in_a_child, args=(results,))
    child.start()
    child.join(120)
    seen = results.get(timeout=5)
    assert seen["built"] == {"classifier": 0, "policy library": 0, "language detector": 0}, seen
    assert seen["label"] == "wismo" and seen["language"] == "en" and seen["policies"] > 0, seen


def test_the_worker_warms_up_in_its_main_process_before_the_pool_starts():
    receivers = [ref() for _, ref in signals.worker_init.receivers]
    assert warm_before_forking in receivers
