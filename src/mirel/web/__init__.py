"""The web UI (SPEC.md §7): server-rendered pages beside the REST API, in the same application.

`app.install_web` adds the pages, their static files and their headers to the application, and
`render.error_page` is the page side of the one error pipeline (mirel.http), so that a failure
the API answers as JSON is a readable page here. Layout:

- `auth.py`    sign-in sessions, CSRF and the role each route declares (`ViewerDep`, `EditorDep`,
               ...); the users and sessions themselves are stored by mirel.instance.accounts;
- `routes/`    one thin module per area: `home`, `elements` (an element, its releases and
               hotfixes), `pulls` (pull requests, branches, the editor), `deployments`, and the
               settings: `config` (the Releases pane, Edit config), `manifests`, `releases_tab`
               (the matrix and its pending changes), `users`, `tokens`; plus `session` (sign-in);
- `views/`     what each page shows, one module per area, as frozen dataclasses gathered from the
               hub and the instance (no HTML, no request);
- `render.py`  the Jinja2 environment and the error page; `forms.py` what the routes share (form
               errors, one-time messages, redirects); `paging.py` one page of a long list;
- `urls.py`    every page address, for the routes and the templates;
- `templates/` and `static/` the pages themselves.

A route parses its request, calls one view (or one operation), and renders the view's value
as `view` in its template.
"""

from mirel.web.app import install_web

__all__ = ["install_web"]
