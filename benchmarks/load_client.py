"""A small HTTP load client for when `wrk` is not installed: `python -m benchmarks.load_client
URL SECONDS CONNECTIONS [HEADER …]` keeps CONNECTIONS keep-alive connections busy (one thread
each) for SECONDS and prints `Requests/sec: N` as wrk does. Runs in a process of its own."""

import http.client
import sys
import threading
import time
from urllib.parse import urlsplit


def main(url: str, seconds: float, connections: int, headers: list[str]) -> None:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    extra = dict(h.split(": ", 1) for h in headers)
    counts = [0] * connections
    errors = [0] * connections
    stop = time.monotonic() + seconds

    def run(slot: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        while time.monotonic() < stop:
            conn.request("GET", target, headers=extra)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                counts[slot] += 1
            else:
                errors[slot] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    print(f"Non-2xx or 3xx responses: {sum(errors)}")
    print(f"Requests/sec: {sum(counts) / elapsed:.2f}")


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
