"""A bounded load test over loopback against the local stack (`make run`'s, started here in a
temporary directory, or the one at LOAD_URL's state dir with LOAD_STATE_DIR).

FAMILIES families at once (WORKERS threads): a parent creates a child's profile, buys a credit
pack through Konnect (the fake gateway), the webhook arrives twice at the same time (Konnect
retrying), then the parent starts and submits EXAMS exams for the child. Printed: requests/s,
p50/p99 per kind of request and overall, beside the stack's floor (GET /v1/health) measured in
the same run; then the checks a school cares about: every pack granted exactly once, every
exam debited once, and the ledger's invariant check.

Run: make load   (FAMILIES, EXAMS, WORKERS to change the size)
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from reussite_local.launcher import running_stack
from reussite_local.tokens import make_token

FAMILIES = int(os.environ.get("FAMILIES", "40"))
EXAMS = int(os.environ.get("EXAMS", "3"))
WORKERS = int(os.environ.get("WORKERS", "16"))
PACK_CREDITS = 20


class Load:
    def __init__(self, stack: dict[str, Any]) -> None:
        self.base = stack["base"]
        self.konnect = stack["state"]["konnect"]
        self.http = httpx.Client(base_url=self.base, timeout=60)
        self.timings: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []

    def request(self, kind: str, method: str, path: str, **kw: Any) -> httpx.Response:
        t0 = time.perf_counter()
        response = self.http.request(method, path, **kw)
        self.timings[kind].append((time.perf_counter() - t0) * 1000)
        if response.status_code >= 500:
            self.errors.append(f"{kind}: {response.status_code} {response.text[:120]}")
        return response

    def family(self, n: int) -> dict[str, Any]:
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
        httpx.post(
            f"{self.konnect}/_fake/payments/{order['payment_ref']}/complete", json={"notify": False}
        )
        with ThreadPoolExecutor(max_workers=2) as pool:  # Konnect calls twice, at once
            list(
                pool.map(
                    lambda _: self.request(
                        "webhook", "GET", f"/v1/webhooks/konnect?payment_ref={order['payment_ref']}"
                    ),
                    range(2),
                )
            )
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
        return {"child": child, "auth": auth, "order": order["id"]}

    def floor(self, seconds: float = 3.0) -> list[float]:
        """GET /v1/health as fast as WORKERS threads can: the stack's own ceiling."""
        stop = time.monotonic() + seconds

        def spin(_: int) -> list[float]:
            client, out = httpx.Client(base_url=self.base, timeout=30), []
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                client.get("/v1/health")
                out.append((time.perf_counter() - t0) * 1000)
            return out

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            return [t for chunk in pool.map(spin, range(WORKERS)) for t in chunk]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    with (
        tempfile.TemporaryDirectory(prefix="reussite-load-") as tmp,
        running_stack(Path(tmp)) as stack,
    ):
        load = Load(stack)
        floor = load.floor()
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            families = list(pool.map(load.family, range(FAMILIES)))
        elapsed = time.perf_counter() - t0
        everything = [t for values in load.timings.values() for t in values]
        print(f"load: {FAMILIES} families, {EXAMS} exams each, {WORKERS} threads, loopback")
        print(f"{'request':14} {'count':>6} {'p50 ms':>8} {'p99 ms':>8}")
        for kind, values in load.timings.items():
            print(f"{kind:14} {len(values):6} {pct(values, 0.5):8.1f} {pct(values, 0.99):8.1f}")
        print(
            f"{'all':14} {len(everything):6} {pct(everything, 0.5):8.1f} "
            f"{pct(everything, 0.99):8.1f}   {len(everything) / elapsed:.0f} requests/s"
        )
        print(
            f"{'floor: health':14} {len(floor):6} {pct(floor, 0.5):8.1f} {pct(floor, 0.99):8.1f}"
            f"   {len(floor) / 3.0:.0f} requests/s (same stack, same threads)"
        )

        wrong = []
        for f in families:
            credits = load.http.get("/v1/me/credits", headers=f["auth"]).json()
            (wallet,) = credits["wallets"]
            if wallet["balance"] != PACK_CREDITS - EXAMS:
                wrong.append((f["child"], wallet["balance"]))
        invariants = load.http.post("/_local/invoke/ledger_invariants", timeout=120).json()
        result = invariants["result"]
        clean = not any(
            result[k]
            for k in ("wallet_mismatches", "lot_mismatches", "expiry_mismatches", "stranded_lots")
        )
        print(
            f"server errors: {len(load.errors)}; balances off: {len(wrong)} "
            f"(each pack granted once despite two webhooks, each exam debited once)"
        )
        print(
            f"ledger invariant check: {'clean' if clean else result} "
            f"({result['wallets_checked']} wallets, {result['lots_checked']} lots)"
        )
        print(
            f"median of the health floor vs all requests: {statistics.median(floor):.1f} ms "
            f"vs {statistics.median(everything):.1f} ms"
        )
        return 0 if clean and not wrong and not load.errors else 1


if __name__ == "__main__":
    sys.exit(main())
