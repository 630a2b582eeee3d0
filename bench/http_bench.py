"""HTTP throughput and latency of the service, measured against itself in one run.

Starts `python -m app serve` (synchronous=FULL, rate limit off; a fresh SQLite file unless
--db names one), drives it from a separate process (wrk -t2 + Lua) and prints, per figure,
2xx answers per second, p50/p99, status and socket-error counts and the transfers it created:
  (a)  GET /livez                        a trivial JSON route on the same server (the baseline;
                                         measured first and last, the ratios use their mean)
  (b)  POST /v1/customers/{id}/credit    a unique Idempotency-Key per request, at --connections
  (b') the same at --high-connections    (target: no errors, bounded p99)
  (bn) POST credit without a key         every 2xx is a new transfer
  (br) POST credit replayed              the seed's keyed requests sent again: every answer a
                                         2xx with Idempotent-Replayed, no new transfer
  (c)  GET /v1/customers/{id}/balances
  (d)  POST /v1/transfers/batch          1,000 transfers per request (transfers/s)
and each figure / (a). Targets: b/a >= 0.5, c/a >= 0.9, p99(b) <= 50 ms, (d) >= 20,000/s.

What keeps the figures honest:
- Keys are "hb-<run>-<figure>-<thread>-<n>": <run> is random per run (unique across runs
  in one database), <thread> comes from wrk's setup() via thread:set() and is read in init()
  as a global (a file-scope `local` of that name would shadow it and give every thread the
  same keys), <n> counts the requests of one wrk thread, i.e. of all its connections.
- Each wrk thread stops sending at its own deadline (delay() then holds the connection), and
  wrk runs DRAIN_S longer, so every request sent is answered before wrk exits: nothing is left
  in flight to commit unseen. Rates are answers / --seconds.
- Transfers created are counted in the SQLite file (read-only, SELECT count(*) FROM transfers)
  before and after each figure and must equal the figure's fresh (non-replayed) 2xx answers
  (x1000 for batches; 0 for replays and reads). A difference, an unexpected replay or a request
  left in flight is printed as FAIL and the script exits 1. `python -m app verify` runs at the end.
- The server's VmRSS (/proc/PID/status) is printed at start, after each figure and at the end.

--profile FILE adds one unmeasured credit figure under `py-spy record --threads` (raw format
to FILE) and prints where each server thread spends its samples.

Usage: python bench/http_bench.py [--seconds 8] [--connections 32] [--high-connections 128]
                                  [--db PATH] [--profile FILE]
Needs wrk (apt-get install -y wrk). Only ever targets 127.0.0.1; every phase is bounded in time.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shlex
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN = "bench-admin-key-0123456789"
BRAND = "bench"
CUSTOMERS = 1000
SEED_BODY = '{"asset":"CREDITS","amount":"1000000.00"}'
CREDIT_BODY = '{"asset":"CREDITS","amount":"1.25"}'
BATCH_SIZE = 1000
DRAIN_S = 2          # wrk runs this long past the send deadline; also wrk's request timeout
THREADS = 2

# One script for every figure (the same client cost everywhere). Python prepends the CONFIG
# table (the same for all threads). Per-thread state is global on purpose: wrk gives each
# thread its own Lua state, thread:set() writes that state's globals, and done() reads them
# back with thread:get().
LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } hb_timespec;
int clock_gettime(int clk, hb_timespec *ts);
]]
local ts = ffi.new("hb_timespec")
local function now()  -- CLOCK_MONOTONIC, seconds
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

all_threads = {}
next_thread_no = 0
function setup(thread)                -- runs in the main Lua state, once per thread
  thread:set("thread_no", next_thread_no)
  next_thread_no = next_thread_no + 1
  table.insert(all_threads, thread)
end

function init(args)                   -- runs in the thread's own state: thread_no is its global
  thread_no = tonumber(thread_no)
  deadline = now() + CONFIG.seconds
  counter, sent, replayed, statuses = 0, 0, 0, {}
  auth = {["X-API-Key"] = CONFIG.key, ["Content-Type"] = "application/json"}
end

function delay()                      -- 0 until the deadline, then hold every connection
  if now() >= deadline then return 3600000 end
  return 0
end

function request()
  counter = counter + 1
  sent = sent + 1
  local mode, i = CONFIG.mode, (counter * 7 + thread_no) % CONFIG.customers
  if mode == "livez" then
    return wrk.format("GET", "/livez")
  elseif mode == "balances" then
    return wrk.format("GET", "/v1/customers/c" .. ((counter * 13 + thread_no) % CONFIG.customers) .. "/balances",
                      {["X-API-Key"] = CONFIG.key})
  elseif mode == "credit" then
    local h = {["X-API-Key"] = CONFIG.key, ["Content-Type"] = "application/json",
               ["Idempotency-Key"] = CONFIG.prefix .. thread_no .. "-" .. counter}
    return wrk.format("POST", "/v1/customers/c" .. i .. "/credit", h, CONFIG.body)
  elseif mode == "credit_nokey" then
    return wrk.format("POST", "/v1/customers/c" .. i .. "/credit", auth, CONFIG.body)
  elseif mode == "replay" then
    local h = {["X-API-Key"] = CONFIG.key, ["Content-Type"] = "application/json",
               ["Idempotency-Key"] = CONFIG.prefix .. i}
    return wrk.format("POST", "/v1/customers/c" .. i .. "/credit", h, CONFIG.body)
  elseif mode == "batch" then
    return wrk.format("POST", "/v1/transfers/batch", auth, CONFIG.body)
  end
  error("unknown mode " .. mode)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if headers["Idempotent-Replayed"] == "true" and status >= 200 and status < 300 then
    replayed = replayed + 1
  end
end

function done(summary, latency, requests)
  local sent_total, replayed_total, by_status = 0, 0, {}
  for _, t in ipairs(all_threads) do
    sent_total = sent_total + t:get("sent")
    replayed_total = replayed_total + t:get("replayed")
    for code, n in pairs(t:get("statuses")) do by_status[code] = (by_status[code] or 0) + n end
  end
  -- wrk 4.x calls request() once on thread 0 before the run to check the script
  -- (script_verify_request); that request is never sent.
  io.write("HB sent ", sent_total - 1, "\n")
  io.write("HB replayed ", replayed_total, "\n")
  for code, n in pairs(by_status) do io.write("HB status ", code, " ", n, "\n") end
  io.write("HB responses ", summary.requests, "\n")
  io.write("HB duration_us ", summary.duration, "\n")
  for _, k in ipairs({"connect", "read", "write", "status", "timeout"}) do
    io.write("HB err_", k, " ", summary.errors[k], "\n")
  end
  io.write("HB p50_us ", latency:percentile(50), "\n")
  io.write("HB p99_us ", latency:percentile(99), "\n")
  io.write("HB max_us ", latency.max, "\n")
end
"""


@dataclass
class Figure:
    label: str
    mode: str
    connections: int
    seconds: int
    sent: int = 0
    responses: int = 0
    replayed: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    created: int = 0          # transfers, from the SQLite file
    created_keyed: int | None = None  # transfers carrying this figure's key prefix
    rss_kb: int = 0
    cpu_main_us: float = 0.0   # server CPU per 2xx answer: event-loop thread
    cpu_other_us: float = 0.0  # the other threads (writer, readers)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if 200 <= s < 300)

    @property
    def fresh(self) -> int:
        return self.ok - self.replayed

    @property
    def non2xx(self) -> int:
        return self.responses - self.ok

    @property
    def socket_errors(self) -> int:
        return sum(v for k, v in self.errors.items() if k != "status")

    @property
    def in_flight(self) -> int:
        # Sent but never answered (wrk stopped first, or a socket error lost it).
        return self.sent - self.responses

    def per_s(self, n: int | None = None) -> float:
        return (self.ok if n is None else n) / self.seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: str, port: int, log_path: str) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_PATH=db, PORT=str(port), HOST="127.0.0.1",
               ADMIN_API_KEY=ADMIN, SQLITE_SYNCHRONOUS="FULL", RATE_LIMIT_PER_S="0", LOG_LEVEL="WARNING",
               BATCH_MAX_TRANSFERS=str(BATCH_SIZE))
    log = open(log_path, "wb")
    # The interpreter itself, not a shell: proc.pid is the server's PID (RSS, py-spy).
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    for _ in range(400):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("server did not start; its log: " + open(log_path, errors="replace").read()[-2000:])


def thread_cpu_s(pid: int) -> tuple[float, float]:
    """(event-loop thread, all other threads) CPU seconds so far (utime + stime).
    Python 3.11 does not name OS threads; the main thread is the one whose id is the PID."""
    tick = os.sysconf("SC_CLK_TCK")
    main = other = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # a thread that just ended
        seconds = (int(fields[11]) + int(fields[12])) / tick
        if int(tid) == pid:
            main += seconds
        else:
            other += seconds
    return main, other


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Ledger:
    """Read-only counts straight from the SQLite file (a fresh connection each time)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def _one(self, sql: str, args: tuple = ()) -> int:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql, args).fetchone()[0]
        finally:
            conn.close()

    def transfers(self) -> int:
        return self._one("SELECT count(*) FROM transfers")

    def keyed(self, brand_id: int, prefix: str) -> int:
        # prefix ends with "-"; "." is the next character: a range on the unique key index.
        return self._one("SELECT count(*) FROM transfers WHERE brand_id = ? AND idempotency_key >= ? "
                         "AND idempotency_key < ?", (brand_id, prefix, prefix[:-1] + "."))

    def brand_id(self, code: str) -> int:
        return self._one("SELECT id FROM brands WHERE code = ?", (code,))


def settle(url: str, ledger: Ledger) -> int:
    """The transfer count once the writer queue is empty and the count stops moving."""
    last = -1
    for _ in range(100):
        try:
            depth = httpx.get(f"{url}/health", timeout=5).json()["writer_queue_depth"]
        except (httpx.HTTPError, KeyError, ValueError):
            depth = -1
        count = ledger.transfers()
        if depth == 0 and count == last:
            return count
        last = count
        time.sleep(0.1)
    return last


def seed(url: str, run: str) -> tuple[str, int]:
    """Brand (reused if it exists), a brand key, and one keyed credit per customer (the replay set)."""
    h = {"X-API-Key": ADMIN}
    with httpx.Client(base_url=url, headers=h, timeout=60) as c:
        r = c.post("/v1/brands", json={"code": BRAND, "name": "Bench"})
        if r.status_code != 409:
            r.raise_for_status()
        key = c.post("/v1/api-keys", json={"role": "brand", "brand": BRAND}).json()["key"]
    bh = {"X-API-Key": key, "Content-Type": "application/json"}
    with httpx.Client(base_url=url, headers=bh, timeout=60) as c:
        def credit(i: int) -> int:
            r = c.post(f"/v1/customers/c{i}/credit", content=SEED_BODY,
                       headers={"Idempotency-Key": f"hb-{run}-seed-{i}"})
            r.raise_for_status()
            return r.status_code
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(credit, range(CUSTOMERS)))
    return key, sum(1 for s in statuses if s == 201)


def batch_body(rng: random.Random) -> str:
    items = []
    for _ in range(BATCH_SIZE):
        a, b = rng.sample(range(CUSTOMERS), 2)
        items.append({"from_customer": f"c{a}", "to_customer": f"c{b}", "asset": "CREDITS", "amount": "0.01"})
    return json.dumps({"atomic": True, "transfers": items})


def lua_string(s: str) -> str:
    return "[==[" + s + "]==]"


def run_wrk(url: str, fig: Figure, config: dict, tmp: str) -> None:
    script = os.path.join(tmp, f"{fig.mode}.lua")
    fields = ", ".join(f"{k} = {lua_string(v) if isinstance(v, str) else v}" for k, v in config.items())
    with open(script, "w") as fh:
        fh.write(f"CONFIG = {{ {fields} }}\n" + LUA)
    proc = subprocess.run(["wrk", f"-t{THREADS}", f"-c{fig.connections}", f"-d{fig.seconds + DRAIN_S}s",
                           "--timeout", f"{DRAIN_S}s", "-s", script, url + "/"],
                          capture_output=True, text=True, timeout=fig.seconds + DRAIN_S + 60)
    out = proc.stdout
    if proc.returncode != 0 or "HB responses" not in out:
        raise SystemExit(f"wrk failed for {fig.label}: rc={proc.returncode}\n{out}\n{proc.stderr}")

    def num(name: str) -> float:
        return float(re.search(rf"^HB {name} ([\d.]+)", out, re.M).group(1))
    fig.sent, fig.responses, fig.replayed = int(num("sent")), int(num("responses")), int(num("replayed"))
    fig.statuses = {int(s): int(n) for s, n in re.findall(r"^HB status (\d+) (\d+)", out, re.M)}
    fig.errors = {k: int(num(f"err_{k}")) for k in ("connect", "read", "write", "status", "timeout")}
    fig.p50_ms, fig.p99_ms, fig.max_ms = num("p50_us") / 1000, num("p99_us") / 1000, num("max_us") / 1000


def check(fig: Figure, expect: str) -> None:
    """expect: 'none' (no transfers), 'fresh' (one per fresh 2xx), 'batch', 'replay'."""
    p = fig.problems
    if fig.in_flight:
        p.append(f"{fig.in_flight} request(s) sent but not answered before wrk stopped "
                 f"(slower than the {DRAIN_S} s drain, or lost to a socket error)")
    if sum(fig.statuses.values()) != fig.responses:
        p.append(f"status counts ({sum(fig.statuses.values())}) != wrk's responses ({fig.responses})")
    # Every 2xx of a figure that moves money must be a new transfer (x1000 for a batch): a
    # replayed answer among them is a request the figure counts but the ledger did not do.
    want = {"none": 0, "fresh": fig.ok, "batch": fig.ok * BATCH_SIZE, "replay": 0}[expect]
    if fig.created != want:
        p.append(f"transfers created {fig.created:,} != expected {want:,} "
                 f"({fig.ok:,} 2xx answers, {fig.replayed:,} of them replays)")
    if expect == "replay":
        if fig.replayed != fig.responses:
            p.append(f"{fig.responses - fig.replayed:,} of {fig.responses:,} replay answers were not "
                     f"2xx with Idempotent-Replayed: true")
    elif fig.replayed:
        p.append(f"{fig.replayed:,} answers were replays (Idempotent-Replayed) where every key is new")
    if fig.created_keyed is not None and fig.created_keyed != fig.created:
        p.append(f"transfers with this figure's key prefix {fig.created_keyed:,} != transfers created "
                 f"{fig.created:,}")


def profile_summary(path: str, passes: int | None, top: int = 15) -> str:
    """Per thread of a `py-spy record --threads --format raw` file: its samples (as a share of
    the ~rate x duration sampling passes: about the share of wall time the thread was not
    idle), the functions
    with the most inclusive samples (line numbers dropped) and the lines with the most self
    samples (native code such as sqlite3 calls is charged to the Python line that called it)."""
    threads: dict[str, dict] = {}
    with open(path) as fh:
        for line in fh:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            name, *frames = stack.split(";")
            t = threads.setdefault(name, {"total": 0, "incl": {}, "self": {}})
            n = int(count)
            t["total"] += n
            for f in {re.sub(r":\d+\)$", ")", f) for f in frames}:
                t["incl"][f] = t["incl"].get(f, 0) + n
            if frames:
                t["self"][frames[-1]] = t["self"].get(frames[-1], 0) + n
    grand = sum(t["total"] for t in threads.values()) or 1
    lines = []
    for name, t in sorted(threads.items(), key=lambda kv: -kv[1]["total"]):
        if t["total"] < grand * 0.05:
            continue
        busy = f", not idle in ~{100 * t['total'] / passes:.0f}% of ~{passes:,} passes" if passes else ""
        lines.append(f"  {name}: {t['total']:,} samples ({100 * t['total'] / grand:.0f}% of all{busy})")
        # Inclusive: skip the frames under which nearly every sample sits (runpy, the loop).
        incl = [(f, n) for f, n in t["incl"].items() if n < 0.9 * t["total"]]
        lines.append("    inclusive, by function (% of this thread's samples):")
        for f, n in sorted(incl, key=lambda x: -x[1])[:top]:
            lines.append(f"      {100 * n / t['total']:5.1f}%  {f}")
        lines.append("    self, by line (% of this thread's samples):")
        for f, n in sorted(t["self"].items(), key=lambda x: -x[1])[:top]:
            lines.append(f"      {100 * n / t['total']:5.1f}%  {f}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=8, help="measured seconds per figure (default 8)")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--high-connections", type=int, default=128, help="second credit figure (default 128)")
    p.add_argument("--db", help="SQLite file to use (kept; default: a fresh temporary one)")
    p.add_argument("--profile", metavar="FILE", help="add a credit figure under py-spy; raw samples to FILE")
    p.add_argument("--quick", action="store_true", help="only (a), (b) and (a2): for iterating on the credit path")
    args = p.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    pyspy = None
    if args.profile:
        pyspy = shutil.which("py-spy") or shutil.which("py-spy", path=os.path.dirname(sys.executable))
        if not pyspy:
            raise SystemExit("--profile needs py-spy: pip install py-spy")
    run = uuid.uuid4().hex[:12]
    s, c, hc = args.seconds, args.connections, args.high_connections
    started = time.monotonic()
    problems: list[str] = []
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.abspath(args.db) if args.db else os.path.join(tmp, "app.db")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server_log = os.path.join(tmp, "server.log")
        server = start_server(db, port, server_log)
        ledger = Ledger(db)
        rss_start = rss_kb(server.pid)
        prof_text = ""
        try:
            before = settle(url, ledger)
            key, seeded = seed(url, run)
            brand_id = ledger.brand_id(BRAND)
            after = settle(url, ledger)
            if seeded != CUSTOMERS or after - before != CUSTOMERS:
                problems.append(f"seed: {seeded} of {CUSTOMERS} credits answered 201, "
                                f"{after - before} transfers created")
            rss_seeded = rss_kb(server.pid)
            base = {"key": key, "customers": CUSTOMERS, "seconds": s}
            plan = [
                (Figure("(a)  GET /livez", "livez", c, s), {}, "none"),
                (Figure(f"(b)  POST credit @{c}", "credit", c, s), {"prefix": f"hb-{run}-b{c}-", "body": CREDIT_BODY}, "fresh"),
                (Figure(f"(b') POST credit @{hc}", "credit", hc, s), {"prefix": f"hb-{run}-b{hc}-", "body": CREDIT_BODY}, "fresh"),
                (Figure("(bn) POST credit, no key", "credit_nokey", c, s), {"body": CREDIT_BODY}, "fresh"),
                (Figure("(br) POST credit, replay", "replay", c, s), {"prefix": f"hb-{run}-seed-", "body": SEED_BODY}, "replay"),
                (Figure("(c)  GET balances", "balances", c, s), {}, "none"),
                (Figure("(d)  POST batch x1000", "batch", min(c, 8), s), {"body": batch_body(random.Random(1))}, "batch"),
                (Figure("(a2) GET /livez again", "livez", c, s), {}, "none"),
            ]
            if args.quick:
                plan = [plan[0], plan[1], plan[-1]]
            if args.profile:
                plan.append((Figure(f"(p)  POST credit @{c}, py-spy", "credit", c, max(s, 12)),
                             {"prefix": f"hb-{run}-prof-", "body": CREDIT_BODY}, "fresh"))
            for fig, extra, expect in plan:
                config = dict(base, mode=fig.mode, seconds=fig.seconds, prefix=extra.get("prefix", ""), **{
                    k: v for k, v in extra.items() if k != "prefix"})
                before = settle(url, ledger)
                keyed_before = ledger.keyed(brand_id, config["prefix"]) if fig.mode == "credit" else None
                spy = None
                if fig.label.startswith("(p)"):
                    spy_s = fig.seconds - 2
                    spy = subprocess.Popen(
                        ["bash", "-c", f"sleep 1; exec {shlex.quote(pyspy)} record --threads -r 100 -d {spy_s} "
                                       f"--format raw -o {shlex.quote(args.profile)} -p {server.pid}"],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                cpu_before = thread_cpu_s(server.pid)
                run_wrk(url, fig, config, tmp)
                cpu_after = thread_cpu_s(server.pid)
                fig.cpu_main_us = (cpu_after[0] - cpu_before[0]) * 1e6 / max(fig.ok, 1)
                fig.cpu_other_us = (cpu_after[1] - cpu_before[1]) * 1e6 / max(fig.ok, 1)
                if spy is not None:
                    _, err = spy.communicate(timeout=60)
                    # py-spy's own "Samples: N" counts recorded (non-idle) stacks, not passes.
                    prof_text = (profile_summary(args.profile, 100 * spy_s) if os.path.exists(args.profile)
                                 else f"py-spy wrote nothing: {err.strip()[-500:]}")
                fig.created = settle(url, ledger) - before
                if keyed_before is not None:
                    fig.created_keyed = ledger.keyed(brand_id, config["prefix"]) - keyed_before
                fig.rss_kb = rss_kb(server.pid)
                check(fig, expect)
                figures.append(fig)
                problems += [f"{fig.label.strip()}: {m}" for m in fig.problems]
                print(f"  done {fig.label}: {fig.per_s():,.0f} 2xx/s", file=sys.stderr, flush=True)
            rss_end = rss_kb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
        verify = subprocess.run([sys.executable, "-m", "app", "verify"], cwd=ROOT, capture_output=True, text=True,
                                env=dict(os.environ, DATABASE_PATH=db), timeout=600)
        total_transfers = ledger.transfers()
        with open(server_log, errors="replace") as fh:
            log_lines = [ln for ln in fh if '"levelname"' in ln or "Traceback" in ln or "ERROR" in ln
                         or "WARNING" in ln]
    elapsed = time.monotonic() - started

    fig = {f.label.split()[0]: f for f in figures}
    a = (fig["(a)"].per_s() + fig["(a2)"].per_s()) / 2
    print(f"run {run}: synchronous=FULL, rate limit off, wrk -t{THREADS}, {s} s per figure (+{DRAIN_S} s drain), "
          f"{CUSTOMERS:,} customers, database {'(fresh)' if not args.db else args.db}")
    print(f"server RSS (VmRSS): start {rss_start / 1024:,.1f} MiB, after seed {rss_seeded / 1024:,.1f} MiB, "
          f"end {rss_end / 1024:,.1f} MiB")
    print()
    print(f"{'figure':28s} {'conns':>5s} {'2xx/s':>8s} {'p50 ms':>7s} {'p99 ms':>7s} {'max ms':>7s} "
          f"{'answers':>8s} {'2xx':>8s} {'replays':>7s} {'non-2xx':>7s} {'sock err':>8s} {'transfers':>9s} "
          f"{'RSS MiB':>7s} {'cpu µs/req main+other':>22s}  ratio/a")
    for f in figures:
        ratio = f"{f.per_s() / a:6.2f}"
        other = {k: v for k, v in f.statuses.items() if not 200 <= k < 300}
        print(f"{f.label:28s} {f.connections:5d} {f.per_s():8,.0f} {f.p50_ms:7.2f} {f.p99_ms:7.2f} {f.max_ms:7.1f} "
              f"{f.responses:8,d} {f.ok:8,d} {f.replayed:7,d} {f.non2xx:7,d} {f.socket_errors:8,d} "
              f"{f.created:9,d} {f.rss_kb / 1024:7.1f} {f.cpu_main_us:10.0f} + {f.cpu_other_us:9.0f}  {ratio}"
              + (f"  statuses {other}" if other else "")
              + (f"  socket errors {f.errors}" if f.socket_errors else ""))
    print()
    print(f"(a) baseline: {fig['(a)'].per_s():,.0f} first, {fig['(a2)'].per_s():,.0f} last, mean {a:,.0f} 2xx/s "
          f"(drift {100 * (fig['(a2)'].per_s() / fig['(a)'].per_s() - 1):+.0f}%)")
    b = fig["(b)"]
    if args.quick:
        print(f"b/a   credit @{c}, unique keys       {b.per_s() / a:6.2f}   (target >= 0.5); p99 {b.p99_ms:.2f} ms")
        return
    b2, bn, br, cc, d = fig["(b')"], fig["(bn)"], fig["(br)"], fig["(c)"], fig["(d)"]
    replay_codes = ", ".join(f"{k}: {v:,}" for k, v in sorted(br.statuses.items()))
    print(f"b/a   credit @{c}, unique keys       {b.per_s() / a:6.2f}   (target >= 0.5)")
    print(f"b'/a  credit @{hc}, unique keys      {b2.per_s() / a:6.2f}")
    print(f"bn/a  credit without a key          {bn.per_s() / a:6.2f}")
    print(f"br/a  replay of a keyed credit      {br.per_s() / a:6.2f}   (statuses {replay_codes}; "
          f"{br.replayed:,} with Idempotent-Replayed; {br.created} transfers)")
    print(f"c/a   balances                      {cc.per_s() / a:6.2f}   (target >= 0.9)")
    print(f"(d)   transfers/s in batches     {d.per_s() * BATCH_SIZE:9,.0f}   (target >= 20,000)")
    print(f"p99 of b @{c}                      {b.p99_ms:7.2f} ms (target <= 50)")
    print(f"p99 of b' @{hc}                    {b2.p99_ms:7.2f} ms (target: bounded; {hc} conns / "
          f"{b2.per_s():,.0f}/s = {1000 * hc / max(b2.per_s(), 1):.0f} ms mean by Little's law), "
          f"errors: {b2.non2xx} non-2xx, {b2.socket_errors} socket (target 0)")
    keyed = ", ".join(f"{f.label.split()[0]} {f.created_keyed:,}" for f in figures if f.created_keyed is not None)
    print(f"transfers with each keyed figure's key prefix: {keyed}; total in the file {total_transfers:,}")
    finish_report(prof_text, f"py-spy (--threads, 100 Hz, during (p); raw samples in {args.profile}):", verify,
                  log_lines, problems, elapsed,
                  "counts: OK (transfers created = fresh 2xx answers in every figure; replays created none)")


def finish_report(prof_text: str, prof_title: str, verify, log_lines: list, problems: list, elapsed: float,
                  ok_line: str) -> None:
    """The end of a bench's report: the profile, `verify`, the server's warnings; exit 1 on
    any problem (the run did not measure what it says), else print `ok_line`."""
    if prof_text:
        print()
        print(prof_title)
        print(prof_text)
    print()
    print(f"python -m app verify: exit {verify.returncode}")
    for line in (verify.stdout + verify.stderr).strip().splitlines()[:40]:
        print(f"  {line}")
    if log_lines:
        print(f"server log: {len(log_lines)} warning/error line(s), first ones:")
        for line in log_lines[:5]:
            print(f"  {line.rstrip()[:300]}")
    if verify.returncode != 0:
        problems.append(f"python -m app verify exited {verify.returncode}")
    print(f"elapsed {elapsed:.0f} s")
    if problems:
        print()
        print("FAIL: the run did not measure what it says:")
        for m in problems:
            print(f"  FAIL {m}")
        sys.exit(1)
    print(ok_line)


if __name__ == "__main__":
    main()
