"""The one-file executable (`make dist`): built, or taken from the build cache, then copied
into a clean temporary folder and run there as an operator would, with the virtualenv off
PATH and a minimal environment: every subcommand, the HTTP service, an online backup while
it serves, and a clean stop on SIGTERM."""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest
from PyInstaller.archive.readers import CArchiveReader

from app import resources
from tests.conftest import ROOT, listening_port

BUILD_SCRIPT = os.path.join(ROOT, "packaging", "build.py")
BUILD_TIMEOUT_S = 1200  # a cold build takes 20-30 s, a cached one under a second
COMMAND_TIMEOUT_S = 120
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
MIGRATIONS = sorted(n for n in os.listdir(os.path.join(ROOT, "migrations")) if n.endswith(".sql"))
# Installed in the dev virtualenv the build runs in; none of them may end up in the executable.
DEV_ONLY = {"pytest", "_pytest", "hypothesis", "schemathesis", "playwright", "PyInstaller", "setuptools",
            "pip", "swagger_ui", "yaml"}

pytestmark = pytest.mark.timeout(BUILD_TIMEOUT_S + 300)


@pytest.fixture(scope="module")
def executable() -> str:
    """dist/rewards, made current by the same script as `make dist`."""
    built = subprocess.run([sys.executable, BUILD_SCRIPT], cwd=ROOT, capture_output=True, text=True,
                           timeout=BUILD_TIMEOUT_S)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-5000:]
    path = built.stdout.strip().splitlines()[-1]
    assert os.access(path, os.X_OK), path
    return path


class Host:
    """A clean folder standing for the operator's server: the copied executable in opt/, the
    working folder srv/ (data/ appears there), a HOME, and TMPDIR, where the executable
    unpacks itself at each start."""

    def __init__(self, executable: str, tmp_path) -> None:
        for name in ("opt", "srv", "home", "unpack"):
            (tmp_path / name).mkdir()
        self.exe = str(tmp_path / "opt" / "rewards")
        shutil.copy2(executable, self.exe)
        self.cwd = tmp_path / "srv"
        self.data = self.cwd / "data"
        self.unpack = tmp_path / "unpack"
        # Nothing of the virtualenv or of the checkout: no PYTHON*, no VIRTUAL_ENV, and a PATH
        # without .venv/bin; DATABASE_PATH is unset, so data/ is the working folder's.
        self.env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), "TMPDIR": str(self.unpack),
                    "LANG": "C.UTF-8", "PORT": "0", "LOG_LEVEL": "WARNING"}
        assert os.path.dirname(sys.executable) not in self.env["PATH"].split(os.pathsep)

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.exe, *args], cwd=self.cwd, env=dict(self.env, **env), capture_output=True,
                              text=True, timeout=COMMAND_TIMEOUT_S)


def _wait_for_port(child: subprocess.Popen, log_path) -> int:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        port = listening_port(log_path)
        if port:
            return port
        assert child.poll() is None, f"the service exited with {child.returncode}:\n{log_path.read_text()[-3000:]}"
        time.sleep(0.1)
    raise AssertionError(f"the service did not listen within {START_TIMEOUT_S} s:\n{log_path.read_text()[-3000:]}")


def _stop_group(child: subprocess.Popen) -> None:
    """Teardown after a failure: the executable's bootloader and the service it started are
    one process group of their own (start_new_session), ended together."""
    if child.poll() is None:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(STOP_TIMEOUT_S)


def test_the_executable_serves_backs_up_restores_and_stops_cleanly(executable, tmp_path):
    host = Host(executable, tmp_path)

    migrated = host.run("migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert all(name in migrated.stdout for name in MIGRATIONS), migrated.stdout

    log_path = tmp_path / "service.log"
    with open(log_path, "wb") as log_file:
        child = subprocess.Popen([host.exe, "serve"], cwd=host.cwd, env=host.env, stdout=log_file,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{_wait_for_port(child, log_path)}"
        with httpx.Client(base_url=url, timeout=30) as client:
            health = client.get("/health")
            assert health.status_code == 200, health.text
            assert health.json()["status"] == "ok" and health.json()["schema_version"] == len(MIGRATIONS)
            # Swagger UI's files come from inside the executable.
            assert client.get("/docs").status_code == 200
            assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200
            # The pages' templates and stylesheet too.
            assert "Sign in" in client.get("/").text
            assert client.get("/static/console.css").status_code == 200

            # With no ADMIN_API_KEY, the first start wrote one into data/ of the working folder.
            key_file = host.data / "admin_api_key"
            assert oct(key_file.stat().st_mode & 0o777) == "0o600"
            assert client.get("/v1/brands", headers={"X-API-Key": key_file.read_text().strip()}).status_code == 200

            brand = host.run("create-brand", "shop", "--name", "Shop")
            assert brand.returncode == 0, brand.stderr
            made = host.run("create-key", "--brand", "shop", "--role", "brand", "--name", "till")
            assert made.returncode == 0, made.stderr
            brand_key = made.stdout.strip().splitlines()[-1]

            credit = client.post("/v1/customers/alice@example.com/credit",
                                 headers={"X-API-Key": brand_key, "Idempotency-Key": "topup-1"},
                                 json={"asset": "CREDITS", "amount": "100.00", "reason": "topup"})
            assert credit.status_code == 201, credit.text
            balances = client.get("/v1/customers/alice@example.com/balances", headers={"X-API-Key": brand_key})
            assert {b["asset"]: b["balance"] for b in balances.json()["balances"]}["CREDITS"] == "100.00", balances.text
            # The rules engine, time zones (zoneinfo + tzdata) and cron (croniter) inside the bundle.
            bought = client.post("/v1/events", headers={"X-API-Key": brand_key}, json={
                "event_id": "order-1", "event_type": "PURCHASE", "customer_id": "alice@example.com",
                "payload": {"amount": "100.00"}})
            assert bought.status_code == 201 and bought.json()["balances"][-1]["balance"] == "5.00", bought.text
            job = client.post("/v1/jobs", headers={"X-API-Key": brand_key}, json={
                "code": "birthdays", "name": "Birthdays", "cron": "0 9 * * *", "time_zone": "Asia/Tokyo",
                "selector": {"all": [{"birthday_today": True}]}, "event_type": "BIRTHDAY"})
            assert job.status_code == 201 and job.json()["next_run_at"].endswith("T00:00:00.000Z"), job.text

            copy = host.data / "backup-1.db"
            backed_up = host.run("backup", str(copy))  # online, while the service runs
            assert backed_up.returncode == 0, backed_up.stderr
            assert client.get("/livez").status_code == 200

        checked = host.run("verify", DATABASE_PATH=str(copy))
        assert checked.returncode == 0 and "ok" in checked.stdout, checked.stderr
        with sqlite3.connect(f"file:{copy}?mode=ro", uri=True) as conn:
            assert conn.execute("SELECT count(*) FROM transfers").fetchone()[0] >= 1

        child.send_signal(signal.SIGTERM)
        assert child.wait(STOP_TIMEOUT_S) == 0, log_path.read_text()[-3000:]
    finally:
        _stop_group(child)

    log_text = log_path.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log_text, log_text[-3000:]
    # SIGTERM drained the writer and checkpointed the WAL: the database file alone is whole.
    wal = host.data / "app.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0, f"WAL left with {wal.stat().st_size} bytes"
    # The bundle's temporary folder is gone, and nothing of data/ was ever put in it.
    assert os.listdir(host.unpack) == []
    assert {"app.db", "admin_api_key", "backup-1.db"} <= set(os.listdir(host.data))

    restored = host.run("restore", str(copy))  # the service is stopped
    assert restored.returncode == 0, restored.stderr
    final = host.run("verify")
    assert final.returncode == 0 and "ok" in final.stdout, final.stderr


def test_the_executable_holds_what_the_service_reads_and_no_dev_tools(executable):
    archive = CArchiveReader(executable)
    for folder in resources.DATA_DIRS:  # byte for byte: a migration's checksum is recorded
        for parent, _, names in os.walk(resources.resource_path(folder)):  # templates/ has subfolders
            for name in names:
                path = os.path.relpath(os.path.join(parent, name), resources.BASE_DIR).replace(os.sep, "/")
                with open(os.path.join(parent, name), "rb") as fh:
                    assert archive.extract(path) == fh.read(), path
    bundled = set(archive.toc)
    assert "swagger_ui/static/swagger-ui-bundle.js" in bundled and "swagger_ui/static/swagger-ui.css" in bundled
    assert not [n for n in bundled if n.startswith("swagger_ui/static/swagger-editor")]
    modules = set(archive.open_embedded_archive("PYZ.pyz").toc)
    app_modules = {os.path.relpath(os.path.join(folder, n), ROOT)[:-3].replace(os.sep, ".").removesuffix(".__init__")
                   for folder, _, names in os.walk(os.path.join(ROOT, "app")) for n in names if n.endswith(".py")}
    assert app_modules <= modules, sorted(app_modules - modules)
    assert not DEV_ONLY & {m.split(".")[0] for m in modules}, sorted(DEV_ONLY & {m.split(".")[0] for m in modules})


def test_an_operator_mistake_ends_in_one_line_from_the_executable(executable, tmp_path):
    host = Host(executable, tmp_path)
    missing = host.run("verify")  # no database yet
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "DATABASE_PATH" in missing.stderr
    bad = host.run("migrate", PORT="not-a-port")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "PORT" in bad.stderr
    for command in ("serve", "migrate", "verify", "backup", "restore", "create-brand", "create-key"):
        shown = host.run(command, "--help")
        assert shown.returncode == 0 and "DATABASE_PATH" in shown.stdout, (command, shown.stderr)
    assert os.listdir(host.unpack) == [] and not host.data.exists()
