"""Command line: serve (default), migrate, verify, backup, restore, create-brand, create-key, import.

Every failure the operator can cause (a missing database or folder, a file that is not a
backup, a bad setting) ends in one line on stderr and a non-zero exit code, never a
traceback. `verify`, `backup` and `restore` report progress on large files; `import` shows a
progress bar (tqdm) on stderr and prints its report as JSON on stdout.
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import os
import sqlite3
import sys
import time

from . import resources
from .config import ConfigError, load_config
from .store.backup import BackupError, backup, restore
from .store.migrations import MigrationError, migrate
from .store.sqlite import DbSettings, connect
from .store.verify import near_limit_warnings, verify

DATABASE_NOTE = ("Database: the file named by DATABASE_PATH (environment, then .env; default data/app.db).")
COMMANDS = {
    "serve": "apply pending migrations, then run the HTTP service until SIGINT/SIGTERM (default)",
    "migrate": "apply pending migrations to the database and exit",
    "verify": "check the database: PRAGMA integrity_check, every ledger invariant and the hash chain;"
              " exit 1 and print each problem; warn about accounts near the 64-bit counter range",
    "backup": "write a consistent online copy of the database to FILE (safe while the service runs),"
              " then verify the copy",
    "restore": "verify FILE, then replace the database with it (stop the service first)",
    "create-brand": "create a brand with the default assets POINTS, CREDITS and USD",
    "create-key": "create an API key and print it once (only its SHA-256 is stored)",
    "import": "import customers or events from a CSV file with a header row into a brand, each row through"
              " the same checks and services as the API (README, Imports); print the report as JSON; exit 1"
              " when a row failed, 2 when nothing could be imported (no such brand or file, a bad header)",
}


def _parser() -> argparse.ArgumentParser:
    prog = os.path.basename(sys.argv[0]) if resources.FROZEN else "python -m app"
    p = argparse.ArgumentParser(prog=prog, description="Rewards ledger service.", epilog=DATABASE_NOTE)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    parsers = {name: sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".",
                                    epilog=DATABASE_NOTE) for name, text in COMMANDS.items()}
    parsers["backup"].add_argument("file", help="the new file to write (must not exist; its folder must)")
    parsers["restore"].add_argument("file", help="a backup made by `backup`")
    parsers["create-brand"].add_argument("code", help="the brand's code: 1-64 of a-z 0-9 _ -")
    parsers["create-brand"].add_argument("--name", help="display name (default: the code)")
    ck = parsers["create-key"]
    ck.add_argument("--brand", help="the brand's code (brand and readonly keys)")
    ck.add_argument("--role", required=True, choices=("admin", "brand", "readonly"))
    ck.add_argument("--name", default="", help="a label for the key")
    imp = parsers["import"]
    imp.add_argument("kind", choices=("customers", "events"), help="what the rows are")
    imp.add_argument("file", help="the CSV file (UTF-8, header row)")
    imp.add_argument("--brand", required=True, help="the brand's code")
    return p


class _ProgressLine:
    """Progress of a long check or copy on stderr, at most once a second (small files print
    nothing); in place on a terminal, one line per report otherwise."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.shown_at = time.monotonic()
        self.shown = False

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.shown_at < 1 or not total:
            return
        self.shown_at, self.shown = now, True
        text = f"{self.label}: {phase} {done:,}/{total:,} ({done * 100 // total}%)"
        sys.stderr.write(f"\r{text}" if sys.stderr.isatty() else text + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.shown and sys.stderr.isatty():
            sys.stderr.write("\n")


def _with_runtime(config, action):
    from .runtime import Runtime
    runtime = Runtime(config)
    try:
        return asyncio.run(action(runtime))
    finally:
        runtime.close()


def _existing(db: DbSettings) -> DbSettings:
    if not os.path.isfile(db.path):
        raise BackupError(f"no database at {db.path} (DATABASE_PATH)")
    return db


def _verify(db: DbSettings) -> int:
    conn = connect(_existing(db), readonly=True)
    progress = _ProgressLine("verify")
    try:
        problems = verify(conn, progress)
        warnings = near_limit_warnings(conn)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{db.path} cannot be read as a ledger: {exc}") from None
    finally:
        progress.close()
        conn.close()
    for warning in warnings:
        print(f"WARN {warning}", file=sys.stderr)
    return _report(problems, f"{db.path}: ok")


def _run(command: str, args: argparse.Namespace, config) -> int:
    db = DbSettings.from_config(config)
    if command == "serve":
        from .web.server import serve
        return serve(config)
    if command == "migrate":
        conn = connect(db)
        applied = migrate(conn)
        conn.close()
        print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
        return 0
    if command == "verify":
        return _verify(db)
    if command in ("backup", "restore"):
        progress = _ProgressLine(command)
        try:
            if command == "backup":
                return _report(backup(db, args.file, progress), f"backup written to {args.file} and verified")
            restore(db, args.file, progress)
        finally:
            progress.close()
        print(f"restored {args.file} into {db.path}")
        return 0
    if command == "create-brand":
        async def make(rt):
            return await rt.ledger.create_brand(args.code, args.name or args.code)
        print(f"brand {args.code} created (id {_with_runtime(config, make)})")
        return 0
    if command == "create-key":
        from .services.keys import create_key_command

        async def make_key(rt):
            return await rt.writer.submit(create_key_command(args.brand, args.role, args.name, rt.clock.now_ms()))
        key_id, key = _with_runtime(config, make_key)
        print(f"key {key_id} ({args.role}); shown once, store it now:\n{key}")
        return 0
    if command == "import":
        return _import(args, db, config)
    return 2


def _import(args: argparse.Namespace, db: DbSettings, config) -> int:
    """Exit 0: every row imported (or already there); 1: some rows failed; 2: nothing could
    be imported (no database, brand or file; not UTF-8; a bad header)."""
    from tqdm import tqdm

    from .imports import Importer, check_utf8_file
    from .ledger.errors import LedgerError
    from .services.customers import CustomerService
    from .store.brands import brand_by_code
    if not os.path.isfile(db.path):
        return _usage_error(f"no database at {db.path} (DATABASE_PATH)")
    try:
        binary = open(args.file, "rb")
    except OSError as exc:
        return _usage_error(f"{exc.strerror or exc}: {args.file}")

    async def run(rt):
        brand_id = rt.readers.read_now(lambda c: brand_by_code(c, args.brand), single_statement=True)["id"]
        check_utf8_file(binary)
        service = CustomerService(rt.writer, rt.readers, rt.clock) if args.kind == "customers" else rt.events
        with tqdm(total=os.fstat(binary.fileno()).st_size, unit="B", unit_scale=True, file=sys.stderr,
                  desc=f"import {args.kind}") as bar:
            def progress(report) -> None:
                bar.update(binary.tell() - bar.n)  # bytes the CSV reader has taken from the file
                bar.set_postfix(rows=report.rows, failed=report.failed, refresh=False)
            text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
            report = await Importer(args.kind, service, brand_id, progress).run(text)
            bar.update(bar.total - bar.n)
        return report
    try:
        report = _with_runtime(config, run)
    except LedgerError as exc:  # no such brand, not UTF-8, a bad header: nothing was written
        return _usage_error(f"{exc.code}: {exc.message} {json.dumps(exc.details) if exc.details else ''}".rstrip())
    finally:
        binary.close()
    print(json.dumps(report.as_json(), indent=2))
    return 1 if report.failed else 0


def _usage_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    from .services.keys import RevokedAdminKey
    args = _parser().parse_args(argv)
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=config.log_level, format="%(message)s")
    try:
        return _run(args.command or "serve", args, config)
    except RevokedAdminKey as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (MigrationError, BackupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as exc:  # not a database, a folder that cannot hold one, …
        print(f"error: {config.database_path}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a folder that cannot be created, a file that cannot be read
        print(f"error: {exc.strerror or exc}: {exc.filename or config.database_path}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the CLI reports domain errors in one line
        message = getattr(exc, "message", None)
        if message is None:
            raise
        print(f"error: {exc.code}: {message} {exc.details or ''}", file=sys.stderr)
        return 1


def _report(problems: list[str], ok_line: str) -> int:
    if problems:
        for problem in problems:
            print(f"FAIL {problem}", file=sys.stderr)
        return 1
    print(ok_line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
