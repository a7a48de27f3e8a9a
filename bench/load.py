"""A load test over loopback that measures the local stack's steady state.

The scenario, run by WORKERS threads in a loop: a parent creates a child's profile, buys a
credit pack through Konnect (the fake gateway), the webhook arrives twice at the same time
(Konnect retrying), the parent starts and submits EXAMS exams for the child and reads the
child's credits. The stack (`make run`'s, started here in a temporary directory) is first
warmed for WARMUP seconds; only requests that start and end inside the next DURATION seconds
are counted. Printed per operation: count, p50, p99; overall requests/s beside the stack's floor
(GET /v1/health from the same threads, same stack); the CPU the stack used in the window
(its processes and PostgreSQL's) and the load generator's own, both on this machine's cores;
then what a school checks: every pack granted once, every exam debited once, the ledger's
invariants clean, no 5xx.

The scenario runs once per entry of HTTP_WORKERS (default "1,2"): 1 is `make run`'s one
process; 2 starts one HTTP worker process per core behind the same port (Lambda runs
containers side by side; the gateway's one process shares one GIL between every function).

Run: make load   (WORKERS, EXAMS, WARMUP, DURATION, HTTP_WORKERS to change it)
Targets: requests/s >= 0.3x the floor, p99 < 1 s, zero 5xx, invariants clean.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from reussite_local.launcher import running_stack
from reussite_local.moto_server import USAGE_PATH
from reussite_local.tokens import make_token

WORKERS = int(os.environ.get("WORKERS", "16"))
EXAMS = int(os.environ.get("EXAMS", "3"))
WARMUP = float(os.environ.get("WARMUP", "5"))
DURATION = float(os.environ.get("DURATION", "20"))
MODES = [int(n) for n in os.environ.get("HTTP_WORKERS", "1,2").split(",")]
PACK_CREDITS = 20
FLOOR_SECONDS = 3.0
TICK = os.sysconf("SC_CLK_TCK")


class Load:
    def __init__(self, stack: dict[str, Any]) -> None:
        self.base = stack["base"]
        self.konnect = stack["state"]["konnect"]
        self.local = threading.local()
        self.samples: list[tuple[str, float, float]] = []  # (kind, start, end), perf_counter
        self.errors: list[str] = []
        self.families: list[dict[str, Any]] = []
        # Konnect's side (its gateway's test hook, its two webhook calls) shares one pooled
        # client, as Konnect's servers keep their connections: a client built per call would
        # cost this process an SSL context each time (~10 ms of CPU) on the stack's cores.
        self.konnect_http = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=64))

    @property
    def http(self) -> httpx.Client:
        if not hasattr(self.local, "client"):  # one connection per thread, as a browser has
            self.local.client = httpx.Client(base_url=self.base, timeout=60)
        return self.local.client  # type: ignore[no-any-return]

    def request(
        self, kind: str, method: str, path: str, via: httpx.Client | None = None, **kw: Any
    ) -> httpx.Response:
        t0 = time.perf_counter()
        response = (via or self.http).request(method, path, **kw)
        self.samples.append((kind, t0, time.perf_counter()))
        if response.status_code >= 500:
            self.errors.append(f"{kind}: {response.status_code} {response.text[:120]}")
        return response

    def family(self, n: int) -> None:
        sub = f"load-parent-{n}-{uuid.uuid4().hex[:6]}"
        auth = {"Authorization": f"Bearer {make_token(sub, 'PARENT', f'{sub}@load.test', sub)}"}

        def key() -> dict[str, str]:
            return auth | {"Idempotency-Key": str(uuid.uuid4())}

        child = self.request(
            "create child",
            "POST",
            "/v1/students",
            json={"display_name": f"Enfant {n}"},
            headers=key(),
        ).json()["student_id"]
        order = self.request(
            "checkout",
            "POST",
            "/v1/payments/checkout",
            headers=key(),
            json={"product_code": "PACK_20", "student_id": child},
        ).json()
        self.konnect_http.post(
            f"{self.konnect}/_fake/payments/{order['payment_ref']}/complete", json={"notify": False}
        )
        hook = f"{self.base}/v1/webhooks/konnect?payment_ref={order['payment_ref']}"
        twice = [
            threading.Thread(target=self.request, args=("webhook", "GET", hook, self.konnect_http))
            for _ in "ab"
        ]
        for thread in twice:  # Konnect calls twice, at once
            thread.start()
        for thread in twice:
            thread.join()
        for _ in range(EXAMS):
            attempt = self.request(
                "exam start",
                "POST",
                "/v1/exams/FR-A1/attempts",
                headers=key(),
                json={"student_id": child},
            ).json()
            self.request(
                "exam submit",
                "POST",
                f"/v1/attempts/{attempt['id']}/submit",
                headers=auth,
                json={"attempt_token": attempt["attempt_token"], "answers": {}},
            )
        self.request("read credits", "GET", "/v1/me/credits", headers=auth)
        self.families.append({"child": child, "auth": auth})

    def run(self, stop_at: float) -> None:
        """One parent after another on each thread until stop_at; the last one finishes."""

        def loop(worker: int) -> None:
            n = 0
            while time.perf_counter() < stop_at:
                self.family(worker * 100_000 + n)
                n += 1

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            list(pool.map(loop, range(WORKERS)))

    def floor(self) -> list[tuple[float, float]]:
        """GET /v1/health as fast as WORKERS threads can: the stack's own ceiling."""
        stop = time.perf_counter() + FLOOR_SECONDS

        def spin(_: int) -> list[tuple[float, float]]:
            client, out = httpx.Client(base_url=self.base, timeout=30), []
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                client.get("/v1/health")
                out.append((t0, time.perf_counter()))
            return out

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            return [t for chunk in pool.map(spin, range(WORKERS)) for t in chunk]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(stack_pid: int, postmaster: int) -> dict[str, float]:
    """User + system CPU so far of the stack's processes by part (from /proc): the gateway and
    the functions (the stack's process and its HTTP workers), moto (its own process), and
    PostgreSQL (the postmaster and its backends)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    moto: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # it ended
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / TICK
        if b"reussite_local.moto_server" in cmdline:
            moto.add(pid)

    def tree(root: int) -> set[int]:
        found, grew = {root}, True
        while grew:
            grew = False
            for pid, ppid in parents.items():
                if ppid in found and pid not in found:
                    found.add(pid)
                    grew = True
        return found

    postgres = tree(postmaster)
    aws = set().union(*(tree(pid) for pid in moto)) if moto else set()
    functions = tree(stack_pid) - aws - postgres
    return {
        part: sum(times.get(pid, 0.0) for pid in pids)
        for part, pids in (("functions", functions), ("moto", aws), ("postgres", postgres))
    }


def moto_usage(endpoints: list[str]) -> dict[str, list[float]]:
    """Calls and CPU seconds by operation so far, over the stack's moto processes."""
    usage: dict[str, list[float]] = {}
    for endpoint in endpoints:
        for op, (calls, cpu) in httpx.get(f"{endpoint}{USAGE_PATH}", timeout=30).json().items():
            counted = usage.setdefault(op, [0, 0.0])
            counted[0] += calls
            counted[1] += cpu
    return usage


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(http_workers: int) -> bool:
    with tempfile.TemporaryDirectory(prefix="reussite-load-") as tmp:
        os.environ["HTTP_WORKERS"] = str(http_workers)
        with running_stack(Path(tmp)) as stack:
            postmaster = int((Path(tmp) / "pgdata" / "postmaster.pid").read_text().split()[0])
            load = Load(stack)
            marks: list[dict[str, float]] = []  # CPU by part: floor's start, end; window's
            usages: list[dict[str, list[float]]] = []  # moto's calls and CPU by operation

            def mark() -> None:
                marks.append(cpu_seconds(stack["proc"].pid, postmaster) | {"load": own_cpu()})
                usages.append(moto_usage(stack["state"]["aws_endpoints"]))

            mark()
            floor = load.floor()
            mark()

            start = time.perf_counter()
            window = (start + WARMUP, start + WARMUP + DURATION)
            timers = [threading.Timer(WARMUP, mark), threading.Timer(WARMUP + DURATION, mark)]
            for timer in timers:
                timer.start()
            load.run(stop_at=window[1])
            for timer in timers:
                timer.join()
            return report(load, floor, window, marks, usages, http_workers)


def report(
    load: Load,
    floor: list[tuple[float, float]],
    window: tuple[float, float],
    marks: list[dict[str, float]],
    usages: list[dict[str, list[float]]],
    http_workers: int,
) -> bool:
    inside = [(k, s, e) for k, s, e in load.samples if s >= window[0] and e <= window[1]]
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, s, e in inside:
        by_kind[kind].append((e - s) * 1000)
    everything = [(e - s) * 1000 for _, s, e in inside]
    rate = len(inside) / DURATION
    floor_ms = [(e - s) * 1000 for s, e in floor]
    floor_rate = len(floor) / FLOOR_SECONDS
    print(
        f"\nload, {http_workers} HTTP worker process{'es' if http_workers > 1 else ''}: "
        f"{WORKERS} threads, {EXAMS} exams a family, {WARMUP:.0f} s warm-up, "
        f"{DURATION:.0f} s measured"
    )
    print(f"    {'request':14} {'count':>6} {'p50 ms':>8} {'p99 ms':>8}")
    for kind, values in by_kind.items():
        print(f"    {kind:14} {len(values):6} {pct(values, 0.5):8.1f} {pct(values, 0.99):8.1f}")
    p99 = pct(everything, 0.99)
    print(
        f"    {'all':14} {len(everything):6} {pct(everything, 0.5):8.1f} {p99:8.1f}"
        f"   {rate:.0f} requests/s"
    )
    print(
        f"    {'floor: health':14} {len(floor):6} {pct(floor_ms, 0.5):8.1f} "
        f"{pct(floor_ms, 0.99):8.1f}   {floor_rate:.0f} requests/s (same stack, same threads)"
    )
    cores = {part: (marks[3][part] - marks[2][part]) / DURATION for part in marks[0]}
    health_ms = (marks[1]["functions"] - marks[0]["functions"]) / len(floor) * 1000
    print(
        f"    CPU in the window, cores of {os.cpu_count()}: gateway and functions "
        f"{cores['functions']:.2f}, moto {cores['moto']:.2f}, PostgreSQL {cores['postgres']:.2f}, "
        f"this load generator {cores['load']:.2f}"
    )
    print(
        f"    gateway and functions' CPU per request: {cores['functions'] / rate * 1000:.1f} ms "
        f"mixed, {health_ms:.2f} ms health ({cores['functions'] / rate * 1000 / health_ms:.1f}x)"
    )
    before, after = usages[2], usages[3]
    spent = {
        op: (n - before.get(op, [0, 0.0])[0], cpu - before.get(op, [0, 0.0])[1])
        for op, (n, cpu) in after.items()
    }
    busiest = sorted((v[1], op, v[0]) for op, v in spent.items() if v[0])[::-1][:5]
    total = sum(cpu for cpu, _, _ in busiest) or 1.0
    print(
        "    moto's busiest calls in the window (calls x CPU ms each, share): "
        + "; ".join(
            f"{op} {n:.0f} x {cpu / n * 1000:.1f} ({cpu / total:.0%})" for cpu, op, n in busiest
        )
    )
    ratio = rate / floor_rate
    wrong = []
    client = httpx.Client(base_url=load.base, timeout=120)
    for f in load.families:
        (wallet,) = client.get("/v1/me/credits", headers=f["auth"]).json()["wallets"]
        if wallet["balance"] != PACK_CREDITS - EXAMS:
            wrong.append((f["child"], wallet["balance"]))
    result = client.post("/_local/invoke/ledger_invariants").json()["result"]
    clean = not any(
        result[k]
        for k in ("wallet_mismatches", "lot_mismatches", "expiry_mismatches", "stranded_lots")
    )
    ok = ratio >= 0.3 and p99 < 1000 and not load.errors and not wrong and clean
    print(
        f"    requests/s vs the floor {ratio:.2f} (target >= 0.3), p99 {p99:.0f} ms "
        f"(target < 1,000); server errors {len(load.errors)}; balances off {len(wrong)} of "
        f"{len(load.families)} families (each pack granted once despite two webhooks, each "
        f"exam debited once); ledger invariants {'clean' if clean else result}: "
        f"{'ok' if ok else 'OVER'}"
    )
    for error in load.errors[:5]:
        print(f"    {error}")
    return ok


def main() -> int:
    results = [measure(n) for n in MODES]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
