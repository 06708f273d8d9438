"""moto's server plus the access-entry emulator, over HTTP on 127.0.0.1.

werkzeug decodes ``%2F`` in the request path before routing, which would split the
``{principalArn}`` path segment of a role ARN; EKS requests are therefore routed on the raw
request URI (``RAW_URI``/``REQUEST_URI``).

The region of an EKS request is the one of its SigV4 credential scope
(``Credential=AKID/20260101/eu-west-1/eks/aws4_request``), as on AWS, where the signing region
has to be the endpoint's. moto would take the region from the first ``.<x>.amazonaws.com`` in
the URL, and with a local endpoint (``http://127.0.0.1:5000``) that is found in the path when a
principal ARN carries one, as IAM Identity Center roles do
(``role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_...``). While a server is bound,
``EKSResponse.get_region_from_url`` is patched to read the region that :func:`make_app` put
into the request's WSGI environ; requests that did not come through this app (in-process
``mock_aws()``) are left to moto.
"""

from __future__ import annotations

import re
import signal
import sys
import threading
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, urlsplit

from . import install, uninstall

BANNER = "eks-guardrail local AWS listening on http://{host}:{port} (Ctrl-C to stop)"


def _is_eks(environ: dict[str, Any]) -> bool:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "/eks/aws4_request" in auth:
        return True
    return environ.get("HTTP_HOST", "").startswith("eks.")


#: WSGI environ keys set by :func:`make_app` on EKS requests: that the request came through this
#: app, and the region of its signature (absent when it is not SigV4-signed)
SERVED_KEY = "eks_guardrail.local.served"
SIGNED_REGION_KEY = "eks_guardrail.local.signed_region"
# Credential=<access key>/<yyyymmdd>/<region>/<service>/aws4_request
_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/(?P<region>[^/,\s]+)/[^/,\s]+/aws4_request")


def signed_region(environ: dict[str, Any]) -> str | None:
    """The region of the request's SigV4 credential scope: from the ``Authorization`` header,
    or ``X-Amz-Credential`` of a presigned URL; None when the request is not SigV4-signed."""
    match = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", "") or "")
    if match:
        return match["region"]
    for credential in parse_qs(environ.get("QUERY_STRING", "") or "").get("X-Amz-Credential", []):
        parts = credential.split("/")
        if len(parts) == 5 and parts[4] == "aws4_request" and parts[2]:
            return parts[2]
    return None


def make_app() -> Callable[..., Iterable[bytes]]:
    """The WSGI app: moto's domain dispatcher, EKS paths routed on the raw URI and EKS requests
    marked with their signing region."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    inner = DomainDispatcherApplication(create_backend_app)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if _is_eks(environ):
            raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
            if raw:
                path = urlsplit(raw).path if "://" in raw else raw.split("?", 1)[0]
                environ["PATH_INFO"] = path
            environ[SERVED_KEY] = True
            region = signed_region(environ)
            if region:
                environ[SIGNED_REGION_KEY] = region
        return inner(environ, start_response)

    return app


# -- region of EKS requests (patched into moto while a server is bound) ---------------------------
_region_lock = threading.Lock()
_region_installs = 0
_MISSING = object()
_saved_region_attr: Any = _MISSING
#: what EKSResponse.get_region_from_url resolved to before the patch (moto's own derivation)
_region_original: Any = None


def _eks_region_from_request(self: Any, request: Any, full_url: str) -> str:
    """``EKSResponse.get_region_from_url`` while a server is bound."""
    environ = getattr(request, "environ", None) or {}
    region = environ.get(SIGNED_REGION_KEY)
    if region:
        return str(region)
    if environ.get(SERVED_KEY):
        # unsigned request of this endpoint: the path (principal ARNs) can never name the region
        parts = urlsplit(full_url)
        full_url = f"{parts.scheme}://{parts.netloc}/"
    return _region_original(self, request, full_url)


def install_region_from_signature() -> None:
    """Make EKS requests of :func:`make_app` take their region from the signature
    (reference-counted; pair every call with :func:`uninstall_region_from_signature`)."""
    global _region_installs, _saved_region_attr, _region_original
    from moto.eks.responses import EKSResponse

    with _region_lock:
        _region_installs += 1
        if _region_installs > 1:
            return
        _saved_region_attr = EKSResponse.__dict__.get("get_region_from_url", _MISSING)
        _region_original = EKSResponse.get_region_from_url
        EKSResponse.get_region_from_url = _eks_region_from_request  # type: ignore[method-assign]


def uninstall_region_from_signature() -> None:
    """Undo one :func:`install_region_from_signature`; the last one restores moto."""
    global _region_installs, _saved_region_attr
    from moto.eks.responses import EKSResponse

    with _region_lock:
        if _region_installs == 0:
            return
        _region_installs -= 1
        if _region_installs > 0:
            return
        if _saved_region_attr is _MISSING:
            del EKSResponse.get_region_from_url
        else:
            EKSResponse.get_region_from_url = _saved_region_attr  # type: ignore[method-assign]
        _saved_region_attr = _MISSING
        # _region_original is kept: a request still finishing on a closed server may call it


class LocalAWSServer:
    """The local AWS endpoint; ``start()`` serves it from a background thread (port 0 picks a
    free port), :func:`run_server` in the foreground."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def bind(self) -> "LocalAWSServer":
        """Install the emulator and open the listening socket."""
        from moto.moto_server.threaded_moto_server import MotoRequestHandler
        from werkzeug import serving

        install()
        install_region_from_signature()
        try:
            self._server = serving.make_server(
                self.host, self.port, make_app(), threaded=True, request_handler=MotoRequestHandler
            )
        except BaseException:
            uninstall_region_from_signature()
            uninstall()
            raise
        self.port = self._server.server_address[1]
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def close(self) -> None:
        """Close the socket and uninstall the emulator (once serving has stopped)."""
        if self._server is None:
            return
        self._server.server_close()
        self._server = None
        uninstall_region_from_signature()
        uninstall()

    def start(self) -> "LocalAWSServer":
        self.bind()
        self._thread = threading.Thread(target=self.serve_forever, name="eks-guardrail-local-aws", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self.close()

    def __enter__(self) -> "LocalAWSServer":
        return self.start()

    def __exit__(self, *args: Any) -> None:
        self.stop()


def start_server(host: str = "127.0.0.1", port: int = 0) -> LocalAWSServer:
    """Start the endpoint in a background thread; ``.url`` says where, ``.stop()`` ends it."""
    return LocalAWSServer(host, port).start()


def reset() -> None:
    """Forget all emulated state (moto's backends and the emulator's)."""
    from moto.core.base_backend import BackendDict

    BackendDict.reset()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run_server(host: str = "127.0.0.1", port: int = 5000) -> int:
    """Serve until Ctrl-C; returns the exit status (0)."""
    server = LocalAWSServer(host, port).bind()
    print(BANNER.format(host=host, port=server.port), flush=True)
    # SIGTERM (kill, systemd, containers) stops as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    print("eks-guardrail local AWS stopped", file=sys.stderr, flush=True)
    return 0
