"""Reading a legacy file as it comes: CSV in any common encoding and delimiter, or an Excel workbook (.xlsx),
streamed row by row, line numbers kept.

    table = open_source("clients.csv", fields=CUSTOMER_FIELDS, mapping=ColumnMapping.from_file("mapping.yaml"))
    for row in table:            # SourceRow(line=2, values={"email": ...}, raw={"Courriel": ...})
        ...

Nothing here writes to the database or judges a value: the import pipeline parses and validates `values`,
and reports errors with `line` and the file's own column name (`table.header_for[field]`).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import itertools
import os
import shutil
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple
from xml.etree.ElementTree import ParseError
from xml.parsers import expat

import openpyxl
from django.conf import settings
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from core.errors import ApplicationError
from imports.mapping import ColumnMapping, header_key

# Enough to see the header and a few dozen rows; the encoding guess looks at this much of the file.
SAMPLE_SIZE = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SNIFF_LINES = 50
# csv.Sniffer's regular expressions get slow on long inputs; this is plenty to judge a delimiter.
SNIFF_CHARACTERS = 16 * 1024
READ_BUFFER = 1024 * 1024
ZIP_MAGIC = b"PK\x03\x04"
# An upload that cannot seek is spooled before openpyxl reads it: in memory up to this size, then on disk.
SPOOL_IN_MEMORY = 16 * 1024 * 1024
# A part of a workbook may unpack to this many times its packed size (XML of a real sheet packs 5 to 30 times; a
# zip bomb packs a thousand times), once it unpacks to more than ZIP_RATIO_FROM bytes. Apache POI's rule.
ZIP_MAX_RATIO = 100
ZIP_RATIO_FROM = 1024 * 1024
# What openpyxl raises on a zip archive or XML it cannot read.
WORKBOOK_ERRORS = (zipfile.BadZipFile, KeyError, InvalidFileException, ValueError, OSError, ParseError, TypeError)
BOMS = (
    # UTF-32 first: its little-endian BOM begins with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class SourceRow(NamedTuple):
    """One row of the file: where it starts, its cells by Atelier field (stripped) and by the file's header.

    `extra` holds the cells beyond the last header (trailing blank ones dropped), for the pipeline to flag.
    """

    line: int
    values: dict[str, str]
    raw: dict[str, str]
    extra: tuple[str, ...] = ()


class Deadline:
    """A time bound on reading a file, checked as each row is read: a run in a web request (the admin's preview and
    import of a small upload) must end, whatever the file holds."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._expires_at = time.monotonic() + seconds

    @classmethod
    def inline(cls) -> Deadline:
        """The bound of a run in the admin's request: IMPORT_INLINE_MAX_SECONDS."""
        return cls(settings.IMPORT_INLINE_MAX_SECONDS)

    def check(self) -> None:
        if time.monotonic() >= self._expires_at:
            raise ApplicationError(
                f"Reading this file in the page took longer than {self.seconds:g} seconds (IMPORT_INLINE_MAX_SECONDS), "
                "so it was stopped and nothing was written. Save it as CSV without what it does not need (empty rows "
                "and columns, other sheets), or import it from the command line.",
                extra={"seconds": self.seconds},
            )


class SourceTable:
    """A legacy file opened for reading: how it was read (encoding, delimiter, columns) and its rows.

    Iterating streams the rows from the file; iterating again reads the file again (a caller's stream must be
    seekable for that).
    """

    def __init__(
        self,
        *,
        origin: _Origin,
        encoding: str,
        delimiter: str,
        headers: list[str],
        header_line: int,
        positions: dict[str, int],
        mapping: ColumnMapping,
        deadline: Deadline | None = None,
    ) -> None:
        self._origin = origin
        self.deadline = deadline
        self.encoding = encoding
        self.delimiter = delimiter
        self.headers = headers
        self.header_line = header_line
        self.mapping = mapping
        by_position = sorted(positions.items(), key=lambda item: item[1])
        self.mapped: dict[str, str] = {headers[position]: field for field, position in by_position}
        self.header_for: dict[str, str] = {field: headers[position] for field, position in by_position}
        used = set(positions.values())
        self.ignored_headers: list[str] = [header for position, header in enumerate(headers) if position not in used]
        self._positions = by_position
        self._raw_keys = _unique_keys(headers)

    @property
    def path(self) -> Path | None:
        """The file on disk, when the table was opened from a path (not from a stream)."""
        return self._origin.path

    def __repr__(self) -> str:
        return f"<SourceTable {self.encoding} {DELIMITER_NAMES.get(self.delimiter, self.delimiter)} {self.mapped}>"

    def __iter__(self) -> Iterator[SourceRow]:
        text = io.TextIOWrapper(self._origin.open(), encoding=self.encoding, newline="", errors="strict")
        try:
            yield from self._rows(text)
        finally:
            text.close()

    def _rows(self, text: io.TextIOWrapper) -> Iterator[SourceRow]:
        # newline="" on the wrapper and a reader over its lines: reader.line_num counts physical lines, also
        # those inside quoted cells, so each row knows the line it starts on.
        reader = csv.reader(text, delimiter=self.delimiter, strict=False)
        last_line = 0
        try:
            for cells in reader:
                if self.deadline is not None:
                    self.deadline.check()
                line, last_line = last_line + 1, reader.line_num
                if line > self.header_line and "".join(cells).strip():
                    yield self._row(line, cells)
        except UnicodeDecodeError as exc:
            raise _decode_error(exc, self.encoding, lines_read=reader.line_num) from None
        except csv.Error as exc:
            raise _csv_error(exc, line=last_line + 1) from None

    def _row(self, line: int, cells: list[str]) -> SourceRow:
        width = len(self.headers)
        extra: tuple[str, ...] = ()
        if len(cells) < width:
            cells.extend([""] * (width - len(cells)))
        elif len(cells) > width:
            extra = tuple(cells[width:])
            while extra and not extra[-1].strip():
                extra = extra[:-1]
        values = {field: cells[position].strip() for field, position in self._positions}
        if self.mapping.constants:
            values.update(self.mapping.constants)
        return SourceRow(line, values, dict(zip(self._raw_keys, cells, strict=False)), extra)


class WorkbookTable(SourceTable):
    """An Excel workbook (.xlsx) opened for reading: its first sheet, row numbers as line numbers.

    Cells are turned into the text a CSV export would hold (numbers without float noise, dates ISO 8601, yes/no
    as true/false), so that every kind cleans a workbook's rows exactly as it cleans a CSV file's.
    """

    def __iter__(self) -> Iterator[SourceRow]:
        with self._origin.open_seekable() as stream, _workbook(stream, self.deadline) as sheet:
            for line, values in _sheet_rows(sheet, self.deadline):
                if line > self.header_line:
                    cells = [_cell_text(value) for value in values]
                    if "".join(cells).strip():
                        yield self._row(line, cells)


def open_source(
    source: str | Path | BinaryIO,
    *,
    fields: Iterable[str],
    mapping: ColumnMapping | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    require_match: bool = True,
    deadline: Deadline | None = None,
) -> SourceTable:
    """Open a legacy CSV file: settle its encoding, delimiter and columns, and return its rows as a SourceTable.

    `encoding` and `delimiter` win when given; otherwise a BOM, then strict UTF-8, then Windows-1252 decide the
    encoding, and the delimiter is sniffed among comma, semicolon, tab and pipe. Headers are matched to the
    mapping's columns, then to the field names themselves, ignoring case, a BOM and surrounding spaces. A file none
    of whose columns match is refused, unless `require_match` is False (the admin's mapping form reads its headers).
    With a `deadline`, reading (the header now, the rows later) stops with an ApplicationError once it has passed.
    """
    fields = set(fields)
    mapping = mapping or ColumnMapping()
    mapping.validate_for(fields)
    origin = _Origin(source)
    if origin.sample.startswith(ZIP_MAGIC):
        return _open_workbook(origin, fields=fields, mapping=mapping, require_match=require_match, deadline=deadline)
    encoding = _choose_encoding(origin, encoding)
    text = _sample_text(origin, encoding)
    delimiter = _choose_delimiter(text, delimiter)
    headers, header_line = _read_header(text, delimiter, complete=origin.at_eof)
    positions = _match_headers(headers, fields=fields, mapping=mapping, require_match=require_match)
    return SourceTable(
        origin=origin,
        encoding=encoding,
        delimiter=delimiter,
        headers=headers,
        header_line=header_line,
        positions=positions,
        mapping=mapping,
        deadline=deadline,
    )


def workbook_check(stream: BinaryIO, *, deadline: Deadline | None = None) -> None:
    """Refuse, with the reason, an Excel workbook whose parts or first sheet are beyond what an import reads (the
    checks open_source makes before reading a row): the upload form's check, before the file is stored. A file that
    is not a zip archive passes (it is read as CSV later). The stream is put back where it was."""
    start = stream.tell()
    try:
        if _read_up_to(stream, len(ZIP_MAGIC)) != ZIP_MAGIC:
            return
        stream.seek(start)
        with _workbook(stream, deadline):
            pass
    finally:
        stream.seek(start)


class _Origin:
    """Where the bytes come from: a path, opened afresh for every pass, or the caller's stream, which is rewound
    when it can be and never closed (it belongs to the caller)."""

    def __init__(self, source: str | Path | BinaryIO) -> None:
        self.path: Path | None = None
        self.stream: BinaryIO | None = None
        self.start: int | None = None
        self.passes = 0
        if isinstance(source, str | os.PathLike):
            self.path = Path(source)
            try:
                with open(self.path, "rb") as stream:
                    head = _read_up_to(stream, SAMPLE_SIZE + 1)
            except FileNotFoundError:
                raise ApplicationError(f"{self.path} does not exist.") from None
            except IsADirectoryError:
                raise ApplicationError(f"{self.path} is a folder, not a file.") from None
        else:
            self.stream = source
            if _is_seekable(source):
                self.start = source.tell()
            head = _read_up_to(source, SAMPLE_SIZE + 1)
        # What was read from a stream that cannot be rewound is replayed in front of the rest on the first pass.
        self.head = head
        self.sample = head[:SAMPLE_SIZE]
        self.at_eof = len(head) <= SAMPLE_SIZE

    def make_rewindable(self) -> None:
        """Spool a stream that cannot be rewound (a workbook is read twice: its header, then its rows)."""
        if self.path is not None or self.start is not None:
            return
        spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 (lives with the table)
        with self.open() as stream:
            shutil.copyfileobj(stream, spooled)
        spooled.seek(0)
        self.stream, self.start = spooled, 0  # type: ignore[assignment]

    @contextlib.contextmanager
    def open_seekable(self) -> Iterator[BinaryIO]:
        """The bytes with random access (a zip archive needs it); call make_rewindable first for a stream."""
        if self.path is not None:
            with open(self.path, "rb") as stream:
                yield stream
            return
        assert self.stream is not None
        assert self.start is not None
        self.stream.seek(self.start)
        yield self.stream  # the caller's: not closed here

    def open(self) -> io.BufferedIOBase:
        if self.path is not None:
            return open(self.path, "rb", buffering=READ_BUFFER)  # noqa: SIM115 (closed by the caller's wrapper)
        assert self.stream is not None
        if self.start is not None:
            self.stream.seek(self.start)
            prefix = b""
        elif self.passes == 0:
            prefix = self.head
        else:
            raise ApplicationError("This upload cannot be rewound, so it can be read only once.")
        self.passes += 1
        return io.BufferedReader(_ReplayingStream(self.stream, prefix), buffer_size=READ_BUFFER)


class _ReplayingStream(io.RawIOBase):
    """The caller's stream, with bytes already taken from it put back in front; closing it leaves the stream open."""

    def __init__(self, stream: BinaryIO, prefix: bytes) -> None:
        super().__init__()
        self._stream = stream
        self._prefix = prefix

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._prefix:
            count = min(len(buffer), len(self._prefix))
            buffer[:count] = self._prefix[:count]
            self._prefix = self._prefix[count:]
            return count
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _is_seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    """Read `size` bytes unless the stream ends first (a raw stream or socket may return fewer per read)."""
    chunks, total = [], 0
    while total < size:
        chunk = stream.read(size - total)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _choose_encoding(origin: _Origin, given: str | None) -> str:
    sample = origin.sample
    bom = next((name for mark, name in BOMS if sample.startswith(mark)), None)
    if given:
        try:
            name = codecs.lookup(given.strip()).name
        except LookupError:
            raise ApplicationError(
                f"{given!r} is not an encoding Python knows; try utf-8, cp1252 or latin-1.",
                extra={"fields": {"encoding": [f"Unknown encoding {given!r}."]}},
            ) from None
        # UTF-8 asked for and a UTF-8 BOM found: the BOM is not part of the first header.
        return "utf-8-sig" if name == "utf-8" and bom == "utf-8-sig" else name
    if bom:
        return bom
    if b"\x00" in sample:
        raise ApplicationError(
            "This does not look like a text (CSV) file: it holds NUL bytes. "
            "If it is UTF-16 without a byte order mark, give --encoding utf-16."
        )
    try:
        # Incremental, so that a character cut in two at the end of the sample is not taken for an error.
        codecs.getincrementaldecoder("utf-8")(errors="strict").decode(sample, final=origin.at_eof)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    try:
        sample.decode("cp1252")
    except UnicodeDecodeError:
        # The five bytes Windows-1252 leaves undefined; Latin-1 reads every byte.
        return "iso8859-1"
    return "cp1252"


def _sample_text(origin: _Origin, encoding: str) -> str:
    try:
        return codecs.getincrementaldecoder(encoding)(errors="strict").decode(origin.sample, final=origin.at_eof)
    except UnicodeDecodeError as exc:
        raise _decode_error(exc, encoding, lines_read=0) from None


def _choose_delimiter(text: str, given: str | None) -> str:
    if given:
        given = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}.get(given, given)
        if len(given) != 1:
            raise ApplicationError(
                f"{given!r} is not a delimiter; give one character (or tab).",
                extra={"fields": {"delimiter": ["One character, or tab."]}},
            )
        return given
    sample = "".join(itertools.islice(io.StringIO(text, newline=""), SNIFF_LINES))[:SNIFF_CHARACTERS]
    scores = {delimiter: _consistency(sample, delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: scores[delimiter])
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        return best
    # The sniffer is right most of the time but can be fooled (decimal commas in a semicolon file, a comma in a
    # note); it is trusted only when its delimiter splits the lines as consistently as the best candidate.
    return sniffed if scores.get(sniffed) == scores[best] else best


def _consistency(sample: str, delimiter: str) -> tuple[bool, bool, int, int]:
    """How well a delimiter splits the sample: more than one column, the header as wide as most lines, then how
    many lines have that width, then the width itself."""
    try:
        widths = [len(cells) for cells in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter) if cells]
    except csv.Error:
        return (False, False, 0, 0)
    if not widths:
        return (False, False, 0, 0)
    width, count = Counter(widths).most_common(1)[0]
    return (width > 1, widths[0] == width, count, width)


def _open_workbook(
    origin: _Origin, *, fields: set[str], mapping: ColumnMapping, require_match: bool, deadline: Deadline | None
) -> WorkbookTable:
    origin.make_rewindable()
    with origin.open_seekable() as stream, _workbook(stream, deadline) as sheet:
        headers, header_line = [], 0
        for line, values in _sheet_rows(sheet, deadline):
            cells = [_cell_text(value) for value in values]
            if "".join(cells).strip():
                headers, header_line = cells, line
                break
    if not headers:
        raise ApplicationError("The workbook's first sheet is empty: it has no header row naming its columns.")
    # Trailing empty header cells are formatting, not columns.
    while headers and not headers[-1].strip():
        headers.pop()
    return WorkbookTable(
        origin=origin,
        encoding="xlsx",
        delimiter="",
        headers=headers,
        header_line=header_line,
        positions=_match_headers(headers, fields=fields, mapping=mapping, require_match=require_match),
        mapping=mapping,
        deadline=deadline,
    )


@contextlib.contextmanager
def _workbook(stream: BinaryIO, deadline: Deadline | None = None) -> Iterator[Any]:
    """The first sheet of the workbook in `stream`, streamed (read-only mode keeps memory bounded), once its parts
    have been checked (_check_parts) and what the sheet declares is within bounds (_check_declared).

    With a `deadline`, every read of the archive checks it, so that openpyxl's own passes are bounded too (it
    parses a whole sheet at load when the sheet does not declare its dimension).
    """
    if deadline is not None:
        stream = _TimedStream(stream, deadline)  # type: ignore[assignment]
    start = stream.tell()
    _check_parts(stream)
    stream.seek(start)
    # Formulas are read as the value the spreadsheet last computed (data_only), never evaluated.
    try:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except WORKBOOK_ERRORS:
        raise _unreadable() from None
    try:
        if not workbook.worksheets:
            raise ApplicationError("The workbook has no sheet.")
        try:
            sheet = workbook.worksheets[0]
        except WORKBOOK_ERRORS:
            raise _unreadable() from None
        _check_declared(sheet)
        # Read what the sheet holds, not what it declares: no row padded to the declared width, and no row past
        # the declared last one dropped unread. _sheet_rows bounds what is actually there.
        sheet.reset_dimensions()
        yield sheet
    finally:
        workbook.close()


class _TimedStream:
    """A seekable stream whose every read checks a deadline (zipfile reads a few KiB at a time)."""

    def __init__(self, stream: BinaryIO, deadline: Deadline) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, size: int = -1) -> bytes:
        self._deadline.check()
        return self._stream.read(size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True


def _unreadable() -> ApplicationError:
    return ApplicationError(
        "This is a zipped file but not an Excel workbook (.xlsx) that can be read; save it as .xlsx or CSV."
    )


class _Doctype(Exception):
    """Raised by the scan of a workbook's XML part at its DTD."""


class _RootElement(Exception):
    """Raised by the scan of a workbook's XML part at its first element: no DTD can follow it."""


def _check_parts(stream: BinaryIO) -> None:
    """Refuse a workbook one of whose parts unpacks to more than ZIP_MAX_RATIO times its packed size, or declares a
    DTD (billion laughs, external entities).

    openpyxl parses with the standard library's expat, which expands internal entities (defusedxml, which would
    refuse them, is not installed). A DTD may only come before an XML document's first element, so each part is
    parsed up to that element: cheap, whatever the part's size.
    """
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _unreadable() from None
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            if info.file_size > ZIP_RATIO_FROM and info.file_size > ZIP_MAX_RATIO * max(info.compress_size, 1):
                raise ApplicationError(
                    f"The workbook's part {info.filename} unpacks to {info.file_size} bytes, "
                    f"{info.file_size // max(info.compress_size, 1)} times what it takes in the file; an import "
                    f"refuses a part that unpacks to more than {ZIP_MAX_RATIO} times its packed size (a zip bomb). "
                    "Save the file again from Excel, or as CSV.",
                    extra={"part": info.filename},
                )
            if _declares_doctype(archive, info):
                raise ApplicationError(
                    f"The workbook's part {info.filename} declares a DTD (<!DOCTYPE …>), which no spreadsheet "
                    "program writes and an import never reads (its entities could expand without end). Save the file "
                    "again from Excel, or as CSV.",
                    extra={"part": info.filename},
                )


def _declares_doctype(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether the part, read as XML, declares a DTD before its first element (a part that is not XML: no)."""
    parser = expat.ParserCreate()

    def doctype(*args: Any) -> None:
        raise _Doctype

    def element(*args: Any) -> None:
        raise _RootElement

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    parser.StartElementHandler = element
    try:
        with archive.open(info) as part:
            while chunk := part.read(SAMPLE_SIZE):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except _Doctype:
        return True
    except (_RootElement, expat.ExpatError, zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError):
        # Past the prolog, or not XML (a picture, or a broken part that openpyxl will refuse if it reads it).
        return False
    return False


def _check_declared(sheet: Any) -> None:
    """Refuse a sheet whose declared dimension is beyond what an import reads (the rows, columns and cells limits)."""
    rows, columns = sheet.max_row, sheet.max_column
    if rows is None or columns is None:
        return
    limits = settings.IMPORT_WORKBOOK_MAX_ROWS, settings.IMPORT_WORKBOOK_MAX_COLUMNS, settings.IMPORT_WORKBOOK_MAX_CELLS
    if rows > limits[0] or columns > limits[1] or rows * columns > limits[2]:
        dimension = f"{get_column_letter(sheet.min_column)}{sheet.min_row}:{get_column_letter(columns)}{rows}"
        raise ApplicationError(
            f"The workbook's first sheet declares {rows} rows of {columns} columns ({dimension}); an import reads at "
            f"most {limits[0]} rows, {limits[1]} columns and {limits[2]} cells. Delete the empty rows and columns "
            "around the data, or save the sheet as CSV.",
            extra={"rows": rows, "columns": columns},
        )


def _sheet_rows(sheet: Any, deadline: Deadline | None) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """The sheet's rows with their numbers, empty ones skipped, within the rows, columns and cells limits and the
    deadline: whatever a sheet declares, what it holds is bounded as it is read."""
    max_rows, max_columns = settings.IMPORT_WORKBOOK_MAX_ROWS, settings.IMPORT_WORKBOOK_MAX_COLUMNS
    max_cells, cells = settings.IMPORT_WORKBOOK_MAX_CELLS, 0
    rows = iter(sheet.iter_rows(values_only=True))
    line = 0
    while True:
        try:
            values = next(rows, None)
        except WORKBOOK_ERRORS:
            raise ApplicationError(
                f"The workbook's first sheet cannot be read past row {line}; save it again as .xlsx or CSV.",
                extra={"line": line},
            ) from None
        if values is None:
            return
        line += 1
        if deadline is not None:
            deadline.check()
        if line > max_rows:
            raise ApplicationError(
                f"The workbook's first sheet has more than {max_rows} rows, the most an import reads. Split it, or "
                "save it as CSV.",
                extra={"line": line},
            )
        width = len(values)
        if width > max_columns:
            raise ApplicationError(
                f"Row {line} of the workbook's first sheet reaches column {_column_name(width)} ({width}); an "
                f"import reads at most {max_columns} columns. Delete the columns beyond the data, or save the sheet "
                "as CSV.",
                extra={"line": line, "columns": width},
            )
        cells += width
        if cells > max_cells:
            raise ApplicationError(
                f"The workbook's first sheet has more than {max_cells} cells, the most an import reads. Split it, "
                "or save it as CSV.",
                extra={"line": line},
            )
        # A row of empty cells (a blank line, or a sheet's padding) is skipped without a look at each cell.
        if width and values.count(None) < width:
            yield line, values


def _column_name(number: int) -> str:
    """A column's letters (XFD), or its number past what letters can spell."""
    try:
        return get_column_letter(number)
    except ValueError:
        return str(number)


def _cell_text(value: Any) -> str:
    """A workbook cell as the text a CSV export holds."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same float; Decimal spells it without an exponent.
        return str(int(value)) if value.is_integer() else format(Decimal(repr(value)), "f")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None and value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def _read_header(text: str, delimiter: str, *, complete: bool) -> tuple[list[str], int]:
    if not complete and "\n" not in text and "\r" not in text:
        raise ApplicationError("The first line of the file is longer than 64 KiB; this does not look like CSV.")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    last_line = 0
    try:
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if "".join(cells).strip():
                return [cell.replace("\ufeff", "") for cell in cells], line
    except csv.Error as exc:
        raise _csv_error(exc, line=last_line + 1) from None
    raise ApplicationError("The file is empty: it has no header line naming its columns.")


def _match_headers(
    headers: list[str], *, fields: set[str], mapping: ColumnMapping, require_match: bool = True
) -> dict[str, int]:
    """Which column feeds each field: the mapping's columns first, then headers that are field names."""
    by_key: dict[str, list[int]] = {}
    for position, header in enumerate(headers):
        by_key.setdefault(header_key(header), []).append(position)
    positions: dict[str, int] = {}
    for header, field in mapping.columns.items():
        found = by_key.get(header_key(header), [])
        if not found:
            raise ApplicationError(
                f"The column mapping names the column {header!r}, which the file does not have. "
                f"The file's columns: {_listed(headers)}.",
                extra={"column": header},
            )
        if len(found) > 1:
            raise _duplicate_error(field, [headers[position] for position in found], found)
        if field in positions:
            raise _duplicate_error(field, [headers[positions[field]], header], [positions[field], found[0]])
        positions[field] = found[0]
    from_mapping = set(positions)
    field_by_key = {header_key(field): field for field in fields}
    used = set(positions.values())
    for position, header in enumerate(headers):
        field = field_by_key.get(header_key(header))
        # The mapping's choice and the mapping's constants win over a column that happens to bear the name.
        if position in used or field is None or field in from_mapping or field in mapping.constants:
            continue
        if field in positions:
            raise _duplicate_error(field, [headers[positions[field]], header], [positions[field], position])
        positions[field] = position
    if not positions and require_match:
        raise ApplicationError(
            f"None of the file's columns ({_listed(headers)}) is an Atelier field or named in the column mapping. "
            f"Is the header line missing, or the mapping? Fields: {', '.join(sorted(fields))}.",
        )
    return positions


def _duplicate_error(field: str, headers: list[str], positions: list[int]) -> ApplicationError:
    columns = " and ".join(
        f"{header!r} (column {position + 1})" for header, position in zip(headers, positions, strict=True)
    )
    return ApplicationError(
        f"The file has two columns for {field!r}: {columns}. Remove one, or map only one of them.",
        extra={"field": field},
    )


def _unique_keys(headers: list[str]) -> list[str]:
    """The file's headers as keys of SourceRow.raw; a header seen again gets its column number, so no cell is lost."""
    keys, seen = [], set()
    for position, header in enumerate(headers):
        key = header if header not in seen else f"{header} (column {position + 1})"
        seen.add(header)
        keys.append(key)
    return keys


def _listed(headers: list[str]) -> str:
    return ", ".join(repr(header) for header in headers)


def _decode_error(exc: UnicodeDecodeError, encoding: str, *, lines_read: int) -> ApplicationError:
    line = lines_read + 1
    # The failing chunk may hold several lines past the last one read; in encodings where a newline is one
    # b"\n" byte, counting them gives the exact line.
    if isinstance(exc.object, bytes) and not encoding.startswith(("utf-16", "utf-32")):
        line += exc.object[: exc.start].count(b"\n")
    byte = exc.object[exc.start : exc.start + 1].hex().upper() if isinstance(exc.object, bytes) else "?"
    label = {"utf-8-sig": "UTF-8", "utf-8": "UTF-8", "cp1252": "Windows-1252"}.get(encoding, encoding)
    suggestion = "latin-1" if encoding == "cp1252" else "utf-8" if encoding.startswith("utf-16") else "cp1252"
    return ApplicationError(
        f"Line {line} is not valid {label} text (byte 0x{byte}): the file is in another encoding. "
        f"Give its encoding, for example --encoding {suggestion}.",
        extra={"line": line, "encoding": encoding},
    )


def _csv_error(exc: csv.Error, *, line: int) -> ApplicationError:
    message = str(exc)
    if "field larger than field limit" in message:
        message = (
            f"a cell is longer than {csv.field_size_limit()} characters; "
            'a quote (") is probably opened on this line and never closed'
        )
    return ApplicationError(f"Line {line} cannot be read as CSV: {message}.", extra={"line": line})
