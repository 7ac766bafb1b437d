"""A Celery worker whose tasks run at the moment the test wrote in a file: moved clocks across processes.

The test process cannot move a worker's clock with time-machine (another process), so the worker moves its own:
before each task it reads the file named by ATELIER_TEST_CLOCK and, if it holds an ISO moment, freezes its clock
there for that task only (the broker's own bookkeeping keeps the real time). Started by
tests/journeys/conftest.py as `python -m tests.journeys.clocked_worker -A config worker ...`.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import time_machine
from celery.signals import task_postrun, task_prerun

_travels: list[time_machine.travel] = []


@task_prerun.connect
def _move_clock(**_kwargs) -> None:
    moment = Path(os.environ["ATELIER_TEST_CLOCK"]).read_text().strip()
    if moment:
        travel = time_machine.travel(dt.datetime.fromisoformat(moment), tick=False)
        travel.start()
        _travels.append(travel)


@task_postrun.connect
def _restore_clock(**_kwargs) -> None:
    while _travels:
        _travels.pop().stop()


if __name__ == "__main__":
    from celery.__main__ import main

    sys.argv = ["celery", *sys.argv[1:]]
    sys.exit(main())
