"""Load test of the CDS Hooks `ldn-order-sign` service against a trivial JSON endpoint.

Starts `ldn serve` (uvicorn, real sockets, JWT verification ON with RS384 tokens signed here,
one fresh `jti` per request as a real EHR sends) and drives it with wrk (Debian package `wrk`,
a Lua script POSTs the request) or, when wrk is missing, with an httpx async load generator.

The order-sign request is realistic: a Synthea patient's record as prefetch (Patient, active
Conditions, active MedicationRequests) and a draft naltrexone order. One run measures, on the
same server one after the other:

1. GET /api/v1/ping, the trivial JSON endpoint (the baseline);
2. order-sign with the same prefetch but an amoxicillin draft: no cards, so only what every
   CDS call must do whatever its answer (read the 8 KB body, verify the JWT, record its jti) --
   the floor of any order-sign call;
3. order-sign with the naltrexone draft: profile, assessment and three cards.

For each it reports throughput, latency percentiles and the CPU time per request spent by the
server's workers and by the load generator (from /proc and getrusage), so the share of ping's
throughput can be read against what the floor allows.

Targets (issue): p95 <= 50 ms at 50 concurrent connections, and order-sign throughput at least
60 % of the trivial endpoint's.

    python benchmarks/bench_cds.py [--seconds 10] [--connections 50] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SYNTHEA = REPO.parent / "shared" / "fhir" / "synthea"
ISSUER = "https://ehr.bench.example"
PATIENT = "Chet_Thompson"  # active opioid + several conditions: every card rule runs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def order_sign_body(naltrexone: bool = True) -> dict[str, Any]:
    """The request; with naltrexone=False the draft is amoxicillin (the no-card fast path)."""
    path = next(iter(sorted(SYNTHEA.glob(f"{PATIENT}*.json"))), None)
    if path is None:
        sys.exit(f"Synthea bundle {PATIENT}* not found in {SYNTHEA}")
    bundle = json.loads(path.read_text(encoding="utf-8"))
    resources = [e["resource"] for e in bundle["entry"]]
    patient = next(r for r in resources if r["resourceType"] == "Patient")

    def searchset(items: list[dict[str, Any]]) -> dict[str, Any] | None:
        if not items:
            return None
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in items],
        }

    conditions = [
        r
        for r in resources
        if r["resourceType"] == "Condition"
        and ((r.get("clinicalStatus") or {}).get("coding") or [{}])[0].get("code") == "active"
    ]
    # plus a psoriasis diagnosis, so that every card rule fires (critical, warning, info)
    conditions.append(
        {
            "resourceType": "Condition",
            "id": "bench-psoriasis",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {
                "coding": [{"system": "http://snomed.info/sct", "code": "9014002"}],
                "text": "Psoriasis",
            },
            "subject": {"reference": f"Patient/{patient['id']}"},
        }
    )
    meds = [
        r
        for r in resources
        if r["resourceType"] == "MedicationRequest" and r.get("status") == "active"
    ]
    draft = {
        "resourceType": "MedicationRequest",
        "id": "draft-1",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "7243",
                    "display": "naltrexone",
                }
            ],
            "text": "Naltrexone 50 mg oral tablet",
        },
        "subject": {"reference": f"Patient/{patient['id']}"},
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": 50,
                            "unit": "mg",
                            "system": "http://unitsofmeasure.org",
                            "code": "mg",
                        }
                    }
                ],
            }
        ],
    }
    if not naltrexone:
        draft["medicationCodeableConcept"] = {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "308182",
                    "display": "Amoxicillin 250 MG Oral Capsule",
                }
            ],
            "text": "Amoxicillin 250 MG Oral Capsule",
        }
    return {
        "hook": "order-sign",
        "hookInstance": str(uuid.uuid4()),
        "context": {
            "userId": "Practitioner/1",
            "patientId": patient["id"],
            "draftOrders": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": draft}],
            },
        },
        "prefetch": {
            "patient": patient,
            "conditions": searchset(conditions),
            "medications": searchset(meds),
        },
    }


# ------------------------------------------------------------------ keys and tokens
_KEY: Any = None


def _init_signer(pem: bytes) -> None:
    global _KEY
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    _KEY = load_pem_private_key(pem, password=None)


def _sign(args: tuple[str, int, int]) -> list[str]:
    import jwt

    aud, count, lifetime = args
    now = int(time.time())
    return [
        jwt.encode(
            {
                "iss": ISSUER,
                "aud": aud,
                "iat": now,
                "exp": now + lifetime,
                "jti": str(uuid.uuid4()),
            },
            _KEY,
            algorithm="RS384",
            headers={"kid": "bench-rsa", "typ": "JWT"},
        )
        for _ in range(count)
    ]


def make_tokens(pem: bytes, aud: str, count: int, lifetime: int) -> list[str]:
    chunks = [(aud, 2000, lifetime)] * (count // 2000 + 1)
    with ProcessPoolExecutor(max_workers=2, initializer=_init_signer, initargs=(pem,)) as pool:
        out = [t for batch in pool.map(_sign, chunks) for t in batch]
    return out[:count]


def keys(tmp: Path) -> bytes:
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="bench-rsa", use="sig", alg="RS384")
    (tmp / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


# ------------------------------------------------------------------ server
def start_server(
    tmp: Path, port: int, workers: int, jti_cache: str = "database"
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDN_")}  # no outside config
    env.update(
        LDN_DATA_DIR=str(tmp / "data"),
        LDN_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        LDN_TRUSTED_ISSUERS=ISSUER,
        LDN_JWKS_FILES=str(tmp / "jwks.json"),
        LDN_JTI_CACHE=jti_cache,
    )
    ldn = [sys.executable, "-m", "ldn_derm"]
    proc = subprocess.Popen(
        [*ldn, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "server.log").open("wb"),
        cwd=tmp,
    )
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited: {(tmp / 'server.log').read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/ping", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    sys.exit("server did not start within 60 s")


# ------------------------------------------------------------------ CPU accounting
def _server_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of the server process and its workers (Linux /proc), or None."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    try:
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the process ended while we looked
            if int(entry) == pid or int(fields[1]) == pid:
                total += int(fields[11]) + int(fields[12])  # utime + stime, in ticks
    except OSError:
        return None
    return total / tick


def _children_cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ------------------------------------------------------------------ wrk
WRK_LUA = r"""
local dir = "%(dir)s"
local mode = "%(mode)s"
local body_file = "%(body)s"
local counter = 0
local threads = {}
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end
function init(args)
  tokens = {}
  local f = io.open(dir .. "/tokens_" .. tid .. ".txt")
  if f then for line in f:lines() do tokens[#tokens + 1] = line end f:close() end
  local b = io.open(dir .. "/" .. body_file)
  body = b and b:read("*a") or ""
  if b then b:close() end
  idx = 0
  bad = 0
end
function request()
  if mode == "GET" then return wrk.format("GET", wrk.path) end
  idx = idx + 1
  local t = tokens[idx] or "exhausted"
  return wrk.format("POST", wrk.path, {["Content-Type"] = "application/json",
                                       ["Authorization"] = "Bearer " .. t}, body)
end
function response(status, headers, b)
  if status ~= 200 then bad = bad + 1 end
end
function done(summary, latency, requests)
  local nbad = 0
  for _, t in ipairs(threads) do nbad = nbad + (t:get("bad") or 0) end
  io.write(string.format("RESULT %%d %%f %%f %%f %%f %%d %%d\n", summary.requests,
    summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(95) / 1e3,
    latency:percentile(99) / 1e3, nbad, summary.errors.status + summary.errors.connect +
    summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def run_wrk(
    url: str, method: str, tmp: Path, seconds: int, conns: int, threads: int, body_file: str = ""
) -> dict[str, float]:
    """One wrk run; the tokens_<thread>.txt files in `tmp` must hold fresh tokens for it."""
    script = tmp / f"bench_{method}_{body_file or 'none'}.lua"
    script.write_text(WRK_LUA % {"dir": str(tmp), "mode": method, "body": body_file})
    cmd = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(conns),
        "-d",
        f"{seconds}s",
        "--latency",
        "-s",
        str(script),
    ]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT"))
    n, duration, p50, p95, p99, bad, errors = line.split()[1:]
    return {
        "requests": int(n),
        "rps": int(n) / float(duration),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "non_200": int(bad),
        "errors": int(errors),
    }


# ------------------------------------------------------------------ httpx fallback
async def _httpx_load(
    url: str, method: str, body: bytes, tokens: list[str], seconds: int, conns: int
) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    bad = 0
    stop = time.monotonic() + seconds
    token_iter = iter(tokens)
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal bad
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                if method == "GET":
                    r = await client.get(url)
                else:
                    r = await client.post(
                        url,
                        content=body,
                        headers={
                            "Content-Type": "application/json",
                            "Authorization": f"Bearer {next(token_iter, 'exhausted')}",
                        },
                    )
                latencies.append(time.perf_counter() - t0)
                bad += r.status_code != 200

        t_start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(conns)))
        elapsed = time.monotonic() - t_start
    q = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": q[49] * 1e3,
        "p95": q[94] * 1e3,
        "p99": q[98] * 1e3,
        "non_200": bad,
        "errors": 0,
    }


# ------------------------------------------------------------------ one run
ROWS = (
    # name, method, path, body file (None: GET)
    ("GET /api/v1/ping (baseline)", "GET", "/api/v1/ping", None),
    ("order-sign, no cards (floor)", "POST", "/cds-services/ldn-order-sign", "body_other.json"),
    ("order-sign, 3 cards", "POST", "/cds-services/ldn-order-sign", "body_naltrexone.json"),
)


def measure(
    row: tuple[str, str, str, str | None],
    base: str,
    tmp: Path,
    server_pid: int,
    tokens: list[str],
    args: argparse.Namespace,
    tool: str,
) -> dict[str, Any]:
    _, method, path, body_file = row
    if method == "POST":  # a fresh share of single-use tokens for each wrk thread
        per_thread = len(tokens) // args.threads
        for i in range(args.threads):
            chunk = tokens[i * per_thread : (i + 1) * per_thread]
            (tmp / f"tokens_{i + 1}.txt").write_text("\n".join(chunk) + "\n")
    cpu0, gen0 = _server_cpu_seconds(server_pid), _children_cpu_seconds()
    if tool == "wrk":
        result: dict[str, Any] = run_wrk(
            base + path, method, tmp, args.seconds, args.connections, args.threads, body_file or ""
        )
    else:
        body = (tmp / body_file).read_bytes() if body_file else b""
        result = asyncio.run(
            _httpx_load(base + path, method, body, tokens, args.seconds, args.connections)
        )
    cpu1, gen1 = _server_cpu_seconds(server_pid), _children_cpu_seconds()
    n = max(result["requests"], 1)
    result["server_us"] = (cpu1 - cpu0) / n * 1e6 if cpu0 is not None and cpu1 is not None else None
    result["generator_us"] = (gen1 - gen0) / n * 1e6 if tool == "wrk" else None
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--tool", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument(
        "--jti-cache",
        choices=["database", "memory"],
        default="database",
        help="replay cache (memory: per process, only safe with --workers 1)",
    )
    args = parser.parse_args()
    tool = args.tool if args.tool != "auto" else ("wrk" if shutil.which("wrk") else "httpx")

    with tempfile.TemporaryDirectory(prefix="ldn-bench-") as tmpdir:
        tmp = Path(tmpdir)
        pem = keys(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        service = f"{base}/cds-services/ldn-order-sign"
        bodies = {
            "body_naltrexone.json": json.dumps(order_sign_body(True)).encode(),
            "body_other.json": json.dumps(order_sign_body(False)).encode(),
        }
        for name, data in bodies.items():
            (tmp / name).write_bytes(data)
        # enough single-use tokens for each POST row (up to 4500 req/s per wrk thread)
        per_row = (4500 * args.seconds + 1000) * args.threads
        posts = sum(1 for row in ROWS if row[1] == "POST")
        t0 = time.perf_counter()
        tokens = make_tokens(pem, service, per_row * posts + 50, lifetime=1800)
        sign_s = time.perf_counter() - t0
        warm, tokens = tokens[-50:], tokens[:-50]
        server = start_server(tmp, port, args.workers, args.jti_cache)
        results: list[dict[str, Any]] = []
        try:
            import httpx

            for t in warm:  # warm-up: imports, knowledge base, first DB connections per worker
                r = httpx.post(
                    service,
                    content=bodies["body_naltrexone.json"],
                    headers={"Content-Type": "application/json", "Authorization": f"Bearer {t}"},
                )
                if r.status_code != 200:
                    sys.exit(f"order-sign answered {r.status_code}: {r.text[:400]}")
            cards = r.json()["cards"]
            time.sleep(5)  # let start-up work in the workers (background imports) finish
            used = 0
            for row in ROWS:
                share = tokens[used : used + per_row] if row[1] == "POST" else []
                used += len(share)
                results.append(measure(row, base, tmp, server.pid, share, args, tool))
        finally:
            server.terminate()
            server.wait(timeout=10)
            log = (tmp / "server.log").read_text(errors="replace")
        if any(r["non_200"] or r["errors"] for r in results):
            print("server log (tail):\n" + log[-3000:])

    report(
        results,
        cards,
        tool,
        args,
        len(tokens) + len(warm),
        sign_s,
        len(bodies["body_naltrexone.json"]),
    )


def report(
    results: list[dict[str, Any]],
    cards: list[dict[str, Any]],
    tool: str,
    args: argparse.Namespace,
    n_tokens: int,
    sign_s: float,
    body_bytes: int,
) -> None:
    ping, floor, sign = results
    print(
        f"ldn-order-sign load test: {tool}, {args.connections} connections, "
        f"{args.seconds} s per row, server `ldn serve --workers {args.workers}` (uvicorn), "
        f"jti cache: {args.jti_cache}; JWT RS384 verified with a fresh jti per request "
        f"({n_tokens} tokens signed in {sign_s:.1f} s)"
    )
    print(
        f"request body {body_bytes / 1024:.1f} KiB (Synthea {PATIENT} prefetch + psoriasis "
        f"+ draft naltrexone 50 mg, or amoxicillin for the floor row); naltrexone response: "
        f"{len(cards)} card(s) ({', '.join(c['indicator'] for c in cards)})"
    )
    print()

    def us(value: float | None) -> str:
        return f"{value:.0f}" if value is not None else "n/a"

    header = (
        f"{'endpoint':<32}{'req/s':>8}{'% ping':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
        f"{'server µs/req':>15}{'wrk µs/req':>12}{'non-200':>9}"
    )
    print(header)
    for (name, *_), r in zip(ROWS, results, strict=True):
        share = r["rps"] / ping["rps"] if ping["rps"] else 0.0
        print(
            f"{name:<32}{r['rps']:>8.0f}{share:>8.0%}{r['p50']:>8.1f}{r['p95']:>8.1f}"
            f"{r['p99']:>8.1f}{us(r['server_us']):>15}{us(r['generator_us']):>12}"
            f"{r['non_200'] + r['errors']:>9d}"
        )
    print()
    failed = sum(r["non_200"] + r["errors"] for r in results)
    if failed:  # e.g. a faster machine used up the single-use tokens: cheap 401s, not the test
        print(f"INVALID RUN: {failed} requests failed; no verdict (see the server log above)")
        sys.exit(1)
    ratio = sign["rps"] / ping["rps"] if ping["rps"] else 0.0
    ok_p95 = sign["p95"] <= 50
    print(f"order-sign p95 {sign['p95']:.1f} ms (target <= 50 ms): {'PASS' if ok_p95 else 'FAIL'}")
    print(
        f"order-sign throughput {ratio:.0%} of ping (target >= 60%): "
        f"{'PASS' if ratio >= 0.60 else 'FAIL'}"
    )
    floor_ratio = floor["rps"] / ping["rps"] if ping["rps"] else 0.0
    print(
        f"  the no-card floor (body + JWT + jti, no clinical work) reaches {floor_ratio:.0%} of "
        f"ping; the full call reaches {sign['rps'] / floor['rps']:.0%} of the floor"
        if floor["rps"]
        else "  the no-card floor row answered nothing"
    )
    if tool == "httpx":
        print(
            "NOTE: the Python load generator saturates long before the server does; these "
            "numbers are a floor. Install wrk (apt-get install -y wrk) for real ones."
        )


if __name__ == "__main__":
    main()
