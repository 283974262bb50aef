"""GET /docs: the API's OpenAPI document (GET /openapi.json) rendered by
Swagger UI, vendored in chalicelib/web/vendor/swagger-ui (no CDN).

The page and its two assets are plain routes, so they work wherever the API
does: locally and behind API Gateway's stage prefix (every URL on the page
is relative: `docs/...`, `openapi.json`). Files are read at their first
request, not at import.
"""
from functools import cache
from pathlib import Path

from chalice import Response

from chalicelib.web import errors

VENDOR = Path(__file__).parent / "vendor" / "swagger-ui"
ASSETS = {"swagger-ui.css": "text/css; charset=utf-8",
          "swagger-ui-bundle.js": "application/javascript; charset=utf-8"}
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Chirp API</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true,
                                 tryItOutEnabled: true, persistAuthorization: true});
  </script>
</body>
</html>
"""
CACHE = "public, max-age=3600"  # the assets change only with a new deployment


def page() -> Response:
    return Response(body=PAGE, headers={"Content-Type": "text/html; charset=utf-8",
                                        "Cache-Control": "no-cache"})


@cache
def _read(name: str) -> str:
    return (VENDOR / name).read_text(encoding="utf-8")


def asset(name: str) -> Response:
    if name not in ASSETS:
        raise errors.not_found("Asset")
    return Response(body=_read(name), headers={"Content-Type": ASSETS[name], "Cache-Control": CACHE})
