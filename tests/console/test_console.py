"""The console in real headless chromium against a seeded service: two sandbox locations as
sides A and B, the engine's runs producing the conflicts (tests.console.world).

Screenshots land in test-artifacts/console/ (inbox.png, conflict.png, and the other views).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.console.browser import Console
from tests.console.world import ANN_NOTE_A, ANN_NOTE_B, World

pytestmark = pytest.mark.browser

STATUS = "query($id: ID!) { conflict(id: $id) { status resolution { choice } } }"
OPEN = "{ conflicts(status: OPEN) { nodes { id scope link { displayName } } } }"


async def gql(
    world: World, query: str, variables: dict[str, object] | None = None
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=world.base_url) as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {world.keys['admin']}"},
        )
    body = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def open_conflicts(world: World) -> dict[str, str]:
    """Open conflicts by contact name."""
    data = await gql(world, OPEN)
    return {c["link"]["displayName"]: c["id"] for c in data["conflicts"]["nodes"]}


async def test_operator_resolves_a_note_conflict_and_a_run_makes_both_sides_agree(
    console: Console, world: World
) -> None:
    page = console.page
    await console.sign_in("operator")
    rows = console.inbox_rows()
    await expect(rows).to_have_count(3)
    await expect(page.locator("#inbox-counts")).to_have_text("3 open conflicts")
    await expect(page.locator("#nav-open-count")).to_have_text("3")
    await console.screenshot("inbox")

    await page.get_by_role("link", name="Ann Lee").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Note body — Ann Lee")
    # The base and both sides side by side, each side's change from the base marked.
    base = page.locator(".side-col-base")
    side_a = page.locator(".side-col-a")
    side_b = page.locator(".side-col-b")
    await expect(base).to_contain_text("Called Ann about the renewal.")
    await expect(side_a.locator("ins")).to_contain_text("demo of the new reports")
    await expect(side_b.locator("ins")).to_contain_text("pricing for the team plan")
    await expect(side_a.locator(".text-value")).to_have_text(ANN_NOTE_A)
    await expect(side_b.locator(".text-value")).to_have_text(ANN_NOTE_B)
    await expect(page.locator(".reason")).to_contain_text("note.changed_both_differently")
    await expect(page.locator(".reason")).to_contain_text("note_conflict=manual")
    await console.screenshot("conflict", full_page=True)
    # Against the other side, each side's text shows what the two disagree on.
    await page.get_by_label("The other side").check()
    await expect(side_a.locator("ins")).to_have_text(re.compile("demo of the new reports"))
    await expect(side_a.locator("del")).to_have_text(re.compile("pricing for the team plan"))
    await console.screenshot("conflict-against-other-side")
    await page.get_by_label("The base").check()
    await expect(side_a.locator("del")).to_have_count(0)

    await page.get_by_role("button", name=re.compile("^Take A")).click()
    # Back in the inbox, without the resolved conflict.
    await expect(page.locator("#inbox-title")).to_be_visible()
    await expect(rows).to_have_count(2)
    await expect(page.get_by_role("link", name="Ann Lee")).to_have_count(0)
    await expect(page.locator("#nav-open-count")).to_have_text("2")
    assert set(await open_conflicts(world)) == {"Bob Stone", "Dee Park"}
    # Nothing reached the sides yet: a resolution is carried out by the next run.
    assert world.notes("b", "ann@example.com") == [ANN_NOTE_B]

    await console.section("Runs")
    history = page.locator("#history-title")
    await expect(history).to_have_text("History (2 runs)")
    await page.get_by_role("button", name="Run now").click()
    await expect(history).to_have_text("History (3 runs)")
    newest = page.locator("table.data-table tbody tr").first
    await expect(newest).to_contain_text("succeeded")
    await expect(newest.locator("td").nth(4)).to_have_text("0")  # opened
    await expect(newest.locator("td").nth(5)).to_have_text("1")  # closed: the resolved note
    await console.screenshot("runs", full_page=True)

    # Both sides now hold A's version of the note; the base agrees.
    assert world.notes("a", "ann@example.com") == [ANN_NOTE_A]
    assert world.notes("b", "ann@example.com") == [ANN_NOTE_A]
    again = await world.run()
    assert again.counts == {}, again
    assert again.conflicts_opened == 0, again


async def test_the_inbox_updates_live_when_a_run_opens_a_conflict(
    console: Console, world: World
) -> None:
    page = console.page
    await console.sign_in("operator")
    await console.live()
    await expect(console.inbox_rows()).to_have_count(3)
    # Cara was copied to B by the first run; both sides now rename her differently.
    cara_a = world.contact("a", "cara@example.com")["id"]
    cara_b = world.contact("b", "cara@example.com")["id"]
    await world.a.update_contact(cara_a, {"last_name": "Díaz-Ortega"})
    await world.b.update_contact(cara_b, {"last_name": "Diaz Ortega"})
    report = await world.run()
    assert report.conflicts_opened == 1, report
    await expect(console.inbox_rows()).to_have_count(4)
    await expect(page.get_by_role("link", name="Cara Diaz")).to_be_visible()
    await expect(page.locator("#announcer")).to_contain_text("New conflict: Cara Diaz")
    await expect(page.locator("#nav-open-count")).to_have_text("4")


async def test_a_viewer_sees_no_action_buttons(console: Console, world: World) -> None:
    page = console.page
    await console.sign_in("viewer")
    await expect(page.locator("#who-role")).to_have_text("viewer")
    await expect(console.inbox_rows()).to_have_count(3)
    actions = page.locator("button.btn-choice, .bulkbar, .col-check input")
    await expect(actions).to_have_count(0)
    await expect(page.locator(".shortcuts")).not_to_contain_text("take A")
    # The shortcut keys do nothing for a viewer either.
    await page.keyboard.press("j")
    await page.keyboard.press("a")
    await page.wait_for_timeout(300)
    assert len(await open_conflicts(world)) == 3

    await page.get_by_role("link", name="Ann Lee").click()
    await expect(page.locator("#conflict-title")).to_be_visible()
    await expect(page.locator(".decision")).to_contain_text("can read conflicts but not resolve")
    await expect(page.locator(".decision button, #apply-now")).to_have_count(0)

    await page.get_by_role("link", name="Open contact").click()
    await expect(page.locator("#contact-title")).to_have_text("Ann Lee")
    await expect(page.get_by_role("button", name=re.compile("sync"))).to_have_count(0)

    await console.section("Overrides")
    await expect(page.locator("#overrides-title")).to_be_visible()
    await expect(page.locator("form.create-override")).to_have_count(0)

    await console.section("Runs")
    await expect(page.locator("#history-title")).to_be_visible()
    for name in ("Preview run", "Run now", "Show plan", "Apply plan"):
        await expect(page.get_by_role("button", name=re.compile(name))).to_have_count(0)
    # Only "Sign out" is left to press.
    buttons = await page.locator("main button").all_inner_texts()
    assert buttons == [], buttons


async def test_the_key_lives_in_this_tab_only(console: Console, world: World) -> None:
    page = console.page
    await console.sign_in("viewer")
    stored = await page.evaluate(
        "() => [localStorage.length, document.cookie, Object.values(sessionStorage)]"
    )
    assert stored == [0, "", [world.keys["viewer"]]]
    # A reload keeps the tab signed in; another tab (a new page) is not.
    await page.reload()
    await console.inbox_ready()
    other = await page.context.new_page()
    await other.goto(console.url)
    await expect(other.get_by_label("API key")).to_be_visible()
    await other.close()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_label("API key")).to_be_focused()
    assert await page.evaluate("() => sessionStorage.length") == 0
    # A wrong key is refused with a message, and the form stays.
    await page.get_by_label("API key").fill("rk_not_a_key")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("That key was not accepted.")


async def test_keyboard_only_inbox_and_resolutions(console: Console, world: World) -> None:
    page = console.page
    await page.goto(console.url)
    # Sign in without the mouse: the key field has focus, Enter submits.
    await expect(page.get_by_label("API key")).to_be_focused()
    await page.keyboard.type(world.keys["operator"])
    await page.keyboard.press("Enter")
    await console.inbox_ready()
    rows = console.inbox_rows()
    await expect(rows).to_have_count(3)
    names = [n.strip() for n in await page.locator("a.row-open").all_inner_texts()]
    first = page.locator("a.row-open").nth(0)
    second = page.locator("a.row-open").nth(1)
    await expect(first).to_be_focused()
    await page.keyboard.press("j")
    await expect(second).to_be_focused()
    await page.keyboard.press("k")
    await expect(first).to_be_focused()
    await page.keyboard.press("ArrowDown")
    await expect(second).to_be_focused()
    await page.keyboard.press("ArrowUp")
    await expect(first).to_be_focused()

    # Enter opens the focused conflict, Escape goes back to it in the inbox.
    await page.keyboard.press("Enter")
    await expect(page.locator("#conflict-title")).to_contain_text(names[0])
    await page.keyboard.press("Escape")
    await expect(first).to_be_focused()
    # Open it again and take side B with one key; back in the inbox, two are left.
    await page.keyboard.press("Enter")
    await expect(page.locator("#conflict-title")).to_contain_text(names[0])
    await page.keyboard.press("b")
    await expect(page.locator("#inbox-title")).to_be_visible()
    await expect(rows).to_have_count(2)
    remaining = await open_conflicts(world)
    assert set(remaining) == set(names[1:])

    # x selects rows, a resolves the selection (a bulk resolve) with side A.
    await expect(page.locator("a.row-open").first).to_be_focused()
    await page.keyboard.press("x")
    await expect(page.locator(".bulk-count")).to_have_text("1 selected")
    await page.keyboard.press("j")
    await page.keyboard.press("x")
    await expect(page.locator(".bulk-count")).to_have_text("2 selected")
    # Dee's tags were never agreed on: keeping "the base" is refused before any request.
    await page.keyboard.press("r")
    await expect(page.locator("#announcer")).to_contain_text("Keep base does not apply to Dee Park")
    assert set(await open_conflicts(world)) == set(names[1:])
    await page.keyboard.press("a")
    await expect(page.locator(".empty")).to_be_visible()
    assert await open_conflicts(world) == {}
    for conflict_id in remaining.values():
        status = await gql(world, STATUS, {"id": conflict_id})
        assert status["conflict"] == {"status": "RESOLVED", "resolution": {"choice": "A"}}

    # Tab still moves on to something named (no focus trap).
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.textContent")
    assert focused.strip()


async def test_every_form_control_has_a_label_in_every_view(console: Console, world: World) -> None:
    page = console.page
    await page.goto(console.url)
    await expect(page.get_by_label("API key")).to_be_visible()
    checked = {"sign-in": await console.unlabelled()}
    await console.sign_in("admin")
    landmarks = await console.landmarks()
    assert (landmarks["banner"], landmarks["main"], landmarks["lang"]) == (1, 1, "en")
    assert landmarks["nav"] >= 1
    assert landmarks["live"] >= 1
    checked["inbox"] = await console.unlabelled()

    await page.get_by_role("link", name="Ann Lee").click()
    await expect(page.locator("#conflict-title")).to_be_visible()
    await page.get_by_role("button", name=re.compile("Edit merged value")).click()
    await expect(page.get_by_label("Merged note")).to_be_focused()
    checked["conflict"] = await console.unlabelled()

    await page.get_by_role("link", name="Open contact").click()
    await expect(page.locator("#contact-title")).to_be_visible()
    checked["contact"] = await console.unlabelled()

    # The first run's tag conflict: chips, what only one side has marked.
    await console.section("Inbox")
    await page.get_by_role("link", name="Dee Park").click()
    await expect(page.locator("#conflict-title")).to_have_text("Tag set — Dee Park")
    await expect(page.locator(".side-col-a .chip-added")).to_have_text("+vip (only on this side)")
    await expect(page.locator(".side-col-b .chip-added")).to_have_text(
        "+partner (only on this side)"
    )
    await expect(page.locator(".side-col-base")).to_contain_text("no base")
    await expect(page.get_by_role("button", name=re.compile("^Keep base"))).to_be_disabled()
    await page.keyboard.press("e")
    await expect(page.get_by_label("Merged tags (comma separated)")).to_be_focused()
    await console.screenshot("conflict-tags")
    checked["conflict-tags"] = await console.unlabelled()

    await console.section("Contacts")
    await expect(page.locator("#contacts-count")).to_contain_text("linked contact")
    checked["contacts"] = await console.unlabelled()

    await console.section("Overrides")
    await expect(page.locator("#overrides-title")).to_be_visible()
    for scope in ("CONTACT", "FIELD", "NOTE", "TAG", "PAIR"):
        await page.get_by_label("Scope").select_option(scope)
        checked[f"overrides:{scope}"] = await console.unlabelled()

    await console.section("Runs")
    await page.get_by_role("button", name="Preview run").click()
    await expect(page.locator("#plan-title")).to_be_visible()
    checked["runs"] = await console.unlabelled()

    assert {view: found for view, found in checked.items() if found} == {}
    assert len(checked) == 12


async def test_overrides_are_created_and_deleted(console: Console, world: World) -> None:
    page = console.page
    await console.sign_in("operator")
    await console.section("Overrides")
    await expect(page.locator("#overrides-count")).to_have_text("0 overrides")
    await page.get_by_label("Scope").select_option("FIELD")
    await page.get_by_label("Find contact").fill("bob")
    await expect(page.get_by_label("Contact", exact=True).locator("option")).to_have_count(2)
    await page.get_by_label("Contact", exact=True).select_option(label="Bob Stone")
    await page.get_by_label("Field").select_option("first_name")
    await page.get_by_label("Pin side B").check()
    await page.get_by_role("button", name="Create override").click()
    await expect(page.locator("#overrides-count")).to_have_text("1 override")
    row = page.locator("table.data-table tbody tr")
    await expect(row).to_contain_text("Pin side B")
    await expect(row).to_contain_text("Bob Stone")
    await expect(row).to_contain_text("First name")

    # The override beats the manual policy at the next run: B's first name wins.
    report = await world.run()
    assert report.status == "succeeded", report
    assert world.contact("a", "bob@example.com")["firstName"] == "Robert"

    await page.get_by_role("button", name=re.compile("^Delete override")).click()
    await expect(page.locator("#overrides-count")).to_have_text("0 overrides")


async def test_preview_run_shows_the_plan_with_reasons_and_applies_it(
    console: Console, world: World
) -> None:
    page = console.page
    await console.sign_in("operator")
    # An edit on one side only: the plan copies it, with the rule that says why.
    cara_a = world.contact("a", "cara@example.com")["id"]
    await world.a.add_tags(cara_a, frozenset({"VIP"}))
    await console.section("Runs")
    await page.get_by_role("button", name="Preview run").click()
    plan = page.locator(".plan")
    await expect(plan).to_contain_text("add tags")
    await expect(plan).to_contain_text("Cara Diaz")
    await expect(plan.locator("code").first).not_to_be_empty()
    assert "VIP" not in (world.contact("b", "cara@example.com").get("tags") or [])
    await console.screenshot("plan", full_page=True)
    await plan.get_by_role("button", name=re.compile("^Apply plan")).click()
    await expect(page.locator(".plan")).to_have_count(0)
    await expect(page.locator("#announcer")).to_contain_text("Plan applied")
    assert "vip" in [t.lower() for t in world.contact("b", "cara@example.com")["tags"]]


async def test_word_diff_marks_only_what_changed(console: Console) -> None:
    """The console's diff module, run in the page: words, punctuation and line breaks."""
    await console.page.goto(console.url)
    results = await console.page.evaluate(
        """async () => {
        const { diffText } = await import('./static/js/diff.js');
        const show = (a, b) => diffText(a, b).map((p) => `${p.op}:${p.text}`);
        const long = Array.from({ length: 3000 }, (_, i) => `w${i}`).join(' ');
        return {
          swap: show('She wants a demo.', 'She wants pricing.'),
          line: show('Called Ann.', 'Called Ann.\\nShe wants a demo.'),
          same: show('no change', 'no change'),
          empty: show('', 'new text'),
          long: diffText(long, long.replace('w1500', 'x1500')).filter((p) => p.op !== 'eq'),
        };
    }"""
    )
    assert results["swap"] == ["eq:She wants ", "del:a demo", "ins:pricing", "eq:."]
    assert results["line"] == ["eq:Called Ann.", "ins:\nShe wants a demo."]
    assert results["same"] == ["eq:no change"]
    assert results["empty"] == ["ins:new text"]
    assert results["long"] == [{"op": "del", "text": "w1500"}, {"op": "ins", "text": "x1500"}]


async def test_a_merged_value_applied_now_reaches_both_sides(
    console: Console, world: World
) -> None:
    page = console.page
    await console.sign_in("operator")
    await page.get_by_role("link", name="Bob Stone").click()
    await expect(page.locator("#conflict-title")).to_have_text("First name — Bob Stone")
    await expect(page.locator(".side-col-base")).to_contain_text("Bob")
    await expect(page.locator(".side-col-a ins")).to_have_text("Bobby")
    await page.get_by_role("button", name=re.compile("Edit merged value")).click()
    merged = page.get_by_label("Merged first name")
    await expect(merged).to_be_focused()
    await merged.fill("Rob")
    await page.get_by_label(re.compile("^Apply now")).check()
    await page.get_by_role("button", name="Resolve with this value").click()
    await expect(page.locator("#inbox-title")).to_be_visible()
    await expect(console.inbox_rows()).to_have_count(2)
    await expect(page.locator("#announcer")).to_contain_text("merged value and applied")
    # Applied at once: no run had to be started by hand.
    assert world.contact("a", "bob@example.com")["firstName"] == "Rob"
    assert world.contact("b", "bob@example.com")["firstName"] == "Rob"


async def test_a_bad_merged_value_is_refused_and_loses_nothing(
    console: Console, world: World
) -> None:
    page = console.page
    await console.sign_in("operator")
    await page.get_by_role("link", name="Ann Lee").click()
    await expect(page.locator("#conflict-title")).to_be_focused()
    await page.keyboard.press("e")
    note = page.get_by_label("Merged note")
    await expect(note).to_be_focused()
    await note.fill("x" * 100_001)  # over the API's limit for a note
    await page.get_by_role("button", name="Resolve with this value").click()
    await expect(page.locator(".decision .form-error")).to_contain_text("Not resolved")
    await expect(page.locator("#conflict-title")).to_be_visible()
    assert len(await open_conflicts(world)) == 3
    assert world.notes("a", "ann@example.com") == [ANN_NOTE_A]
    assert world.notes("b", "ann@example.com") == [ANN_NOTE_B]
