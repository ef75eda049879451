"""Fixtures of the console tests.

- The API tests' seeded store, keys and clients (re-exported) for the API additions' tests.
- ``chromium``: the path of Debian's chromium (installed with apt-get when missing and this
  process may; NEVER a downloaded browser). Without it the browser tests skip with the reason,
  unless ``RECONCILER_REQUIRE_BROWSER`` is set, which makes that a failure.
- ``world``: two sandbox locations, a SQLite store, the engine's runs and the API + console
  on loopback (``tests.console.world``).
- ``browser``: headless chromium through Playwright's async API; ``console`` opens a page on
  the world's console and records page errors, failed requests and CSP reports (each test
  asserts there were none).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.api.conftest import api_keys, app, bus, gql, seed
from tests.console.browser import Console
from tests.console.world import World, console_world

__all__ = ["api_keys", "app", "browser", "bus", "chromium", "console", "gql", "seed", "world"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"


def _install_chromium() -> str | None:
    """Install Debian's chromium; None on success, else why it could not be."""
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        return "apt-get is unavailable or this process is not root"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", "chromium"]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if done.returncode != 0:
            return f"{' '.join(command[1:3])} failed: {done.stderr.strip()[-300:]}"
    return None if CHROMIUM.exists() else "apt-get installed no /usr/bin/chromium"


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        problem = _install_chromium()
        if problem is not None:
            reason = f"Debian's chromium is missing and could not be installed: {problem}"
            if os.environ.get("RECONCILER_REQUIRE_BROWSER"):
                pytest.fail(f"{reason} (RECONCILER_REQUIRE_BROWSER is set)")
            pytest.skip(reason)
    return CHROMIUM


@pytest.fixture
async def world(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[World]:
    async with console_world(sqlite_template, tmp_path) as made:
        yield made


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def console(browser: object, world: World) -> AsyncIterator[Console]:
    from playwright.async_api import Browser

    assert isinstance(browser, Browser)
    context = await browser.new_context(viewport={"width": 1360, "height": 860})
    page = await context.new_page()
    made = Console(page, world, ARTIFACTS)
    try:
        yield made
    finally:
        await context.close()
    assert made.problems == [], made.problems
