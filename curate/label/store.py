"""A labelling project's state: one SQLite database (WAL) holding the items, the labellers and
every answer.

Each change is one `BEGIN IMMEDIATE` transaction committed (synchronous FULL) before the
caller replies, so an answer acknowledged to a labeller survives `kill -9` of the server, and
two labellers answering at once are serialised by SQLite's write lock instead of
overwriting each other. An item goes to a labeller at most once: the `assigned` row of a
(labeller, item) pair is unique and never handed out again once answered or skipped
("undo last" deletes the answer and gives the same item back to the same labeller).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from curate.errors import UserError

DATABASE = "label.sqlite"
HOLD_SECONDS = 30 * 60  # an item shown and not answered for this long is free for the next labeller
TASKS = ("compare", "rank", "rate", "write")
ANSWER, SKIP = "answer", "skip"
SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, messages TEXT NOT NULL, candidates TEXT NOT NULL,
    draft TEXT, source TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS labellers (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, token_hash TEXT NOT NULL UNIQUE, admin INTEGER NOT NULL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS assigned (
    labeller INTEGER NOT NULL, item INTEGER NOT NULL, shown REAL NOT NULL, done TEXT, payload TEXT,
    answered REAL, seq INTEGER, PRIMARY KEY (labeller, item));
CREATE INDEX IF NOT EXISTS assigned_item ON assigned (item);
CREATE INDEX IF NOT EXISTS assigned_seq ON assigned (labeller, seq);
"""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Labeller:
    id: int
    name: str
    admin: bool
    token_hash: str


class Project:
    """The project folder's database. One connection per thread (SQLite's rule)."""

    def __init__(self, folder: Path, create: bool = False) -> None:
        self.folder = Path(folder)
        path = self.folder / DATABASE
        if not create and not path.is_file():
            raise UserError(f"{folder} is not a labelling project (no {DATABASE}); make one with `curate label init`")
        try:
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")  # committed means on disk before the reply
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as error:
            raise UserError(f"{folder} is not a labelling project ({path.name}: {error})") from None

    @contextmanager
    def transaction(self):
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    # -- settings and items

    def setting(self, key: str, default: object = None) -> object:
        row = self.db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_settings(self, values: dict) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
                [(key, json.dumps(value, ensure_ascii=False)) for key, value in values.items()],
            )

    @property
    def task(self) -> str:
        return str(self.setting("task"))

    @property
    def overlap(self) -> int:
        return int(self.setting("overlap", 1))

    def add_items(self, items: list[dict]) -> None:
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO items (key, messages, candidates, draft, source) VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        item["key"],
                        json.dumps(item["messages"], ensure_ascii=False),
                        json.dumps(item["candidates"], ensure_ascii=False),
                        item.get("draft"),
                        json.dumps(item.get("source", {}), ensure_ascii=False),
                    )
                    for item in items
                ],
            )

    def item(self, item_id: int) -> dict | None:
        row = self.db.execute(
            "SELECT id, key, messages, candidates, draft, source FROM items WHERE id = ?", (item_id,)
        ).fetchone()
        return None if row is None else _item(row)

    def items(self) -> list[dict]:
        rows = self.db.execute("SELECT id, key, messages, candidates, draft, source FROM items ORDER BY id")
        return [_item(row) for row in rows]

    def item_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM items").fetchone()[0]

    # -- labellers

    def add_labeller(self, name: str, admin: bool = False) -> str:
        """A new labeller; returns the token (only its hash is kept: it is shown once)."""
        if not name.strip():
            raise UserError("a labeller needs a name")
        token = secrets.token_urlsafe(32)
        try:
            with self.transaction() as db:
                db.execute(
                    "INSERT INTO labellers (name, token_hash, admin, created) VALUES (?, ?, ?, ?)",
                    (name, token_hash(token), int(admin), time.time()),
                )
        except sqlite3.IntegrityError:
            raise UserError(f"there is already a labeller named {name!r} in {self.folder}") from None
        return token

    def labeller_by_token(self, token: str) -> Labeller | None:
        row = self.db.execute(
            "SELECT id, name, admin, token_hash FROM labellers WHERE token_hash = ?", (token_hash(token),)
        ).fetchone()
        return None if row is None else Labeller(row[0], row[1], bool(row[2]), row[3])

    def labellers(self) -> list[Labeller]:
        rows = self.db.execute("SELECT id, name, admin, token_hash FROM labellers ORDER BY id")
        return [Labeller(row[0], row[1], bool(row[2]), row[3]) for row in rows]

    # -- the labelling loop

    def next_item(self, labeller: int) -> int | None:
        """The labeller's current item: the one shown and not yet answered, else the first item
        this labeller has never had that fewer than `overlap` others have answered or hold (a
        hold older than HOLD_SECONDS no longer counts: a labeller who left does not starve it)."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT item FROM assigned WHERE labeller = ? AND done IS NULL ORDER BY shown LIMIT 1", (labeller,)
            ).fetchone()
            if row is not None:
                return row[0]
            row = db.execute(
                """SELECT items.id FROM items
                   WHERE NOT EXISTS (SELECT 1 FROM assigned a WHERE a.item = items.id AND a.labeller = ?)
                     AND (SELECT COUNT(*) FROM assigned a WHERE a.item = items.id
                          AND (a.done = 'answer' OR (a.done IS NULL AND a.shown > ?))) < ?
                   ORDER BY items.id LIMIT 1""",
                (labeller, time.time() - HOLD_SECONDS, self.overlap),
            ).fetchone()
            if row is None:
                return None
            db.execute("INSERT INTO assigned (labeller, item, shown) VALUES (?, ?, ?)", (labeller, row[0], time.time()))
            return row[0]

    def record(self, labeller: int, item: int, kind: str, payload: object = None) -> None:
        """The labeller's answer (or skip) of its current item, committed before this returns."""
        with self.transaction() as db:
            row = db.execute("SELECT done FROM assigned WHERE labeller = ? AND item = ?", (labeller, item)).fetchone()
            if row is None:
                raise LookupError("this item was not given to you")
            if row[0] is not None:
                raise FileExistsError("you have already answered this item")
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM assigned WHERE labeller = ?", (labeller,))
            db.execute(
                "UPDATE assigned SET done = ?, payload = ?, answered = ?, seq = ? WHERE labeller = ? AND item = ?",
                (kind, json.dumps(payload, ensure_ascii=False), time.time(), seq.fetchone()[0], labeller, item),
            )

    def undo(self, labeller: int) -> int | None:
        """Take back the labeller's last answer or skip; the item becomes its current one again.
        A skip taken back after others filled the item's overlap raises FileExistsError."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT item, done FROM assigned WHERE labeller = ? AND done IS NOT NULL ORDER BY seq DESC LIMIT 1",
                (labeller,),
            ).fetchone()
            if row is None:
                return None
            if row[1] == SKIP:
                taken = db.execute(
                    "SELECT COUNT(*) FROM assigned WHERE item = ? AND labeller != ? AND "
                    "(done = 'answer' OR (done IS NULL AND shown > ?))",
                    (row[0], labeller, time.time() - HOLD_SECONDS),
                ).fetchone()[0]
                if taken >= self.overlap:
                    raise FileExistsError("other labellers have answered that item since you skipped it")
            # an item shown since stays the labeller's, after the one taken back
            db.execute("UPDATE assigned SET shown = ? WHERE labeller = ? AND done IS NULL", (time.time() + 1, labeller))
            db.execute(
                "UPDATE assigned SET done = NULL, payload = NULL, answered = NULL, seq = NULL, shown = ? "
                "WHERE labeller = ? AND item = ?",
                (time.time(), labeller, row[0]),
            )
            return row[0]

    def progress(self, labeller: int | None = None) -> dict:
        """Answers and skips (one labeller's, or everyone's), and the work there is."""
        where, args = ("WHERE labeller = ?", (labeller,)) if labeller is not None else ("", ())
        counts = dict(self.db.execute(f"SELECT done, COUNT(*) FROM assigned {where} GROUP BY done", args).fetchall())
        total = self.item_count()
        return {
            "answered": counts.get(ANSWER, 0),
            "skipped": counts.get(SKIP, 0),
            "items": total,
            "overlap": self.overlap,
            "answers_wanted": total * self.overlap,
        }

    def answers(self) -> list[dict]:
        """Every answer (not skips), with who, when, and how long the item was shown."""
        rows = self.db.execute(
            "SELECT a.item, a.labeller, l.name, a.payload, a.shown, a.answered FROM assigned a "
            "JOIN labellers l ON l.id = a.labeller WHERE a.done = 'answer' ORDER BY a.item, a.labeller"
        )
        return [
            {"item": item, "labeller": who, "name": name, "answer": json.loads(payload), "seconds": answered - shown}
            for item, who, name, payload, shown, answered in rows
        ]


def _item(row: tuple) -> dict:
    item_id, key, messages, candidates, draft, source = row
    return {
        "id": item_id,
        "key": key,
        "messages": json.loads(messages),
        "candidates": json.loads(candidates),
        "draft": draft,
        "source": json.loads(source),
    }
