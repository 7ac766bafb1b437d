"""An app writes only its own tables: raw SQL (INSERT, UPDATE, DELETE, COPY, TRUNCATE) in one app's source that
writes another app's table fails here, unless it is in ALLOWED (what issue 13 has not moved yet; keep it shrinking).

An import contract cannot see a table name inside a string, so this reads the source: every string (f-strings
included) that writes a table named literally, by `Model._meta.db_table`, or by a variable assigned one of those,
every call of the bulk helpers (core.bulk's insert_rows and update_rows, the importer's _insert) given a model's
table, and every RecordKind (the importer's generic writer, imports.pipeline.records, writes its model's table).
A table's owner is its model's app; a file's app is its top-level package.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parents[2]
APPS = ("core", "customers", "touchpoints", "journeys", "feedback", "desk", "imports", "integrations", "webhooks",
        "sync", "insight")
WRITE = re.compile(r"\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM|COPY|TRUNCATE)\s+(?:ONLY\s+)?(\{[^}]+\}|[a-z_][a-z0-9_]*)",
                   re.IGNORECASE)
BULK_HELPERS = {"insert_rows", "update_rows", "_insert"}

# (file, table) pairs still written from outside the table's app, each with the reason it is still there.
ALLOWED = {
    # pghistory's context table is the history library's, shared by every tracked model's triggers: the set-based
    # history writer records the caller's context there as the triggers would.
    ("customers/services/history.py", "pghistory_context"),
    # The interaction and response imports write through the generic record writer: new interactions go through
    # interactions_record_many (the kind's create hook), but its update and rollback of interactions still write
    # the table; feedback has no batch service for responses yet.
    ("imports/kinds/interactions.py", "touchpoints_interaction"),
    ("imports/kinds/responses.py", "feedback_response"),
}
# Not seen by the scan: imports/kinds/reference.py gives RecordKind its model at run time (personas, boutiques,
# products), and core.moments repairs the stored dates of any table it is given (a maintenance command).


def _owners() -> tuple[dict[str, str], dict[str, set[str]]]:
    """Table -> app label, and model class name -> the tables of the models of that name."""
    tables: dict[str, str] = {}
    by_name: dict[str, set[str]] = {}
    for model in apps.get_models(include_auto_created=True):
        tables[model._meta.db_table] = model._meta.app_label
        by_name.setdefault(model.__name__, set()).add(model._meta.db_table)
    return tables, by_name


def _model_tables(node: ast.AST, by_name: dict[str, set[str]]) -> set[str]:
    """The tables an expression names: `Model._meta.db_table` or `apps.get_model("app", "Model")`."""
    if (isinstance(node, ast.Attribute) and node.attr == "db_table" and isinstance(node.value, ast.Attribute)
            and node.value.attr == "_meta"):
        target = node.value.value
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
        return set(by_name.get(name or "", set()))
    if (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "get_model" and len(node.args) == 2
            and all(isinstance(arg, ast.Constant) for arg in node.args)):
        return set(by_name.get(node.args[1].value, set()))
    return set()


def _writes(path: Path, by_name: dict[str, set[str]], tables: dict[str, str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    variables: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            named = _model_tables(node.value, by_name)
            if isinstance(node.value, ast.Attribute) and node.value.attr == "db_table":
                named |= _model_tables(node.value, by_name)
            if named:
                variables.setdefault(node.targets[0].id, set()).update(named)

    def resolve(token: str) -> set[str]:
        if not token.startswith("{"):
            return {token} if token in tables else set()
        inner = token[1:-1].strip()
        if inner in variables:
            return variables[inner]
        match = re.fullmatch(r"(?:[\w.]+\.)?(\w+)\._meta\.db_table", inner)
        if match:
            return set(by_name.get(match.group(1), set()))
        variable = re.fullmatch(r"(\w+)\._meta\.db_table", inner)
        return variables.get(variable.group(1), set()) if variable else set()

    written: set[str] = set()
    for node in ast.walk(tree):
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = "".join(
                part.value if isinstance(part, ast.Constant) else "{" + ast.unparse(part.value) + "}"
                for part in node.values
            )
        if text is not None:
            for _verb, token in WRITE.findall(text):
                written |= resolve(token)
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            # The importer's generic record writer (imports.pipeline.records) writes the table of each RecordKind.
            if name == "RecordKind":
                for keyword in node.keywords:
                    if keyword.arg == "model" and isinstance(keyword.value, ast.Name):
                        written |= set(by_name.get(keyword.value.id, set()))
            if name in BULK_HELPERS and node.args:
                first = node.args[0]
                written |= _model_tables(first, by_name)
                if isinstance(first, ast.Name):
                    written |= variables.get(first.id, set())
    return written


def _cross_app_writes() -> set[tuple[str, str]]:
    tables, by_name = _owners()
    found = set()
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            relative = path.relative_to(ROOT).as_posix()
            for table in _writes(path, by_name, tables):
                if tables.get(table) != app:
                    found.add((relative, table))
    return found


def test_no_app_writes_another_apps_table_in_raw_sql_beyond_the_allowed_list():
    found = _cross_app_writes()

    assert found - ALLOWED == set(), "raw SQL writes another app's table; call that app's service instead"


def test_the_allowed_list_holds_only_writes_that_still_exist():
    # A pair moved to its app's service leaves the list, so that it cannot come back unnoticed.
    assert ALLOWED - _cross_app_writes() == set()


def test_the_scan_sees_a_write_of_another_apps_table(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text(
        "from customers.models import Customer\n"
        "table = Customer._meta.db_table\n"
        "SQL = f'UPDATE {Customer._meta.db_table} SET x = 1'\n"
        "OTHER = f'DELETE FROM {table} WHERE id = 1'\n"
        "LITERAL = 'INSERT INTO touchpoints_order (id) VALUES (1)'\n"
        "insert_rows(Customer._meta.db_table, {}, [])\n"
        "LOCK = 'SELECT 1 FROM customers_customer FOR UPDATE SKIP LOCKED'\n",
        encoding="utf-8",
    )
    tables, by_name = _owners()

    assert _writes(source, by_name, tables) == {"customers_customer", "touchpoints_order"}
