"""Real servers for the deployment tests and the benchmarks: gunicorn with the shipped
configuration, and nginx with the shipped ``deploy/nginx.conf`` moved into a throw-away prefix
(free loopback ports, a self-signed certificate, temporary cache and log folders)."""

from __future__ import annotations

import contextlib
import datetime
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def self_signed_certificate(folder: Path, host: str = "tips.example.org") -> tuple[Path, Path]:
    """A throw-away certificate and key for ``host``, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _replace(text: str, old: str, new: str) -> str:
    if old not in text:
        raise AssertionError(
            f"deploy/nginx*.conf no longer contains {old!r}: update tests/servers.py"
        )
    return text.replace(old, new)


class NginxPrefix:
    """deploy/nginx.conf, unchanged but for paths and ports, inside a minimal nginx.conf."""

    def __init__(
        self, folder: Path, app_port: int, static_root: Path | None = None, workers: int = 1
    ) -> None:
        self.folder = folder
        self.http_port, self.https_port, self.onion_port = free_port(), free_port(), free_port()
        for sub in ("logs", "cache", "temp", "certs"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        cert, key = self_signed_certificate(folder / "certs")
        static_root = static_root or ROOT / "static"

        locations = (DEPLOY / "nginx-locations.conf").read_text()
        locations = _replace(locations, "/srv/tipline/static/", f"{static_root}/")
        locations = _replace(locations, "/var/log/nginx/", f"{folder}/logs/")
        (folder / "tipline-locations.conf").write_text(locations)

        site = (DEPLOY / "nginx.conf").read_text()
        for old, new in [
            ("/var/cache/nginx/tipline", f"{folder}/cache"),
            ("/var/log/nginx/", f"{folder}/logs/"),
            ("/etc/letsencrypt/live/tips.example.org/fullchain.pem", str(cert)),
            ("/etc/letsencrypt/live/tips.example.org/privkey.pem", str(key)),
            ("snippets/tipline-locations.conf", str(folder / "tipline-locations.conf")),
            ("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};"),
            ("    listen [::]:80;\n", ""),
            ("    listen [::]:443 ssl http2;\n", ""),
            ("listen 80;", f"listen 127.0.0.1:{self.http_port};"),
            ("listen 443 ssl http2;", f"listen 127.0.0.1:{self.https_port} ssl http2;"),
            ("listen 127.0.0.1:8081;", f"listen 127.0.0.1:{self.onion_port};"),
        ]:
            site = _replace(site, old, new)
        (folder / "tipline.conf").write_text(site)

        user = "user root;\n" if os.geteuid() == 0 else ""
        temp = "\n".join(
            f"    {kind}_temp_path {folder / 'temp' / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        mime = "/etc/nginx/mime.types"
        self.conf = folder / "nginx.conf"
        self.conf.write_text(
            f"{user}worker_processes {workers};\n"
            f"pid {folder}/nginx.pid;\n"
            f"error_log {folder}/logs/error.log warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            + (f"    include {mime};\n" if os.path.exists(mime) else "")
            + "    default_type application/octet-stream;\n"
            "    access_log off;\n"
            f"{temp}\n"
            f"    include {folder}/tipline.conf;\n"
            "}\n"
        )

    def command(self, *args: str) -> list[str]:
        binary = nginx_binary()
        assert binary, "nginx is not installed"
        return [binary, "-p", str(self.folder), "-c", str(self.conf), "-e", "stderr", *args]

    def check(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30)

    def start(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            self.command("-g", "daemon off;"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.onion_port, process)
        return process


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def wait_for_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200")


def start_gunicorn(
    app: str,
    port: int,
    env: dict[str, str],
    workers: int = 2,
    extra: tuple[str, ...] = (),
    ready_path: str = "/healthz",
    stderr: Any = None,
) -> subprocess.Popen[bytes]:
    """gunicorn with deploy/gunicorn.conf.py on 127.0.0.1:``port``, in its own process group;
    its error log and the app's log go to ``stderr`` (a file), or to the caller's."""
    command = [
        str(VENV_BIN / "gunicorn"),
        "-c",
        str(DEPLOY / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--access-logfile",
        "/dev/null",
        "--error-logfile",
        "-",
        "--log-level",
        "warning",
        *extra,
        app,
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        start_new_session=True,
    )
    wait_for_port(port, process)
    wait_for_http(f"http://127.0.0.1:{port}{ready_path}")
    return process


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
    """Stop a server started here and its children (its own process group)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)


class FreezableProxy:
    """A TCP relay to ``upstream`` (a database server) that can freeze: while frozen it reads
    nothing and accepts nothing, but the kernel still completes handshakes and acknowledges
    what clients send, exactly as for a server whose processes are stopped (SIGSTOP)."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.frozen = threading.Event()
        self.closed = threading.Event()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            if self.frozen.is_set():
                time.sleep(0.02)
                continue
            ready, _, _ = select.select([self.listener], [], [], 0.05)
            if not ready or self.frozen.is_set():
                continue
            try:
                client, _ = self.listener.accept()
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                continue
            self.sockets += [client, server]
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while not self.closed.is_set():
                if self.frozen.is_set():
                    time.sleep(0.02)
                    continue
                ready, _, _ = select.select([src], [], [], 0.05)
                if not ready or self.frozen.is_set():
                    continue
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.closed.set()
        self.frozen.clear()
        for s in [self.listener, *self.sockets]:
            with contextlib.suppress(OSError):
                s.close()
