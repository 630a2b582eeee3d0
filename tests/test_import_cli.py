"""`python -m app import customers|events FILE --brand CODE` run as an operator would: a
subprocess over a database file made by `create-brand`; the report on stdout, a progress bar
on stderr, exit 0 / 1 / 2; `verify` passes afterwards."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from app.runtime import Runtime
from tests.conftest import ROOT, make_config


def cli(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_PATH", "PORT")}
    env["DATABASE_PATH"] = str(tmp_path / "app.db")
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def shop_db(tmp_path):
    made = cli(tmp_path, "create-brand", "shop")
    assert made.returncode == 0, made.stderr
    return tmp_path


def write(tmp_path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


def with_runtime(tmp_path, action):
    rt = Runtime(make_config(tmp_path))
    try:
        return asyncio.run(action(rt))
    finally:
        rt.close()


def balances(tmp_path, customer: str) -> dict[str, int]:
    """The customer's balances in minor units (brand 1 is the only one)."""
    async def read(rt):
        return await rt.ledger.balances(1, customer)
    return {r["asset"]: r["counters"].balance for r in with_runtime(tmp_path, read)}


def customer_exists(tmp_path, customer: str) -> bool:
    async def read(rt):
        return rt.readers.read_now(lambda c: c.execute("SELECT 1 FROM customers WHERE external_id = ?",
                                                       (customer,)).fetchone())
    return with_runtime(tmp_path, read) is not None


def test_events_import_reports_progress_and_a_rerun_replays(shop_db):
    lines = ["event_id,event_type,customer_id,occurred_at,payload.amount"]
    lines += [f"o-{i},PURCHASE,c{i % 10},2026-01-05T09:00:00Z,{i + 1}.00" for i in range(1500)]
    path = write(shop_db, "events.csv", "\n".join(lines) + "\n")
    first = cli(shop_db, "import", "events", path, "--brand", "shop")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"rows": 1500, "created": 1500, "updated": 0, "duplicates": 0, "failed": 0,
                                        "errors": [], "errors_omitted": 0}
    assert "import events" in first.stderr and "100%" in first.stderr  # tqdm's bar
    # c0 bought 1.00, 11.00, 21.00, …: 5% of each, rounded down to the cent.
    expected = sum((i + 1) * 5 for i in range(0, 1500, 10))  # in cents: 5% of (i+1).00 is exact
    assert balances(shop_db, "c0") == {"USD": expected}

    again = cli(shop_db, "import", "events", path, "--brand", "shop")
    assert again.returncode == 0 and json.loads(again.stdout)["duplicates"] == 1500
    assert balances(shop_db, "c0") == {"USD": expected}
    assert cli(shop_db, "verify").returncode == 0


def test_failed_rows_exit_1_with_each_listed(shop_db):
    path = write(shop_db, "bad.csv", "event_id,event_type,customer_id,payload.amount\n"
                                     "a-1,PURCHASE,ann,10.00\n"
                                     "a-2,PURCHASE,ann,lots\n"
                                     "a-3,PURCHASE,ann,1.00,extra\n")
    r = cli(shop_db, "import", "events", path, "--brand", "shop")
    assert r.returncode == 1, r.stderr
    report = json.loads(r.stdout)
    assert (report["created"], report["failed"]) == (1, 2)
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(3, "payload.amount"), (4, None)]
    assert balances(shop_db, "ann") == {"USD": 50}
    assert cli(shop_db, "verify").returncode == 0


def test_customers_import(shop_db):
    path = write(shop_db, "customers.csv", "customer_id,name,tags,attr.city\nann,Ann,vip|new,Paris\nbob,Bob,,\n")
    r = cli(shop_db, "import", "customers", path, "--brand", "shop")
    assert r.returncode == 0 and json.loads(r.stdout)["created"] == 2, r.stderr
    r = cli(shop_db, "import", "customers", path, "--brand", "shop")
    assert r.returncode == 0 and json.loads(r.stdout)["duplicates"] == 2


@pytest.mark.parametrize("args,says", [
    (("events", "{dir}/none.csv", "--brand", "shop"), "none.csv"),
    (("events", "{dir}/ok.csv", "--brand", "nobody"), "no such brand"),
    (("events", "{dir}/unknown_column.csv", "--brand", "shop"), "amount"),
    (("customers", "{dir}/latin1.csv", "--brand", "shop"), "not UTF-8"),
    (("events", "{dir}/ok.csv"), "--brand"),
    (("orders", "{dir}/ok.csv", "--brand", "shop"), "invalid choice"),
])
def test_usage_errors_exit_2_in_one_line_and_write_nothing(shop_db, args, says):
    write(shop_db, "ok.csv", "event_id,event_type,customer_id\ne-1,SIGNUP,ann\n")
    write(shop_db, "unknown_column.csv", "event_id,event_type,customer_id,amount\ne-1,PURCHASE,ann,5\n")
    write(shop_db, "latin1.csv", "customer_id,name\nzoé,Zoé\n".encode("latin-1"))
    r = cli(shop_db, "import", *(a.format(dir=shop_db) for a in args))
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert r.stdout == ""
    assert not customer_exists(shop_db, "ann") and not customer_exists(shop_db, "zoé")


def test_import_without_a_database_creates_none(tmp_path):
    path = write(tmp_path, "ok.csv", "customer_id\nann\n")
    r = cli(tmp_path, "import", "customers", path, "--brand", "shop")
    assert r.returncode == 2 and "no database" in r.stderr
    assert not os.path.exists(tmp_path / "app.db")
