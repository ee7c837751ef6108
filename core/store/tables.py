"""Typed tables over the Store port: dataclasses in, dataclasses out."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Generic, TypeVar

from core.ports import Change, Store
from core.store.codec import from_doc, to_doc

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


class Table(Generic[T]):
    """One store table holding dataclasses of one type, keyed by their `id` (or `key_of`)."""

    def __init__(
        self, store: Store, name: str, cls: type[T], key_of: Callable[[T], str] | None = None
    ) -> None:
        self.store = store
        self.name = name
        self.cls = cls
        # Every model stored without a key_of has an `id` field; the bound type cannot say so.
        self._key_of = key_of or (lambda obj: obj.id)  # type: ignore[attr-defined]

    def key(self, obj: T) -> str:
        """The key `obj` is stored under."""
        return self._key_of(obj)

    async def get(self, key: str) -> T | None:
        """The object stored under `key`, or None."""
        doc = await self.store.get(self.name, key)
        return None if doc is None else from_doc(self.cls, doc)

    async def all(self) -> list[T]:
        """Every object in the table."""
        return [from_doc(self.cls, doc) for doc in await self.store.all(self.name)]

    async def put(self, obj: T) -> None:
        """Store `obj` durably under its key."""
        await self.store.put(self.name, self.key(obj), to_doc(obj))

    async def delete(self, key: str) -> None:
        """Remove the object under `key` (no error if absent)."""
        await self.store.delete(self.name, key)

    def change(self, obj: T) -> Change:
        """A write of `obj` for an atomic `Store.apply` batch."""
        return Change(self.name, self.key(obj), to_doc(obj))

    def changes(self, objs: Iterable[T]) -> list[Change]:
        """Writes of many objects for one atomic batch."""
        return [self.change(obj) for obj in objs]
