"""The deploy engine: from the default branch's head to what an instance serves.

`deployer` runs deploys (and test deploys) under the `lease`, one at a time across processes:
`planner` resolves a commit and a manifest into the desired state, `sources` checks and unpacks the
element sources it needs, `switch` makes it live in one transaction, and `steps` holds the named
steps' checkpoint and the deployment's log.
"""
