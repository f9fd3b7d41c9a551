"""Banner assets held in memory, precompressed once, served with ETag and content-hash caching."""

from __future__ import annotations

import base64
import gzip
import hashlib
from pathlib import Path

import brotli
from starlette.requests import Request
from starlette.responses import Response

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=3600, must-revalidate"


class StaticAsset:
    """One file's bytes, gzip and brotli forms, a strong ETag and its Subresource Integrity hash."""

    def __init__(self, path: Path, media_type: str) -> None:
        self.body = path.read_bytes()
        self.media_type = media_type
        self.version = hashlib.sha256(self.body).hexdigest()[:16]
        self.etag = f'"{self.version}"'
        self.integrity = "sha384-" + base64.b64encode(hashlib.sha384(self.body).digest()).decode()
        self._gzip = gzip.compress(self.body, 9, mtime=0)
        self._br = brotli.compress(self.body, quality=11)

    def response(self, request: Request) -> Response:
        cache = IMMUTABLE if request.query_params.get("v") == self.version else REVALIDATE
        headers = {"ETag": self.etag, "Cache-Control": cache, "Vary": "Accept-Encoding",
                   "Access-Control-Allow-Origin": "*", "Cross-Origin-Resource-Policy": "cross-origin"}
        if self.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        accept = request.headers.get("accept-encoding", "")
        body = self.body
        if "br" in accept:
            body, headers["Content-Encoding"] = self._br, "br"
        elif "gzip" in accept:
            body, headers["Content-Encoding"] = self._gzip, "gzip"
        return Response(body, media_type=self.media_type, headers=headers)
