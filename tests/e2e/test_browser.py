"""The web UI in a real browser: Debian's Chromium driven by Playwright, against a real
`mirel up` on loopback (issue 4's acceptance). Each test signs in as the people of the seed
documents' flows: an editor proposes, an admin merges, a viewer only looks."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Console,
    chromium_missing,
    create_user,
    screenshot,
    sign_in,
)
from e2e_support import Fleet, free_ports, start_fleet
from playwright.sync_api import Browser, Locator, Page, Route, expect, sync_playwright

from mirel.hub import Hub
from support import AUTHOR, add_element, refs, release
from support import merge as merge_change

pytestmark = pytest.mark.slow

PASSWORDS = {"eve": "eve-the-editor", "vic": "vic-the-viewer"}
ROLES = {"eve": "editor", "vic": "viewer"}
INSTANCES = ("dev", "staging", "prod")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Return a headless Chromium; skip (fail in CI) when it is not installed."""
    reason = chromium_missing()
    if reason is not None:
        if os.environ.get("MIREL_REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Return a running `mirel up` whose instances know an editor (eve) and a viewer (vic)."""
    fleet = start_fleet(tmp_path_factory.mktemp("ui") / "up", free_ports(3))
    try:
        for name in INSTANCES:
            for username, role in ROLES.items():
                database = f"sqlite:///{fleet.folder / f'{name}.db'}"
                create_user(database, username, role, PASSWORDS[username])
        yield fleet
    finally:
        fleet.stop()


@dataclass
class Person:
    """One person in their own browser context (their own cookies)."""

    username: str
    page: Page
    console: Console
    fleet: Fleet

    def url(self, instance: str = "dev") -> str:
        """Return the base URL of an instance."""
        return self.fleet.urls[instance]

    def sign_in(self, instance: str = "dev") -> None:
        """Sign in on an instance."""
        password = (
            self.fleet.admin_password if self.username == "admin" else PASSWORDS[self.username]
        )
        sign_in(self.page, self.url(instance), self.username, password)

    def open(self, path: str, instance: str = "dev") -> Page:
        """Go to a page of an instance and return it."""
        self.page.goto(self.url(instance) + path)
        return self.page


People = Callable[..., Person]


@pytest.fixture
def person(chromium: Browser, ui: Fleet) -> Iterator[People]:
    """Return a function giving a signed-in person (admin, eve or vic) in a new context."""
    contexts = []

    def make(username: str, instance: str = "dev") -> Person:
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        console = Console()
        someone = Person(username, console.watch(context.new_page()), console, ui)
        someone.sign_in(instance)
        return someone

    yield make
    for context in contexts:
        context.close()


def flash_link(page: Page, text: str) -> str:
    """Return the address of the link in the page's message that starts with `text`."""
    link = page.locator(".flash a", has_text=text)
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    assert href is not None
    return href


def merge(admin: Person, pull_path: str) -> None:
    """Merge a pull request through its page, as the admin."""
    admin.open(pull_path)
    admin.page.get_by_role("button", name="Merge").click()
    expect(admin.page.locator(".flash")).to_contain_text("is merged into main")


# -- 1. create a minor release ------------------------------------------------------------------


def test_an_editor_creates_a_minor_release_and_an_admin_merges_it(
    person: People, ui: Fleet
) -> None:
    # The work being released: crm's working files move past its newest release.
    hub = Hub.open(ui.repo)
    tagged = {"main.rsx": b'<App title="crm">\n  <Text value="Contacts with tags" />\n</App>\n'}
    merge_change(hub, hub.elements.push("crm", tagged, AUTHOR))
    eve = person("eve")
    page = eve.open("/elements/app/crm")
    page.locator("main").get_by_role("link", name="Releases", exact=True).click()
    page.get_by_role("link", name="Create new").click()
    minor = page.get_by_label(re.compile("Minor"))
    expect(page.locator("label", has=minor)).to_contain_text("0.3.0")
    minor.check()
    page.get_by_label("Description").fill("Contacts with tags")
    page.get_by_role("button", name="Create release PR").click()
    expect(page.locator("#confirm-version")).to_have_text("0.3.0")
    expect(page.locator("#confirm-description")).to_have_text("Contacts with tags")
    page.get_by_role("button", name="Create branch with release artifact").click()
    expect(page.locator(".flash")).to_contain_text("Release 0.3.0 of crm is ready on its branch")
    pull = flash_link(page, "Open pull request")
    page.locator(".flash a", has_text="Open pull request").click()
    page.wait_for_url(re.compile(r"/pulls/\d+$"))
    assert page.url.endswith(pull)
    expect(page.locator("h1")).to_contain_text("Release crm 0.3.0")
    expect(page.get_by_role("button", name="Merge")).to_have_count(0)  # editors do not merge

    merge(person("admin"), pull)
    page = eve.open("/elements/app/crm/releases")
    row = page.locator("#release-0\\.3\\.0")
    expect(row).to_contain_text("Contacts with tags")
    assert eve.console.take() == []


# -- 2. the Releases tab ------------------------------------------------------------------------


def pick(page: Page, element: str, manifest: str, release: str, count: int) -> None:
    """Pick another release in one cell of the Releases tab, through its in-place list."""
    cell = page.locator(f'tr[data-name="{element}"] td[data-manifest="{manifest}"]')
    cell.locator("a.pin").click()
    cell.locator("select").select_option(release)
    expect(page.locator("#review-count")).to_have_text(str(count))
    expect(cell).to_have_class(re.compile(r"\bchanged\b"))


def served(someone: Person, instance: str) -> dict[str, str]:
    """Return what an instance's home page says it serves: each element's live version."""
    page = someone.open("/", instance)
    found: dict[str, str] = {}
    for row in page.locator("#elements tbody tr").all():
        cells = row.locator("td")
        if cells.count() == 4:
            found[cells.nth(0).inner_text().strip()] = cells.nth(2).inner_text().strip()
    return found


def planned(page: Page) -> dict[str, dict[str, str]]:
    """Return the plan a pull request page shows: per instance, each element it would change
    and what it would serve."""
    plan: dict[str, dict[str, str]] = {}
    for block in page.locator("#plan .plan-instance").all():
        name = block.get_attribute("data-instance") or ""
        rows = block.locator("tr[data-element]").all()
        plan[name] = {
            row.get_attribute("data-element") or "": row.locator("td.to b").inner_text().strip()
            for row in rows
        }
    return plan


def eventually_serves(someone: Person, instance: str, wanted: dict[str, str]) -> None:
    """Wait until an instance serves exactly `wanted` (deploy hooks run at the merge; the
    poller catches a missed one within seconds)."""
    deadline = time.monotonic() + 30
    while (found := served(someone, instance)) != wanted:
        if time.monotonic() > deadline:
            raise AssertionError(f"{instance} serves {found}, not {wanted}")
        time.sleep(0.5)


def test_two_pins_in_two_manifests_become_one_pull_request_and_reach_their_instances(
    person: People, ui: Fleet
) -> None:
    eve = person("eve")
    page = eve.open("/settings/releases")
    pick(page, "billing", "prod", "latest", 1)
    pick(page, "nightly-sync", "staging", "0.1.0", 2)
    screenshot(page, "releases-tab")
    page.get_by_role("link", name="Review").click()
    rows = page.locator("#changes tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("prod")
    expect(rows.nth(0)).to_contain_text("billing")
    expect(rows.nth(0)).to_contain_text("latest")
    expect(rows.nth(1)).to_contain_text("staging")
    expect(rows.nth(1)).to_contain_text("nightly-sync")
    expect(page.locator("#plan")).to_contain_text("If these changes were merged now.")
    page.get_by_role("button", name="Create pull request").click()
    expect(page.locator(".flash")).to_contain_text("2 pin changes are ready on one branch")
    pull = flash_link(page, "Open pull request")

    # Acceptance 2: the pull request's page shows, for each instance, what it would change,
    # with latest resolved, and where to compare the releases of each change.
    eve.open(pull)
    files = page.locator(".diff-file")
    expect(files).to_have_count(2)
    expect(files.nth(0).locator(".line.add")).to_have_text("+    release: latest")
    expect(files.nth(1).locator(".line.add")).to_have_text("+    release: 0.1.0")
    billing = page.locator('#plan [data-instance="prod"] tr[data-element="billing"]')
    expect(billing.locator("td.from")).to_have_text("0.1.0")
    expect(billing.locator("td.to")).to_have_text("0.3.0 (pin latest)")
    nightly = page.locator('#plan [data-instance="staging"] tr[data-element="nightly-sync"]')
    expect(nightly.locator("td.from")).to_have_text("0.2.0")
    expect(nightly.locator("td.to")).to_have_text("0.1.0")
    expect(page.locator('#plan [data-instance="dev"]')).to_contain_text("No change.")
    plan = planned(page)
    assert plan == {"dev": {}, "prod": {"billing": "0.3.0"}, "staging": {"nightly-sync": "0.1.0"}}
    screenshot(page, "pull-request-plan")
    compare = billing.get_by_role("link", name="Compare 0.1.0 with 0.3.0")
    expect(nightly.get_by_role("link", name="Compare 0.2.0 with 0.1.0")).to_be_visible()
    compare.click()
    expect(page.locator("h1")).to_have_text("billing 0.3.0 against 0.1.0")
    expect(page.locator("#diff-summary")).to_contain_text("changed")

    admin = person("admin")  # signed in on dev; each instance has its own sign-in
    before: dict[str, dict[str, str]] = {}
    for instance in INSTANCES:
        if instance != "dev":
            admin.sign_in(instance)
        before[instance] = served(admin, instance)
    merge(admin, pull)
    # Each instance then serves exactly what the plan said, and nothing else changes.
    for instance in INSTANCES:
        eventually_serves(admin, instance, {**before[instance], **plan[instance]})
    assert eve.console.take() == []
    assert admin.console.take() == []


# -- 3. a hotfix ----------------------------------------------------------------------------------


def test_a_hotfix_of_an_older_release_becomes_a_patch_release(person: People) -> None:
    eve = person("eve")
    page = eve.open("/elements/app/billing/releases")
    row = page.locator("#release-0\\.1\\.0")
    row.get_by_label("Actions for release 0.1.0").click()
    row.get_by_role("button", name="Create hotfix").click()
    expect(page.locator(".flash")).to_contain_text("Hotfix branch mirel/hotfix/app/")
    expect(page.locator("#hotfix-0\\.1")).to_contain_text("Hotfix 0.1 in progress")
    page.locator(".flash a", has_text="Open the hotfix branch").click()

    page.locator("#branch-files li", has_text="main.rsx").get_by_role("link", name="edit").click()
    editor = page.get_by_label("Content")
    expect(editor).to_contain_text("Invoices v1")
    editor.fill('<App title="billing">\n  <Text value="Invoices v1, totals fixed" />\n</App>\n')
    page.get_by_label(re.compile("Commit message")).fill("Fix the totals")
    page.get_by_role("button", name="Commit").click()
    expect(page.locator(".flash")).to_contain_text("Committed main.rsx to mirel/hotfix/app/")
    expect(page.locator("#branch-commits")).to_contain_text("Fix the totals")

    page.get_by_role("link", name="Create patch release PR").click()
    expect(page.locator("#confirm-version")).to_have_text("0.1.1")
    page.get_by_label("Description").fill("Totals fixed")
    page.get_by_role("button", name="Create release artifact for the patch").click()
    expect(page.locator(".flash")).to_contain_text("Patch release 0.1.1 of billing")
    pull = flash_link(page, "Open pull request")

    merge(person("admin"), pull)
    page = eve.open("/elements/app/billing/releases")
    expect(page.locator("#release-0\\.1\\.1")).to_contain_text("Totals fixed")
    expect(page.locator(".hotfix")).to_have_count(0)  # merging it removed the hotfix branch
    assert eve.console.take() == []


# -- 4. a viewer, and forms without their token -------------------------------------------------

VIEWER_PAGES = [
    "/",
    "/elements/app/billing",
    "/elements/app/billing/releases",
    "/settings",
    "/settings/releases",
    "/manifests/prod",
    "/pulls?state=all",
    "/pulls/1",
    "/deployments",
]


def test_a_viewer_sees_no_button_that_changes_anything_and_a_forged_post_is_refused(
    person: People, ui: Fleet
) -> None:
    vic = person("vic")
    for path in VIEWER_PAGES:
        page = vic.open(path)
        # The one form that posts is Sign out; nothing leads to creating, merging or editing.
        expect(page.locator("form[method=post]")).to_have_count(1)
        expect(page.locator("form[method=post] button")).to_have_text(["Sign out"])
        for name in ("Create new", "Merge", "Deploy latest", "Edit config", "Create manifest"):
            expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
            expect(page.get_by_role("link", name=name, exact=True)).to_have_count(0)
    before = refs(ui.repo)
    token = vic.page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token
    answer = vic.page.request.post(
        vic.url() + "/elements/app/billing/releases",
        form={"csrf_token": token, "version": "9.0.0", "bump": "major", "description": "forged"},
        max_redirects=0,
    )
    assert answer.status == 403
    assert "vic is a viewer" in answer.text()
    assert refs(ui.repo) == before
    assert vic.console.take() == []


def test_a_form_post_without_the_csrf_token_is_refused(person: People, ui: Fleet) -> None:
    eve = person("eve")
    eve.open("/elements/app/billing/releases")
    before = refs(ui.repo)
    for form in ({"version": "9.0.0", "description": "no token"}, {"csrf_token": "guessed"}):
        answer = eve.page.request.post(
            eve.url() + "/elements/app/billing/releases", form=form, max_redirects=0
        )
        assert answer.status == 403
        assert "security token" in answer.text()
    assert refs(ui.repo) == before
    page = eve.open("/elements/app/billing/releases")  # the session still works
    expect(page.get_by_role("link", name="Create new")).to_be_visible()


# -- 5. every page, 404s, and the screenshots of the tour ---------------------------------------


def test_every_page_renders_without_a_console_error(person: People, ui: Fleet) -> None:
    admin = person("admin")
    hub = Hub.open(ui.repo)
    crm = hub.catalog.element("crm").uuid
    pages = [
        *VIEWER_PAGES,
        "/elements/workflow/nightly-sync/releases",
        "/elements/app/status-board",
        "/elements/app/billing/files/main.rsx",
        "/elements/app/billing/releases/new",
        "/elements/app/billing/releases/0.3.0/compare",
        "/elements/app/billing/releases/0.3.0/delete",
        "/settings/config",
        "/settings/manifests/new",
        "/settings/users",
        "/settings/tokens",
        "/settings/releases/review",
        "/elements/app/billing/releases/0.3.0/publish?manifest=staging",
        "/deployments/test",
        f"/settings/releases/pick?element={crm}&manifest=prod",
        "/edit?element=app/billing&path=main.rsx",
        "/branches/main",
        "/deployments/1",
        "/login",
    ]
    for path in pages:
        page = admin.open(path)
        expect(page.locator("main")).to_be_visible()
        assert page.title().endswith("· mirel"), path
    assert admin.console.take() == []
    # The menus open and close from the keyboard.
    page = admin.open("/elements/app/billing/releases")
    summary = page.get_by_label("Actions for release 0.3.0")
    summary.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Create hotfix").first).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("details.menu[open]")).to_have_count(0)
    assert admin.console.take() == []


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/elements/app/no-such-app", "no element named 'no-such-app'"),
        ("/manifests/no-such-manifest", "no manifest"),
        ("/elements/app/billing/releases/7.7.7/compare", "billing has no release 7.7.7"),
    ],
)
def test_an_unknown_element_or_manifest_is_a_clear_404_page(
    person: People, path: str, says: str
) -> None:
    vic = person("vic")
    answer = vic.page.goto(vic.url() + path)
    assert answer is not None
    assert answer.status == 404
    expect(vic.page.locator("h1")).to_have_text("Not found")
    expect(vic.page.locator("main")).to_contain_text(says)
    expect(vic.page.locator("body")).not_to_contain_text("Traceback")
    # The browser reports the 404 itself as a failed load; nothing else may go wrong.
    assert [error for error in vic.console.take() if "404" not in error] == []


def test_screenshots_of_the_tour(person: People) -> None:
    admin = person("admin")
    home = admin.open("/")
    expect(home.locator("#elements")).to_be_visible()
    written = [screenshot(home, "home")]
    releases = admin.open("/elements/app/billing/releases")
    expect(releases.locator("#release-list")).to_be_visible()
    written.append(screenshot(releases, "element-releases"))
    assert all(Path(path).stat().st_size > 10_000 for path in written)
    assert admin.console.take() == []


def test_the_release_picker_works_from_the_keyboard(person: People) -> None:
    eve = person("eve")
    page = eve.open("/settings/releases")
    cell = page.locator('tr[data-name="crm"] td[data-manifest="dev"]')
    cell.locator("a.pin").focus()
    page.keyboard.press("Enter")
    picker = cell.locator("select")
    expect(picker).to_be_focused()
    expect(picker).to_have_value("latest")
    page.keyboard.press("ArrowDown")  # moves to the newest release, not yet kept
    expect(page.locator("#reviewbar")).to_be_hidden()
    page.keyboard.press("Enter")
    expect(page.locator("#review-count")).to_have_text("1")
    expect(cell).to_have_class(re.compile(r"\bchanged\b"))
    expect(cell.locator(".was-note")).to_have_text("was latest")
    expect(cell.locator(".resolved")).to_be_hidden()
    # Escape leaves a cell as it was.
    other = page.locator('tr[data-name="crm"] td[data-manifest="prod"]')
    other.locator("a.pin").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Escape")
    expect(other.locator("select")).to_have_count(0)
    expect(page.locator("#review-count")).to_have_text("1")
    expect(other).not_to_have_class(re.compile(r"\bchanged\b"))
    # Picking the cell's pin again drops its pending change.
    cell.locator("a.pin").click()
    cell.locator("select").select_option("latest")
    expect(page.locator("#review-count")).to_have_text("0")
    expect(cell.locator(".was-note")).to_have_count(0)
    expect(cell.locator(".resolved")).to_be_visible()
    assert eve.console.take() == []


# -- the release menu of a long history, and the API docs offline ----------------------------


def long_history(ui: Fleet, name: str, count: int) -> str:
    """Give a new app `count` releases, each of different files; return the oldest version."""
    hub = Hub.open(ui.repo)
    add_element(hub, "app", name, {"main.rsx": b"<App v='0'/>\n"})
    for number in range(count):
        if number:
            content = f"<App v='{number}'/>\n".encode()
            merge_change(hub, hub.elements.push(name, {"main.rsx": content}, AUTHOR))
        release(hub, name, f"0.{number + 1}.0", f"release number {number + 1}")
    return "0.1.0"


def fully_usable(page: Page, item: Locator) -> bool:
    """Return whether a menu item lies inside the window and is what a click there would hit."""
    return bool(
        item.evaluate(
            """(node) => {
              const box = node.getBoundingClientRect();
              const inside = box.top >= 0 && box.left >= 0 && box.bottom <= window.innerHeight
                && box.right <= document.documentElement.clientWidth && box.width > 0;
              const hit = document.elementFromPoint(box.left + box.width / 2,
                                                    box.top + box.height / 2);
              return inside && hit !== null && (hit === node || node.contains(hit));
            }"""
        )
    )


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (420, 800)])
def test_the_menu_of_the_last_release_of_a_long_history_is_fully_usable(
    chromium: Browser, ui: Fleet, width: int, height: int
) -> None:
    name = f"ledger-{width}"
    oldest = long_history(ui, name, 14)
    context = chromium.new_context(viewport={"width": width, "height": height})
    try:
        console = Console()
        page = console.watch(context.new_page())
        sign_in(page, ui.urls["dev"], "eve", PASSWORDS["eve"])
        page.goto(f"{ui.urls['dev']}/elements/app/{name}/releases")
        row = page.locator(f"#release-{oldest.replace('.', chr(92) + '.')}")
        row.scroll_into_view_if_needed()
        row.get_by_label(f"Actions for release {oldest}").click()
        menu = row.locator(".menu-body")
        items = [
            menu.get_by_role("button", name="dev"),
            menu.get_by_role("button", name="prod"),
            menu.get_by_role("button", name="Create hotfix"),
            menu.get_by_role("button", name="Compare"),
            menu.get_by_role("link", name="Delete…"),
        ]
        # Nothing is scrolled: the menu must show every item where it opened.
        for item in items:
            assert fully_usable(page, item), f"{item} is clipped at {width}×{height}"
        menu.get_by_role("button", name="Compare").click()  # a real click, where it shows
        expect(page).to_have_url(re.compile(rf"/releases/{re.escape(oldest)}/compare"))
        assert console.take() == []
    finally:
        context.close()


def test_the_api_docs_render_with_the_network_blocked(chromium: Browser, ui: Fleet) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    blocked: list[str] = []

    def only_loopback(route: Route) -> None:
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost", "::1"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    try:
        context.route("**/*", only_loopback)
        page = context.new_page()
        page.goto(f"{ui.urls['dev']}/api/v2/docs")
        expect(page.locator(".opblock").first).to_be_visible(timeout=15_000)
        expect(page.locator(".information-container")).to_contain_text("mirel")
        assert blocked == []  # nothing was even asked of another host
    finally:
        context.close()
