"""`make bench-scrape`: the concurrent downloader against one-at-a-time (the seed's way).

The fixture image host adds 20 ms to every image response, as a remote host would. Both sides
download the same sources into a fresh store through the same validation and deduplication;
we count images stored per second, the share of duplicates caught, and RSS as the count grows.
A second table profiles the CPU each step costs per image: on 2 cores those set the ceiling.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from scraper.download import Downloader
from scraper.engines import Source
from scraper.image_store import QueryImages, decode_for_hash
from scraper.job import EngineReport, _download_all
from traygo.images.decode import decode
from traygo.images.hashing import phash, sha256_hex
from traygo.store import open_store


def sources(base: str, n: int) -> list[Source]:
    """n results spread over 8 hosts (127.0.0.1-8, all loopback) as real results are; every
    fifth repeats an earlier picture, every seventh is an earlier one as its thumbnail."""
    port = base.rsplit(":", 1)[1]
    out = []
    for i in range(n):
        base = f"http://127.0.0.{1 + i % 8}:{port}"
        name = f"b{i - 1}" if i % 5 == 4 else f"b{i}"
        full = f"{base}/thumb/b{i - 2}.jpg" if i % 7 == 6 else f"{base}/img/{name}.jpg"
        out.append(Source("bench", full, None, None))
    return out


def measure(base: str, n: int, workers: int) -> dict[str, float]:
    store = open_store(tempfile.mkdtemp(prefix="traygo-bench-scrape-"))
    images = QueryImages(store, "bench")
    report = EngineReport("bench", "bench")
    started = time.perf_counter()
    _download_all(
        sources(base, n),
        images,
        Downloader(pool_size=workers, allow_loopback=True),
        workers,
        report,
    )
    seconds = time.perf_counter() - started
    dupes = report.skipped["duplicate"] + report.skipped["near_duplicate"]
    pictures = [s.full.rsplit("/", 1)[1] for s in sources(base, n)]
    expected = len(pictures) - len(set(pictures))  # the same picture, any size
    return {
        "stored": report.stored,
        "per_s": report.stored / seconds,
        "seconds": seconds,
        "dupes_caught": dupes / max(1, expected),
        "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def stage_profile(base: str, n: int = 100) -> dict[str, float]:
    """CPU ms per image of each step a worker takes, on one thread (thread_time: the 20 ms the
    host waits is not CPU). On 2 cores, with the GIL, these set the concurrent ceiling."""
    downloader = Downloader(allow_loopback=True)
    steps = ("GET (traygo.net fetch)", "full decode (seed)", "phash of full decode (seed)")
    steps += ("draft decode", "phash of draft decode", "sha256")
    bodies, cpu = [], dict.fromkeys(steps, 0.0)
    for source in sources(base, n):
        started = time.thread_time()
        fetched = downloader.fetch(source.full)
        if fetched.data is None:
            raise SystemExit(f"the fixture host failed {source.full}: {fetched.reason}")
        bodies.append(fetched.data)
        cpu["GET (traygo.net fetch)"] += time.thread_time() - started
    for data in bodies:
        full = _timed(cpu, "full decode (seed)", decode, data)
        _timed(cpu, "phash of full decode (seed)", phash, full)
        small, _ = _timed(cpu, "draft decode", decode_for_hash, data)
        _timed(cpu, "phash of draft decode", phash, small)
        _timed(cpu, "sha256", sha256_hex, data)
    return {step: seconds * 1000 / n for step, seconds in cpu.items()}


def _timed(cpu: dict[str, float], step: str, fn: Callable[[Any], Any], arg: Any) -> Any:
    started = time.thread_time()
    out = fn(arg)
    cpu[step] += time.thread_time() - started
    return out


def main() -> None:
    # the image host runs in its own process, so its work does not share our GIL
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.scraper.fixture_site",
            "--port",
            "0",
            "--delay-ms",
            "20",
            "--host",
            "0.0.0.0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = server.stdout.readline()  # its engine URLs, once it listens
        report(first.split("google=")[1].split("/google")[0])
    finally:
        server.terminate()


def report(base: str) -> None:
    print("| downloader | images | stored/s | seconds | duplicates caught | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    rows: dict[str, dict[str, float]] = {}
    for label, n, workers in (
        ("sequential (seed)", 200, 1),
        ("8 workers", 200, 8),
        ("16 workers", 200, 16),
        ("32 workers", 200, 32),
        ("16 workers", 400, 16),
        ("16 workers", 800, 16),
    ):
        r = measure(base, n, workers)
        rows[f"{label}-{n}"] = r
        print(
            f"| {label} | {n} | {r['per_s']:.1f} | {r['seconds']:.2f} | "
            f"{r['dupes_caught']:.0%} | {r['rss_mib']:.0f} |"
        )
    speedup = rows["16 workers-200"]["per_s"] / rows["sequential (seed)-200"]["per_s"]
    print(f"16 workers vs sequential on the same 200 sources: {speedup:.1f}x")
    print("\n| step, one thread | CPU ms per image |\n|---|---|")
    for step, ms in stage_profile(base).items():
        print(f"| {step} | {ms:.2f} |")


if __name__ == "__main__":
    main()
