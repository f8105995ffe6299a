"""The flows of the seed documents, through the pages: releases, publishing, hotfixes, the
Releases tab, pull requests, deployments, settings, users and tokens."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from web_support import Browser, Page, flash_link

from mirel.core.manifest import manifest_path
from mirel.git.repository import HEADS
from mirel.hub import Hub
from mirel.instance import Instance
from mirel.instance.accounts.tokens import authenticate
from mirel.providers.base import PullState
from support import AUTHOR, merge, refs

Make = Callable[[str | None], Browser]


def pull_number(link: str) -> int:
    """Return the number of a pull request page's address."""
    match = re.fullmatch(r"/pulls/(\d+)", link)
    assert match, link
    return int(match[1])


def merge_as_admin(browser: Make, number: int) -> Page:
    """Merge a pull request through its page, signed in as ada."""
    ada = browser("ada")
    page = ada.get(f"/pulls/{number}")
    return ada.submit(page.form(f"/pulls/{number}/merge"))


def one_line_changes(hub: Hub, number: int) -> dict[str, tuple[list[str], list[str]]]:
    """Return, per file of a pull request, its removed and added lines."""
    found = {}
    for item in hub.pulls.diff(number):
        lines = item.patch.splitlines()
        removed = [line for line in lines if line.startswith("-") and not line.startswith("---")]
        added = [line for line in lines if line.startswith("+") and not line.startswith("+++")]
        found[item.path] = (removed, added)
    return found


# -- releases -------------------------------------------------------------------------------------

EURO_BILLING = {
    "main.rsx": b'<App title="billing">\n  <Text value="Totals in euros" />\n</App>\n',
    "lib/query1.sql": b"select * from invoices order by created_at desc;\n",
}


def edit_billing(demo: Hub) -> None:
    """Merge new working files of billing, so that its next release brings something."""
    merge(demo, demo.elements.push("billing", EURO_BILLING, AUTHOR))


def test_create_a_minor_release_from_the_element_page(
    browser: Make, demo: Hub, instance: Instance
) -> None:
    edit_billing(demo)
    eve = browser("eve")
    releases = eve.get("/elements/app/billing/releases")
    assert "/elements/app/billing/releases/new" in releases.links
    new = eve.get("/elements/app/billing/releases/new")
    assert "Major 1.0.0" in new.text
    assert "Minor 0.4.0" in new.text
    assert "Patch 0.3.1" in new.text
    confirm = eve.submit(new.forms[1], bump="minor", description="Totals in euros")
    assert "Version 0.4.0" in confirm.text
    assert "Description Totals in euros" in confirm.text
    created = eve.submit(confirm.form("/elements/app/billing/releases"))
    assert "Release 0.4.0 of billing is ready on its branch" in created.text
    number = pull_number(flash_link(created, "Open pull request"))
    pull = eve.get(f"/pulls/{number}")
    uuid = demo.catalog.element("billing").uuid
    assert f"dist/apps/{uuid}/0.4.0.zip" in pull.text
    assert "Release billing 0.4.0" in pull.text
    listed = eve.get("/elements/app/billing/releases")
    assert 'id="release-0.4.0"' not in listed.html  # not merged yet: pending, with its link
    assert f"0.4.0 pending in pull request #{number} Release billing 0.4.0" in listed.text
    assert f"/pulls/{number}" in listed.links

    merged = merge_as_admin(browser, number)
    assert f"Pull request #{number} is merged into main" in merged.text
    assert demo.pulls.get(number).state is PullState.MERGED
    instance.deployer.deploy("test")  # what the merge's hook does on a running server
    listed = eve.get("/elements/app/billing/releases")
    assert "0.4.0 Live Totals in euros" in listed.text


def test_a_version_taken_meanwhile_is_refused_beside_the_confirmation(
    browser: Make, demo: Hub
) -> None:
    edit_billing(demo)
    eve = browser("eve")
    confirm = eve.post(
        "/elements/app/billing/releases/confirm", {"bump": "minor", "description": "mine"}
    )
    assert "Version 0.4.0" in confirm.text
    demo.releases.create("billing", AUTHOR, version="0.4.0")  # another writer claims it first
    before = refs(demo.repo.path)
    refused = eve.submit(confirm.form("/elements/app/billing/releases"))
    assert refused.status == 409
    assert "release 0.4.0 of billing is already in an open pull request" in refused.text
    assert 'id="error-create-release"' in refused.html
    assert "Version 0.5.0" in refused.text  # the page shows the number that is free now
    assert refs(demo.repo.path) == before


def test_a_release_of_unchanged_files_is_flagged_and_made_only_when_ticked(
    browser: Make, demo: Hub
) -> None:
    eve = browser("eve")
    confirm = eve.post("/elements/app/billing/releases/confirm", {"bump": "minor"})
    assert (
        "The working files of billing are exactly those of release 0.3.0: this release would "
        "change nothing." in confirm.text
    )
    assert "Release the same files as 0.3.0 again" in confirm.text
    before = refs(demo.repo.path)
    refused = eve.submit(confirm.form("/elements/app/billing/releases"))
    assert refused.status == 409
    assert "billing 0.4.0 would hold exactly the files of 0.3.0" in refused.text
    assert "--allow-same" not in refused.text  # the page names no command
    assert refs(demo.repo.path) == before
    created = eve.submit(refused.form("/elements/app/billing/releases"), allow_same="yes")
    assert "Release 0.4.0 of billing is ready on its branch" in created.text
    # Once the source changed, the page says nothing of the kind.
    edit_billing(demo)
    confirm = eve.post("/elements/app/billing/releases/confirm", {"bump": "minor"})
    assert "Version 0.5.0" in confirm.text
    assert "would change nothing" not in confirm.text


def test_publish_a_release_to_a_manifest_makes_a_one_line_pull_request(
    browser: Make, demo: Hub
) -> None:
    eve = browser("eve")
    releases = eve.get("/elements/app/billing/releases")
    before = refs(demo.repo.path)
    confirm = eve.submit(
        releases.form("/elements/app/billing/releases/0.3.0/publish", manifest="prod")
    )
    assert "Publish billing 0.3.0 to prod" in confirm.text
    assert "Pinned now 0.1.0 · Compare with 0.3.0" in confirm.text
    assert "/elements/app/billing/releases/0.3.0/compare?against=0.1.0" in confirm.links
    assert "Manifest prod edited here No instance publishes it." in confirm.text
    assert refs(demo.repo.path) == before  # the confirmation changes nothing
    published = eve.submit(
        confirm.form("/elements/app/billing/releases/0.3.0/publish", manifest="prod")
    )
    assert "Publishing billing 0.3.0 to prod" in published.text
    number = pull_number(flash_link(published, "Open pull request"))
    changes = one_line_changes(demo, number)
    assert list(changes) == [manifest_path("prod")]
    assert changes[manifest_path("prod")] == (["-    release: 0.1.0"], ["+    release: 0.3.0"])


def test_publishing_what_a_manifest_already_pins_is_refused_with_its_message(
    browser: Make, demo: Hub
) -> None:
    eve = browser("eve")
    releases = eve.get("/elements/app/billing/releases")
    form = releases.form("/elements/app/billing/releases/0.1.0/publish", manifest="prod")
    assert "prod (pins it)" in form.buttons  # offered disabled
    before = refs(demo.repo.path)
    refused = eve.submit(form)  # its confirmation says why at once
    assert refused.status == 409
    assert "manifest prod already pins billing at 0.1.0" in refused.text
    refused = eve.post(form.action, {"manifest": "prod"})
    assert refused.status == 409
    assert "manifest prod already pins billing at 0.1.0" in refused.text
    assert refs(demo.repo.path) == before


def test_compare_two_releases(browser: Make) -> None:
    page = browser("vic").get("/elements/app/billing/releases/0.3.0/compare?against=0.1.0")
    assert "billing 0.3.0 against 0.1.0" in page.text
    assert "changed apps/billing/main.rsx" not in page.text  # paths are inside the element
    assert "changed main.rsx" in page.text
    assert '- <Text value="Invoices v1" />' in page.text  # text with its spaces collapsed
    assert '+ <Text value="Invoices v3 with PDF export" />' in page.text
    assert (
        '<span class="line del">-  &lt;Text value=&#34;Invoices v1&#34; /&gt;</span>' in page.html
    )


def test_delete_is_offered_only_for_releases_no_manifest_pins(browser: Make, demo: Hub) -> None:
    eve = browser("eve")
    releases = eve.get("/elements/app/billing/releases")
    assert "/elements/app/billing/releases/0.3.0/delete" in releases.links  # dev tracks latest
    assert "/elements/app/billing/releases/0.1.0/delete" not in releases.links
    assert "Delete: pinned by prod; unpin it first." in releases.text
    pinned = eve.get("/elements/app/billing/releases/0.1.0/delete")
    assert "prod pins exactly this release" in pinned.text
    assert not pinned.post_forms()[1:]
    before = refs(demo.repo.path)
    forced = eve.post("/elements/app/billing/releases/0.1.0/delete")
    assert forced.status == 409
    assert "manifest prod pins billing 0.1.0; unpin it before deleting the release" in forced.text
    assert refs(demo.repo.path) == before
    page = eve.get("/elements/app/billing/releases/0.3.0/delete")
    deleted = eve.submit(page.form("/elements/app/billing/releases/0.3.0/delete"))
    number = pull_number(flash_link(deleted, "Open pull request"))
    uuid = demo.catalog.element("billing").uuid
    assert [item.path for item in demo.pulls.diff(number)] == [f"dist/apps/{uuid}/0.3.0.zip"]


# -- hotfixes -------------------------------------------------------------------------------------


def test_hotfix_an_older_release_commit_a_fix_and_release_the_patch(
    browser: Make, demo: Hub, instance: Instance
) -> None:
    eve = browser("eve")
    releases = eve.get("/elements/app/billing/releases")
    started = eve.submit(releases.form("/elements/app/billing/releases/0.1.0/hotfix"))
    uuid = demo.catalog.element("billing").uuid
    branch = f"mirel/hotfix/app/{uuid}/0.1"
    assert f"Hotfix branch {branch} is open with the files of the 0.1.0 line" in started.text
    assert "Hotfix 0.1 in progress" in started.text
    assert "Create patch release PR" in started.text

    branch_page = eve.get(flash_link(started, "Open the hotfix branch"))
    assert "main.rsx" in branch_page.text
    assert "Hotfix 0.1 of billing" in branch_page.text
    edit_link = next(link for link in branch_page.links if "path=main.rsx" in link)
    editor = eve.get(edit_link)
    assert "Invoices v1" in editor.form("/edit").fields["content"]
    fixed = editor.form("/edit").fields["content"].replace("Invoices v1", "Invoices v1.1")
    committed = eve.submit(
        editor.form("/edit"), content=fixed.replace("\n", "\r\n"), message="Fix the title"
    )
    assert f"Committed main.rsx to {branch}" in committed.text
    assert "Fix the title" in committed.text
    on_branch = demo.snapshot(HEADS + branch).read("apps/billing/main.rsx")
    assert on_branch is not None
    assert b"Invoices v1.1" in on_branch
    assert b"\r" not in on_branch

    box = eve.get("/elements/app/billing/releases")
    confirm = eve.submit(
        box.form("/elements/app/billing/hotfixes/0.1/confirm"), description="Title fix"
    )
    assert "release 0.1.1" in confirm.text
    made = eve.submit(confirm.form("/elements/app/billing/hotfixes/0.1/release"))
    assert "Patch release 0.1.1 of billing is ready on its branch" in made.text
    number = pull_number(flash_link(made, "Open pull request"))
    assert [item.path for item in demo.pulls.diff(number)] == [f"dist/apps/{uuid}/0.1.1.zip"]
    merge_as_admin(browser, number)
    instance.deployer.deploy("test")
    listed = eve.get("/elements/app/billing/releases")
    assert "0.1.1 Title fix" in listed.text
    assert "Hotfix 0.1 in progress" not in listed.text  # the merge removed the branch
    assert demo.repo.branch_sha(branch) is None


def test_a_second_hotfix_of_a_line_names_the_open_branch(browser: Make, demo: Hub) -> None:
    eve = browser("eve")
    eve.post("/elements/app/billing/releases/0.1.0/hotfix")
    before = refs(demo.repo.path)
    again = eve.post("/elements/app/billing/releases/0.1.0/hotfix")
    assert again.status == 409
    assert "billing already has a hotfix for 0.1 on branch mirel/hotfix/app/" in again.text
    assert refs(demo.repo.path) == before
    # A viewer sees the hotfix but nothing to do with it.
    vic = browser("vic").get("/elements/app/billing/releases")
    assert "Hotfix 0.1 in progress" in vic.text
    assert [form.action for form in vic.post_forms()] == ["/logout"]
    closed = eve.post("/elements/app/billing/hotfixes/0.1/close")
    assert "is closed" in closed.text
    assert "Hotfix 0.1 in progress" not in closed.text


def test_closing_a_hotfix_with_commits_asks_first_listing_them(browser: Make, demo: Hub) -> None:
    eve = browser("eve")
    eve.post("/elements/app/billing/releases/0.1.0/hotfix")
    [hotfix] = demo.catalog.hotfixes()
    fix = {"main.rsx": b"<App fixed/>\n"}
    demo.elements.push("billing", fix, AUTHOR, branch=hotfix.branch_name, message="Fix the total")
    releases = eve.get("/elements/app/billing/releases")
    before = refs(demo.repo.path)
    asked = eve.submit(releases.form("/elements/app/billing/hotfixes/0.1/close"))
    assert asked.status == 200
    assert "Close hotfix 0.1 of billing?" in asked.text
    assert "has 1 commit after it was started" in asked.text
    assert "Fix the total" in asked.text
    assert "Close and drop 1 commit" in asked.text
    assert refs(demo.repo.path) == before  # asking changed nothing
    # A commit made while the page was open is not dropped unseen.
    demo.elements.push("billing", {"main.rsx": b"later\n"}, AUTHOR, branch=hotfix.branch_name)
    stale = eve.submit(asked.form("/elements/app/billing/hotfixes/0.1/close"))
    assert stale.status == 409
    assert "changed since it was shown" in stale.text
    assert "has 2 commits after it was started" in stale.text
    assert demo.repo.branch_sha(hotfix.branch_name) is not None
    closed = eve.submit(stale.form("/elements/app/billing/hotfixes/0.1/close"))
    assert f"Hotfix branch {hotfix.branch_name} is closed." in closed.text
    assert demo.repo.branch_sha(hotfix.branch_name) is None


# -- the Releases tab -----------------------------------------------------------------------------


def test_two_pins_in_two_manifests_make_one_pull_request(
    browser: Make, demo: Hub, instance: Instance
) -> None:
    eve = browser("eve")
    billing, crm = demo.catalog.element("billing").uuid, demo.catalog.element("crm").uuid
    tab = eve.get("/settings/releases")
    pick = next(link for link in tab.links if f"element={billing}&manifest=prod" in link)
    picker = eve.get(pick)
    first = eve.submit(picker.form("/settings/releases/draft"), release="0.2.0")
    assert "1 pending change Review" in first.text
    picker = eve.get(f"/settings/releases/pick?element={crm}&manifest=staging")
    back = eve.submit(picker.form("/settings/releases/draft"), release="0.1.0")
    assert "2 pending changes Review" in back.text
    assert "was 0.1.0" in back.text
    review = eve.get("/settings/releases/review")
    assert "prod billing app 0.1.0 0.2.0" in review.text
    assert "staging crm app latest 0.1.0" in review.text
    made = eve.submit(review.form("/settings/releases/review"))
    assert "2 pin changes are ready on one branch" in made.text
    number = pull_number(flash_link(made, "Open pull request"))
    assert one_line_changes(demo, number) == {
        manifest_path("prod"): (["-    release: 0.1.0"], ["+    release: 0.2.0"]),
        manifest_path("staging"): (["-    release: latest"], ["+    release: 0.1.0"]),
    }
    assert "pending change" not in eve.get("/settings/releases/review").text.replace(
        "No pending change", ""
    )
    merge_as_admin(browser, number)
    cell_note = eve.get("/settings/releases").text
    assert "web serves" not in cell_note  # web publishes dev, which did not change


def test_the_picker_answers_scripts_with_json_and_drops_a_restored_pin(
    browser: Make, demo: Hub
) -> None:
    eve = browser("eve")
    eve.get("/settings/releases")
    billing = demo.catalog.element("billing").uuid
    headers = {"X-Requested-With": "fetch", "X-CSRF-Token": eve.csrf}
    answer = eve.request(
        "POST",
        "/settings/releases/draft",
        data={"element": billing, "manifest": "prod", "release": "0.3.0"},
        headers=headers,
    )
    assert answer.status_code == 200
    assert answer.json()["count"] == 1
    answer = eve.request(
        "POST",
        "/settings/releases/draft",
        data={"element": billing, "manifest": "prod", "release": "0.1.0"},  # what prod pins
        headers=headers,
    )
    assert answer.json() == {"count": 0, "changes": []}
    for data, message in (
        ({"element": billing, "manifest": "prod", "release": "4.0.0"}, "no release 4.0.0"),
        ({"element": "nothing", "manifest": "prod", "release": "latest"}, "no element named"),
        ({"element": billing, "manifest": "bad name", "release": "latest"}, "no manifest"),
    ):
        refused = eve.request("POST", "/settings/releases/draft", data=data, headers=headers)
        assert refused.status_code in (400, 404)
        assert message in refused.json()["message"]
    assert eve.get("/settings/releases/review").text.count("No pending change") == 1


def test_a_cell_is_marked_until_its_instance_deploys_the_new_pin(
    browser: Make, demo: Hub, instance: Instance
) -> None:
    eve = browser("eve")
    change = demo.manifests.set_pin("dev", "billing", "0.2.0", AUTHOR)
    assert change.pull_request is not None
    demo.pulls.merge(change.pull_request.number, AUTHOR)
    marked = eve.get("/settings/releases?q=billing")
    assert "web serves 0.3.0" in marked.text
    assert "undeployed" in marked.html
    instance.deployer.deploy("test")
    assert "web serves" not in eve.get("/settings/releases?q=billing").text


def test_the_releases_tab_filters_and_pages(browser: Make) -> None:
    vic = browser("vic")
    page = vic.get("/settings/releases?kind=workflow")
    assert "nightly-sync" in page.text
    assert "billing" not in page.text
    assert "No element matches" in vic.get("/settings/releases?q=zzz").text
    assert "data-editable" not in page.html  # a viewer cannot pick


# -- pull requests ----------------------------------------------------------------------------


def test_a_conflict_is_shown_with_its_paths_and_refused(browser: Make, demo: Hub) -> None:
    eve = browser("eve")
    editor = eve.get("/edit?element=app/billing&path=main.rsx")
    first = eve.submit(editor.form("/edit"), content="<App one/>\n")
    second = eve.submit(editor.form("/edit"), content="<App two/>\n")
    one, two = (int(str(page.response.url).rsplit("/", 1)[1]) for page in (first, second))
    merge_as_admin(browser, one)
    page = browser("ada").get(f"/pulls/{two}")
    assert "conflicting" in page.text
    assert "conflicts with main in: apps/billing/main.rsx" in page.text
    assert "disabled" in page.html.split('id="merge"')[1][:20]
    before = refs(demo.repo.path)
    refused = browser("ada").post(f"/pulls/{two}/merge")
    assert refused.status == 409
    assert f"pull request #{two} conflicts with the default branch in apps/billing/main.rsx" in (
        refused.text
    )
    assert refs(demo.repo.path) == before
    closed = eve.submit(eve.get(f"/pulls/{two}").form(f"/pulls/{two}/close"))
    assert "closed without merging" in closed.text


def test_an_edit_on_main_becomes_a_branch_and_a_pull_request(browser: Make, demo: Hub) -> None:
    eve = browser("eve")
    editor = eve.get("/edit?element=app/billing&path=lib/query1.sql")
    assert "select * from invoices" in editor.form("/edit").fields["content"]
    head = demo.head()
    page = eve.submit(editor.form("/edit"), content="select 1;\r\n")
    assert "Your change to lib/query1.sql is on a new branch" in page.text
    assert demo.head() == head  # nothing on main until the merge
    number = int(str(page.response.url).rsplit("/", 1)[1])
    assert f"Open pull request #{number}" not in page.text  # no link to the page it is on
    assert one_line_changes(demo, number) == {
        "apps/billing/lib/query1.sql": (
            ["-select * from invoices order by created_at desc;"],
            ["+select 1;"],
        )
    }
    unchanged = eve.submit(editor.form("/edit"))
    assert unchanged.status == 409
    assert "already on the default branch" in unchanged.text
    outside = eve.submit(editor.form("/edit"), path="../../manifests/prod.yaml")
    assert outside.status == 400
    assert "is not a safe relative path" in outside.text


# -- settings, users, tokens, deployments -------------------------------------------------------


def test_an_admin_picks_the_manifest_this_instance_publishes(
    browser: Make, instance: Instance
) -> None:
    ada = browser("ada")
    config = ada.get("/settings/config")
    saved = ada.submit(config.form("/settings/config"), manifest="prod")
    assert "This instance publishes prod from its next deploy" in saved.text
    assert instance.state.selected_manifest() == "prod"
    assert "Deployed now: dev" in saved.text
    refused = ada.post("/settings/config", {"manifest": "nothing"})
    assert refused.status == 404
    assert "no manifest" in refused.text
    assert instance.state.selected_manifest() == "prod"


def test_create_a_manifest(browser: Make, demo: Hub) -> None:
    eve = browser("eve")
    form = eve.get("/settings/manifests/new").form("/settings/manifests")
    made = eve.submit(form, name="uat")
    number = pull_number(flash_link(made, "Open pull request"))
    assert [item.path for item in demo.pulls.diff(number)] == [manifest_path("uat")]
    for name, message in (("bad name", "is not a valid manifest name"), ("prod", "already exists")):
        refused = eve.submit(form, name=name)
        assert refused.status in (400, 409)
        assert message in refused.text
        assert refused.form("/settings/manifests").fields["name"] == name


def test_an_admin_manages_users(browser: Make) -> None:
    ada = browser("ada")
    page = ada.get("/settings/users")
    added = ada.submit(
        page.form("/settings/users"), username="max", role="editor", password="max-password"
    )
    assert "User max can sign in now, as editor" in added.text
    assert "max" in browser(None).sign_in("max", "max-password").text
    short = ada.submit(page.form("/settings/users"), username="tim", password="short")
    assert short.status == 400
    assert "8 to 1024 characters" in short.text
    assert short.form("/settings/users").fields["username"] == "tim"
    demoted = ada.post("/settings/users/max/role", {"role": "viewer"})
    assert "max is viewer now" in demoted.text
    renewed = ada.post("/settings/users/max/password", {"password": "another-password"})
    assert "max has a new password" in renewed.text
    assert browser(None).sign_in("max", "max-password").status == 401
    deleted = ada.post("/settings/users/max/delete")
    assert "User max is deleted" in deleted.text
    assert browser(None).sign_in("max", "another-password").status == 401


def test_the_last_admin_is_kept(browser: Make) -> None:
    ada = browser("ada")
    ada.get("/settings/users")
    for action, data in (("role", {"role": "viewer"}), ("delete", {})):
        refused = ada.post(f"/settings/users/ada/{action}", data)
        assert refused.status == 409
        assert "ada is the only admin" in refused.text
    assert "ada admin" in ada.get("/settings/users").text


def test_an_admin_creates_a_token_shown_once(browser: Make, instance: Instance) -> None:
    ada = browser("ada")
    page = ada.get("/settings/tokens")
    made = ada.submit(page.form("/settings/tokens"), name="ci", scopes="source_control:read")
    token = re.search(r"(mirel_[A-Za-z0-9_-]{20,})", made.text)
    assert token is not None
    assert "shown only once" in made.text
    assert token[1] not in ada.get("/settings/tokens").text
    info = authenticate(instance.sessions, token[1])
    assert info is not None
    assert info.scopes == {"source_control:read"}
    revoked = ada.post(f"/settings/tokens/{info.id}/revoke")
    assert "Token ci is revoked" in revoked.text
    assert authenticate(instance.sessions, token[1]) is None
    none = ada.submit(page.form("/settings/tokens"), name="nothing")
    assert none.status == 400
    assert "at least one scope" in none.text


def test_deploy_latest_records_a_deployment(browser: Make, instance: Instance) -> None:
    ada = browser("ada")
    before = len(instance.deployments.recent())
    page = ada.get("/deployments")
    done = ada.submit(page.form("/deployments"))
    assert re.search(r"Deployment #\d+ ended SUCCESS", done.text)
    assert "triggered by ada" in done.text  # the log, on the deployment's page
    assert len(instance.deployments.recent()) == before + 1
    # mirel's own trigger names the person; the seed API's triggered_by says user_<id>.
    assert instance.deployments.recent(1)[0].triggered_by == "ada (user 1)"
    listed = ada.get("/deployments")
    assert "success" in listed.text
    assert "ada" in listed.text
    assert json.dumps(instance.deployments.recent(1)[0].changes) == "[]"


def test_the_pending_changes_have_a_limit(browser: Make, demo: Hub, instance: Instance) -> None:
    from mirel.instance.accounts.sessions import load_session, save_draft
    from mirel.web.auth import cookie_name

    eve = browser("eve")
    eve.get("/settings/releases")
    session = load_session(instance.sessions, eve.client.cookies[cookie_name(instance)])
    assert session is not None
    filler = [
        {
            "manifest": f"m{index}",
            "uuid": "u",
            "name": "x",
            "kind": "app",
            "from": None,
            "release": "latest",
        }
        for index in range(500)
    ]
    save_draft(instance.sessions, session.id_hash, filler)
    billing = demo.catalog.element("billing").uuid
    refused = eve.post(
        "/settings/releases/draft", {"element": billing, "manifest": "prod", "release": "0.2.0"}
    )
    assert refused.status == 400
    assert "500 changes are pending already" in refused.text


def test_the_worst_form_inputs_get_a_message_and_change_nothing(
    browser: Make, demo: Hub, instance: Instance
) -> None:
    eve = browser("eve")
    eve.get("/")
    before = refs(demo.repo.path)
    cases = [
        (
            "/elements/app/billing/releases",
            {"version": "../../x", "description": "x"},
            400,
            "is not a version; write X.Y.Z",
        ),
        (
            "/elements/app/billing/releases",
            {"version": "0.4.0", "description": "x" * 10_001},
            400,
            "at most 10000 characters",
        ),
        (
            "/elements/app/billing/releases/0.1.0/publish",
            {"manifest": "../prod"},
            400,
            "is not a valid manifest name",
        ),
        ("/elements/app/billing/releases/9.9.9/hotfix", {}, 404, "billing has no release 9.9.9"),
        ("/elements/app/billing/hotfixes/0.1/release", {}, 404, "no open hotfix for 0.1"),
        ("/edit", {"element": "app/billing", "path": "", "content": "x"}, 400, "name the file"),
        (
            "/edit",
            {"element": "app/nothing", "path": "a", "content": "x"},
            404,
            "no element named 'nothing'",
        ),
        (
            "/edit",
            {"element": "app/billing", "path": "a", "content": "x", "branch": "main"},
            400,
            "is the default branch",
        ),
        ("/settings/releases/review", {}, 400, "no changes given"),
        ("/settings/manifests", {"name": "x" * 101}, 400, "is not a valid manifest name"),
    ]
    for path, data, status, message in cases:
        page = eve.post(path, data)
        assert page.status == status, (path, data, page.status, page.text[:300])
        assert message in page.text, (path, page.text[:500])
        assert "Traceback" not in page.html
    ada = browser("ada")
    ada.get("/")
    for path, message in (
        ("/settings/users/nobody/role", "there is no user 'nobody'"),
        ("/settings/tokens/999/revoke", "no token with id 999"),
    ):
        page = ada.post(path, {"role": "admin"})
        assert page.status == 404
        assert message in page.text, path
    long_name = browser(None).post("/login", {"username": "x" * 3000, "password": "y"}, csrf=False)
    assert long_name.status == 400
    assert "at most 2000 characters" in long_name.text
    assert refs(demo.repo.path) == before


def test_a_long_description_survives_the_confirmation_and_going_back(browser: Make) -> None:
    eve = browser("eve")
    text = "Fixes, " * 1500  # 10,500 characters would not fit an address; 9,000 fit the form
    text = text[:9000]
    new = eve.get("/elements/app/billing/releases/new")
    confirm = eve.submit(
        new.form("/elements/app/billing/releases/confirm"), bump="major", description=text
    )
    assert confirm.status == 200
    assert "Version 1.0.0" in confirm.text
    assert confirm.form("/elements/app/billing/releases").fields["description"] == text
    back = eve.submit(confirm.form("/elements/app/billing/releases/new"))
    assert back.form("/elements/app/billing/releases/confirm").fields["description"] == text
    assert back.form("/elements/app/billing/releases/confirm").fields["bump"] == "major"


def test_the_picker_page_starts_at_the_cells_pin(browser: Make, demo: Hub) -> None:
    eve = browser("eve")
    billing = demo.catalog.element("billing").uuid
    picker = eve.get(f"/settings/releases/pick?element={billing}&manifest=dev")
    assert picker.form("/settings/releases/draft").fields["release"] == "latest"
    eve.submit(picker.form("/settings/releases/draft"))  # nothing chosen: nothing pending
    assert "No pending change" in eve.get("/settings/releases/review").text


def test_a_merge_is_refused_when_the_branch_moved_since_the_page_was_shown(
    browser: Make, demo: Hub
) -> None:
    eve, ada = browser("eve"), browser("ada")
    change = demo.elements.edit_file("billing", "main.rsx", b"<App first/>\n", AUTHOR)
    assert change.pull_request is not None
    number = change.pull_request.number
    shown = ada.get(f"/pulls/{number}")
    demo.elements.edit_file(
        "billing", "main.rsx", b"<App second/>\n", AUTHOR, branch=change.branch_name
    )
    before = refs(demo.repo.path)
    refused = ada.submit(shown.form(f"/pulls/{number}/merge"))
    assert refused.status == 409
    assert f"pull request #{number} has new commits since you opened it" in refused.text
    assert refs(demo.repo.path) == before
    merged = ada.submit(ada.get(f"/pulls/{number}").form(f"/pulls/{number}/merge"))
    assert "is merged into main" in merged.text
    assert demo.snapshot().read("apps/billing/main.rsx") == b"<App second/>\n"
    assert eve.get(f"/pulls/{number}").status == 200


def test_the_pickers_script_gets_json_errors_even_before_the_route(
    browser: Make, demo: Hub
) -> None:
    eve = browser("eve")
    eve.get("/settings/releases")
    billing = demo.catalog.element("billing").uuid
    data = {"element": billing, "manifest": "prod", "release": "0.2.0"}
    forged = eve.request(
        "POST",
        "/settings/releases/draft",
        data=data,
        headers={"X-Requested-With": "fetch", "X-CSRF-Token": "forged"},
    )
    assert forged.status_code == 403
    assert forged.json() == {"success": False, "message": forged.json()["message"]}
    assert "security token" in forged.json()["message"]
    signed_out = browser(None).request(
        "POST", "/settings/releases/draft", data=data, headers={"X-Requested-With": "fetch"}
    )
    assert signed_out.status_code == 401
    assert "sign in" in signed_out.json()["message"]
