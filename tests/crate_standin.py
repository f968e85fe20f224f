"""A CrateDB stand-in for the tests: CrateDB's HTTP protocol on 127.0.0.1, SQL run on SQLite.

No CrateDB server can run where this suite is developed, so the CrateDB code path of runtable
is exercised against this test double instead. It is NOT CrateDB: it speaks the ``/_sql`` and
``/_blobs`` HTTP endpoints the way crate-python expects them, checks every statement against
CrateDB's grammar with ``cratedb-sqlparse`` (generated from ``SqlBaseParser.g4``), runs the
statement on SQLite, and enforces the CrateDB rules that runtable depends on. Each rule carries
a comment naming the CrateDB source file or document (github.com/crate/crate) that states it:

- bulk requests report a refused row as ``rowcount: -2`` with an error, and go on;
- object sub-columns are typed by their first value and keep that type; object keys are
  validated like column names;
- indexed text is at most 32,766 bytes (UTF-8);
- a table holds at most ``mapping.total_fields.limit`` columns, object sub-columns included;
- an ``ON CONFLICT`` target must be the primary key;
- ``ALTER CLUSTER SWAP TABLE`` and ``REFRESH TABLE`` need existing tables;
- request bodies are capped at ``http.max_content_length`` (100 MB by default);
- a read that is not a primary-key lookup sees a table as of its last ``REFRESH``
  (the stand-in never refreshes on its own: the worst case of CrateDB's 1 s interval).

Each schema (crate-python's ``Default-Schema`` header, ``?schema=`` in a SQLAlchemy URL) is a
database of its own, whose information_schema lists only its tables; blob tables live beside
``doc``. This module is the HTTP server; standin_sql.py reads the SQL, standin_rules.py holds
the value rules, standin_db.py the catalog, SQLite and the statements. Only what runtable and
its tests issue is implemented; anything else is refused with an error saying so. Run it as a
script (``python tests/crate_standin.py --dir D``): it prints ``PORT <n>`` once it listens, and
serves until killed. Several processes may share it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import sys
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standin_db import StandIn
from standin_rules import DEFAULT_MAX_CONTENT_LENGTH, VERSION
from standin_sql import SQLError, check_syntax

__all__ = ["SQLError", "StandIn", "check_syntax", "main", "serving"]

# -- HTTP -----------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    """CrateDB's HTTP endpoints, as crate-python uses them (docs/interfaces/http.rst;
    docs/general/blobs.rst for /_blobs)."""

    protocol_version = "HTTP/1.1"
    server: Server
    # Headers and body are two writes: with Nagle's algorithm the body waits for the client's
    # delayed ACK of the headers, 40 ms per request on Linux (most of the stand-in's time).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode())

    def _body(self, *, capped: bool = True) -> bytes | None:
        """The request body, decompressed; None (after answering 413) past the cap."""
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length)
        cap = self.server.max_content_length if capped else 1 << 62
        if self.headers.get("Content-Encoding", "").lower() in ("gzip", "deflate"):
            # Netty4HttpServerTransport puts HttpContentDecompressor before the
            # HttpObjectAggregator: the cap applies to the decompressed body.
            inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)
            data = inflater.decompress(data, cap + 1)
        if len(data) > cap:
            # server/src/main/java/org/elasticsearch/http/netty4/Netty4HttpServerTransport.java:
            # HttpObjectAggregator(max_content_length) answers 413 Request Entity Too Large.
            self.close_connection = True
            self._send(413, b"", "text/plain")
            return None
        return data

    def do_GET(self) -> None:
        if self.path.startswith("/_blobs/"):
            self._blob("GET")
            return
        self._json(
            200,
            {
                "ok": True,
                "status": 200,
                "name": "runtable-stand-in",
                "cluster_name": "stand-in (not CrateDB)",
                "version": {"number": VERSION, "build_snapshot": False},
            },
        )

    def do_HEAD(self) -> None:
        self._blob("HEAD")

    def do_DELETE(self) -> None:
        self._blob("DELETE")

    def do_PUT(self) -> None:
        self._blob("PUT")

    def do_POST(self) -> None:
        body = self._body()
        if body is None:
            return
        if not self.path.startswith("/_sql"):
            self._json(404, {"error": {"message": f"no handler for {self.path}", "code": 4040}})
            return
        try:
            request = json.loads(body)
            stmt = request["stmt"]
            db = self.server.db_for(self.headers.get("Default-Schema") or "doc")
            result = db.sql(stmt, request.get("args"), request.get("bulk_args"))
        except SQLError as e:
            self._json(e.status, {"error": {"message": e.message, "code": e.code}})
            return
        except Exception as e:  # a defect of the stand-in: say so, like a 5000 error
            message = f"stand-in failure: {type(e).__name__}: {e}"
            self._json(500, {"error": {"message": message, "code": 5000}})
            return
        if "types" in self.path.partition("?")[2] and "rows" in result:
            # docs/interfaces/http.rst, "Column types"; server/src/main/java/io/crate/rest/
            # action/RestRowCountReceiver.java writes colTypes(emptyList()) for row counts.
            result.setdefault("col_types", [])
        self._json(200, result)

    def _blob(self, method: str) -> None:
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) != 3 or parts[0] != "_blobs":
            self._send(404)
            return
        _, table, digest = parts
        db = self.server.db_for("doc")  # blob tables live beside the doc schema
        with db.lock:
            blobs = db.blob_tables.get(table)
        if method == "PUT":
            # Netty4HttpServerTransport: the blob handler comes before the aggregator, so
            # blob uploads are not capped by http.max_content_length.
            body = self._body(capped=False)
            if body is None:
                return
            if blobs is None:
                self._send(404)
                return
            if hashlib.sha1(body).hexdigest() != digest:
                self._send(400)  # docs/general/blobs.rst: the digest must match the content
                return
            with db.lock:
                if digest in blobs:
                    self._send(409)
                    return
                blobs[digest] = body
            self._send(201)
            return
        if blobs is None or digest not in blobs:
            self._send(404)
            return
        if method == "DELETE":
            with db.lock:
                blobs.pop(digest, None)
            self._send(204)
        else:
            self._send(200, blobs[digest], "application/octet-stream")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, directory: Path, max_content_length: int) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.directory = directory
        self.max_content_length = max_content_length
        self._dbs: dict[str, StandIn] = {}
        self._lock = threading.Lock()

    def db_for(self, schema: str) -> StandIn:
        """The stand-in database of one schema (crate-python's Default-Schema header)."""
        with self._lock:
            if schema not in self._dbs:
                self._dbs[schema] = StandIn(self.directory / schema, schema)
            return self._dbs[schema]


@contextlib.contextmanager
def serving(directory: Path, max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH) -> Iterator[int]:
    """Serve a stand-in in a thread of this process; yields its port."""
    server = Server(directory, max_content_length)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="directory for its SQLite files")
    parser.add_argument("--max-content-length", type=int, default=DEFAULT_MAX_CONTENT_LENGTH)
    options = parser.parse_args(argv)
    server = Server(options.dir, options.max_content_length)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
