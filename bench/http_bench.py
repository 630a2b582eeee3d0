"""HTTP throughput and latency of the service, measured against itself in one run.

Starts `python -m app serve` (synchronous=FULL, a fresh SQLite file, rate limit off),
drives it from a separate process (wrk + Lua) at 32 connections, and prints req/s and
p50/p99 for:
  (a) GET /livez                       a trivial JSON route on the same server
  (b) POST /v1/customers/{id}/credit   unique Idempotency-Keys over 1,000 customers
  (c) GET /v1/customers/{id}/balances
  (d) POST /v1/transfers/batch         1,000 transfers per request (transfers/s)
and the ratios b/a and c/a. Targets: b/a ≥ 0.6, c/a ≥ 0.8, p99(b) ≤ 50 ms, (d) ≥ 20,000/s.

Usage: python bench/http_bench.py [--seconds 10] [--connections 32]
Needs wrk (apt-get install -y wrk). Only ever targets 127.0.0.1.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN = "bench-admin-key-0123456789"
CUSTOMERS = 1000

CREDIT_LUA = """
local counter = 0
local tid = 0
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
function init(args) tid = tonumber(tid) or 0 end
request = function()
  counter = counter + 1
  local path = "/v1/customers/c" .. ((counter * 7 + tid) % 1000) .. "/credit"
  local headers = {["X-API-Key"] = "%KEY%", ["Content-Type"] = "application/json",
                   ["Idempotency-Key"] = "bench-" .. tid .. "-" .. counter}
  return wrk.format("POST", path, headers, '{"asset":"CREDITS","amount":"1.25"}')
end
"""
BALANCE_LUA = """
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/v1/customers/c" .. ((counter * 13) % 1000) .. "/balances",
                    {["X-API-Key"] = "%KEY%"})
end
"""
BATCH_LUA = """
wrk.method = "POST"
wrk.headers["X-API-Key"] = "%KEY%"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%BODY%]]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp: str, port: int) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_PATH=os.path.join(tmp, "app.db"), PORT=str(port), HOST="127.0.0.1",
               ADMIN_API_KEY=ADMIN, SQLITE_SYNCHRONOUS="FULL", RATE_LIMIT_PER_S="0", LOG_LEVEL="WARNING",
               BATCH_MAX_TRANSFERS="1000")
    proc = subprocess.Popen([sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("server did not start")


def seed(url: str) -> str:
    h = {"X-API-Key": ADMIN}
    with httpx.Client(base_url=url, headers=h, timeout=60) as c:
        c.post("/v1/brands", json={"code": "bench", "name": "Bench"}).raise_for_status()
        key = c.post("/v1/api-keys", json={"role": "brand", "brand": "bench"}).json()["key"]
        c.headers["X-API-Key"] = key
        for i in range(CUSTOMERS):
            c.post(f"/v1/customers/c{i}/credit", json={"asset": "CREDITS", "amount": "1000000.00"}).raise_for_status()
    return key


def batch_body(rng: random.Random) -> str:
    items = []
    for _ in range(1000):
        a, b = rng.sample(range(CUSTOMERS), 2)
        items.append({"from_customer": f"c{a}", "to_customer": f"c{b}", "asset": "CREDITS", "amount": "0.01"})
    return json.dumps({"atomic": True, "transfers": items})


def wrk(url: str, path: str, lua: str, seconds: int, connections: int, tmp: str) -> dict:
    script = os.path.join(tmp, "s.lua")
    with open(script, "w") as fh:
        fh.write(lua)
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script,
                          url + path], capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": pct("50"), "p99_ms": pct("99"), "non2xx": int(non2xx.group(1)) if non2xx else 0}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=32)
    args = p.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start_server(tmp, port)
        try:
            key = seed(url)
            s, c = args.seconds, args.connections
            a = wrk(url, "/livez", "", s, c, tmp)
            b = wrk(url, "/", CREDIT_LUA.replace("%KEY%", key), s, c, tmp)
            cc = wrk(url, "/", BALANCE_LUA.replace("%KEY%", key), s, c, tmp)
            d = wrk(url, "/v1/transfers/batch", BATCH_LUA.replace("%KEY%", key).replace(
                "%BODY%", batch_body(random.Random(1))), s, min(c, 8), tmp)
            verify = subprocess.run([sys.executable, "-m", "app", "verify"], cwd=ROOT, capture_output=True, text=True,
                                    env=dict(os.environ, DATABASE_PATH=os.path.join(tmp, "app.db")))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"synchronous=FULL, {args.connections} connections, {args.seconds} s per figure, wrk -t2")
    for name, r in (("(a) GET /livez", a), ("(b) POST credit", b), ("(c) GET balances", cc),
                    ("(d) POST batch x1000", d)):
        print(f"{name:22s} {r['rps']:9,.0f} req/s  p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms"
              f"  non-2xx {r['non2xx']}")
    print(f"(d) transfers/s        {d['rps'] * 1000:9,.0f}   (target >= 20,000)")
    print(f"b/a                    {b['rps'] / a['rps']:9.2f}   (target >= 0.6)")
    print(f"c/a                    {cc['rps'] / a['rps']:9.2f}   (target >= 0.8)")
    print(f"p99 of b               {b['p99_ms']:9.2f} ms (target <= 50)")
    print(f"verify after the run: {'ok' if verify.returncode == 0 else verify.stderr.strip()[:300]}")


if __name__ == "__main__":
    main()
