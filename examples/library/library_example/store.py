"""The library's data: shelves and books in memory, with the rules of the API (names, pages, masks).

Each method is synchronous and runs to completion on the event loop, so no lock is needed. Errors are
:class:`LibraryError` with a gRPC status code; the servicer turns them into the call's status.
"""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field

import grpc
from google.protobuf import field_mask_pb2
from library.v1 import library_pb2

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
# The Book fields UpdateBook may change, by their proto names.
MUTABLE = ("title", "author", "genre", "page_count")


class LibraryError(Exception):
    """A request the library refuses, with the gRPC code to answer."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Shelf:
    shelf: library_pb2.Shelf
    books: dict[str, library_pb2.Book] = field(default_factory=dict)  # book id -> book, in insertion order


class Library:
    """Shelves (``shelves/{id}``) holding books (``shelves/{id}/books/{id}``); ids are 1, 2, 3, ..."""

    def __init__(self) -> None:
        self._shelves: dict[str, _Shelf] = {}
        self._shelf_ids = itertools.count(1)
        self._book_ids = itertools.count(1)

    # -- shelves ---------------------------------------------------------------------------------

    def create_shelf(self, shelf: library_pb2.Shelf) -> library_pb2.Shelf:
        if not shelf.theme:
            raise LibraryError(grpc.StatusCode.INVALID_ARGUMENT, "shelf.theme is required")
        created = library_pb2.Shelf(name=f"shelves/{next(self._shelf_ids)}", theme=shelf.theme)
        self._shelves[created.name] = _Shelf(created)
        return created

    def get_shelf(self, name: str) -> library_pb2.Shelf:
        return self._shelf(name).shelf

    def list_shelves(self) -> list[library_pb2.Shelf]:
        return [entry.shelf for entry in self._shelves.values()]

    def _shelf(self, name: str) -> _Shelf:
        entry = self._shelves.get(name)
        if entry is None:
            raise LibraryError(grpc.StatusCode.NOT_FOUND, f"{name!r} not found")
        return entry

    # -- books -----------------------------------------------------------------------------------

    def create_book(self, parent: str, book: library_pb2.Book) -> library_pb2.Book:
        shelf = self._shelf(parent)
        if not book.title:
            raise LibraryError(grpc.StatusCode.INVALID_ARGUMENT, "book.title is required")
        book_id = str(next(self._book_ids))
        created = library_pb2.Book()
        created.CopyFrom(book)
        created.name = f"{parent}/books/{book_id}"
        shelf.books[book_id] = created
        return created

    def get_book(self, name: str) -> library_pb2.Book:
        shelf, book_id = self._locate(name)
        return shelf.books[book_id]

    def list_books(self, parent: str, page_size: int, page_token: str) -> tuple[list[library_pb2.Book], str]:
        """One page of a shelf's books and the token of the next page ('' after the last)."""
        shelf = self._shelf(parent)
        if page_size < 0:
            raise LibraryError(grpc.StatusCode.INVALID_ARGUMENT, "page_size must not be negative")
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        start = _decode_token(page_token)
        books = list(shelf.books.values())
        page = books[start : start + size]
        more = start + size < len(books)
        return page, _encode_token(start + size) if more else ""

    def update_book(self, book: library_pb2.Book, mask: field_mask_pb2.FieldMask) -> library_pb2.Book:
        shelf, book_id = self._locate(book.name)
        paths = list(mask.paths) or list(MUTABLE)
        unknown = [path for path in paths if path not in MUTABLE]
        if unknown:
            raise LibraryError(grpc.StatusCode.INVALID_ARGUMENT, f"update_mask: cannot update {', '.join(unknown)}")
        updated = library_pb2.Book()
        updated.CopyFrom(shelf.books[book_id])
        for path in paths:
            setattr(updated, path, getattr(book, path))
        if not updated.title:
            raise LibraryError(grpc.StatusCode.INVALID_ARGUMENT, "book.title is required")
        shelf.books[book_id] = updated
        return updated

    def delete_book(self, name: str) -> None:
        shelf, book_id = self._locate(name)
        del shelf.books[book_id]

    def move_book(self, name: str, other_shelf: str) -> library_pb2.Book:
        shelf, book_id = self._locate(name)
        target = self._shelf(other_shelf)
        book = shelf.books.pop(book_id)
        book.name = f"{other_shelf}/books/{book_id}"
        target.books[book_id] = book
        return book

    def _locate(self, name: str) -> tuple[_Shelf, str]:
        parent, sep, book_id = name.rpartition("/books/")
        if not sep or not book_id or "/" in book_id:
            raise LibraryError(grpc.StatusCode.INVALID_ARGUMENT, f"{name!r} is not a book name (shelves/*/books/*)")
        shelf = self._shelf(parent)
        if book_id not in shelf.books:
            raise LibraryError(grpc.StatusCode.NOT_FOUND, f"{name!r} not found")
        return shelf, book_id


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_token(token: str) -> int:
    if not token:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind != "offset" or not value.isdigit():
            raise ValueError(token)
    except ValueError:
        raise LibraryError(grpc.StatusCode.INVALID_ARGUMENT, "page_token is not one this server gave out") from None
    return int(value)
