"""The schema contract in graphql/: the SDL matches the code, every operation the console and
docs use is valid against it (and within the depth and cost limits), and the folder holds no
Python (a ``graphql`` package would shadow graphql-core)."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import parse, specified_rules, validate
from typer.testing import CliRunner

from reconciler.api.cli import SCHEMA_FILE
from reconciler.api.schema import GUARD_RULES, schema, schema_sdl
from reconciler.cli import app as cli_app

GRAPHQL_DIR = SCHEMA_FILE.parent
OPERATIONS = sorted((GRAPHQL_DIR / "operations").glob("*.graphql"))


def test_sdl_file_matches_the_code() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_sdl(), (
        "graphql/schema.graphql drifted from the code: run `reconciler schema export`"
    )


def test_schema_export_check_command() -> None:
    result = CliRunner().invoke(cli_app, ["schema", "export", "--check"])
    assert result.exit_code == 0, result.output


def test_schema_export_check_fails_on_drift(tmp_path: Path) -> None:
    stale = tmp_path / "schema.graphql"
    stale.write_text("type Query { old: Int }\n", encoding="utf-8")
    result = CliRunner().invoke(cli_app, ["schema", "export", "--check", "--path", str(stale)])
    assert result.exit_code == 1
    written = CliRunner().invoke(cli_app, ["schema", "export", "--path", str(stale)])
    assert written.exit_code == 0
    assert stale.read_text(encoding="utf-8") == schema_sdl()


def test_graphql_folder_holds_no_python() -> None:
    python = [
        p for p in GRAPHQL_DIR.rglob("*") if p.suffix in (".py", ".pyc") or p.name == "__init__.py"
    ]
    assert python == []
    assert len(OPERATIONS) >= 8


@pytest.mark.parametrize("path", OPERATIONS, ids=lambda p: p.name)
def test_operation_is_valid_against_the_schema(path: Path) -> None:
    document = parse(path.read_text(encoding="utf-8"))
    rules = [*specified_rules, *GUARD_RULES]
    errors = validate(schema._schema, document, rules)
    assert errors == [], [e.message for e in errors]
