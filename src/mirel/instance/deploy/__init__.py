"""The deploy engine: from the default branch's head to what an instance serves.

`planner` resolves a commit and a manifest into the desired state, `sources` checks and unpacks
the element sources it needs, `lease` keeps deploys one at a time across processes.
"""
