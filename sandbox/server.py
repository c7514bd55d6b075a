"""Running the sandbox: over HTTPS (simple-salesforce requires it) with a generated certificate."""

from __future__ import annotations

import logging
import ssl
import threading
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, make_server

from sandbox.app import create_app, platform_modules
from sandbox.state import SandboxState
from sandbox.tls import ensure_certificate


class SandboxServer:
    """The sandbox on a background thread; `env()` points every connector at it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, cert_dir: Path, access_log: bool = False):
        if not access_log:  # the demo and tests read outcomes, not the sandbox's request log
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.cert, key = ensure_certificate(cert_dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self.state = SandboxState()
        self.app = create_app(self.state)
        self._server: BaseWSGIServer = make_server(host, port, self.app, threaded=True, ssl_context=context)
        self.url = f"https://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox", daemon=True)

    def start(self) -> SandboxServer:
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def env(self, *, claude: bool = False) -> dict[str, str]:
        return sandbox_env(self.url, self.cert, claude=claude)


def sandbox_env(url: str, cert: Path | str, *, claude: bool = False) -> dict[str, str]:
    """Env vars that configure every connector for the sandbox at `url`. The local Messages API is
    opt-in (`claude=True`): its key would move the demo and the stack onto the Claude engine."""
    env = {"POLICYDESK_CA_BUNDLE": str(cert)}
    for module in platform_modules().values():
        if getattr(module, "OPT_IN", False) and not claude:
            continue
        env.update(module.client_env(url))
    return env
