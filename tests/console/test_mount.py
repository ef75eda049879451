"""How the API app serves the console: the page, its modules and the operation documents
(read from graphql/operations/, the files the contract test validates), with a CSP that lets
the page reach nothing but its own origin."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from reconciler.api.console import OPERATIONS_DIR, STATIC_DIR


@pytest.fixture
async def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


async def test_the_page_and_its_modules_are_served_with_a_strict_policy(
    client: httpx.AsyncClient,
) -> None:
    async with client:
        moved = await client.get("/console")
        assert moved.status_code == 308
        assert moved.headers["location"] == "/console/"
        page = await client.get("/console/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self'" in policy
        assert "connect-src 'self'" in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        # Every module and stylesheet the page or a module names is served, from this origin.
        for path in sorted(STATIC_DIR.rglob("*")):
            if path.is_file():
                url = "/console/static/" + path.relative_to(STATIC_DIR).as_posix()
                served = await client.get(url)
                assert served.status_code == 200, url
                assert served.headers["content-security-policy"] == policy
                assert served.content == path.read_bytes()


def test_nothing_is_fetched_from_elsewhere() -> None:
    """No URL with a scheme or a protocol-relative one in the page, the CSS or the modules."""
    foreign = re.compile(r"""(https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", re.IGNORECASE)
    for path in STATIC_DIR.rglob("*"):
        if path.suffix in (".html", ".css", ".js"):
            text = path.read_text(encoding="utf-8")
            text = text.replace("http://www.w3.org/2000/svg", "")  # a namespace, not a fetch
            assert foreign.search(text) is None, (path.name, foreign.search(text))


async def test_operation_documents_are_the_graphql_files(client: httpx.AsyncClient) -> None:
    documents = sorted(OPERATIONS_DIR.glob("*.graphql"))
    assert documents
    async with client:
        for path in documents:
            served = await client.get(f"/console/operations/{path.stem}.graphql")
            assert served.status_code == 200
            assert served.text == path.read_text(encoding="utf-8")
        for name in ("missing", "..%2Fschema", "INBOX", "a" * 70, "inbox.graphql"):
            refused = await client.get(f"/console/operations/{name}.graphql")
            assert refused.status_code == 404, name


def test_every_operation_the_console_sends_exists() -> None:
    """Each api.op("file", "Name") and subscribe("file", "Name") names an operation in it."""
    calls = re.compile(r"""\b(?:op|subscribe)\(\s*"([a-z_]+)",\s*(?:"([A-Za-z]+)"|(\w+))""")
    seen = 0
    for path in (STATIC_DIR / "js").glob("*.js"):
        for file, name, _variable in calls.findall(path.read_text(encoding="utf-8")):
            document = (OPERATIONS_DIR / f"{file}.graphql").read_text(encoding="utf-8")
            if name:
                assert re.search(rf"\b(query|mutation|subscription) {name}\b", document), (
                    path.name,
                    file,
                    name,
                )
            seen += 1
    assert seen >= 20


def test_the_console_is_package_data() -> None:
    """setuptools ships the console's files (pyproject's package-data globs)."""
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text("utf-8")
    suffixes = {p.suffix for p in STATIC_DIR.rglob("*") if p.is_file()}
    assert suffixes <= {".html", ".js", ".css"}
    for suffix in suffixes:
        assert f'"**/*{suffix}"' in pyproject
