"""The pages where people decide: a pull request's plan per instance, the merge gate's problems,
source diffs, open pull requests shown where people act, and Test deploy.

The instance of these tests, `web`, publishes dev of the demo repository (billing at latest,
0.3.0), and has reported what it serves.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from web_support import Browser, Page

from mirel.hub import ChangeRequest, Hub
from mirel.instance import Instance
from support import AUTHOR, merge, refs

Make = Callable[[str | None], Browser]


def number(change: ChangeRequest) -> int:
    """Return a change's pull request number."""
    assert change.pull_request is not None
    return change.pull_request.number


def merge_button(page: Page) -> str:
    """Return the HTML of the Merge button."""
    start = page.html.index('id="merge"')
    return page.html[start : page.html.index(">", start)]


# -- a pull request -------------------------------------------------------------------------------


def test_a_pull_request_shows_what_each_instance_would_change(browser: Make, demo: Hub) -> None:
    change = demo.manifests.change_pins(
        [("dev", "billing", "0.2.0"), ("prod", "crm", "latest")], AUTHOR
    )
    page = browser("vic").get(f"/pulls/{number(change)}")
    assert "What each instance would change If this pull request were merged now." in page.text
    assert (
        "Manifest dev edited here Instance web Element Serves now Would serve Sources "
        "billing app 0.3.0 0.2.0 Compare 0.3.0 with 0.2.0" in page.text
    )
    assert "/elements/app/billing/releases/0.2.0/compare?against=0.3.0" in page.links
    assert "Manifest prod edited here No instance publishes it." in page.text


def test_a_plan_counts_from_what_each_instance_serves(browser: Make, demo: Hub) -> None:
    merge(demo, demo.manifests.set_pin("dev", "billing", "0.1.0", AUTHOR))  # not deployed yet
    change = demo.manifests.set_pin("dev", "billing", "latest", AUTHOR)
    page = browser("vic").get(f"/pulls/{number(change)}")
    # web serves 0.3.0 still: merging latest back changes nothing for it.
    assert "Manifest dev edited here Instance web No change." in page.text
    change = demo.manifests.set_pin("dev", "nightly-sync", "0.1.0", AUTHOR)
    page = browser("vic").get(f"/pulls/{number(change)}")
    assert "billing app 0.3.0 0.1.0 Compare 0.3.0 with 0.1.0" in page.text  # main's change
    assert "nightly-sync workflow 0.2.0 0.1.0 Compare 0.2.0 with 0.1.0" in page.text


def test_the_gates_problems_disable_merge_and_a_refused_merge_lists_them(
    browser: Make, demo: Hub
) -> None:
    deletion = demo.releases.delete("billing", "0.3.0", AUTHOR)  # dev tracks latest: allowed
    ada = browser("ada")
    page = ada.get(f"/pulls/{number(deletion)}")
    assert 'id="problems"' not in page.html
    assert "disabled" not in merge_button(page)
    form = page.form(f"/pulls/{number(deletion)}/merge")
    merge(demo, demo.manifests.set_pin("staging", "billing", "0.3.0", AUTHOR))  # meanwhile
    before = refs(demo.repo.path)
    refused = ada.submit(form)
    assert refused.status == 409
    assert refs(demo.repo.path) == before
    problem = "manifests/staging.yaml: pins billing 0.3.0, which is not released"
    assert "Merging it now would be refused" in refused.text
    assert f"these problems. {problem}" in refused.text
    assert f"pull request #{number(deletion)} cannot be merged" in refused.text
    again = ada.get(f"/pulls/{number(deletion)}")
    assert problem in again.text
    assert "disabled" in merge_button(again)


def test_a_release_pull_request_shows_its_source_against_the_release_before(
    browser: Make, demo: Hub
) -> None:
    files = {"main.rsx": b'<App title="billing">\n  <Text value="Invoices v4" />\n</App>\n'}
    merge(demo, demo.elements.push("billing", files, AUTHOR))
    change = demo.releases.create("billing", AUTHOR, version="0.4.0")
    page = browser("vic").get(f"/pulls/{number(change)}")
    assert "Source of billing 0.4.0 against 0.3.0 0 files added, 1 removed, 1 changed." in page.text
    assert (
        '<span class="line add">+  &lt;Text value=&#34;Invoices v4&#34; /&gt;</span>' in page.html
    )
    assert "billing app 0.3.0 0.4.0 (pin latest)" in page.text  # the plan: latest resolved


def test_a_hotfix_branch_shows_what_its_patch_release_would_change(
    browser: Make, demo: Hub
) -> None:
    hotfix = demo.hotfixes.create("billing", "0.1.0", AUTHOR)
    files = {"main.rsx": b'<App title="billing">\n  <Text value="Invoices v1, fixed" />\n</App>\n'}
    demo.elements.push("billing", files, AUTHOR, branch=hotfix.branch_name)
    page = browser("vic").get(f"/branches/{hotfix.branch_name}")
    assert "Source of billing 0.1.1 against 0.1.0" in page.text
    assert "Invoices v1, fixed" in page.text


# -- the Releases tab and publishing --------------------------------------------------------------


def test_review_shows_the_plan_and_a_compare_link_per_pin(browser: Make, demo: Hub) -> None:
    eve = browser("eve")
    eve.get("/settings/releases")
    for manifest, release in (("dev", "0.1.0"), ("prod", "latest")):
        eve.post(
            "/settings/releases/draft",
            {
                "element": demo.catalog.element("billing").uuid,
                "manifest": manifest,
                "release": release,
            },
        )
    review = eve.get("/settings/releases/review")
    assert "/elements/app/billing/releases/0.1.0/compare?against=0.3.0" in review.links  # dev
    assert "/elements/app/billing/releases/0.3.0/compare?against=0.1.0" in review.links  # prod
    assert "If these changes were merged now." in review.text
    plan = "Manifest dev edited here Instance web Element Serves now Would serve Sources"
    assert f"{plan} billing app 0.3.0 0.1.0" in review.text


def test_review_says_when_an_open_pull_request_already_makes_a_change(
    browser: Make, demo: Hub
) -> None:
    first = demo.manifests.set_pin("prod", "billing", "0.2.0", AUTHOR)
    eve = browser("eve")
    eve.get("/settings/releases")
    uuid = demo.catalog.element("billing").uuid
    eve.post("/settings/releases/draft", {"element": uuid, "manifest": "prod", "release": "0.2.0"})
    review = eve.get("/settings/releases/review")
    assert f"pull request #{number(first)} already makes this change" in review.text
    before = refs(demo.repo.path)
    refused = eve.submit(review.form("/settings/releases/review"))
    assert refused.status == 409
    assert f"/pulls/{number(first)}" in refused.links  # Open that pull request
    assert refs(demo.repo.path) == before


def test_publishing_what_an_open_pull_request_proposes_is_refused_with_its_link(
    browser: Make, demo: Hub
) -> None:
    first = demo.manifests.set_pin("prod", "billing", "0.3.0", AUTHOR)
    eve = browser("eve")
    releases = eve.get("/elements/app/billing/releases")
    refused = eve.submit(
        releases.form("/elements/app/billing/releases/0.3.0/publish", manifest="prod")
    )
    assert refused.status == 409
    assert f"pull request #{number(first)} already makes this change" in refused.text
    assert f"/pulls/{number(first)}" in refused.links


def test_open_pull_requests_are_marked_where_people_act(browser: Make, demo: Hub) -> None:
    pin = demo.manifests.set_pin("staging", "crm", "0.1.0", AUTHOR)
    qa = demo.manifests.create("qa", AUTHOR)
    vic = browser("vic")
    matrix = vic.get("/settings/releases")
    assert f"#{number(pin)} pins 0.1.0" in matrix.text
    assert f"/pulls/{number(pin)}" in matrix.links
    assert matrix.html.count(' proposed"') == 1  # the one cell it touches
    settings = vic.get("/settings")
    assert f"qa pending in pull request #{number(qa)}" in settings.text
    assert f"/pulls/{number(qa)}" in settings.links


# -- Test deploy -----------------------------------------------------------------------------------


def test_test_deploy_of_a_pull_request_shows_this_instances_changes_and_changes_nothing(
    browser: Make, demo: Hub, instance: Instance
) -> None:
    change = demo.manifests.set_pin("dev", "billing", "0.1.0", AUTHOR)
    eve = browser("eve")
    pull = eve.get(f"/pulls/{number(change)}")
    before = refs(demo.repo.path)
    deployed = instance.deployments.last()
    result = eve.submit(pull.form("/deployments/test", pull=str(number(change))))
    assert result.status == 200
    assert f"Pull request #{number(change)} merged now with dev" in result.text
    assert "The deploy would succeed." in result.text
    assert "billing app 0.3.0 0.1.0" in result.text
    assert refs(demo.repo.path) == before  # the merge commit is written, referenced by nothing
    assert instance.deployments.last() == deployed


def test_test_deploy_of_a_commit_lists_the_problems_a_deploy_would_hit(
    browser: Make, demo: Hub
) -> None:
    eve = browser("eve")
    form = eve.get("/deployments/test").form("/deployments/test")
    fine = eve.submit(form)  # the default branch's tip
    assert "The deploy would succeed and change nothing." in fine.text
    missing = eve.submit(form, commit="0" * 40)
    assert missing.status == 404
    assert 'id="error-test-deploy"' in missing.html
    merged = eve.submit(form, pull="1")
    assert merged.status == 409
    assert "pull request #1 is merged; test-deploy a commit instead" in merged.text


def test_a_viewer_cannot_test_deploy(browser: Make) -> None:
    vic = browser("vic")
    assert vic.get("/deployments/test").status == 403
    assert "Test deploy" not in vic.get("/deployments").text


# -- words ----------------------------------------------------------------------------------------


def test_the_settings_tabs_and_the_releases_pane_are_told_apart(browser: Make) -> None:
    eve = browser("eve")
    overview = eve.get("/settings")
    assert "Overview Releases tab" in overview.text  # the tabs, named apart
    assert "Releases pane This instance publishes: dev" in overview.text
    # One Create manifest, in the Releases pane (as the seed documents say), not twice.
    assert overview.links.count("/settings/manifests/new") == 1
    assert overview.text.count("Create manifest") == 1


def test_an_editor_refused_an_admins_page_is_told_in_plain_words(browser: Make) -> None:
    refused = browser("eve").get("/settings/users")
    assert refused.status == 403
    assert "this needs the admin role and eve is an editor; ask an admin for the role" in (
        refused.text
    )


COMMAND = re.compile(
    r"\bmirel (init|element|release|manifest|hotfix|pr|token|user|validate|matrix|deploy|up)\b"
)


def test_no_page_suggests_a_command(browser: Make, demo: Hub) -> None:
    assert COMMAND.search("'mirel manifest create x' creates it")  # what it looks for
    assert COMMAND.search(browser(None).get("/login").text) is None
    eve = browser("eve")
    for path in (
        "/settings",
        "/settings/releases",
        "/elements/app/billing/releases",
        "/pulls",
        "/deployments",
        "/deployments/test",
        "/manifests/nothing",  # the core's messages, which the command line completes
        "/elements/app/nothing",
        "/pulls/999",
    ):
        page = eve.get(path)
        assert COMMAND.search(page.text) is None, path
