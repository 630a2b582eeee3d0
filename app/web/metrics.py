"""Prometheus metrics: requests and latency per route, writer batch sizes and commit latency,
and the accounts approaching the 64-bit counter range (README, "Money model")."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ..ledger.money import MAX_COUNTER_MINOR
from ..store.payouts import counts_by_rail_status
from ..store.verify import near_limit_summary


def _NONCES(conn) -> list:
    return conn.execute("SELECT address, max(next_nonce) FROM chain_nonces GROUP BY address LIMIT 50").fetchall()


def _JOB_FAILURES(conn) -> list:
    return conn.execute("SELECT b.code, j.code, sum(r.failed) FROM job_runs r JOIN jobs j ON j.id = r.job_id"
                        " JOIN brands b ON b.id = j.brand_id WHERE j.deleted_at_ms IS NULL GROUP BY j.id"
                        " HAVING sum(r.failed) > 0 LIMIT 200").fetchall()


HTTP_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))


class Metrics:
    def __init__(self, writer, readers=None, scheduler=lambda: None, drain=lambda: None,
                 deposits=lambda: None) -> None:
        self.writer = writer
        self.readers = readers
        self.scheduler = scheduler  # → the running Scheduler, or None
        self.drain = drain  # → the payout drain, or None
        self.deposits_scan = deposits  # → the deposit scanner, or None
        self._children: dict[tuple[str, str, int], tuple] = {}
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests", "HTTP requests", ["route", "method", "status"],
                                registry=self.registry)
        self.latency = Histogram("http_request_duration_seconds", "HTTP request latency", ["route", "method"],
                                 registry=self.registry,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
        self.batch_size = Histogram("writer_batch_size", "commands per group commit", registry=self.registry,
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))
        self.commit_ms = Histogram("writer_commit_seconds", "COMMIT latency of a group commit",
                                   registry=self.registry,
                                   buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1))
        self.queue_depth = Gauge("writer_queue_depth", "commands waiting for the writer", registry=self.registry)
        self.commands = Gauge("writer_commands", "commands run by the writer since start", registry=self.registry)
        self.merged = Gauge("writer_merged_commands", "commands run together with their neighbours as one batch"
                            " (single events of one brand) since start", registry=self.registry)
        self.longest_transaction = Gauge("writer_longest_transaction_seconds",
                                         "longest group commit since start, BEGIN to COMMIT (wall time)",
                                         registry=self.registry)
        self.near_limit = Gauge("ledger_accounts_near_counter_limit",
                                "accounts whose largest counter has used half or more of the 64-bit range",
                                registry=self.registry)
        self.payouts = Gauge("payouts", "payouts by rail and status", ["rail", "status"], registry=self.registry)
        self.drain_lag = Gauge("payout_drain_lag_seconds", "how late the most overdue payout of the last drain was",
                               registry=self.registry)
        self.drain_events = Gauge("payout_drain_total", "payout drain counts since start (claimed, confirmed,"
                                  " failed, retries)", ["what"], registry=self.registry)
        self.chain_nonce = Gauge("chain_next_nonce", "next nonce the payer address will use", ["address"],
                                 registry=self.registry)
        self.payer_balance = Gauge("chain_payer_balance", "what the chain payer holds, in whole coins (ETH, or the"
                                   " token at that address), read every 30 s", ["coin"], registry=self.registry)
        self.deposits = Gauge("deposits_credited", "deposits to funding wallets credited since start",
                              registry=self.registry)
        self.job_ticks = Gauge("scheduler_ticks", "scheduler ticks since start", registry=self.registry)
        self.job_holding = Gauge("scheduler_lease_held", "1 when this process holds the scheduler lease",
                                 registry=self.registry)
        self.job_runs = Gauge("job_runs_started", "cron job runs started by this process's scheduler",
                              registry=self.registry)
        self.job_lag = Gauge("job_lag_seconds", "how far the oldest unfinished cron occurrence is behind its time",
                             registry=self.registry)
        self.step_failures = Gauge("scheduler_step_failures", "failed scheduler steps since start", ["step"],
                                   registry=self.registry)
        self.job_failures = Gauge("job_event_failures", "customers a job's runs could not raise an event for",
                                  ["job"], registry=self.registry)
        self.fullest = Gauge("ledger_account_counter_used_ratio",
                             "largest counter / (2^63-1) among those accounts (0 when there are none)",
                             registry=self.registry)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        # labels() takes a lock and builds a key per call; the children never change, so they
        # are looked up once per (route, method, status). Routes and methods are the route
        # table's and statuses a few dozen, so this stays small.
        if method not in HTTP_METHODS:  # the request line's text: bound what becomes a label
            method = "OTHER"
        children = self._children.get((route, method, status))
        if children is None:
            children = self._children[(route, method, status)] = (
                self.requests.labels(route, method, str(status)), self.latency.labels(route, method))
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        stats = self.writer.stats
        sizes, stats.batch_sizes = stats.batch_sizes, []
        commits, stats.commit_ms = stats.commit_ms, []
        for size in sizes:
            self.batch_size.observe(size)
        for ms in commits:
            self.commit_ms.observe(ms / 1000)
        self.queue_depth.set(self.writer.queue_depth)
        self.commands.set(stats.commands)
        self.merged.set(stats.merged_commands)
        self.longest_transaction.set(stats.longest_transaction_ms / 1000)
        if self.readers is not None:  # a partial index holds just those accounts: a cheap read
            count, largest_minor = self.readers.read_now(near_limit_summary, single_statement=True)
            self.near_limit.set(count)
            self.fullest.set(largest_minor / MAX_COUNTER_MINOR)
        self._jobs()
        self._payouts()
        return generate_latest(self.registry)

    def _payouts(self) -> None:
        drain = self.drain()
        if drain is not None:
            stats = drain.stats
            self.drain_lag.set(stats.lag_ms / 1000)
            for what in ("claimed", "confirmed", "failed", "retries"):
                self.drain_events.labels(what).set(getattr(stats, what))
        scanner = self.deposits_scan()
        if scanner is not None:
            self.deposits.set(scanner.stats.credited)
            for coin, (units, decimals) in scanner.chain.payer_balances.items():
                self.payer_balance.labels(coin).set(units / 10**decimals)
        if self.readers is not None:
            for rail, status, count in self.readers.read_now(counts_by_rail_status):
                self.payouts.labels(rail, status).set(count)
            for address, nonce in self.readers.read_now(_NONCES):
                self.chain_nonce.labels(address).set(nonce)

    def _jobs(self) -> None:
        scheduler = self.scheduler()
        if scheduler is not None:
            stats = scheduler.stats
            self.job_ticks.set(stats.ticks)
            self.job_holding.set(1 if stats.holding else 0)
            self.job_runs.set(stats.runs_started)
            self.job_lag.set(stats.lag_ms / 1000)
            for step, count in list(stats.failures.items())[:100]:
                self.step_failures.labels(step).set(count)
        if self.readers is not None:
            for brand, code, failed in self.readers.read_now(_JOB_FAILURES):
                self.job_failures.labels(f"{brand}/{code}").set(failed)
