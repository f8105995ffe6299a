"""What each page shows, gathered from the hub (the repository) and the instance (what it serves).

One module per area of pages: `elements` (an element, its releases, hotfixes and files),
`releases_tab` (the Releases tab, its picker and the pending changes), `branches` (a branch and
the file editor), `pulls`, `settings` (the Releases pane, Edit config, one manifest), `accounts`
(users and API tokens), `home` and `deployments`; `kinds` holds the kind filter they share.

Each page's data is a frozen dataclass that a route hands to its template as `view`. Nothing
here renders HTML or reads a request, so each page's data can be tested on its own.
"""
