"""FakeStore: the Store port in memory, for unit tests."""

from __future__ import annotations

import copy
from collections.abc import Sequence

from core.ports import Change, Doc


class FakeStore:
    """Keeps tables and blobs in dicts; copies documents so callers cannot alias them."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Doc]] = {}
        self.blobs: dict[str, bytes] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def get(self, table: str, key: str) -> Doc | None:
        doc = self.tables.get(table, {}).get(key)
        return copy.deepcopy(doc) if doc is not None else None

    async def all(self, table: str) -> list[Doc]:
        return [copy.deepcopy(d) for d in self.tables.get(table, {}).values()]

    async def put(self, table: str, key: str, doc: Doc) -> None:
        self.tables.setdefault(table, {})[key] = copy.deepcopy(doc)

    async def delete(self, table: str, key: str) -> None:
        self.tables.get(table, {}).pop(key, None)

    async def apply(self, changes: Sequence[Change]) -> None:
        for change in changes:
            if change.doc is None:
                await self.delete(change.table, change.key)
            else:
                await self.put(change.table, change.key, change.doc)

    async def write_blob(self, name: str, data: bytes) -> None:
        self.blobs[name] = bytes(data)

    async def read_blob(self, name: str) -> bytes | None:
        return self.blobs.get(name)

    async def delete_blob(self, name: str) -> None:
        self.blobs.pop(name, None)
