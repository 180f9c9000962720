"""Mixed, realistic load against `slotproof serve` (a real subprocess on a scratch database), run
with 1 and then 2 server processes (`--workers 1,2`).

Each run gets a fresh database with one practice built through the partner API
(tests/builders.py): two locations (New York, Los Angeles), `--practitioners` practitioners
(default 10) each working at both, 30-minute visits on a 15-minute grid with a 5-minute buffer
after, weekdays 08:00-12:00 and 13:00-17:00, bookable 60 days ahead, and a setting *without* a
verification method, so the widget flow needs no codes. `--users` virtual users (default 32)
then loop for `--seconds` (default 60), each iteration picking:

* 70 % availability: widget GET /widget/v1/availability for a random location and a random week;
* 25 % the attempt flow through the widget: POST /attempt, availability (retrying another week
  when it has no open time), hold a random open slot (half the time one of the earliest eight,
  as patients favour soon; a 409 there picks another slot, at most three tries), patient,
  appointment;
* 5 % partner reads: GET a location's appointments in a random week, or one attempt.

Per run it prints requests/s, p50/p95/p99 latency overall and per kind, the error rate (5xx and
transport errors; 409 slot conflicts are counted apart and are not errors), bookings made (201s,
checked against the database) and the count of double bookings in the database (overlapping
live appointments of one practitioner; must be 0, else the exit status is 1), plus how busy
the machine's cores were: the load generator, the server and PostgreSQL all share them.

Rate limits and the live-hold caps are raised far out of reach (SLOTPROOF_RATE_LIMIT_*,
SLOTPROOF_HOLDS_PER_*: every virtual user shares one address), so this measures the service,
not the limiter; any unexpected 4xx is printed. Every loop is bounded in count and time; only 127.0.0.1 is contacted.

Run: `.venv/bin/python -m bench.load [--users 32] [--seconds 60] [--workers 1,2]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/load.py` too

import httpx
import msgspec

from app.core.db import create_pool
from app.partners.scopes import ALL_SCOPES
from app.partners.store import create_client
from bench.common import (
    bench_database,
    cpu_seconds,
    double_bookings,
    machine_cpu,
    percentile,
    served,
    served_pids,
)
from tests.builders import build_practice
from tests.support import Partner, fetch_token, make_account

RULES = [
    {"weekday": d, "start": start, "end": end}
    for d in range(5)
    for start, end in (("08:00", "12:00"), ("13:00", "17:00"))
]
FORWARD_DAYS = 60
WEEK = timedelta(days=7)
MAX_LOOPS_PER_USER = 1_000_000  # a bound besides the deadline; never reached in practice
REQUEST_TIMEOUT = 30.0
SERVER_ENV = {
    "SLOTPROOF_ENV": "development",
    "SLOTPROOF_DELIVERY": "console",  # no verification codes here; --no-worker sends nothing
    "SLOTPROOF_RATE_LIMIT_IP": "1000000",
    "SLOTPROOF_RATE_LIMIT_WIDGET_KEY": "1000000",
    "SLOTPROOF_RATE_LIMIT_PARTNER_CLIENT": "1000000",
    "SLOTPROOF_TOKEN_RATE_LIMIT": "100000",
    # every virtual user comes from 127.0.0.1: the per-address cap on live holds (5, against
    # slot squatting) would refuse most holds and measure the cap, not the service
    "SLOTPROOF_HOLDS_PER_IP": "10000",
    "SLOTPROOF_HOLDS_PER_WIDGET_KEY": "1000000",
}
# the order rows are printed in
KINDS = (
    "availability",
    "flow.start",
    "flow.availability",
    "flow.hold",
    "flow.patient",
    "flow.book",
    "partner.appointments",
    "partner.attempt",
)
decode = msgspec.json.decode


@dataclass
class Target:
    base: str
    account_id: int
    publishable_key: str
    location_ids: list[int]
    type_id: int
    token: str
    started_at: datetime  # weeks are drawn from here to the forward limit


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    transport: Counter = field(default_factory=Counter)
    flows: Counter = field(default_factory=Counter)
    attempt_ids: list[int] = field(default_factory=list)
    # the first body of each unexpected status, the first of each transport error
    samples: dict[str, str] = field(default_factory=dict)


@dataclass
class Cpu:
    load_generator: float  # cores this process used on average
    server: float  # cores the `slotproof serve` processes used
    server_processes: int
    machine: float = float("nan")  # share of all the machine's cores that was busy


class User:
    """One virtual user: its own random stream, sharing the client's connection pool."""

    def __init__(self, n: int, seed: int, http: httpx.AsyncClient, t: Target, stats: Stats):
        self.n = n
        self.rng = random.Random(seed * 100_003 + n)
        self.http = http
        self.t = t
        self.stats = stats
        self.widget = {"X-Widget-Key": t.publishable_key}
        self.partner = {"Authorization": f"Bearer {t.token}"}

    async def call(self, kind: str, method: str, path: str, **kw) -> httpx.Response | None:
        t0 = time.perf_counter()
        try:
            response = await self.http.request(method, self.t.base + path, **kw)
        except httpx.TransportError as exc:  # connection refused/reset, timeouts
            self.stats.transport[kind] += 1
            self.stats.samples.setdefault(f"{kind} {type(exc).__name__}", repr(exc)[:300])
            return None
        self.stats.latencies[kind].append((time.perf_counter() - t0) * 1000)
        self.stats.statuses[kind][response.status_code] += 1
        if response.status_code >= 400 and response.status_code != 409:
            self.stats.samples.setdefault(f"{kind} {response.status_code}", response.text[:300])
        return response

    def week(self) -> tuple[datetime, datetime]:
        start = self.t.started_at + timedelta(days=self.rng.randrange(FORWARD_DAYS - 6))
        return start, start + WEEK

    def week_params(self, location_id: int) -> dict:
        start, end = self.week()
        return {
            "locationId": location_id, "appointmentTypeId": self.t.type_id,
            "startUnix": int(start.timestamp() * 1000), "endUnix": int(end.timestamp() * 1000),
        }  # fmt: skip

    async def run(self, deadline: float) -> None:
        for _ in range(MAX_LOOPS_PER_USER):
            if time.perf_counter() >= deadline:
                return
            pick = self.rng.random()
            if pick < 0.70:
                await self.availability()
            elif pick < 0.95:
                await self.attempt_flow()
            else:
                await self.partner_read()

    async def availability(self) -> None:
        location = self.rng.choice(self.t.location_ids)
        await self.call(
            "availability", "GET", "/widget/v1/availability",
            params=self.week_params(location), headers=self.widget,
        )  # fmt: skip

    async def attempt_flow(self) -> None:
        flows = self.stats.flows
        flows["started"] += 1
        r = await self.call("flow.start", "POST", "/widget/v1/attempt", headers=self.widget)
        if r is None or r.status_code != 201:
            return
        started = decode(r.content)
        self.stats.attempt_ids.append(started["attempt"]["id"])
        headers = {**self.widget, "Authorization": f"Bearer {started['attemptToken']}"}
        location = self.rng.choice(self.t.location_ids)
        choices: list[dict] = []
        for _ in range(3):
            r = await self.call(
                "flow.availability", "GET", "/widget/v1/availability",
                params=self.week_params(location), headers=headers,
            )  # fmt: skip
            if r is None or r.status_code != 200:
                return
            choices = open_slots(decode(r.content), location, self.t.type_id)
            if choices:
                break
        if not choices:
            flows["no open time"] += 1
            return
        slot = None
        for _ in range(3):
            candidate = self.choose(choices)
            r = await self.call(
                "flow.hold", "POST", "/widget/v1/attempt/hold", json=candidate, headers=headers
            )
            if r is None:
                return
            if r.status_code == 201:
                slot = candidate
                break
            if r.status_code != 409:
                return
            choices.remove(candidate)
            if not choices:
                break
        if slot is None:
            flows["gave up after hold conflicts"] += 1
            return
        patient = {
            "firstName": f"Load{self.n}", "lastName": f"User{self.rng.randrange(10**9)}",
            "dateOfBirth": f"19{self.rng.randrange(40, 99)}-0{self.rng.randrange(1, 10)}-1"
                           f"{self.rng.randrange(10)}",
            "email": f"load{self.n}.{self.rng.randrange(10**12)}@example.com",
        }  # fmt: skip
        r = await self.call(
            "flow.patient", "POST", "/widget/v1/attempt/patient", json=patient, headers=headers
        )
        if r is None or r.status_code not in (200, 201):
            return
        r = await self.call(
            "flow.book", "POST", "/widget/v1/attempt/appointment", json=slot, headers=headers
        )
        if r is not None and r.status_code == 201:
            flows["booked"] += 1

    def choose(self, choices: list[dict]) -> dict:
        """Half the time one of the earliest eight (contention), else any."""
        if self.rng.random() < 0.5:
            return self.rng.choice(choices[:8])
        return self.rng.choice(choices)

    async def partner_read(self) -> None:
        prefix = f"/partner/v2/account/{self.t.account_id}"
        if self.stats.attempt_ids and self.rng.random() < 0.5:
            attempt = self.rng.choice(self.stats.attempt_ids)
            await self.call(
                "partner.attempt", "GET", f"{prefix}/self-scheduling/attempt/{attempt}",
                headers=self.partner,
            )  # fmt: skip
            return
        location = self.rng.choice(self.t.location_ids)
        start, end = self.week()
        await self.call(
            "partner.appointments", "GET", f"{prefix}/location/{location}/appointment",
            params={"startDate": start.isoformat(), "endDate": end.isoformat(), "limit": 50},
            headers=self.partner,
        )  # fmt: skip


def open_slots(body: dict, location_id: int, type_id: int) -> list[dict]:
    """Every (slot, practitioner) the availability answer offers, earliest first, as the body
    of a hold/appointment call."""
    out = []
    for day in body["slotsByDate"].values():
        for slot in day:
            pairs = (
                slot["practitionerToConfig"].items()
                if "practitionerToConfig" in slot
                else [(slot["practitionerId"], slot["schedulerConfigId"])]
            )
            for practitioner, config in pairs:
                out.append({
                    "appointmentTypeId": type_id, "locationId": location_id,
                    "practitionerId": int(practitioner), "schedulerConfigId": config,
                    "startDateTime": slot["startDateTime"],
                })  # fmt: skip
    return out


async def seed(base: str, dsn: str, practitioners: int) -> Target:
    """The practice, through the partner API of the served app (a client made in SQL)."""
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        account = await make_account(pool, "Load bench practice")
        async with pool.acquire() as conn:
            client_id, secret = await create_client(conn, "load bench", list(ALL_SCOPES), [account])
    finally:
        await pool.close()
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT) as http:
        token = await fetch_token(http, client_id, secret)
        practice = await build_practice(
            Partner(http, account, client_id, secret, token),
            zones=("America/New_York", "America/Los_Angeles"),
            practitioners=practitioners,
            duration=30,
            interval=15,
            rules=RULES,
            buffers=(0, 5),
            method=None,
            forward_days=FORWARD_DAYS,
        )
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    target = Target(
        base=base, account_id=account, publishable_key=practice.publishable_key,
        location_ids=practice.location_ids, type_id=practice.appointment_type_id, token=token,
        started_at=now,
    )  # fmt: skip
    return target


async def run_load(
    target: Target, users: int, seconds: float, seed_: int
) -> tuple[Stats, float, Cpu]:
    """(stats, elapsed seconds, CPU use during the measured window)."""
    stats = Stats()
    # httpx's default keep-alive expiry (5 s) equals uvicorn's idle timeout: a connection the
    # server is closing just then gets the next request, which fails with ReadError('') - a
    # client artefact (browsers retry those), so close idle connections well before the server
    limits = httpx.Limits(
        max_connections=users, max_keepalive_connections=users, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT) as http:
        crowd = [User(n, seed_, http, target, stats) for n in range(users)]
        # warm-up, not measured: opens the connections and the server's database pools
        warm = Stats()
        for user in crowd:
            user.stats = warm
        await asyncio.gather(*(u.availability() for u in crowd for _ in range(2)))
        for user in crowd:
            user.stats = stats
        server = served_pids()
        busy0, total0 = machine_cpu()
        cpu0, server0 = time.process_time(), cpu_seconds(server)
        t0 = time.perf_counter()
        deadline = t0 + seconds
        # every user stops by itself at the deadline (after finishing the iteration it is in);
        # the outer bound only guards against a hung server
        await asyncio.wait_for(
            asyncio.gather(*(u.run(deadline) for u in crowd)), seconds + 4 * REQUEST_TIMEOUT
        )
        elapsed = time.perf_counter() - t0
        cpu = Cpu(
            load_generator=(time.process_time() - cpu0) / elapsed,
            server=(cpu_seconds(server) - server0) / elapsed,
            server_processes=len(server),
        )
        busy1, total1 = machine_cpu()
    if total1 > total0:
        cpu.machine = (busy1 - busy0) / (total1 - total0)
    return stats, elapsed, cpu


def latency_row(label: str, values: list[float], elapsed: float) -> str:
    if not values:
        return f"  {label:<22} {0:>7}"
    return (
        f"  {label:<22} {len(values):>7} {len(values) / elapsed:>8.1f} "
        f"{percentile(values, 50):>8.1f} {percentile(values, 95):>8.1f} "
        f"{percentile(values, 99):>8.1f}"
    )


def report(stats: Stats, elapsed: float) -> dict:
    answered = sum(len(v) for v in stats.latencies.values())
    transport = sum(stats.transport.values())
    total = answered + transport
    everything = [ms for values in stats.latencies.values() for ms in values]
    server_errors = sum(n for c in stats.statuses.values() for s, n in c.items() if s >= 500)
    conflicts = {k: stats.statuses[k][409] for k in ("flow.hold", "flow.book")}
    unexpected = Counter()
    for kind, counter in stats.statuses.items():
        for status, n in counter.items():
            if 400 <= status < 500 and status != 409:
                unexpected[f"{kind} {status}"] += n
    errors = server_errors + transport
    rate = errors / total if total else 0.0
    print(
        f"requests: {total} in {elapsed:.1f} s = {total / elapsed:.1f} req/s; "
        f"errors {errors} ({rate:.2%}: {server_errors} 5xx, {transport} transport"
        + (f" {dict(stats.transport)}" if transport else "")
        + ")"
    )
    print(f"  {'latency (ms)':<22} {'n':>7} {'req/s':>8} {'p50':>8} {'p95':>8} {'p99':>8}")
    print(latency_row("overall", everything, elapsed))
    for kind in KINDS:
        print(latency_row(kind, stats.latencies.get(kind, []), elapsed))
    booked = stats.statuses["flow.book"][201]
    flows = stats.flows
    print(
        f"attempt flows: {flows['started']} started, {booked} booked (201); 409 conflicts (not "
        f"errors): hold {conflicts['flow.hold']}, appointment {conflicts['flow.book']}; "
        f"{flows['gave up after hold conflicts']} gave up after 3 hold conflicts, "
        f"{flows['no open time']} found no open time"
    )
    if unexpected:
        print(f"unexpected 4xx: {dict(unexpected)}")
    for key, body in stats.samples.items():
        print(f"  first {key}: {body}")
    return {
        "rps": total / elapsed, "errors": errors, "booked": booked, "requests": total,
        "elapsed": elapsed, "p95": percentile(everything, 95) if everything else 0.0,
    }  # fmt: skip


async def one_run(workers: int, users: int, seconds: float, practitioners: int, seed_: int):
    async with bench_database() as dsn:
        async with served(dsn, workers=workers, env=SERVER_ENV) as base:
            target = await seed(base, dsn, practitioners)
            stats, elapsed, cpu = await run_load(target, users, seconds, seed_)
        cores = os.cpu_count() or 1
        print(
            f"\n== slotproof serve --workers {workers} --no-worker: {users} users, "
            f"{seconds:g} s, {practitioners} practitioners x 2 locations"
        )
        summary = report(stats, elapsed)
        pool = await create_pool(dsn, min_size=1, max_size=2)
        try:
            async with pool.acquire() as conn:
                in_db = await conn.fetchval(
                    "SELECT count(*) FROM appointments WHERE account_id = $1"
                    " AND status = 'SCHEDULED'",
                    target.account_id,
                )
                doubles = await double_bookings(conn)
        finally:
            await pool.close()
        print(f"bookings made: {summary['booked']} (201s); appointments in the database: {in_db}")
        print(f"double bookings in the database: {doubles}")
        other = cpu.machine * cores - cpu.server - cpu.load_generator
        requests = summary["requests"]
        per_request = cpu.server * summary["elapsed"] / requests * 1000 if requests else 0.0
        print(
            f"CPU (cores, average): server {cpu.server:.2f} ({cpu.server_processes} processes), "
            f"load generator {cpu.load_generator:.2f}, PostgreSQL and everything else on the "
            f"machine {other:.2f}; all {cores} cores {cpu.machine:.0%} busy - the load generator "
            f"and PostgreSQL share the cores with the server"
        )
        print(
            f"server CPU per request: {per_request:.2f} ms (the app processes only, not "
            f"PostgreSQL; steadier than req/s when other work shares the machine)"
        )
        return {**summary, "doubles": doubles, "in_db": in_db}


async def main(args: argparse.Namespace) -> int:
    results = {}
    for workers in args.workers:
        results[workers] = await one_run(
            workers, args.users, args.seconds, args.practitioners, args.seed
        )
    if len(results) > 1:
        print("\n== summary")
        for workers, r in results.items():
            print(
                f"  workers={workers}: {r['rps']:.1f} req/s, p95 {r['p95']:.1f} ms, "
                f"errors {r['errors']}, bookings {r['booked']}, double bookings {r['doubles']}"
            )
    # more in the database than 201s is possible (a booking whose answer was lost in transport)
    bad = [w for w, r in results.items() if r["doubles"] or r["in_db"] < r["booked"]]
    if bad:
        print(f"FAILED: double bookings or lost bookings with workers={bad}")
        return 1
    return 0


def _workers(raw: str) -> list[int]:
    values = [int(x) for x in raw.split(",") if x.strip()]
    if not values or any(not 1 <= v <= 16 for v in values):
        raise argparse.ArgumentTypeError("a comma-separated list of 1..16")
    return values


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=32, help="concurrent virtual users")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds per run")
    parser.add_argument(
        "--workers", type=_workers, default=[1, 2], help="server processes per run (e.g. 1,2)"
    )
    parser.add_argument("--practitioners", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args()
    if not 1 <= arguments.users <= 1000 or not 1 <= arguments.seconds <= 3600:
        parser.error("--users must be 1..1000 and --seconds 1..3600")
    raise SystemExit(asyncio.run(main(arguments)))
