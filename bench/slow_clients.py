"""Slow clients against the web process: how many real webhooks still get an answer.

A slow client (a "slowloris") opens a connection and trickles its request headers a byte at a time,
holding whatever serves the connection. With gunicorn's threaded worker that is a thread: 2 workers
x 4 threads are held by 8 such clients, and the helpdesk's real deliveries wait until they time out.
With the gevent worker (the Procfile's) a held connection is a parked greenlet, and the real
deliveries are answered as usual.

For each worker class, in the same run: start gunicorn (the Procfile's settings) on the embedded
Redis, open `--slow` trickling connections, then send `--requests` signed Freshdesk webhooks one
after the other with a `--timeout` client timeout, and count the answered ones. Prints answered /
sent for each class, the ratio gevent / gthread, and the p50 latency of the answered ones.

    .venv/bin/python bench/slow_clients.py            # about a minute
    .venv/bin/python bench/slow_clients.py --slow 50 --requests 12
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from policydesk import deliveries  # noqa: E402
from policydesk.stack import WebProcess  # noqa: E402
from worker import embedded_redis  # noqa: E402


def trickle(host: str, port: int, stop: threading.Event, dropped: list[int]) -> None:
    """One slow client: a request line, then one header byte a second, never finishing; when the
    server drops it, it connects again (as a slowloris does)."""
    while not stop.is_set():
        try:
            with socket.create_connection((host, port), timeout=30) as sock:
                sock.sendall(b"POST /webhooks/freshdesk HTTP/1.1\r\nHost: x\r\n")
                while not stop.wait(1.0):
                    sock.sendall(b"X")
        except OSError:
            dropped.append(1)
            stop.wait(0.2)


def measure(
    worker_class: str, env: dict[str, str], args: argparse.Namespace, logs: Path
) -> tuple[int, list[float]]:
    web = WebProcess(env, log_dir=logs / worker_class, worker_class=worker_class).start()
    stop = threading.Event()
    host, port = "127.0.0.1", web.port
    dropped: list[int] = []
    slow = [
        threading.Thread(target=trickle, args=(host, port, stop, dropped), daemon=True)
        for _ in range(args.slow)
    ]
    try:
        for thread in slow:
            thread.start()
        time.sleep(2)  # every slow client holds its connection
        answered, latencies = 0, []
        for n in range(args.requests):  # a new connection each, as a helpdesk's delivery makes
            delivery = deliveries.freshdesk_ticket_created(
                70000 + n, "Where is my order?", "Where?", "jane@example.com"
            ).authenticated(env)
            started = time.perf_counter()
            try:
                with requests.Session() as session:
                    response = delivery.post(web.url, session, timeout=args.timeout)
            except requests.RequestException:
                continue
            if response.status_code in (200, 202):
                answered += 1
                latencies.append(time.perf_counter() - started)
        print(f"  {worker_class}: slow connections dropped by the server and reopened: {len(dropped)}")
        return answered, latencies
    finally:
        stop.set()
        web.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--slow", type=int, default=64, help="slow connections held open")
    parser.add_argument("--requests", type=int, default=8, help="real webhooks sent after them")
    parser.add_argument("--timeout", type=float, default=5.0, help="client timeout per webhook, seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pd-slow-") as tmp:
        folder = Path(tmp)
        url = embedded_redis.ensure_running(folder / "redis")
        env = {
            "REDIS_URL": url,
            "POLICYDESK_DATA_DIR": str(folder),
            "FRESHDESK_WEBHOOK_USER": "policydesk",
            "FRESHDESK_WEBHOOK_PASSWORD": secrets.token_hex(16),
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
        }
        try:
            results = {cls: measure(cls, env, args, folder / "logs") for cls in ("gthread", "gevent")}
        finally:
            embedded_redis.stop(folder / "redis")
    print(
        f"{args.slow} slow clients holding connections, {args.requests} webhooks ({args.timeout:g} s timeout)"
    )
    for cls, (answered, latencies) in results.items():
        p50 = f"{statistics.median(latencies) * 1000:.0f} ms" if latencies else "-"
        print(f"  {cls:<8} answered {answered}/{args.requests}   p50 {p50}")
    base = results["gthread"][0]
    ratio = f"{results['gevent'][0] / base:.1f}x" if base else "gthread answered none"
    print(f"  gevent / gthread answered: {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
