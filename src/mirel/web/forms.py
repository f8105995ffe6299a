"""What the routes share: a form's error shown beside it (and a page of forms that places it),
one-time messages, redirects, the bounded parameters of forms and queries."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Protocol

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from mirel.db.models import FlashMessage
from mirel.errors import AlreadyProposed, MirelError
from mirel.hub import ChangeRequest
from mirel.instance.accounts.sessions import add_flash
from mirel.web import urls
from mirel.web.auth import Viewer, instance_of
from mirel.web.render import page

# The parameters the routes share; lengths are bounded so that no field can be made huge.
Text = Annotated[str, Form(max_length=10_000)]
Search = Annotated[str, Query(max_length=2000)]
PageNumber = Annotated[int, Query(alias="page", ge=1, le=1_000_000)]


PAGE_FORM = "page"  # the error shown at the top of a page, for no form in particular


@dataclass(frozen=True)
class FormError:
    """The message of a form that failed, shown beside that form, with what was typed."""

    form: str
    message: str
    status: int
    values: Mapping[str, str] = field(default_factory=dict)
    link: str | None = None  # the page the message leads to (the pull request that has it)

    @classmethod
    def of(cls, form: str, error: MirelError, **values: str) -> FormError:
        """Return the form error of a failed operation (its message and HTTP status), with a
        link to the pull request that already proposes the change, when that is why."""
        link = urls.pull(error.number) if isinstance(error, AlreadyProposed) else None
        return cls(form, " ".join(error.message.split()), error.http_status, values, link)

    def placed(self, forms: Collection[str]) -> FormError:
        """Return this error, or the same at the top of the page ("page") when its form is not
        one of `forms`, the ones the page shows (a release or user that does not exist)."""
        if not self.message or self.form in forms:
            return self
        return FormError(PAGE_FORM, self.message, self.status, self.values, self.link)

    def on(self, form: str) -> str | None:
        """Return the message when it belongs to `form`, else None (templates call this)."""
        return self.message if self.form == form else None

    def value(self, name: str, default: str = "") -> str:
        """Return what was typed into a field of the failed form."""
        return self.values.get(name, default)


NO_ERROR = FormError("", "", 200)


class ShowsForms(Protocol):
    """The data of a page with a form per row (a release, a user, a token)."""

    @property
    def forms(self) -> Collection[str]:
        """Return the forms the page shows an error beside."""
        ...


def form_page(
    request: Request,
    viewer: Viewer,
    template: str,
    view: ShowsForms,
    form_error: FormError = NO_ERROR,
    **context: object,
) -> HTMLResponse:
    """Return a page of forms rendered with `view`: a failed form's error beside that form, or at
    the top when the page does not show it, with the error's status."""
    return page(
        request,
        viewer,
        template,
        status=form_error.status,
        view=view,
        form_error=form_error.placed(view.forms),
        **context,
    )


def redirect(target: str) -> RedirectResponse:
    """Return a 303 to `target`: after a form post, the browser loads the next page with GET."""
    return RedirectResponse(target, status_code=303)


def tell(
    request: Request,
    viewer: Viewer,
    message: str,
    *,
    link: str | None = None,
    link_text: str | None = None,
    kind: str = "success",
) -> None:
    """Show `message` (and a link) once, on the next page this person opens."""
    add_flash(
        instance_of(request).sessions,
        viewer.session.id_hash,
        FlashMessage(kind=kind, message=message, link=link, link_text=link_text),
    )


def tell_change(request: Request, viewer: Viewer, what: str, change: ChangeRequest) -> None:
    """Show the result of a write: the branch it made and a link to its pull request."""
    pull = change.pull_request
    if pull is None:
        tell(
            request,
            viewer,
            f"{what} Branch {change.branch_name}.",
            link=urls.branch(change.branch_name),
            link_text="Open the branch",
        )
        return
    tell(
        request,
        viewer,
        f"{what} Branch {change.branch_name}; it takes effect once pull request "
        f"#{pull.number} is merged and deployed.",
        link=urls.pull(pull.number),
        link_text=f"Open pull request #{pull.number}",
    )
