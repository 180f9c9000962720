"""`slotproof` command line: serve | worker | migrate | seed-demo | create-client."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec

from app.config import ConfigError, Settings, development_public_url, load_settings
from app.core.logs import configure_logging

T = TypeVar("T")

WORKER_HELP = (
    "Run the background worker only (for separate processes; `serve --no-worker` then runs "
    "none in-process): delivers the notification outbox (SMS and email per SLOTPROOF_DELIVERY, "
    "retried with backoff) until SIGTERM or SIGINT, finishing in-flight sends first. Several "
    "workers may run at once. It also fans out and posts webhooks; periodic jobs join it as "
    "they land."
)


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        print(f"slotproof: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def database_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded server under .data/ (started, and published to child
    processes through the environment)."""
    if settings.database_url:
        return settings.database_url
    from app.core.embedded import start_embedded

    dsn = start_embedded(settings.data_dir)
    os.environ["DATABASE_URL"] = dsn
    return dsn


async def _with_pool(dsn: str, work: Callable[..., Awaitable[T]]) -> T:
    from app.core.db import create_pool

    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        return await work(pool)
    finally:
        await pool.close()


def cmd_migrate(_: argparse.Namespace) -> int:
    from app.core.migrate import migrate

    applied = asyncio.run(migrate(database_url(_settings())))
    for name in applied:
        print(f"applied {name}", file=sys.stderr)
    print(f"migrations current ({len(applied)} applied now)", file=sys.stderr)
    return 0


def cmd_seed_demo(_: argparse.Namespace) -> int:
    from app.core.migrate import migrate
    from app.demo import seed_demo

    settings = _settings()
    dsn = database_url(settings)
    asyncio.run(migrate(dsn))
    demo = asyncio.run(_with_pool(dsn, lambda pool: seed_demo(pool, settings.secret_key)))
    print(msgspec.json.encode(demo).decode())
    return 0


def cmd_create_client(args: argparse.Namespace) -> int:
    from app.partners.scopes import parse_scopes
    from app.partners.store import create_client

    try:
        scopes = parse_scopes(args.scopes, separator=",")
    except ValueError as exc:
        print(f"slotproof: {exc}", file=sys.stderr)
        return 2
    if not scopes:
        print("slotproof: --scopes needs at least one scope", file=sys.stderr)
        return 2

    async def work(pool):
        async with pool.acquire() as conn, conn.transaction():
            exists = await conn.fetchval(
                "SELECT EXISTS(SELECT 1 FROM accounts WHERE id = $1)", args.account
            )
            if not exists:
                return None
            return await create_client(conn, args.name, scopes, [args.account])

    result = asyncio.run(_with_pool(database_url(_settings()), work))
    if result is None:
        print(f"slotproof: account {args.account} does not exist", file=sys.stderr)
        return 1
    client_id, secret = result
    print(msgspec.json.encode({"clientId": client_id, "clientSecret": secret}).decode())
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.core.migrate import migrate

    settings = _settings()
    dsn = database_url(settings)
    if not settings.is_production:
        asyncio.run(migrate(dsn))
        if not os.environ.get("SLOTPROOF_PUBLIC_URL"):  # links follow --host/--port
            os.environ["SLOTPROOF_PUBLIC_URL"] = development_public_url(args.host, args.port)
    os.environ["SLOTPROOF_IN_PROCESS_WORKER"] = "0" if args.no_worker else "1"
    # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; with the default handler
    # the process would die there and skip atexit, leaving the embedded PostgreSQL running.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    signal.signal(signal.SIGINT, _exit_cleanly)
    uvicorn.run(
        "app.main:create_served_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )
    return 0


def _exit_cleanly(signum: int, _frame: object) -> None:
    raise SystemExit(0)


def cmd_worker(_: argparse.Namespace) -> int:
    from app.core.migrate import migrate

    settings = _settings()
    dsn = database_url(settings)
    if not settings.is_production:
        asyncio.run(migrate(dsn))
    asyncio.run(_run_worker(dsn, settings))
    return 0


async def _run_worker(dsn: str, settings: Settings) -> None:
    from app.background import run_until_stopped
    from app.core.db import create_pool

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    pool = await create_pool(dsn, min_size=1, max_size=settings.db_pool_max)
    try:
        await run_until_stopped(pool, settings, stop)
    finally:
        await pool.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slotproof", description="Patient self-scheduling with identity proofing."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API, widget and demo")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="number of server processes")
    serve.add_argument(
        "--no-worker", action="store_true", help="do not run the background worker in-process"
    )
    serve.set_defaults(func=cmd_serve)

    sub.add_parser("worker", help=WORKER_HELP, description=WORKER_HELP).set_defaults(
        func=cmd_worker
    )
    sub.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_migrate)
    sub.add_parser(
        "seed-demo", help="create the demo practice (idempotent); prints its ids and credentials"
    ).set_defaults(func=cmd_seed_demo)

    create = sub.add_parser("create-client", help="create a partner client; prints its secret once")
    create.add_argument("--account", type=int, required=True, help="account id to grant")
    create.add_argument(
        "--scopes", required=True, help="comma-separated: scheduling,config,analytics"
    )
    create.add_argument("--name", default="partner client")
    create.set_defaults(func=cmd_create_client)
    return parser


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
