"""`make bench-scrape`: the concurrent downloader against one-at-a-time (the seed's way).

The fixture image host adds 20 ms to every image response, as a remote host would. Both sides
download the same sources into a fresh store through the same validation and deduplication;
we count images stored per second, the share of duplicates caught, and RSS as the count grows.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time

from scraper.download import Downloader
from scraper.engines import Source
from scraper.image_store import QueryImages
from scraper.job import EngineReport, _download_all
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
    first = server.stdout.readline()  # its engine URLs, once it listens
    base = first.split("google=")[1].split("/google")[0]
    print("| downloader | images | stored/s | seconds | duplicates caught | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    rows: dict[str, dict[str, float]] = {}
    for label, n, workers in (
        ("sequential (seed)", 200, 1),
        ("16 workers", 200, 16),
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
    server.terminate()


if __name__ == "__main__":
    main()
