"""A hub on loopback serving a local folder: the API calls huggingface_hub's snapshot_download
makes (model info, file tree, HEAD/GET of files with ETag and Range), and a log of requests.
The weights step's real download code is tested against it; no hub is reachable here."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def serve(folder: Path, repo: str, sha: str, port: int = 0, drop_once: str | None = None):
    """``drop_once``: cut the connection half-way through the first GET of that file."""
    dropped: set[str] = set()
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    log = []

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def _file(self, head):
            prefix = f"/{repo}/resolve/"
            rest = self.path.split("?")[0][len(prefix) :]
            rev, _, name = rest.partition("/")
            data = files.get(name)
            if data is None:
                self.send_response(404)
                self.end_headers()
                return
            etag = hashlib.sha256(data).hexdigest()
            start = 0
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                start = int(rng[6:].split("-")[0])
            body = data[start:]
            self.send_response(206 if start else 200)
            self.send_header("ETag", f'"{etag}"')
            self.send_header("X-Repo-Commit", sha)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            log.append((self.command, name, start, rev))
            if not head:
                if name == drop_once and name not in dropped:
                    dropped.add(name)
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

        def do_HEAD(self):
            if self.path.startswith(f"/{repo}/resolve/"):
                return self._file(True)
            self.send_response(404)
            self.end_headers()

        def _json(self, obj):
            body = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path.startswith(f"/api/models/{repo}/tree/"):
                return self._json([{"type": "file", "path": n, "size": len(d),
                                    "oid": hashlib.sha1(d).hexdigest()} for n, d in files.items()])
            if self.path.startswith(f"/api/models/{repo}"):
                return self._json({"id": repo, "sha": sha,
                                   "siblings": [{"rfilename": n} for n in files]})
            if self.path.startswith(f"/{repo}/resolve/"):
                return self._file(False)
            self.send_response(404)
            self.end_headers()

    srv = ThreadingHTTPServer(("127.0.0.1", port), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, log
