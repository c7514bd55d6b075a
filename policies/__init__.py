"""Support policies: the ticket classifier, slot extractors and (later) the policy library and engines."""
