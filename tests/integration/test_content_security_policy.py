"""Every response carries the Content-Security-Policy: scripts, styles, fonts and images from our own origin only."""

from __future__ import annotations

import pytest

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/login/", "/api/v1/docs/", "/api/v1/redoc/", "/api/v1/customers/"])
def test_every_page_carries_the_content_security_policy(client, path):
    response = client.get(path)

    assert response["Content-Security-Policy"] == POLICY


@pytest.mark.django_db
def test_the_api_docs_load_nothing_from_another_origin_and_run_no_inline_script(client):
    swagger = client.get("/api/v1/docs/").content.decode()
    redoc = client.get("/api/v1/redoc/").content.decode()

    for page in (swagger, redoc):
        assert "https://" not in page
        assert "<script>" not in page
    assert '<script src="/api/v1/docs/?script="></script>' in swagger
