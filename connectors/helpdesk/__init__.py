"""Helpdesk clients: one interface, three platforms."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache

from connectors.config import HELPDESK_CONFIGS
from connectors.errors import NotConfigured
from connectors.helpdesk.base import Helpdesk

HELPDESKS = ("freshdesk", "kustomer", "salesforce")


@cache
def default_helpdesk(name: str) -> Helpdesk:
    """The process's client for `name`, configured from os.environ: built once, so connections are
    reused and Salesforce logs in once rather than on every call."""
    return helpdesk_client(name)


def helpdesk_client(name: str, env: Mapping[str, str] = os.environ) -> Helpdesk:
    """The configured client for `name`; NotConfigured when its credentials are unset."""
    if name not in HELPDESK_CONFIGS:
        raise ValueError(f"unknown helpdesk {name!r}")
    config = HELPDESK_CONFIGS[name](env)
    if config is None:
        raise NotConfigured(name, "no credentials in the environment")
    if name == "freshdesk":
        from connectors.helpdesk.freshdesk import FreshdeskClient

        return FreshdeskClient(config, env)
    if name == "kustomer":
        from connectors.helpdesk.kustomer import KustomerClient

        return KustomerClient(config, env)
    from connectors.helpdesk.salesforce import SalesforceClient

    return SalesforceClient(config, env)
