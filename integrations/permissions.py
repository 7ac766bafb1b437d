"""Who may call which endpoint: API keys by scope, staff by the same Django permissions as in the admin.

A view declares the scopes it needs: `read_scope` for GET/HEAD/OPTIONS and `write_scope` for the other methods
(a view without one refuses every key for those methods). Staff need the model's Django permission (view for
reads, add/change/delete for writes) on `permission_model`, else on the queryset's model. Which rows they see is
customers.scoping's business (a client of another boutique is a 404), not this class's.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework import permissions
from rest_framework.request import Request

PERMISSION_ACTIONS = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


def required_scope(request: Request, view: Any) -> str | None:
    """The scope a key needs to make this request to this view."""
    attribute = "read_scope" if request.method in permissions.SAFE_METHODS else "write_scope"
    return getattr(view, attribute, None)


def permission_model(view: Any) -> type[models.Model] | None:
    model = getattr(view, "permission_model", None)
    if model is not None:
        return model
    queryset = getattr(view, "queryset", None)
    return queryset.model if queryset is not None else None


class ApiPermission(permissions.BasePermission):
    """Anonymous: 401. An API key without the view's scope: 403. Staff without the model permission: 403."""

    message = "You may not do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        if getattr(user, "is_api_key", False):
            scope = required_scope(request, view)
            if scope is None or scope not in user.scopes:
                self.message = (
                    f"This API key lacks the scope {scope}." if scope else "API keys may not call this endpoint."
                )
                return False
            return True
        if not (user.is_active and user.is_staff):
            return False
        model = permission_model(view)
        action = PERMISSION_ACTIONS.get(request.method or "")
        if model is None or action is None:
            return False
        codename = f"{model._meta.app_label}.{action}_{model._meta.model_name}"
        self.message = f"You need the permission {codename}."
        return user.has_perm(codename)
