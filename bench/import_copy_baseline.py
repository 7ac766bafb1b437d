"""The physical limit of an import: PostgreSQL COPY of a legacy file into a bare table, no parsing in Python.

    .venv/bin/python bench/import_copy_baseline.py FILE [FILE ...] [--database atelier_bench_files_copy] [--keep]

Each file goes into its own bare table (one text column per header cell, no constraint, no index) of a scratch
database created on the server the settings point at (as bench/seed.py), and dropped at the end unless --keep.
Each file is copied in its own child process, so each peak memory figure is its own (this process only: the
server's memory does not count). The peak is VmHWM from /proc/self/status: Linux carries ru_maxrss over fork and
exec, so a child's ru_maxrss is never below its parent's peak (Django and all); ru_maxrss is reported beside it.
The import benchmark prints these figures next to the importer's.

`copy_file` is the measure itself, for any psycopg 3 connection: the file streams through `cursor.copy()` in
1 MiB blocks, with the encoding and delimiter detected (or given). COPY refuses blank lines (“missing data for
column”), which real exports have; they are dropped from the stream on the way, and counted, at the cost of one
regular expression per block, inside the timing. A blank line inside a quoted multi-line cell would be dropped
too: bench.legacy_files never writes one.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import io
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import psycopg
from psycopg import sql

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

BLOCK_SIZE = 1 << 20
SAMPLE_SIZE = 64 * 1024
DEFAULT_DATABASE = "atelier_bench_files_copy"
RESULT_MARKER = "BENCH-RESULT "
CONNINFO_VARIABLE = "ATELIER_BENCH_COPY_CONNINFO"  # passed to the child in the environment: no password in argv
# Python's codec names to PostgreSQL's client encodings.
PG_ENCODINGS = {"utf-8": "UTF8", "utf-8-sig": "UTF8", "cp1252": "WIN1252", "iso8859-1": "LATIN1",
                "iso8859-15": "LATIN9"}
# A line break followed by one or more empty lines: the empty lines go.
_BLANK_LINES = re.compile(rb"\n(?:\r?\n)+")


@dataclass(frozen=True)
class CopyResult:
    """One COPY of one file: what went in, how long it took, and the peak memory of this process."""

    path: str
    table: str
    encoding: str
    delimiter: str
    columns: int
    rows: int
    blank_lines: int
    bytes: int
    seconds: float
    peak_mb: float  # VmHWM: the peak resident memory of this process image
    ru_maxrss_mb: float  # getrusage(RUSAGE_SELF).ru_maxrss: the same, or the parent's peak if that was higher

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def megabytes_per_second(self) -> float:
        return self.bytes / 2**20 / self.seconds if self.seconds else 0.0


def ru_maxrss_mb() -> float:
    """getrusage's peak resident memory (Linux reports ru_maxrss in kilobytes), inherited over fork and exec."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_memory_mb() -> float:
    """This process image's peak resident memory (VmHWM), or ru_maxrss where /proc is not there."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return ru_maxrss_mb()


def detect_format(path: str | Path) -> tuple[str, str, list[str]]:
    """The file's encoding (BOM, else UTF-8 if its start decodes, else cp1252), delimiter and header cells."""
    with open(path, "rb") as handle:
        sample = handle.read(SAMPLE_SIZE)
    if sample.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    else:
        try:
            # Incremental, not final: a character cut at the end of the sample is no reason to doubt UTF-8.
            codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "cp1252"
    text = sample.decode(encoding, errors="replace")
    header_line = text.lstrip("\r\n").splitlines()[0] if text.strip() else ""
    delimiter = max((",", ";", "\t", "|"), key=header_line.count)
    header = next(csv.reader(io.StringIO(header_line), delimiter=delimiter), [])
    return encoding, delimiter, header


def _without_blank_lines(handle: IO[bytes], block_size: int) -> Iterator[tuple[bytes, int]]:
    """The file's bytes in blocks of about `block_size`, blank lines removed: (block, blank lines it had).

    Each block ends at a line break (the rest waits for the next), so every block starts a line.
    """
    carry = b""
    while block := handle.read(block_size):
        data = carry + block
        cut = data.rfind(b"\n") + 1
        if not cut:
            carry = data
            continue
        head, carry = data[:cut], data[cut:]
        # The "\n" put in front lets a block that starts with an empty line match too; it is taken off again.
        kept = _BLANK_LINES.sub(b"\n", b"\n" + head)[1:]
        yield kept, head.count(b"\n") - kept.count(b"\n")
    if carry.strip():
        yield carry, 0


def copy_file(
    connection: psycopg.Connection, path: str | Path, *, table: str = "legacy_copy", encoding: str | None = None,
    delimiter: str | None = None, block_size: int = BLOCK_SIZE, commit: bool = False,
) -> CopyResult:
    """COPY `path` into a new bare table `table` on `connection`, timed from the first block to the last (and the
    commit, when `commit`), and say how many rows went in.

    The table is created in the connection's current transaction; with `commit` false the caller decides its fate.
    """
    detected_encoding, detected_delimiter, header = detect_format(path)
    encoding = codecs.lookup(encoding or detected_encoding).name
    delimiter = delimiter or detected_delimiter
    if encoding not in PG_ENCODINGS:
        raise ValueError(f"No PostgreSQL encoding known for {encoding!r}; add it to PG_ENCODINGS.")
    if not header:
        raise ValueError(f"{path} has no header line.")
    columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(f"column_{n}"))
                                 for n in range(1, len(header) + 1))
    connection.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(table), columns))
    statement = sql.SQL("COPY {} FROM STDIN WITH (FORMAT csv, HEADER true, DELIMITER {}, ENCODING {})").format(
        sql.Identifier(table), sql.Literal(delimiter), sql.Literal(PG_ENCODINGS[encoding]))
    blank_lines = 0
    began = time.perf_counter()
    with open(path, "rb", buffering=0) as handle, connection.cursor() as cursor:
        with cursor.copy(statement) as copy:
            for block, blanks in _without_blank_lines(handle, block_size):
                copy.write(block)
                blank_lines += blanks
        rows = cursor.rowcount
    if commit:
        connection.commit()
    seconds = time.perf_counter() - began
    return CopyResult(path=str(path), table=table, encoding=encoding, delimiter=delimiter, columns=len(header),
                      rows=rows, blank_lines=blank_lines, bytes=Path(path).stat().st_size, seconds=seconds,
                      peak_mb=peak_memory_mb(), ru_maxrss_mb=ru_maxrss_mb())


# --- Command line ----------------------------------------------------------------------------------------------


def _phase(path: str, table: str) -> dict[str, Any]:
    """In a child process: COPY one file on the connection the parent passed in the environment."""
    with psycopg.connect(os.environ[CONNINFO_VARIABLE]) as connection:
        result = copy_file(connection, path, table=table, commit=True)
        (count,) = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    if count != result.rows:
        raise RuntimeError(f"COPY reported {result.rows} rows but the table holds {count}.")
    return asdict(result)


def _child(path: Path, table: str, conninfo: str) -> CopyResult:
    command = [sys.executable, __file__, "--phase", str(path), "--table", table]
    completed = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True,
                               env={**os.environ, CONNINFO_VARIABLE: conninfo})
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return CopyResult(**json.loads(line[len(RESULT_MARKER):]))
    raise RuntimeError(f"The COPY of {path} printed no result:\n{completed.stdout}")


def print_results(results: list[CopyResult]) -> None:
    """A table of COPY figures, one line per file, for the benchmarks to print next to their own."""
    print(f"{'COPY into a bare table':<34}{'rows':>12}{'MiB':>9}{'seconds':>9}{'rows/s':>11}{'MiB/s':>8}"
          f"{'peak MB':>9}{'maxrss':>8}")
    for result in results:
        print(f"{Path(result.path).name:<34}{result.rows:>12,}{result.bytes / 2**20:>9,.1f}{result.seconds:>9.2f}"
              f"{result.rows_per_second:>11,.0f}{result.megabytes_per_second:>8.1f}{result.peak_mb:>9.0f}"
              f"{result.ru_maxrss_mb:>8.0f}")


def main() -> None:
    """The command line: a scratch database, one child process per file, a table of figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="Scratch database (dropped and created).")
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database at the end.")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--table", default="legacy_copy", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.phase:
        print(RESULT_MARKER + json.dumps(_phase(arguments.phase, arguments.table)), flush=True)
        return
    if not arguments.files:
        parser.error("name at least one file.")

    from bench.seed import _drop_database, _recreate_database, _setup_django

    _setup_django()
    from django.conf import settings

    params = settings.DATABASES["default"]
    if params["NAME"] == arguments.database:
        raise SystemExit(f"The scratch database {arguments.database!r} is the configured database; choose another.")
    conninfo = psycopg.conninfo.make_conninfo(
        dbname=arguments.database, user=params.get("USER") or None, password=params.get("PASSWORD") or None,
        host=params.get("HOST") or None, port=params.get("PORT") or None)
    version = _recreate_database(arguments.database)
    where = f"{params.get('HOST') or 'local socket'}:{params.get('PORT') or 5432}"
    print(f"Scratch database {arguments.database} on PostgreSQL {version} at {where}. "
          f"Python {platform.python_version()}, {os.cpu_count()} CPUs.")
    results = []
    try:
        for number, path in enumerate(arguments.files, start=1):
            results.append(_child(path, f"legacy_copy_{number}", conninfo))
    finally:
        if arguments.keep:
            print(f"Kept the scratch database {arguments.database}.")
        else:
            _drop_database(arguments.database)
    print()
    print_results(results)
    for result in results:
        if result.blank_lines:
            print(f"{Path(result.path).name}: {result.blank_lines:,} blank lines dropped (COPY refuses them).")


if __name__ == "__main__":
    main()
