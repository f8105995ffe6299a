"""`POST /source_control/deployment/{id}/rollback` (issue 13, rollback through the API): the pull
request restoring what a successful deployment served, as exact pins."""

from __future__ import annotations

from api_support import Api, Seed, TokenMaker, data, failed

from mirel.instance import Instance


def test_a_rollback_is_a_pull_request_of_exact_pins(
    api: Api, make_token: TokenMaker, instance: Instance, seed: Seed
) -> None:
    served = instance.deployer.deploy("test")
    assert served.status == "SUCCESS"
    token = make_token("source_control:releases:write")
    # dev pins billing `latest` (1.1.0 now): the same state, as exact pins, is a change.
    change = data(api.post(f"/source_control/deployment/{served.uuid}/rollback", token))
    number = change["pull_request"]["number"]
    pull = seed.hub.pulls.get(number)
    assert pull.title.startswith("Roll back dev to what")
    assert pull.state == "open"
    diff = "".join(file.patch for file in seed.hub.pulls.diff(number))
    assert "release: 1.1.0" in diff
    assert "latest" in diff  # the line it replaces
    failed(api.post("/source_control/deployment/999999/rollback", token), 404)
    reader = make_token("source_control:releases:read")
    failed(api.post(f"/source_control/deployment/{served.uuid}/rollback", reader), 403)
