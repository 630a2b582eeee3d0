"""Command line: serve (default), migrate, verify, backup, restore, create-brand, create-key."""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from .config import ConfigError, load_config
from .store.backup import BackupError, backup, restore
from .store.migrations import MigrationError, migrate
from .store.sqlite import DbSettings, connect
from .store.verify import verify


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m app", description="Rewards ledger service")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the HTTP service (default)")
    sub.add_parser("migrate", help="apply pending migrations")
    sub.add_parser("verify", help="integrity check, ledger invariants and hash chain")
    b = sub.add_parser("backup", help="consistent online copy, verified")
    b.add_argument("file")
    r = sub.add_parser("restore", help="verify FILE, then swap it in (server stopped)")
    r.add_argument("file")
    cb = sub.add_parser("create-brand", help="create a brand with the default assets")
    cb.add_argument("code")
    cb.add_argument("--name")
    ck = sub.add_parser("create-key", help="create an API key; prints it once")
    ck.add_argument("--brand")
    ck.add_argument("--role", required=True, choices=("admin", "brand", "readonly"))
    ck.add_argument("--name", default="")
    return p


def _with_runtime(config, action):
    from .runtime import Runtime
    runtime = Runtime(config)
    try:
        return asyncio.run(action(runtime))
    finally:
        runtime.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=config.log_level, format="%(message)s")
    db = DbSettings.from_config(config)
    try:
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
            return _report(verify(connect(db, readonly=True)), f"{db.path}: ok")
        if command == "backup":
            return _report(backup(db, args.file), f"backup written to {args.file} and verified")
        if command == "restore":
            restore(db, args.file)
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
                return await rt.writer.submit(
                    create_key_command(args.brand, args.role, args.name, rt.clock.now_ms()))
            key_id, key = _with_runtime(config, make_key)
            print(f"key {key_id} ({args.role}); shown once, store it now:\n{key}")
            return 0
    except (MigrationError, BackupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the CLI reports domain errors in one line
        message = getattr(exc, "message", None)
        if message is None:
            raise
        print(f"error: {exc.code}: {message} {exc.details or ''}", file=sys.stderr)
        return 1
    return 2


def _report(problems: list[str], ok_line: str) -> int:
    if problems:
        for problem in problems:
            print(f"FAIL {problem}", file=sys.stderr)
        return 1
    print(ok_line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
