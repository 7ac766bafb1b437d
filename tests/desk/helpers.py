"""What the desk tests share: a logged-in test client and the messages a response carried."""

from __future__ import annotations

from django.contrib.messages import get_messages
from django.test import Client

# force_login needs one backend: django-axes' backend only guards password logins.
LOGIN_BACKEND = "django.contrib.auth.backends.ModelBackend"


def logged_in(user) -> Client:
    browser = Client()
    browser.force_login(user, backend=LOGIN_BACKEND)
    return browser


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]
