"""Running test work on several connections at once (race and fairness tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections


def in_parallel(workers: int, work: Callable[[int], object]) -> None:
    """Run `work(n)` for n in range(workers) in threads released together (each on its own
    connection, closed at its end); any exception fails the test."""
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            work(n)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
