"""moto's server plus the access-entry emulator, over HTTP on 127.0.0.1.

werkzeug decodes ``%2F`` in the request path before routing, which would split the
``{principalArn}`` path segment of a role ARN; EKS requests are therefore routed on the raw
request URI (``RAW_URI``/``REQUEST_URI``).
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

from . import install, uninstall

BANNER = "eks-guardrail local AWS listening on http://{host}:{port} (Ctrl-C to stop)"


def _is_eks(environ: dict[str, Any]) -> bool:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "/eks/aws4_request" in auth:
        return True
    return environ.get("HTTP_HOST", "").startswith("eks.")


def make_app() -> Callable[..., Iterable[bytes]]:
    """The WSGI app: moto's domain dispatcher, EKS paths routed on the raw URI."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    inner = DomainDispatcherApplication(create_backend_app)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
        if raw and _is_eks(environ):
            path = urlsplit(raw).path if "://" in raw else raw.split("?", 1)[0]
            environ["PATH_INFO"] = path
        return inner(environ, start_response)

    return app


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
        try:
            self._server = serving.make_server(
                self.host, self.port, make_app(), threaded=True, request_handler=MotoRequestHandler
            )
        except BaseException:
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
