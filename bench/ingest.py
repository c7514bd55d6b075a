"""Webhook ingest throughput: each helpdesk's receiver through gunicorn, as a fraction of a baseline.

Usage: .venv/bin/python bench/ingest.py [--requests 2000] [--concurrency 8] [--rounds 3]
                                        [--workers 2] [--threads 4] [--load-processes 2]

Absolute requests per second say more about the machine than about the code, so every figure is read
against a baseline measured in the same run: a minimal endpoint (bench/baseline_app.py) that only
enqueues the raw body on the same Celery queue, served by the same gunicorn settings. Runs are
interleaved (baseline, kustomer, baseline, freshdesk, baseline, salesforce) and repeated, so drift in
the machine's speed hits both sides of every ratio alike. Each baseline run posts the very bodies its
paired receiver run posts, so the ratio isolates what the receiver does beyond enqueueing.

Every delivery is pre-built with a unique event id before timing, so dedupe never short-circuits;
after each run the queue length is checked against the request count (proof the work was really
enqueued), then the queue and the run's dedupe keys are deleted. No Celery worker runs.

Redis: REDIS_URL if set (it must not be a store a worker consumes; the bench refuses a non-empty
queue), else the embedded server in a temporary folder, stopped at the end.

This is a measurement, not a test: it asserts nothing about speed and exits 0 when the runs completed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import redis  # noqa: E402

from connectors.helpdesk import HELPDESKS  # noqa: E402
from policydesk import deliveries  # noqa: E402
from policydesk.deliveries import Delivery  # noqa: E402
from policydesk.stack import WebProcess  # noqa: E402
from worker import embedded_redis  # noqa: E402
from worker.celery_app import QUEUE  # noqa: E402
from worker.events import TicketEvent  # noqa: E402
from worker.intake import seen_key  # noqa: E402

BASELINE_TARGET = "bench.baseline_app:create_app()"
BASELINE_PATH = "/baseline"
AIM = 0.8
NOISY_SPREAD = 1.5  # paired ratios further apart than this mean the machine's speed moved under us
SALESFORCE_ORG_ID = "00D5g000004AbCdEAF"
_NOTIFICATION_ID = re.compile(rb"<Notification>\s*<Id>([A-Za-z0-9]+)</Id>")


# --- what is sent ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One POST as the load generator sends it: nothing left to compute while the clock runs."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Batch:
    """A run's deliveries plus the dedupe keys they will claim, so cleanup deletes exactly those."""

    helpdesk: str
    requests: list[Request]
    seen_keys: list[str]

    def to(self, path: str) -> list[Request]:
        """The same bodies and headers aimed at another path (the baseline's)."""
        return [Request(path, r.headers, r.body) for r in self.requests]


class DeliveryFactory:
    """Builds signed, vendor-format deliveries with fresh ids, the way each helpdesk would send them."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self._freshdesk_ticket = 10**9 + secrets.randbelow(10**9)

    def batch(self, helpdesk: str, count: int) -> Batch:
        build: Callable[[int], tuple[Delivery, str]] = getattr(self, f"_{helpdesk}")
        requests, keys = [], []
        for n in range(count):
            delivery, event_id = build(n)
            delivery = delivery.authenticated(self.env)
            requests.append(Request(delivery.path_with_query, dict(delivery.headers), delivery.body))
            keys.append(seen_key(TicketEvent(helpdesk, "", "created", event_id=event_id)))
        return Batch(helpdesk, requests, keys)

    def _kustomer(self, n: int) -> tuple[Delivery, str]:
        delivery = deliveries.kustomer_conversation_created(
            deliveries.new_kustomer_id(),
            deliveries.new_kustomer_id(),
            f"Where is my order #{40000 + n}?",
        )
        return delivery, json.loads(delivery.body)["id"]

    def _freshdesk(self, n: int) -> tuple[Delivery, str]:
        self._freshdesk_ticket += 1
        ticket_id = str(self._freshdesk_ticket)
        delivery = deliveries.freshdesk_ticket_created(
            ticket_id, f"Order #{40000 + n} has not arrived", "", f"shopper{n}@example.com", "Sam Shopper"
        )
        return delivery, f"{ticket_id}:created"

    def _salesforce(self, n: int) -> tuple[Delivery, str]:
        delivery = deliveries.salesforce_case_created(
            deliveries.new_salesforce_id("500"),
            f"Where is my order #{40000 + n}?",
            "Hi, my order was due on Monday and still hasn't shown up. Can you tell me where it is?",
            f"shopper{n}@example.com",
            "Sam Shopper",
            org_id=SALESFORCE_ORG_ID,
        )
        match = _NOTIFICATION_ID.search(delivery.body)
        if match is None:  # the builder's format changed; cleanup would miss keys, so say so loudly
            raise RuntimeError("cannot find the Notification Id in a built Salesforce delivery")
        return delivery, match.group(1).decode()


# --- the load generator: separate processes, keep-alive connections --------------------------------


@dataclass
class RunResult:
    """What one timed run produced; latencies in seconds."""

    label: str
    elapsed: float
    latencies: list[float]
    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0
    enqueued: int = 0
    server_cpu: float | None = None  # seconds of gunicorn CPU (master + workers) during the run

    @property
    def cpu_ms_per_request(self) -> float | None:
        return self.server_cpu / self.sent * 1000 if self.server_cpu is not None and self.sent else None

    @property
    def sent(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile: an actually observed latency, no interpolation."""
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
        return ordered[rank - 1]

    @property
    def not_2xx(self) -> int:
        refused = sum(n for status, n in self.statuses.items() if not 200 <= status < 300)
        return refused + self.connection_errors


def _drive(
    host: str,
    port: int,
    requests: Sequence[Request],
    ready: threading.Barrier,
    go: threading.Event,
    out: dict,
) -> None:
    """One keep-alive connection sending its share back to back; reconnects only after an error."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.connect()
    except OSError:
        pass  # counted on the first request, which reconnects; the barrier must still be reached
    latencies, statuses, errors = [], Counter(), 0
    ready.wait()
    go.wait()
    start = time.perf_counter()
    for req in requests:
        t0 = time.perf_counter()
        try:
            conn.request("POST", req.path, body=req.body, headers=req.headers)
            response = conn.getresponse()
            response.read()
            statuses[response.status] += 1
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
        latencies.append(time.perf_counter() - t0)
    out.update(start=start, end=time.perf_counter(), latencies=latencies, statuses=statuses, errors=errors)
    conn.close()


def _client_process(pipe: Connection) -> None:
    """A load-generator process: per job, one thread per connection, started together on "go"."""
    try:
        _serve_jobs(pipe)
    except (KeyboardInterrupt, EOFError):  # Ctrl-C or the parent gone: leave quietly, the parent reports
        return


def _serve_jobs(pipe: Connection) -> None:
    while True:
        job = pipe.recv()
        if job is None:
            return
        host, port, shares = job
        ready = threading.Barrier(len(shares) + 1)
        go = threading.Event()
        outs: list[dict] = [{} for _ in shares]
        threads = [
            threading.Thread(target=_drive, args=(host, port, share, ready, go, out), daemon=True)
            for share, out in zip(shares, outs, strict=True)
        ]
        for thread in threads:
            thread.start()
        ready.wait()
        pipe.send("ready")
        pipe.recv()
        go.set()
        for thread in threads:
            thread.join()
        pipe.send(outs)


class LoadGenerator:
    """`concurrency` keep-alive connections spread over a few processes, so the client's own GIL
    does not cap what the server can show."""

    def __init__(self, concurrency: int, processes: int):
        self.concurrency = concurrency
        context = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        self._pipes: list[Connection] = []
        self._procs = []
        for _ in range(max(1, min(processes, concurrency))):
            parent, child = context.Pipe()
            proc = context.Process(target=_client_process, args=(child,), daemon=True)
            proc.start()
            self._pipes.append(parent)
            self._procs.append(proc)

    def run(self, label: str, base_url: str, requests: Sequence[Request]) -> RunResult:
        """Send every request once; throughput is counted from the first send to the last answer."""
        parts = urlsplit(base_url)
        connections = [list(requests[i :: self.concurrency]) for i in range(self.concurrency)]
        connections = [c for c in connections if c]
        per_process = [connections[i :: len(self._pipes)] for i in range(len(self._pipes))]
        busy = [(pipe, shares) for pipe, shares in zip(self._pipes, per_process, strict=True) if shares]
        for pipe, shares in busy:
            pipe.send((parts.hostname, parts.port, shares))
        for pipe, _ in busy:
            pipe.recv()  # "ready": connections are open
        for pipe, _ in busy:
            pipe.send("go")
        outs = [out for pipe, _ in busy for out in pipe.recv()]
        result = RunResult(
            label,
            elapsed=max(o["end"] for o in outs) - min(o["start"] for o in outs),
            latencies=[latency for o in outs for latency in o["latencies"]],
            connection_errors=sum(o["errors"] for o in outs),
        )
        for out in outs:
            result.statuses.update(out["statuses"])
        return result

    def close(self) -> None:
        for pipe in self._pipes:
            try:
                pipe.send(None)
            except OSError:
                pass
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()


# --- Redis: where it comes from, and leaving it as found ---------------------------------------------


class BenchRedis:
    """REDIS_URL if set, else an embedded server in `folder`; knows how to undo what a run left."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.embedded = not os.environ.get("REDIS_URL")
        self.url = embedded_redis.ensure_running(folder) if self.embedded else os.environ["REDIS_URL"]
        self.client = redis.Redis.from_url(self.url)

    def describe(self) -> str:
        if self.embedded:
            return "embedded redis-server in a temporary folder"
        parts = urlsplit(self.url)  # never print the password
        return f"REDIS_URL {parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"

    def queued(self) -> int:
        return int(self.client.llen(QUEUE))

    def clear_run(self, batch: Batch | None) -> int:
        """Delete the queued messages and the dedupe keys a run created; the number of messages."""
        pipe = self.client.pipeline(transaction=False)
        pipe.llen(QUEUE)
        pipe.delete(QUEUE)
        if batch is not None:
            for start in range(0, len(batch.seen_keys), 1000):
                pipe.delete(*batch.seen_keys[start : start + 1000])
        return int(pipe.execute()[0])

    def close(self) -> None:
        self.client.close()
        if self.embedded:
            embedded_redis.stop(self.folder)


# --- server CPU: a figure a busy machine disturbs far less than wall-clock throughput ---------------

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user+system CPU seconds) from /proc/<pid>/stat; None when unreadable."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # the command name may contain spaces and parentheses
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def process_tree_cpu(root: int | None) -> float | None:
    """CPU seconds used so far by `root` and its direct children (gunicorn's master and workers).

    None where /proc is missing (not Linux): the bench still reports throughput and latency.
    """
    if root is None or _stat(root) is None:
        return None
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and (int(entry.name) == root or stat[0] == root):
                total += stat[1]
    return total


# --- the benchmark ----------------------------------------------------------------------------------


@dataclass
class Series:
    """All timed runs of one target."""

    label: str
    runs: list[RunResult] = field(default_factory=list)

    def median(self, figure: Callable[[RunResult], float]) -> float:
        return statistics.median(figure(run) for run in self.runs) if self.runs else 0.0

    @property
    def rps(self) -> float:
        return self.median(lambda r: r.rps)

    @property
    def cpu_ms(self) -> float | None:
        figures = [run.cpu_ms_per_request for run in self.runs]
        known = [figure for figure in figures if figure is not None]
        return statistics.median(known) if known and len(known) == len(figures) else None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=_positive, default=2000, help="requests per timed run")
    parser.add_argument("--concurrency", type=_positive, default=8, help="keep-alive connections")
    parser.add_argument("--rounds", type=_positive, default=3, help="interleaved rounds")
    parser.add_argument("--workers", type=_positive, default=2, help="gunicorn --workers (both apps)")
    parser.add_argument("--threads", type=_positive, default=4, help="gunicorn --threads (both apps)")
    parser.add_argument("--load-processes", type=_positive, default=2, help="load-generator processes")
    parser.add_argument(
        "--warmup",
        type=_non_negative,
        default=None,
        help="untimed requests per app and helpdesk before timing (default: 10%% of --requests, at least 50)",
    )
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def app_env(redis_url: str, data_dir: Path) -> dict[str, str]:
    """What both gunicorn processes see: one Redis, throwaway receiver secrets, this repository importable."""
    return {
        "REDIS_URL": redis_url,
        "POLICYDESK_DATA_DIR": str(data_dir),
        "KUSTOMER_WEBHOOK_SECRET": secrets.token_hex(16),
        "FRESHDESK_WEBHOOK_USER": "policydesk",
        "FRESHDESK_WEBHOOK_PASSWORD": secrets.token_hex(16),
        "SALESFORCE_ORG_ID": SALESFORCE_ORG_ID,
        "SALESFORCE_WEBHOOK_URL_SECRET": secrets.token_hex(16),
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
    }


class IngestBench:
    """Runs the interleaved rounds and keeps every run, so the report can show medians and spreads."""

    def __init__(self, args: argparse.Namespace, load: LoadGenerator, store: BenchRedis, env: dict[str, str]):
        self.args = args
        self.load = load
        self.store = store
        self.factory = DeliveryFactory(env)
        self.series: dict[str, Series] = {}
        for helpdesk in HELPDESKS:
            for label in (f"baseline[{helpdesk}]", helpdesk):
                self.series[label] = Series(label)
        self.pairs: dict[str, list[float]] = {helpdesk: [] for helpdesk in HELPDESKS}

    def run(self, baseline: WebProcess, receivers: WebProcess) -> None:
        args = self.args
        warmup = args.warmup if args.warmup is not None else max(50, args.requests // 10)
        print(f"building {(args.rounds * args.requests + warmup) * len(HELPDESKS)} unique deliveries...")
        batches = {h: [self.factory.batch(h, args.requests) for _ in range(args.rounds)] for h in HELPDESKS}
        if warmup:
            print(f"warming up ({warmup} requests per app and helpdesk)...")
            for helpdesk in HELPDESKS:
                batch = self.factory.batch(helpdesk, warmup)
                self._timed(None, baseline, batch.to(BASELINE_PATH), None)
                self._timed(None, receivers, batch.requests, batch)
        for round_no in range(args.rounds):
            for helpdesk in HELPDESKS:
                batch = batches[helpdesk][round_no]
                base = self._timed(f"baseline[{helpdesk}]", baseline, batch.to(BASELINE_PATH), None)
                real = self._timed(helpdesk, receivers, batch.requests, batch)
                if base.rps:
                    self.pairs[helpdesk].append(real.rps / base.rps)
                print(
                    f"  round {round_no + 1}/{args.rounds} {helpdesk:<10} "
                    f"{real.rps:8.0f} req/s vs baseline {base.rps:8.0f} req/s  "
                    f"({real.rps / base.rps if base.rps else 0:.2f})"
                )

    def _timed(
        self, label: str | None, server: WebProcess, requests: list[Request], batch: Batch | None
    ) -> RunResult:
        pid = server.proc.pid if server.proc else None
        cpu_before = process_tree_cpu(pid)
        result = self.load.run(label or "warm-up", server.url, requests)
        cpu_after = process_tree_cpu(pid)
        if cpu_before is not None and cpu_after is not None:
            result.server_cpu = cpu_after - cpu_before
        result.enqueued = self.store.clear_run(batch)
        if label is not None:
            self.series[label].runs.append(result)
        return result

    def report(self) -> None:
        args = self.args
        print()
        header = (
            f"{'target':<22}{'runs':>5}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'cpu ms/req':>12}"
            f"{'not 2xx':>9}{'enqueued':>13}{'vs baseline':>13}"
        )
        print(header)
        print("-" * len(header))
        for helpdesk in HELPDESKS:
            base = self.series[f"baseline[{helpdesk}]"]
            for series in (base, self.series[helpdesk]):
                sent = sum(run.sent for run in series.runs)
                enqueued = sum(run.enqueued for run in series.runs)
                cpu = f"{series.cpu_ms:.2f}" if series.cpu_ms is not None else "-"
                ratio = f"{series.rps / base.rps:.2f}" if base.rps else "-"
                print(
                    f"{series.label:<22}{len(series.runs):>5}{series.rps:>9.0f}"
                    f"{series.median(lambda r: r.percentile(50)) * 1000:>9.2f}"
                    f"{series.median(lambda r: r.percentile(99)) * 1000:>9.2f}{cpu:>12}"
                    f"{sum(run.not_2xx for run in series.runs):>9}"
                    f"{f'{enqueued}/{sent}':>13}{ratio:>13}"
                )
        print(
            f"\nmedians over {args.rounds} round(s) of {args.requests} requests; {args.concurrency} "
            f"connections; gunicorn --workers {args.workers} --threads {args.threads}; "
            f"{self.store.describe()}; {os.cpu_count()} CPUs.\n"
            "cpu ms/req: gunicorn's own CPU per request (master + workers), which other load on the "
            "machine disturbs far less than req/s."
        )
        problems = [
            label
            for label, series in self.series.items()
            if any(run.not_2xx or run.enqueued != run.sent for run in series.runs)
        ]
        if problems:
            print(
                "WARNING: some requests were refused or not enqueued in "
                + ", ".join(problems)
                + "; those figures do not measure the full ingest path."
            )
        print()
        for helpdesk in HELPDESKS:
            print(self.verdict(helpdesk))

    def verdict(self, helpdesk: str) -> str:
        """The closing line: req/s as a fraction of the paired baseline, its spread, and the CPU view."""
        base, real = self.series[f"baseline[{helpdesk}]"], self.series[helpdesk]
        ratio = round(real.rps / base.rps, 2) if base.rps else 0.0  # judged as printed
        paired = self.pairs[helpdesk]
        notes = [f"paired runs {min(paired):.2f}-{max(paired):.2f}" if paired else "no paired runs"]
        if paired and min(paired) > 0 and max(paired) / min(paired) > NOISY_SPREAD:
            notes.append("noisy: the machine was busy, try more --rounds")
        if base.cpu_ms and real.cpu_ms:
            notes.append(f"CPU per request {real.cpu_ms / base.cpu_ms:.2f}x baseline's")
        notes.append(f"{'meets' if ratio >= AIM else 'below'} the {AIM} aim")
        return f"{helpdesk}: {ratio:.2f} of baseline ({'; '.join(notes)})"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="policydesk-bench-ingest-"))
    load = LoadGenerator(args.concurrency, args.load_processes)  # forked before anything starts threads
    store: BenchRedis | None = None
    owns_queue = False  # only a queue this run filled is flushed at the end
    started: list[WebProcess] = []
    try:
        store = BenchRedis(folder / "redis")
        if store.queued():
            print(
                f"refusing to run: queue {QUEUE!r} on {store.describe()} already holds {store.queued()} "
                "messages; the bench flushes that queue, so point REDIS_URL at a spare Redis or database.",
                file=sys.stderr,
            )
            return 2
        owns_queue = True
        env = app_env(store.url, folder)
        gunicorn = {"workers": args.workers, "threads": args.threads}
        print(f"starting gunicorn twice (--workers {args.workers} --threads {args.threads})")
        baseline = WebProcess(env, log_dir=folder / "baseline", app_target=BASELINE_TARGET, **gunicorn)
        receivers = WebProcess(env, log_dir=folder / "receivers", **gunicorn)
        for process in (baseline, receivers):
            started.append(process)
            process.start()
        bench = IngestBench(args, load, store, env)
        bench.run(baseline, receivers)
        bench.report()
        return 0
    except (RuntimeError, redis.RedisError, EOFError, OSError) as exc:  # say why, never a traceback
        print(f"ingest bench could not run: {type(exc).__name__}: {exc}", file=sys.stderr)
        for process in started:
            _print_log_tail(process.log_path)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        for process in started:
            process.stop()
        load.close()
        if store is not None:
            if owns_queue:
                store.clear_run(None)
            store.close()
        shutil.rmtree(folder, ignore_errors=True)


def _print_log_tail(path: Path, lines: int = 20) -> None:
    if path.exists():
        tail = path.read_text(errors="replace").splitlines()[-lines:]
        print(f"--- last lines of {path.name} ---", *tail, sep="\n", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
