"""Event ingestion throughput and latency (issue 8), measured against the credit endpoint in one run.

Starts `python -m app serve` exactly as bench/http_bench.py does (synchronous=FULL, rate limit
off; a fresh SQLite file unless --db names one), seeds the same brand and 1,000 customers, puts
20 active rules on PURCHASE of which 5 match every event, drives the server with wrk -t2 + Lua
and prints, per figure, 2xx answers per second, p50/p99, status and socket-error counts and the
event rows and transfers it created:
  (a)  GET /livez                      the baseline (first and last; the ratios use their mean)
  (c)  POST /v1/customers/{id}/credit  a unique Idempotency-Key per request (the reference)
  (e)  POST /v1/events                 PURCHASE {"amount":"12.34"}, a unique event_id per request
  (c2), (e2) …                         (c) and (e) again, alternately (--pairs, default 2)
  (f)  POST /v1/events/batch           1,000 such events per request (events/s)
and e/c (target >= 0.7; the sum of the (e) figures over the sum of the (c) figures, each pair's
ratio printed beside it), e/a, f (target >= 10,000 events/s).

The rules (created or reset through the API before measuring, checked with GET /v1/rules and a
dry run): the brand's defaults stay active: `purchase_cashback` (5% credit_rate into USD) is
one of the 5 that match, `referral_commission` (customer.referred) one of the 15 that do not;
the bench adds 4 more that match (credit_rate into POINTS at 10000 bps, credit_rate into USD at
100 bps half_even, credit of 0.10 CREDITS, add_tag) and 14 that never do
(payload.amount > 1000000, payload.channel = "never", and an `all` of a true and a false leaf),
interleaved by priority. Each event therefore makes 4 transfers (the add_tag makes none).

What keeps the figures honest is http_bench.py's scheme (see its docstring), reused from it:
- event_ids (and the credit figure's Idempotency-Keys) are "eb-<run>-<figure>-<thread>-<n>"
  (batches add "-<j>"): <run> is random per run, <thread> comes from wrk's setup() through
  thread:set() and is read as a global, <n> counts the wrk thread's requests.
- Each wrk thread stops at its own deadline and wrk runs DRAIN_S longer (--batch-drain, 8 s, for
  batches, which take seconds each): nothing is left in flight. Rates are answers / --seconds as
  in http_bench; event figures also print events/s from the file (the figure's events after the
  first request's, over their created_at span), which the answers of the drain do not inflate.
- Rows are counted in the SQLite file (read-only) before and after each figure, once the writer
  queue is empty: event rows created must equal the 2xx answers (x1000 for batches), the events
  carrying the figure's prefix likewise, and transfers created must equal event rows x 4. No
  answer may be a replay. Any difference is printed as FAIL and the script exits 1.
  `python -m app verify` runs at the end. VmRSS is printed after each figure.

--profile FILE adds one unmeasured figure under `py-spy record --threads` (raw format to FILE):
single events by default, batches with --profile-mode batch. It prints where each server thread
spends its samples, with each share also as µs per event.

Usage: python bench/event_bench.py [--seconds 8] [--connections 32] [--batch-connections 4]
                                   [--pairs 2] [--quick] [--db PATH] [--profile FILE [--profile-mode event|batch]]
Needs wrk (apt-get install -y wrk). Only ever targets 127.0.0.1; every phase is bounded in time.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_bench as hb  # noqa: E402  (only to extend its Lua script: see event_lua())
from http_bench import (  # noqa: E402
    CREDIT_BODY, CUSTOMERS, DRAIN_S, ROOT, THREADS, Figure, Ledger, check, free_port, profile_summary, rss_kb,
    run_wrk, seed, settle, start_server, thread_cpu_s)

EVENT_TYPE = "PURCHASE"
AMOUNT = "12.34"
EVENTS_PER_BATCH = 1000   # the API's maximum (app/services/events.py MAX_EVENTS_PER_BATCH)
ACTIVE_RULES, MATCHING_RULES, TRANSFERS_PER_EVENT = 20, 5, 4
PROFILE_HZ = 100

# A new brand's own PURCHASE rules, kept active and counted among the 20: purchase_cashback
# (priority 100, matches, 1 transfer) and referral_commission (priority 110, holds only for a
# referred customer: none here). The bench adds 4 matching rules and 14 that never hold;
# priorities interleave the matching and the non-matching ones.
BRAND_DEFAULT_RULES = ("purchase_cashback", "referral_commission")
NEVER = [
    {"fact": "payload.amount", "op": "gt", "value": "1000000"},
    {"fact": "payload.channel", "op": "eq", "value": "never"},
    {"all": [{"fact": "payload.amount", "op": "gt", "value": "1"},
             {"fact": "payload.channel", "op": "eq", "value": "never"}]},
]
MATCHING = [  # (conditions, actions): 3 transfers + 1 tag
    ({"fact": "payload.amount", "op": "gt", "value": "1"},
     [{"type": "credit_rate", "asset": "POINTS", "of": "payload.amount", "rate_bps": 10000}]),
    ({"fact": "payload.amount", "op": "between", "value": ["1", "100"]},
     [{"type": "credit_rate", "asset": "USD", "of": "payload.amount", "rate_bps": 100, "rounding": "half_even"}]),
    ({"all": [{"fact": "event.type", "op": "eq", "value": EVENT_TYPE},
              {"fact": "payload.amount", "op": "gte", "value": "0"}]},
     [{"type": "credit", "asset": "CREDITS", "amount": "0.10"}]),
    ({"fact": "payload.amount", "op": "lt", "value": "1000"},
     [{"type": "add_tag", "tag": "buyer"}]),
]


def bench_rules() -> list[dict]:
    rules = []
    for n in range(ACTIVE_RULES - len(MATCHING) - len(BRAND_DEFAULT_RULES)):
        rules.append({"code": f"eb_never_{n:02d}", "name": f"bench: never matches {n}", "event_type": EVENT_TYPE,
                      "priority": 10 + 10 * n, "active": True, "stop_after": False,
                      "conditions": NEVER[n % len(NEVER)],
                      "actions": [{"type": "credit", "asset": "POINTS", "amount": "1"}]})
    for n, (conditions, actions) in enumerate(MATCHING):
        rules.append({"code": f"eb_match_{n}", "name": f"bench: matches {n}", "event_type": EVENT_TYPE,
                      "priority": 15 + 40 * n, "active": True, "stop_after": False,
                      "conditions": conditions, "actions": actions})
    return rules


# The event figures' request() branches, added to http_bench's one Lua script so that every
# figure pays the same client cost (wrk.format, the same response() and done()).
EVENT_LUA_HELPERS = r"""
function event_json(id, i)
  return '{"event_id":"' .. id .. '","event_type":"' .. CONFIG.event_type .. '","customer_id":"c' .. i ..
         '","payload":{"amount":"' .. CONFIG.amount .. '"}}'
end
"""
EVENT_LUA_MODES = r"""  elseif mode == "event" then
    return wrk.format("POST", "/v1/events", auth, event_json(CONFIG.prefix .. thread_no .. "-" .. counter, i))
  elseif mode == "event_batch" then
    local parts, n = {}, CONFIG.batch
    for j = 1, n do
      parts[j] = event_json(CONFIG.prefix .. thread_no .. "-" .. counter .. "-" .. j,
                            ((counter * n + j) * 7 + thread_no) % CONFIG.customers)
    end
    return wrk.format("POST", "/v1/events/batch", auth, '{"events":[' .. table.concat(parts, ",") .. ']}')
"""
LUA_ANCHOR = '  end\n  error("unknown mode " .. mode)'  # the end of request()'s if/elseif chain


def event_lua() -> str:
    """http_bench's script with the two event modes. run_wrk() writes the module global
    http_bench.LUA, so this is set there (see the README: a `lua` argument would remove it)."""
    if hb.LUA.count(LUA_ANCHOR) != 1:
        raise SystemExit("http_bench.LUA changed: its request() no longer ends its if/elseif chain with the unknown-mode error")
    return EVENT_LUA_HELPERS + hb.LUA.replace(LUA_ANCHOR, EVENT_LUA_MODES + LUA_ANCHOR)


class EventLedger(Ledger):
    def events(self) -> int:
        return self._one("SELECT count(*) FROM events")

    def events_keyed(self, brand_id: int, prefix: str) -> tuple[int, int]:
        """(rows, their created_at_ms span) with this prefix: the same range on the unique
        (brand_id, event_id) index as Ledger.keyed on transfers."""
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            n, first, last = conn.execute(
                "SELECT count(*), min(created_at_ms), max(created_at_ms) FROM events WHERE brand_id = ? "
                "AND event_id >= ? AND event_id < ?", (brand_id, prefix, prefix[:-1] + ".")).fetchone()
        finally:
            conn.close()
        return n, (last - first) if n else 0


@dataclass
class EventFigure(Figure):
    per_request: int = 0        # events per 2xx answer: 0 for figures that ingest none
    events: int = 0             # event rows created, from the SQLite file
    events_keyed: int = 0       # of them, with this figure's prefix
    span_ms: int = 0            # between the first and the last of them (created_at_ms)
    drain_s: int = DRAIN_S

    @property
    def committed_per_s(self) -> float:
        """Events/s from the file: those after the first request's, over the created_at span.
        Unlike answers / --seconds it does not count the answers that came in the drain."""
        return (self.events_keyed - self.per_request) * 1000 / self.span_ms if self.span_ms else 0.0

    @property
    def units(self) -> int:     # what the figure's rate counts: events, or answers
        return self.ok * self.per_request if self.per_request else self.ok


def check_events(fig: EventFigure) -> None:
    """http_bench's check() for what is common (nothing in flight, statuses add up, no replays
    and, with expect 'none', fig.created must be 0: so it is called with created set aside),
    then the event and transfer counts."""
    transfers, fig.created = fig.created, 0
    check(fig, "none")
    fig.created = transfers
    want = fig.ok * fig.per_request
    if fig.events != want:
        fig.problems.append(f"event rows created {fig.events:,} != expected {want:,} "
                            f"({fig.ok:,} 2xx answers x {fig.per_request})")
    if fig.events_keyed != fig.events:
        fig.problems.append(f"event rows with this figure's prefix {fig.events_keyed:,} != event rows created "
                            f"{fig.events:,}")
    if fig.created != want * TRANSFERS_PER_EVENT:
        fig.problems.append(f"transfers created {fig.created:,} != expected {want * TRANSFERS_PER_EVENT:,} "
                            f"({want:,} events x {TRANSFERS_PER_EVENT})")


def run_wrk_drain(url: str, fig: EventFigure, config: dict, tmp: str) -> None:
    """run_wrk with fig.drain_s as wrk's drain and request timeout: a batch of 1,000 events can
    take longer than http_bench's DRAIN_S, a module constant run_wrk reads when called."""
    saved, hb.DRAIN_S = hb.DRAIN_S, fig.drain_s
    try:
        run_wrk(url, fig, config, tmp)
    finally:
        hb.DRAIN_S = saved


def set_up_rules(url: str, key: str) -> list[str]:
    """Create (or reset, on a reused --db) the bench rules; check 20 active on PURCHASE and that a
    dry run matches 5 rules making 4 transfers. Returns problems."""
    problems = []
    with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60) as c:
        for code in BRAND_DEFAULT_RULES:
            r = c.patch(f"/v1/rules/{code}", json={"active": True})
            if r.status_code != 200:
                problems.append(f"PATCH {code} active: {r.status_code} {r.text[:300]}")
        for rule in bench_rules():
            r = c.post("/v1/rules", json=rule)
            if r.status_code == 409:  # a reused database: make it this definition again
                r = c.patch(f"/v1/rules/{rule['code']}", json={k: v for k, v in rule.items() if k != "code"})
            if r.status_code not in (200, 201):
                problems.append(f"rule {rule['code']}: {r.status_code} {r.text[:300]}")
        active, cursor = [], None
        while True:
            r = c.get("/v1/rules", params={"limit": 200, **({"cursor": cursor} if cursor else {})})
            r.raise_for_status()
            page = r.json()
            active += [x["code"] for x in page["data"]
                       if x["event_type"] == EVENT_TYPE and x["active"] and not x["deleted"]]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        if len(active) != ACTIVE_RULES:
            problems.append(f"{len(active)} active {EVENT_TYPE} rules, not {ACTIVE_RULES}: {sorted(active)}")
        r = c.post("/v1/events", params={"dry_run": "true"},
                   json={"event_id": f"eb-dry-{uuid.uuid4().hex[:8]}", "event_type": EVENT_TYPE,
                         "customer_id": "c0", "payload": {"amount": AMOUNT}})
        if r.status_code not in (200, 201):
            problems.append(f"dry run: {r.status_code} {r.text[:300]}")
        else:
            executions = r.json()["executions"]
            moves = [e for x in executions for e in x["effects"] if e["type"] in ("credit", "debit")]
            if len(executions) != MATCHING_RULES or len(moves) != TRANSFERS_PER_EVENT:
                problems.append(f"dry run: {len(executions)} rules matched (want {MATCHING_RULES}), "
                                f"{len(moves)} transfer effects (want {TRANSFERS_PER_EVENT}): {executions}")
    return problems


def per_event_profile(text: str, path: str, events: int) -> str:
    """profile_summary()'s text with each percentage also as µs of that thread per event: a
    sample is 1/PROFILE_HZ s of one thread, so p% of a thread's S samples is
    p/100 * S / PROFILE_HZ / events seconds per event."""
    totals: dict[str, int] = {}
    with open(path) as fh:
        for line in fh:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if stack:
                name = stack.split(";", 1)[0]
                totals[name] = totals.get(name, 0) + int(count)
    out, samples = [], 0
    for line in text.splitlines():
        head = re.match(r"  (\S.*?): ([\d,]+) samples", line)
        if head:
            samples = totals.get(head.group(1), int(head.group(2).replace(",", "")))
            line += f"; {samples * 1e6 / PROFILE_HZ / max(events, 1):,.0f} µs per event in all"
        m = re.match(r"(\s+)([\d.]+)%(\s+)(.*)", line)
        if m and samples:
            us = float(m.group(2)) / 100 * samples * 1e6 / PROFILE_HZ / max(events, 1)
            line = f"{m.group(1)}{m.group(2)}% {us:7.1f} µs{m.group(3)}{m.group(4)}"
        out.append(line)
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=8, help="measured seconds per figure (default 8)")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--batch-connections", type=int, default=2,
                   help="connections for the batch figure (default 2: the writer runs one batch at a time)")
    p.add_argument("--batch-drain", type=int, default=8,
                   help="seconds wrk waits for the batches in flight at the deadline (its request timeout too; keep it "
                        "under the server's HTTP_HEADER_TIMEOUT_S, 10 s, which closes the connections wrk holds idle)")
    p.add_argument("--db", help="SQLite file to use (kept; default: a fresh temporary one)")
    p.add_argument("--profile", metavar="FILE", help="add an events figure under py-spy; raw samples to FILE")
    p.add_argument("--profile-mode", choices=("event", "batch"), default="event")
    p.add_argument("--pairs", type=int, default=2, help="(c), (e) figures measured alternately (default 2)")
    p.add_argument("--quick", action="store_true", help="only (a), (e) and (a2): for iterating on the events path")
    args = p.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    pyspy = None
    if args.profile:
        pyspy = shutil.which("py-spy") or shutil.which("py-spy", path=os.path.dirname(sys.executable))
        if not pyspy:
            raise SystemExit("--profile needs py-spy: pip install py-spy")
    hb.LUA = event_lua()
    run = uuid.uuid4().hex[:12]
    s, c, bc = args.seconds, args.connections, args.batch_connections
    started = time.monotonic()
    problems: list[str] = []
    figures: list[EventFigure] = []
    prof_text = ""
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.abspath(args.db) if args.db else os.path.join(tmp, "app.db")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server_log = os.path.join(tmp, "server.log")
        server = start_server(db, port, server_log)
        ledger = EventLedger(db)
        rss_start = rss_kb(server.pid)
        try:
            before = settle(url, ledger)
            key, seeded = seed(url, run)
            brand_id = ledger.brand_id(hb.BRAND)
            after = settle(url, ledger)
            if seeded != CUSTOMERS or after - before != CUSTOMERS:
                problems.append(f"seed: {seeded} of {CUSTOMERS} credits answered 201, "
                                f"{after - before} transfers created")
            problems += [f"rules: {m}" for m in set_up_rules(url, key)]
            if problems:
                raise SystemExit("set-up failed:\n  " + "\n  ".join(problems))
            rss_seeded = rss_kb(server.pid)
            base = {"key": key, "customers": CUSTOMERS, "event_type": EVENT_TYPE, "amount": AMOUNT,
                    "batch": EVENTS_PER_BATCH}
            batch = dict(per_request=EVENTS_PER_BATCH, drain_s=max(args.batch_drain, DRAIN_S))
            # (c) and (e) alternate --pairs times: this machine's speed drifts by tens of percent
            # within a minute, so e/c is taken over pairs measured side by side.
            pairs = []
            for n in range(1, args.pairs + 1):
                suffix = "" if n == 1 else str(n)
                pairs += [EventFigure(f"{f'(c{suffix})':<4s} POST credit @{c}", "credit", c, s),
                          EventFigure(f"{f'(e{suffix})':<4s} POST event @{c}", "event", c, s, per_request=1)]
            plan = [EventFigure("(a)  GET /livez", "livez", c, s), *pairs,
                    EventFigure(f"(f)  POST events/batch x{EVENTS_PER_BATCH} @{bc}", "event_batch", bc, s, **batch),
                    EventFigure("(a2) GET /livez again", "livez", c, s)]
            if args.quick:
                plan = [plan[0], plan[2], plan[-1]]
            if args.profile:
                if args.profile_mode == "batch":
                    plan.append(EventFigure(f"(p)  events/batch @{bc}, py-spy", "event_batch", bc, max(s, 12),
                                            **batch))
                else:
                    plan.append(EventFigure(f"(p)  POST event @{c}, py-spy", "event", c, max(s, 12), per_request=1))
            for fig in plan:
                tag = fig.label.split()[0].strip("()")
                config = dict(base, mode=fig.mode, seconds=fig.seconds, prefix=f"eb-{run}-{tag}-",
                              body=CREDIT_BODY)
                before = settle(url, ledger)
                events_before = ledger.events()
                keyed_before = ledger.keyed(brand_id, config["prefix"]) if fig.mode == "credit" else None
                spy = None
                if tag == "p":
                    spy_s = fig.seconds - 2
                    spy = subprocess.Popen(
                        ["bash", "-c", f"sleep 1; exec {shlex.quote(pyspy)} record --threads -r {PROFILE_HZ} "
                                       f"-d {spy_s} --format raw -o {shlex.quote(args.profile)} -p {server.pid}"],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                cpu_before = thread_cpu_s(server.pid)
                run_wrk_drain(url, fig, config, tmp)
                cpu_after = thread_cpu_s(server.pid)
                fig.cpu_main_us = (cpu_after[0] - cpu_before[0]) * 1e6 / max(fig.units, 1)
                fig.cpu_other_us = (cpu_after[1] - cpu_before[1]) * 1e6 / max(fig.units, 1)
                if spy is not None:
                    _, err = spy.communicate(timeout=60)
                    if os.path.exists(args.profile):
                        # Events answered while py-spy sampled: the figure's rate x its window.
                        in_window = round(fig.units / fig.seconds * spy_s)
                        prof_text = (f"({in_window:,} events in the {spy_s} s window at {fig.units / fig.seconds:,.0f}"
                                     f" events/s)\n" + per_event_profile(
                                         profile_summary(args.profile, PROFILE_HZ * spy_s), args.profile, in_window))
                    else:
                        prof_text = f"py-spy wrote nothing: {err.strip()[-500:]}"
                fig.created = settle(url, ledger) - before
                fig.events = ledger.events() - events_before
                fig.rss_kb = rss_kb(server.pid)
                if fig.mode == "credit":
                    fig.created_keyed = ledger.keyed(brand_id, config["prefix"]) - keyed_before
                    check(fig, "fresh")
                    if fig.events:
                        fig.problems.append(f"{fig.events:,} event rows created by credits")
                elif fig.per_request:
                    fig.events_keyed, fig.span_ms = ledger.events_keyed(brand_id, config["prefix"])
                    check_events(fig)
                else:
                    check(fig, "none")
                    if fig.events:
                        fig.problems.append(f"{fig.events:,} event rows created by reads")
                figures.append(fig)
                problems += [f"{fig.label.strip()}: {m}" for m in fig.problems]
                print(f"  done {fig.label}: {fig.per_s():,.0f} 2xx/s", file=sys.stderr, flush=True)
            rss_end = rss_kb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
        verify = subprocess.run([sys.executable, "-m", "app", "verify"], cwd=ROOT, capture_output=True, text=True,
                                env=dict(os.environ, DATABASE_PATH=db), timeout=600)
        total_transfers, total_events = ledger.transfers(), ledger.events()
        with open(server_log, errors="replace") as fh:
            log_lines = [ln for ln in fh if '"levelname"' in ln or "Traceback" in ln or "ERROR" in ln
                         or "WARNING" in ln]
    elapsed = time.monotonic() - started

    fig = {f.label.split()[0]: f for f in figures}
    a = (fig["(a)"].per_s() + fig["(a2)"].per_s()) / 2
    print(f"run {run}: synchronous=FULL, rate limit off, wrk -t{THREADS}, {s} s per figure (+{DRAIN_S} s drain, "
          f"batches +{max(args.batch_drain, DRAIN_S)} s), "
          f"{CUSTOMERS:,} customers, {ACTIVE_RULES} active {EVENT_TYPE} rules ({MATCHING_RULES} match, "
          f"{TRANSFERS_PER_EVENT} transfers per event), database {'(fresh)' if not args.db else args.db}")
    print(f"server RSS (VmRSS): start {rss_start / 1024:,.1f} MiB, after seed {rss_seeded / 1024:,.1f} MiB, "
          f"end {rss_end / 1024:,.1f} MiB")
    print()
    print(f"{'figure':32s} {'conns':>5s} {'2xx/s':>8s} {'events/s':>8s} {'(file)':>7s} {'p50 ms':>7s} {'p99 ms':>7s} {'max ms':>7s} "
          f"{'answers':>8s} {'2xx':>7s} {'non-2xx':>7s} {'sock err':>8s} {'events':>9s} {'transfers':>9s} "
          f"{'RSS MiB':>7s} {'cpu µs/unit main+other':>23s}  ratio/a")
    for f in figures:
        other = {k: v for k, v in f.statuses.items() if not 200 <= k < 300}
        ev_s = f"{f.units / f.seconds:8,.0f} {f.committed_per_s:7,.0f}" if f.per_request else f"{'':16s}"
        print(f"{f.label:32s} {f.connections:5d} {f.per_s():8,.0f} {ev_s} {f.p50_ms:7.2f} {f.p99_ms:7.2f} "
              f"{f.max_ms:7.1f} {f.responses:8,d} {f.ok:7,d} {f.non2xx:7,d} {f.socket_errors:8,d} {f.events:9,d} "
              f"{f.created:9,d} {f.rss_kb / 1024:7.1f} {f.cpu_main_us:11.0f} + {f.cpu_other_us:9.0f}  "
              f"{f.per_s() / a:6.2f}"
              + (f"  statuses {other}" if other else "")
              + (f"  socket errors {f.errors}" if f.socket_errors else ""))
    print("(events/s: answers x events per answer / --seconds, as http_bench counts; (file): the figure's events "
          "after the first request's over their created_at span, without the drain's answers. cpu µs/unit: server "
          "CPU per 2xx answer, per event for the event figures; main = the event loop)")
    print()
    print(f"(a) baseline: {fig['(a)'].per_s():,.0f} first, {fig['(a2)'].per_s():,.0f} last, mean {a:,.0f} 2xx/s "
          f"(drift {100 * (fig['(a2)'].per_s() / fig['(a)'].per_s() - 1):+.0f}%)")
    e = fig["(e)"]
    if not args.quick:
        fb = fig["(f)"]
        credits = [f for f in figures if f.mode == "credit"]
        events = [f for f in figures if f.mode == "event"]
        credit_s, event_s = sum(f.per_s() for f in credits), sum(f.per_s() for f in events)
        each = ", ".join(f"{ev.per_s() / cr.per_s():.2f}" for cr, ev in zip(credits, events))
        print(f"e/c   event @{c} / credit @{c}          {event_s / credit_s:6.2f}   (target >= 0.7; over {len(events)}"
              f" pairs, each: {each})")
    print(f"e/a   event @{c} / livez                {e.per_s() / a:6.2f}")
    if not args.quick:
        print(f"c/a   credit @{c} / livez               {credit_s / len(credits) / a:6.2f}")
        print(f"(f)   events/s in batches of {EVENTS_PER_BATCH:,}  {fb.units / fb.seconds:9,.0f}   (target >= 10,000; "
              f"{fb.committed_per_s:,.0f}/s from the file's created_at span)")
    for f in figures:
        if f.mode != "livez":
            print(f"p50 / p99 {f.label.split()[0]:5s} {f.p50_ms:8.2f} / {f.p99_ms:8.2f} ms")
    print(f"in the file: {total_events:,} events, {total_transfers:,} transfers")
    hb.finish_report(prof_text, f"py-spy (--threads, {PROFILE_HZ} Hz, during (p); raw samples in {args.profile}):",
                     verify, log_lines, problems, elapsed,
                     f"counts: OK (event rows = 2xx answers x events per request, transfers = events x"
                     f" {TRANSFERS_PER_EVENT}, credits one transfer each, no replays)")


if __name__ == "__main__":
    main()
