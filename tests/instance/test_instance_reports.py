"""What instances tell the repository they serve, and the home page's query of the live state."""

from __future__ import annotations

from instance_support import Repo, open_instance, set_manifest

from mirel.providers.base import InstanceReport
from mirel.providers.local import LocalProvider
from mirel.providers.reports import INSTANCE_REPORTS
from support import AUTHOR


def test_each_deploy_reports_what_the_instance_serves(repo: Repo, database_url: str) -> None:
    with open_instance(repo.hub, database_url, name="prod", manifest="prod") as instance:
        assert repo.hub.provider.instance_reports() == []
        deployment = instance.deployer.deploy("test")
        [report] = repo.hub.provider.instance_reports()
        assert report.name == "prod"
        assert report.manifest == "prod"
        assert report.status == "SUCCESS"
        assert report.commit_sha == deployment.commit_sha
        assert report.url == "http://127.0.0.1:8600"
        assert report.live[repo.billing] == "1.0.0"
        assert report.live[repo.status] == "working"  # not in prod: its working version
        assert set(report.live) == {repo.billing, repo.crm, repo.status, repo.nightly}


def test_a_failed_deploy_reports_the_old_state_and_its_status(
    repo: Repo, database_url: str
) -> None:
    with open_instance(repo.hub, database_url, name="prod", manifest="prod") as instance:
        instance.deployer.deploy("test")
        set_manifest(repo.hub, "prod", b"version: 1.0.0\nname: prod\napps: [oops\n")
        failed = instance.deployer.deploy("test")
        assert failed.status == "ERROR"
        [report] = repo.hub.provider.instance_reports()
        assert report.status == "ERROR"
        assert report.live[repo.billing] == "1.0.0"  # still what it serves
        assert report.commit_sha != failed.commit_sha  # the commit it serves, not the failed one


def test_reports_are_one_per_instance_name_and_replace_each_other(repo: Repo) -> None:
    provider = LocalProvider(repo.hub.repo)
    for status in ("SUCCESS", "ERROR", "SUCCESS"):
        provider.report_instance(
            InstanceReport("My prod!", None, "prod", "abc", status, "2026-01-01T00:00:00Z")
        )
    provider.report_instance(
        InstanceReport("dev", None, "dev", "abc", "SUCCESS", "t", {"u": "1.0.0"})
    )
    reports = provider.instance_reports()
    assert [(report.name, report.status) for report in reports] == [
        ("My prod!", "SUCCESS"),
        ("dev", "SUCCESS"),
    ]
    assert reports[1].live == {"u": "1.0.0"}
    assert len(repo.hub.repo.refs_under(INSTANCE_REPORTS)) == 2


def test_an_unreadable_report_is_skipped(repo: Repo) -> None:
    provider = repo.hub.provider
    provider.report_instance(InstanceReport("dev", None, "dev", "abc", "SUCCESS", "t"))
    git = repo.hub.repo
    tree = git.write_tree_changes(None, {"instance.json": b"{not json"})
    broken = git.write_commit(tree_oid=tree, parents=[], message="x\n", author=AUTHOR)
    git.create_ref(INSTANCE_REPORTS + "broken", broken)
    assert [report.name for report in provider.instance_reports()] == ["dev"]


def test_the_live_state_pages_and_filters_in_the_database(repo: Repo, database_url: str) -> None:
    with open_instance(repo.hub, database_url, manifest="dev") as instance:
        instance.deployer.deploy("test")
        page, total = instance.live.page(limit=2)
        assert total == 4
        assert [element.name for element in page] == ["billing", "crm"]  # apps first, by name
        page, _ = instance.live.page(offset=2, limit=2)
        assert [element.name for element in page] == ["status", "nightly"]
        assert page[0].live_release is None
        assert page[0].in_manifest
        assert page[0].files == []
        found, total = instance.live.page(query="ILL")
        assert ([element.name for element in found], total) == (["billing"], 1)
        found, total = instance.live.page(kind="workflow")
        assert [element.name for element in found] == ["nightly"]
        for wild in ("%", "_", "\\"):
            assert instance.live.page(query=wild) == ([], 0)  # taken literally, not as patterns


def test_deployment_summaries_count_changes_without_reading_logs(
    repo: Repo, database_url: str
) -> None:
    with open_instance(repo.hub, database_url, manifest="prod") as instance:
        first = instance.deployer.deploy("test")
        set_manifest(repo.hub, "prod", b"version: 1.0.0\nname: prod\napps: [oops\n")
        failed = instance.deployer.deploy("test")
        newest, oldest = instance.deployments.summaries(10)
        assert (newest.id, newest.status, newest.change_count) == (failed.id, "ERROR", 0)
        assert newest.errors == failed.errors
        assert (oldest.id, oldest.change_count) == (first.id, len(first.changes))
        assert oldest.change_count == 4
        assert oldest.created_at == first.created_at
        assert instance.deployments.summaries(1)[0].id == failed.id
