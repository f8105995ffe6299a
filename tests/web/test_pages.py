"""Every page renders for every role, a viewer is offered nothing that changes anything, and
what does not exist is a clear 404 page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from web_support import Browser

from mirel.core.kinds import APP
from mirel.core.versions import Bump
from mirel.errors import ReleaseNotFound
from mirel.hub import Hub
from mirel.hub.compare import release_diff
from mirel.instance import Instance
from support import AUTHOR

Make = Callable[[str | None], Browser]

READ_PAGES = [
    "/",
    "/?q=bill",
    "/?kind=workflow",
    "/elements/app/billing",
    "/elements/app/billing/releases",
    "/elements/workflow/nightly-sync/releases",
    "/elements/app/status-board/releases",
    "/elements/app/billing/releases/0.3.0/compare",
    "/elements/app/billing/releases/0.3.0/compare?against=0.1.0",
    "/elements/app/billing/files/main.rsx",
    "/settings",
    "/settings/releases",
    "/settings/releases?q=sync&kind=workflow",
    "/manifests/prod",
    "/pulls",
    "/pulls?state=all",
    "/pulls/1",
    "/deployments",
    "/deployments/1",
    "/branches/main",
]
EDITOR_PAGES = [
    "/elements/app/billing/releases/new",
    "/elements/app/billing/releases/0.3.0/delete",
    "/settings/manifests/new",
    "/settings/releases/review",
    "/settings/releases/pick?element=billing&manifest=prod",
    "/edit?element=app/billing&path=main.rsx",
]
ADMIN_PAGES = ["/settings/config", "/settings/users", "/settings/tokens"]
CHANGE_PAGES = (
    "/new",
    "/confirm",
    "/delete",
    "/edit",
    "/pick",
    "/review",
    "/settings/config",
    "/settings/users",
    "/settings/tokens",
    "/hotfixes/",
)


def test_every_page_renders_for_an_admin(browser: Make) -> None:
    ada = browser("ada")
    for path in READ_PAGES + EDITOR_PAGES + ADMIN_PAGES:
        page = ada.get(path)
        assert page.status == 200, (path, page.text[:300])
        assert page.response.headers["content-type"].startswith("text/html")
        assert "Sign out" in page.text
        assert "Traceback" not in page.html


def test_a_viewer_sees_no_form_that_would_change_anything(browser: Make) -> None:
    vic = browser("vic")
    for path in READ_PAGES:
        page = vic.get(path)
        assert page.status == 200, path
        assert [form.action for form in page.post_forms()] == ["/logout"], path
        # Nor a link to a page that only leads to a change (Create new, Edit config, ...).
        leads = [link for link in page.links if any(part in link for part in CHANGE_PAGES)]
        assert leads == [], path
    for path in EDITOR_PAGES + ADMIN_PAGES:
        page = vic.get(path)
        assert page.status == 403, path
        assert "vic is a viewer" in page.text


def test_an_editor_is_offered_change_requests_but_not_merges(browser: Make, demo: Hub) -> None:
    eve = browser("eve")
    releases = eve.get("/elements/app/billing/releases")
    actions = {form.action for form in releases.post_forms()}
    assert "/elements/app/billing/releases/0.1.0/hotfix" in actions
    # Publishing asks for a confirmation first, which changes nothing.
    assert releases.form("/elements/app/billing/releases/0.1.0/publish").method == "get"
    change = demo.releases.create("billing", AUTHOR, bump=Bump.MINOR, allow_same=True)
    assert change.pull_request is not None
    pull = eve.get(f"/pulls/{change.pull_request.number}")
    assert [form.action for form in pull.post_forms()] == [
        "/logout",
        f"/pulls/{change.pull_request.number}/close",
        "/deployments/test",  # a dry run changes nothing
    ]
    assert "An admin merges pull requests" in pull.text


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/elements/app/nothing", "no element named 'nothing'"),
        ("/elements/gadget/billing", "there is no gadget called 'billing'"),
        ("/elements/app/bad%20name", "there is no app called 'bad name'"),
        ("/elements/app/nothing/releases", "no element named 'nothing'"),
        ("/elements/app/billing/releases/9.9.9/compare", "billing has no release 9.9.9"),
        ("/elements/app/billing/files/nope.txt", "billing has no file 'nope.txt'"),
        (
            "/manifests/nothing",
            "there is no manifest 'nothing' (manifests: dev, prod, staging); create it first",
        ),
        ("/pulls/999", "there is no pull request #999"),
        ("/deployments/999", "there is no deployment 999"),
        ("/branches/nothing/here", "there is no branch 'nothing/here'"),
        ("/no/such/page", "there is no page at /no/such/page"),
    ],
)
def test_what_does_not_exist_is_a_clear_404_page(browser: Make, path: str, says: str) -> None:
    page = browser("vic").get(path)
    assert page.status == 404
    assert page.response.headers["content-type"].startswith("text/html")
    assert "Not found" in page.text
    assert says in page.text
    assert "'mirel " not in page.text  # the pages never suggest a command (the CLI adds its hints)
    assert "Traceback" not in page.html
    assert "Sign out" in page.text


def test_bad_query_values_are_a_400_page_not_a_crash(browser: Make) -> None:
    vic = browser("vic")
    for path in ("/?page=abc", "/deployments/abc", "/pulls/0", "/settings/releases?page=-1"):
        page = vic.get(path)
        assert page.status in (400, 404), path
        assert "Traceback" not in page.html


def test_a_page_and_the_api_give_the_same_message_for_one_error(
    browser: Make, instance: Instance
) -> None:
    page = browser("vic").get("/elements/app/billing/releases/0.3.0/compare?against=7.0.0")
    message = "billing has no release 7.0.0 on the default branch (releases: 0.3.0, 0.2.0, 0.1.0)"
    assert page.status == 404
    assert message in page.text
    with pytest.raises(ReleaseNotFound) as raised:
        release_diff(instance.hub.catalog, "billing", "0.3.0", "7.0.0")
    assert raised.value.message == message  # the API's 404 carries this same message


def test_the_home_page_lists_what_this_instance_serves(browser: Make) -> None:
    page = browser("vic").get("/")
    assert "Manifest dev" in page.text
    assert "billing app 0.3.0 latest" in page.text
    assert "status-board app working version not in manifest" in page.text
    assert "nightly-sync workflow 0.2.0 latest" in page.text
    filtered = browser("vic").get("/?q=CR")
    assert "crm" in filtered.text
    assert "billing" not in filtered.text


def test_the_home_page_pages_long_lists(instance: Instance, demo: Hub, browser: Make) -> None:
    for index in range(55):
        change = demo.elements.add(APP, f"tool-{index:02d}", {"main.rsx": b"x\n"}, AUTHOR)
        assert change.pull_request is not None
        demo.pulls.merge(change.pull_request.number, AUTHOR)
    instance.deployer.deploy("test")
    first = browser("vic").get("/")
    assert "1–50 of 59" in first.text
    assert "Next →" in first.text
    last = browser("vic").get("/?page=2")
    assert "51–59 of 59" in last.text
    assert "tool-54" in last.text
    beyond = browser("vic").get("/?page=9")
    assert beyond.status == 200
    assert "51–59 of 59" in beyond.text


def test_the_element_page_shows_its_history_with_pull_request_titles(browser: Make) -> None:
    page = browser("vic").get("/elements/app/billing")
    assert "Release billing 0.3.0" in page.text
    assert "Update app billing" in page.text
    assert "Add app billing" in page.text
    assert "Create manifest" not in page.text  # those commits did not touch billing
