"""The web UI (SPEC.md §7): server-rendered pages beside the REST API, in the same application.

`app.install_web` adds the pages, their static files and their headers to the API's
application, and registers the page side of the one error pipeline (`render.error_page`), so that
a failure the API answers as JSON is a readable page here. Layout:

- `accounts.py`  local users (argon2 hashes) and their sessions, in the instance database;
- `auth.py`      sign-in, CSRF and the role each route declares (`ViewerDep`, `EditorDep`, ...);
- `views.py`     what each page shows, gathered from the hub and the instance;
- `render.py`    the Jinja2 environment and the error page; `forms.py` what the routes share;
- `urls.py`      every page address, for the routes and the templates;
- `routes/`      one thin module per area; `templates/` and `static/` the pages themselves.
"""

from mirel.web.app import install_web

__all__ = ["install_web"]
