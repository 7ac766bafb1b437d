"""Cleaning a file's rows on the machine's other cores while the main process matches and writes them.

Cleaning a row (parsing dates, phones, emails …) is pure Python and needs no database, so it parallelizes; matching
and writing need the one transaction and stay in the main process. Each worker process reads the file itself and
prepares every K-th chunk (K workers), so only the prepared results cross a pipe, never the rows; the main process
reads the file too, for the rows it reports, and takes each chunk's results from its worker in file order.
Queues hold at most QUEUE_DEPTH chunks per worker: memory stays bounded whatever the file size.

Workers are forked: they inherit the import's context (boutiques, advisors …) and never touch the database (a
forked process must not use its parent's connection). They run only for a file on disk (a stream's position would
be shared with the parent) larger than PARALLEL_MIN_BYTES, and never from a daemonic process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings

from imports.pipeline.state import _chunks
from imports.reader import SourceRow, SourceTable

logger = logging.getLogger(__name__)

QUEUE_DEPTH = 2
# Below this a file is a few chunks at most: forking would cost more than it saves.
PARALLEL_MIN_BYTES = 4 * 1024 * 1024
POLL_SECONDS = 1.0

Prepare = Callable[[list[SourceRow]], Any]


def worker_count() -> int:
    """How many processes clean rows: IMPORT_WORKERS, or one per core but the one that writes (at least one)."""
    configured = getattr(settings, "IMPORT_WORKERS", None)
    if configured is not None:
        return max(0, int(configured))
    return max(1, (os.cpu_count() or 1) - 1)


def prepared_chunks(
    table: SourceTable, chunk_size: int, prepare: Prepare, *, workers: int | None = None
) -> Iterator[tuple[list[SourceRow], Any]]:
    """The file's chunks in order, each with `prepare(chunk)`, computed by worker processes when worth it."""
    workers = worker_count() if workers is None else workers
    if workers < 1 or not _worth_forking(table):
        for chunk in _chunks(table, chunk_size):
            yield chunk, prepare(chunk)
        return
    yield from _in_workers(table, chunk_size, prepare, workers)


def _worth_forking(table: SourceTable) -> bool:
    path = table.path
    if path is None or multiprocessing.current_process().daemon:
        return False
    try:
        return path.stat().st_size >= PARALLEL_MIN_BYTES
    except OSError:
        return False


def _in_workers(
    table: SourceTable, chunk_size: int, prepare: Prepare, workers: int
) -> Iterator[tuple[list[SourceRow], Any]]:
    context = multiprocessing.get_context("fork")
    queues = [context.Queue(maxsize=QUEUE_DEPTH) for _ in range(workers)]
    processes = [
        context.Process(target=_work, args=(table, chunk_size, prepare, index, workers, queues[index]), daemon=True)
        for index in range(workers)
    ]
    for process in processes:
        process.start()
    logger.info("imports.parallel workers=%s", workers)
    try:
        for number, chunk in enumerate(_chunks(table, chunk_size)):
            yield chunk, _receive(queues[number % workers], processes[number % workers], number)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
            process.join()
        for channel in queues:
            channel.close()
            channel.cancel_join_thread()


def _receive(channel: Any, process: Any, number: int) -> Any:
    while True:
        try:
            received, result = channel.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if not process.is_alive():
                raise RuntimeError(
                    f"The process cleaning chunk {number} stopped (exit code {process.exitcode})."
                ) from None
            continue
        if received == "failed":
            # The main process reads the same file and meets the same problem (an undecodable line …) first;
            # anything else is a defect in cleaning, reported as such.
            raise RuntimeError(f"Cleaning chunk {number} failed: {result}")
        assert received == number, (received, number)
        return result


def _work(table: SourceTable, chunk_size: int, prepare: Prepare, index: int, workers: int, channel: Any) -> None:
    try:
        for number, chunk in enumerate(_chunks(table, chunk_size)):
            if number % workers == index:
                channel.put((number, prepare(chunk)))
    except Exception as error:  # the parent reports it; a worker has no one else to tell
        channel.put(("failed", f"{type(error).__name__}: {error}"))
