"""Load and faults for ``gir serve`` on loopback, bounded in count and time (issue 31).

Starts ``gir serve`` (a child process, on a free 127.0.0.1 port, with its temporary folder under a folder of
this run) and, with the standard library's HTTP client only:

1. **burst**: 16 uploads at once (threads), then waits for every accepted job;
2. **in a row**: 200 uploads back to back without waiting (429 once the queue is full), then waits for every
   accepted job;
3. **cancel**: two slow jobs hold both workers, a small one waits; one slow job is cancelled: how long until
   the small one is done, against the time the other slow job still takes;
4. **disconnects**: clients that send half of a declared body and close the connection;
5. **bad inputs**: empty, not an image, truncated, a header with too many pixels, too large, no file,
   not multipart, unsupported options, malformed multipart, unknown ids; after each, ``/v1/health`` must
   answer 200;
6. 200 in a row again, each 429 retried after its ``Retry-After``, so that all 200 run, to see that memory
   and answers are the same after all that.

All along, the resident memory of the server and its worker processes is sampled (``/proc``). Every answer
with a 5xx status is counted. At the end the server's folder must hold only the jobs it still keeps, and
nothing once it has stopped. Prints a Markdown report.

    nice -n 19 python benchmarks/serve_load.py                 # 2 workers x 1 thread, queue 16
    nice -n 19 python benchmarks/serve_load.py --workers 1 --append benchmarks/RESULTS.md
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections import Counter
from datetime import datetime
from pathlib import Path

import numpy as np

from _report import emit  # benchmarks/ is on sys.path when a script here runs
from gir.utils.net import free_port

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
FINISHED = ("done", "failed", "cancelled")


# ------------------------------------------------------------------------------------------------ http
class Api:
    """A tiny HTTP client for one server; every answer's status is counted in ``statuses``."""

    def __init__(self, port: int):
        self.port = port
        self.statuses: Counter = Counter()
        self.lock = threading.Lock()

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
             timeout: float = 60.0) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            status, head = r.status, {k.lower(): v for k, v in r.getheaders()}
        finally:
            conn.close()
        with self.lock:
            self.statuses[status] += 1
        return status, head, data

    def json(self, method: str, path: str, **kw) -> tuple[int, dict]:
        status, _, data = self.call(method, path, **kw)
        return status, json.loads(data) if data else {}

    def upload(self, data: bytes, name: str = "photo.png", fields: dict | None = None, path: str = "/v1/jobs"
               ) -> tuple[int, dict, dict]:
        body, ctype = multipart(data, name, fields)
        status, head, raw = self.call("POST", path, body, {"Content-Type": ctype})
        return status, head, json.loads(raw) if raw else {}

    def wait_all(self, ids: list[str], timeout: float) -> Counter:
        """Poll until every job has finished (or the time is up) -> count per final status."""
        left, final = set(ids), Counter()
        deadline = time.monotonic() + timeout
        while left and time.monotonic() < deadline:
            for job in list(left):
                _, state = self.json("GET", f"/v1/jobs/{job}")
                if state.get("status") in FINISHED:
                    final[state["status"]] += 1
                    left.discard(job)
            time.sleep(0.2)
        final["unfinished"] = len(left)
        return final

    def healthy(self) -> bool:
        try:
            return self.call("GET", "/v1/health", timeout=10)[0] == 200
        except OSError:
            return False


def multipart(data: bytes, name: str, fields: dict | None = None, field: str = "file") -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in (fields or {}).items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
                 f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# ---------------------------------------------------------------------------------------------- images
def png(rgb: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def photo(side: int, sigma: float, seed: int) -> bytes:
    """A ``side``-px crop of the example photo with Gaussian noise of ``sigma`` (0-255 scale), as PNG."""
    from PIL import Image

    img = np.asarray(Image.open(REPO / "examples" / "astronaut.png").convert("RGB"), np.float32) / 255
    img = img[:side, :side] if side <= 512 else np.tile(img, (side // 512 + 1, side // 512 + 1, 1))[:side, :side]
    noise = np.random.default_rng(seed).normal(0, sigma / 255, img.shape)
    return png(img + noise)


def png_header_only(width: int, height: int) -> bytes:
    """A small PNG file (valid chunks) whose header claims ``width`` x ``height``: a decompression bomb's
    header, with one row of pixel data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(1 + 3 * width)))
            + chunk(b"IEND", b""))


# ---------------------------------------------------------------------------------------------- memory
def family_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total


class MemorySampler(threading.Thread):
    """Samples :func:`family_rss` every ``every`` seconds; ``mark(name)`` records the latest sample."""

    def __init__(self, pid: int, every: float = 0.25):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak = self.last = 0
        self.marks: dict[str, int] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.last = family_rss(self.pid)
            self.peak = max(self.peak, self.last)
            self.stop.wait(self.every)

    def mark(self, name: str) -> None:
        self.last = family_rss(self.pid)
        self.marks[name] = self.last


# ---------------------------------------------------------------------------------------------- phases
def burst(api: Api, images: list[bytes], n: int = 16) -> dict:
    """``n`` uploads at once; then every accepted job to its end."""
    answers: list[tuple[int, dict]] = [None] * n
    gate = threading.Barrier(n)

    def one(i: int) -> None:
        gate.wait()
        status, _, body = api.upload(images[i % len(images)], f"burst-{i}.png")
        answers[i] = (status, body)

    t0 = time.monotonic()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    answered = time.monotonic() - t0
    ids = [body["id"] for status, body in answers if status == 202]
    final = api.wait_all(ids, timeout=600)
    return {"sent": n, "statuses": dict(Counter(s for s, _ in answers)), "answered_s": answered,
            "final": dict(final), "all_done_s": time.monotonic() - t0}


def in_a_row(api: Api, image: bytes, n: int = 200, polite: bool = False) -> dict:
    """``n`` uploads one after the other, not waiting for the jobs (``polite``: after a 429, wait
    ``Retry-After`` seconds and send the same upload again); then every accepted job to its end."""
    t0 = time.monotonic()
    statuses, ids, latencies, retry_after = Counter(), [], {202: [], 429: []}, set()
    i = 0
    while i < n:
        t1 = time.monotonic()
        status, head, body = api.upload(image, f"row-{i}.png")
        latencies.setdefault(status, []).append(time.monotonic() - t1)
        statuses[status] += 1
        if status == 202:
            ids.append(body["id"])
        elif status == 429:
            retry_after.add(head.get("retry-after"))
            if polite:
                time.sleep(float(head.get("retry-after", 1)))
                continue
        i += 1
    answered = time.monotonic() - t0
    final = api.wait_all(ids, timeout=600)
    ms = {status: float(np.median(v) * 1000) if v else float("nan") for status, v in latencies.items()}
    return {"sent": n, "statuses": dict(statuses), "answered_s": answered, "final": dict(final),
            "all_done_s": time.monotonic() - t0, "ms_202": ms[202], "ms_429": ms[429],
            "retry_after": sorted(r for r in retry_after if r)}


def _accepted(answer: tuple[int, dict, dict]) -> str:
    status, _, body = answer
    if status != 202:
        raise SystemExit(f"upload refused: {status} {body}")
    return body["id"]


def wait_status(api: Api, job: str, wanted: str, timeout: float = 120) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if api.json("GET", f"/v1/jobs/{job}")[1].get("status") == wanted:
            return time.monotonic() - t0
        time.sleep(0.05)
    raise RuntimeError(f"job {job} never became {wanted}")


def cancel(api: Api, slow: bytes, small: bytes, workers: int) -> dict:
    """Slow jobs on every worker and a small one waiting; cancel one slow job: the small one's wait."""
    slow_ids = [_accepted(api.upload(slow, f"slow-{i}.png")) for i in range(workers)]
    for job in slow_ids:
        wait_status(api, job, "running")
    small_id = _accepted(api.upload(small, "small.png"))
    t0 = time.monotonic()
    status, body = api.json("DELETE", f"/v1/jobs/{slow_ids[0]}")
    wait_status(api, small_id, "done", timeout=300)
    small_done = time.monotonic() - t0
    others = [api.json("GET", f"/v1/jobs/{j}")[1]["status"] for j in slow_ids[1:]]
    t_other = None
    if workers > 1:
        api.wait_all(slow_ids[1:], timeout=600)
        t_other = time.monotonic() - t0
    return {"cancel_status": status, "cancel_answer": body.get("status"), "small_done_after_cancel_s": small_done,
            "other_slow_jobs_then": others, "other_slow_done_after_cancel_s": t_other,
            "cancelled_state": api.json("GET", f"/v1/jobs/{slow_ids[0]}")[1]["status"]}


def disconnects(api: Api, n: int = 5, size: int = 2 << 20) -> dict:
    """``n`` clients that declare ``size`` bytes, send half and close; then the server must still serve."""
    for _ in range(n):
        body, ctype = multipart(bytes(size), "cut.png")
        with socket.create_connection((HOST, api.port), timeout=10) as s:
            s.sendall(f"POST /v1/jobs HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: {ctype}\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n".encode())
            s.sendall(body[:len(body) // 2])
        time.sleep(0.1)
    time.sleep(0.5)
    return {"clients": n, "healthy_after": api.healthy()}


def bad_inputs(api: Api, good: bytes, max_upload: int) -> list[tuple[str, int, bool]]:
    """Each bad request: (what, status, health 200 after it)."""
    cases = [
        ("empty file", lambda: api.upload(b"", "empty.png")[0]),
        ("text file", lambda: api.upload(b"hello, not pixels", "notes.png")[0]),
        ("truncated PNG", lambda: api.upload(good[: len(good) // 2], "cut.png")[0]),
        ("PNG header of 100000 x 100000 px", lambda: api.upload(png_header_only(100_000, 100_000), "big.png")[0]),
        ("body over the upload limit", lambda: api.upload(bytes(max_upload + 1024), "huge.png")[0]),
        ("multipart without a file", lambda: api.call("POST", "/v1/jobs", *_fields_only())[0]),
        ("not multipart (JSON)", lambda: api.call("POST", "/v1/jobs", b'{"file": 1}',
                                                  {"Content-Type": "application/json"})[0]),
        ("scale 4", lambda: api.upload(good, "a.png", {"scale": "4"})[0]),
        ("mode perceptual", lambda: api.upload(good, "a.png", {"mode": "perceptual"})[0]),
        ("only: unknown family", lambda: api.upload(good, "a.png", {"only": "sparkle"})[0]),
        ("malformed multipart", lambda: api.call("POST", "/v1/jobs", b"--x\r\ngarbage",
                                                 {"Content-Type": "multipart/form-data; boundary=x"})[0]),
        ("unknown job id", lambda: api.call("GET", "/v1/jobs/0123456789abcdef")[0]),
        ("cancel an unknown job", lambda: api.call("DELETE", "/v1/jobs/0123456789abcdef")[0]),
        ("analyze: not an image", lambda: api.upload(b"GIF89a?", "x.gif", path="/v1/analyze")[0]),
    ]
    return [(what, run(), api.healthy()) for what, run in cases]


def _fields_only() -> tuple[bytes, dict]:
    boundary = uuid.uuid4().hex
    body = f'--{boundary}\r\nContent-Disposition: form-data; name="scale"\r\n\r\n1\r\n--{boundary}--\r\n'.encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


# ---------------------------------------------------------------------------------------------- server
def start_server(args, temp: Path) -> tuple[subprocess.Popen, int]:
    port = free_port(HOST)
    cmd = [sys.executable, "-m", "gir.cli", "serve", "--host", HOST, "--port", str(port), "--workers",
           str(args.workers), "--threads", str(args.threads), "--queue", str(args.queue), "--max-upload-mb",
           str(args.max_upload_mb), "--temp-dir", str(temp), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    api = Api(port)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if api.healthy() and api.json("GET", "/v1/health")[1]["workers_ready"] == args.workers:
            return proc, port
        if proc.poll() is not None:
            raise SystemExit(f"gir serve exited: {proc.stderr.read()}")
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("gir serve did not get ready in 120 s")


def server_folder(temp: Path) -> Path | None:
    folders = list(temp.iterdir())
    return folders[0] if len(folders) == 1 else None


# ------------------------------------------------------------------------------------------------ main
def report(args, results: dict, memory: MemorySampler, fives: int, wall: float) -> str:
    mib = lambda b: f"{b / 2**20:.0f} MiB"  # noqa: E731
    b, r, c, d = results["burst"], results["in_a_row"], results["cancel"], results["disconnects"]
    a = results["again"]
    cpu = cpu_name()
    lines = [
        f"Machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
        f"{datetime.now():%Y-%m-%d %H:%M}; "
        f"`gir serve --workers {args.workers} --threads {args.threads} --queue {args.queue} "
        f"--max-upload-mb {args.max_upload_mb}`; command: `nice -n 19 python benchmarks/serve_load.py "
        f"--workers {args.workers} --threads {args.threads} --queue {args.queue}`; {wall:.0f} s in all.", "",
        "| phase | sent | answers | jobs finished | time |", "|---|---:|---|---|---:|",
        f"| 16 uploads at once ({args.burst_side} px, noise) | {b['sent']} | {_counts(b['statuses'])} | "
        f"{_counts(b['final'])} | answered in {b['answered_s']:.2f} s, all done in {b['all_done_s']:.1f} s |",
        f"| 200 in a row ({args.row_side} px) | {r['sent']} | {_counts(r['statuses'])} (Retry-After "
        f"{', '.join(r['retry_after']) or '-'} s) | {_counts(r['final'])} | answered in {r['answered_s']:.2f} s "
        f"(median {r['ms_202']:.0f} ms for a 202, {r['ms_429']:.1f} ms for a 429), all done in "
        f"{r['all_done_s']:.1f} s |",
        f"| cancel a running job ({args.slow_side} px, noise) | - | DELETE {c['cancel_status']} "
        f"({c['cancel_answer']}) | waiting small job done {c['small_done_after_cancel_s']:.1f} s after the "
        f"cancel; the other slow job {_other(c)} | - |",
        f"| 200 in a row after the faults, each 429 retried after Retry-After | {a['sent']} | "
        f"{_counts(a['statuses'])} | {_counts(a['final'])} | all done in {a['all_done_s']:.1f} s |",
        f"| clients that leave mid-upload (half of 2 MiB) | {d['clients']} | - | server healthy after: "
        f"{d['healthy_after']} | - |", "",
        "| bad input | status | /v1/health after |", "|---|---:|---|",
        *[f"| {what} | {status} | {'200' if ok else 'FAILED'} |" for what, status, ok in results["bad"]], "",
        f"Memory (RSS of the server and its workers): {mib(memory.marks['ready'])} ready, "
        f"{mib(memory.marks['after burst'])} after the burst, {mib(memory.marks['after in a row'])} after the 200, "
        f"{mib(memory.marks['after the faults'])} after the slow jobs and the faults, {mib(memory.marks['end'])} "
        f"after 200 more, peak {mib(memory.peak)}. Answers with a 5xx status: {fives}. "
        f"Server folder: {results['leftover']}.",
    ]
    return "\n".join(lines)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def _counts(counter: dict) -> str:
    return ", ".join(f"{v} x {k}" for k, v in sorted(counter.items(), key=str) if v) or "-"


def _other(c: dict) -> str:
    if c["other_slow_done_after_cancel_s"] is None:
        return "(one worker)"
    then = ", ".join(c["other_slow_jobs_then"])
    return f"was {then} then and done {c['other_slow_done_after_cancel_s']:.1f} s after it"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--queue", type=int, default=16)
    ap.add_argument("--max-upload-mb", type=int, default=16)
    ap.add_argument("--burst-side", type=int, default=128, help="side of the burst's noisy photos (px)")
    ap.add_argument("--row-side", type=int, default=64, help="side of the 200 photos (px)")
    ap.add_argument("--slow-side", type=int, default=2048, help="side of the slow jobs' photos (px)")
    ap.add_argument("--append", help="also append the report to this file")
    args = ap.parse_args()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gir-serve-load-") as tmp:
        temp = Path(tmp)
        proc, port = start_server(args, temp)
        api = Api(port)
        memory = MemorySampler(proc.pid)
        memory.start()
        memory.mark("ready")
        try:
            results = {"burst": burst(api, [photo(args.burst_side, 25, s) for s in range(4)])}
            memory.mark("after burst")
            results["in_a_row"] = in_a_row(api, photo(args.row_side, 0, 0))
            memory.mark("after in a row")
            results["cancel"] = cancel(api, photo(args.slow_side, 25, 9), photo(args.row_side, 0, 1), args.workers)
            results["disconnects"] = disconnects(api)
            results["bad"] = bad_inputs(api, photo(args.row_side, 0, 2), args.max_upload_mb << 20)
            memory.mark("after the faults")
            results["again"] = in_a_row(api, photo(args.row_side, 0, 3), polite=True)
            memory.mark("end")
            folder = server_folder(temp)
            kept = api.json("GET", "/v1/health")[1]["jobs_kept"]
            on_disk = len([p for p in folder.iterdir()]) if folder else -1
            stray = [str(p.relative_to(folder)) for p in folder.rglob("*")
                     if p.is_file() and not p.parent.name == "out" and not p.name.startswith("input.")]
        finally:
            memory.stop.set()
            proc.terminate()
            proc.wait(timeout=60)
        after_stop = list(temp.iterdir())
    results["leftover"] = (f"{on_disk} job folders for {kept} jobs kept; files other than inputs and results: "
                           f"{len(stray)}; after the server stopped: {len(after_stop)} entries")
    fives = sum(v for k, v in api.statuses.items() if k >= 500)
    emit(report(args, results, memory, fives, time.monotonic() - t0), args.append)


if __name__ == "__main__":
    main()
