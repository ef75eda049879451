"""Driving the console in a page: sign-in, waiting for views, screenshots, and the
accessibility checks the tests share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import ConsoleMessage, Page, Request

from tests.console.world import World

# Every form control has a name people and screen readers can use: a <label for>, a wrapping
# label, aria-label or aria-labelledby (a placeholder is not a label). Buttons and links need
# text. Returns the controls that have none.
UNLABELLED = """
() => {
  const named = (el) => {
    if (el.labels && [...el.labels].some((l) => l.textContent.trim())) return true;
    if ((el.getAttribute('aria-label') || '').trim()) return true;
    const by = el.getAttribute('aria-labelledby');
    if (by && by.split(/\\s+/).every((id) => document.getElementById(id)?.textContent.trim())) {
      return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden' || el.closest('[hidden]')) continue;
    if (!named(el)) out.push(el.outerHTML.slice(0, 160));
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (el.closest('[hidden]')) continue;
    if (!(el.textContent.trim() || (el.getAttribute('aria-label') || '').trim())) {
      out.push(el.outerHTML.slice(0, 160));
    }
  }
  return out;
}
"""

LANDMARKS = """
() => ({
  banner: document.querySelectorAll('header[role=banner], body > header').length,
  main: document.querySelectorAll('main').length,
  nav: document.querySelectorAll('nav').length,
  live: document.querySelectorAll('[aria-live]').length,
  lang: document.documentElement.lang,
})
"""


class Console:
    def __init__(self, page: Page, world: World, artifacts: Path) -> None:
        self.page = page
        self.world = world
        self.artifacts = artifacts
        self.problems: list[str] = []
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", self._console)
        page.on("requestfailed", self._failed)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def _failed(self, request: Request) -> None:
        # A WebSocket closed when the page goes away is not a failure of the console.
        if request.resource_type != "websocket":
            self.problems.append(f"request failed: {request.method} {request.url}")

    @property
    def url(self) -> str:
        return f"{self.world.base_url}/console/"

    async def sign_in(self, role: str) -> None:
        await self.page.goto(self.url)
        await self.page.get_by_label("API key").fill(self.world.keys[role])
        await self.page.get_by_role("button", name="Sign in").click()
        await self.page.locator("#who-role").filter(has_text=role).wait_for()
        await self.inbox_ready()

    async def inbox_ready(self) -> None:
        await self.page.locator("#inbox-counts").filter(has_text="open").wait_for()

    async def go(self, route: str) -> None:
        await self.page.evaluate("(hash) => { location.hash = hash; }", route)

    async def section(self, name: str) -> None:
        """Follow a link of the top navigation."""
        nav = self.page.get_by_role("navigation", name="Sections")
        await nav.get_by_role("link", name=name).click()

    async def live(self) -> None:
        """Wait until the subscriptions' WebSocket is acknowledged."""
        await self.page.locator('#live-dot[data-state="live"]').wait_for(state="attached")

    async def screenshot(self, name: str, *, full_page: bool = False) -> Path:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        path = self.artifacts / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=full_page)
        return path

    async def unlabelled(self) -> list[str]:
        found: list[str] = await self.page.evaluate(UNLABELLED)
        return found

    async def landmarks(self) -> dict[str, Any]:
        found: dict[str, Any] = await self.page.evaluate(LANDMARKS)
        return found

    def inbox_rows(self) -> Any:
        return self.page.locator("table.inbox-table tbody tr")
