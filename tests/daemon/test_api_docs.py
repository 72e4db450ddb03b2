"""/docs and /redoc load on a machine without internet: every asset they reference is
one slad serves itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.daemon.conftest import Api


class References(HTMLParser):
    """Every URL a page makes the browser load: src and href attributes, and the
    `url:` / `spec-url` the documentation scripts fetch."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "spec-url") and value:
                self.urls.append(value)

    def handle_data(self, data: str) -> None:
        self.urls.extend(re.findall(r"""url:\s*['"]([^'"]+)['"]""", data))


def references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize(
    ("page", "needed"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "/openapi.json"}),
        ("/redoc", {"redoc.standalone.js", "/openapi.json"}),
    ],
)
def test_docs_pages_reference_only_assets_slad_serves(
    api: Api, page: str, needed: set[str]
) -> None:
    response = api.client.get(page)
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    urls = references(response.text)
    for part in needed:
        assert any(url.endswith(part) for url in urls), f"{page} does not load {part}"
    assert not re.search(r"https?://", response.text), "a page must not name another host"
    for url in urls:
        assert url.startswith("/"), f"{page} references {url}, not a local path"
        asset = api.client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, f"{url} is served empty"


def test_swagger_ui_script_is_the_real_bundle(api: Api) -> None:
    script = api.client.get("/docs-assets/swagger-ui-bundle.js")
    assert "javascript" in script.headers["content-type"]
    assert "SwaggerUIBundle" in script.text
    redoc = api.client.get("/docs-assets/redoc.standalone.js")
    assert "Redoc" in redoc.text
    assert api.client.get("/docs/oauth2-redirect").status_code == 200
    page = api.client.get("/docs").text
    assert '"validatorUrl": null' in page, "the online validator badge would call out"
