"""The grpc.aio servicer of ``library.v1.LibraryService`` over a :class:`~library_example.store.Library`.

The same servicer object serves real gRPC (``grpc.aio.server``) and REST through protogw's in-process
backend: both accept it through the generated ``add_LibraryServiceServicer_to_server``.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import empty_pb2
from library.v1 import library_pb2, library_pb2_grpc

from library_example.store import Library, LibraryError

T = TypeVar("T")
Context = grpc.aio.ServicerContext[Any, Any]


async def _answer(context: Context, work: Callable[[], T]) -> T:
    """Run ``work``; a :class:`LibraryError` becomes the call's status."""
    try:
        return work()
    except LibraryError as exc:
        await context.abort(exc.code, exc.message)


class LibraryServicer(library_pb2_grpc.LibraryServiceServicer):
    """Every RPC of the library, answered from ``library``."""

    def __init__(self, library: Library) -> None:
        self.library = library

    async def CreateShelf(self, request: library_pb2.CreateShelfRequest, context: Context) -> library_pb2.Shelf:
        return await _answer(context, lambda: self.library.create_shelf(request.shelf))

    async def GetShelf(self, request: library_pb2.GetShelfRequest, context: Context) -> library_pb2.Shelf:
        return await _answer(context, lambda: self.library.get_shelf(request.name))

    async def ListShelves(
        self, request: library_pb2.ListShelvesRequest, context: Context
    ) -> library_pb2.ListShelvesResponse:
        return library_pb2.ListShelvesResponse(shelves=self.library.list_shelves())

    async def CreateBook(self, request: library_pb2.CreateBookRequest, context: Context) -> library_pb2.Book:
        return await _answer(context, lambda: self.library.create_book(request.parent, request.book))

    async def GetBook(self, request: library_pb2.GetBookRequest, context: Context) -> library_pb2.Book:
        return await _answer(context, lambda: self.library.get_book(request.name))

    async def ListBooks(self, request: library_pb2.ListBooksRequest, context: Context) -> library_pb2.ListBooksResponse:
        books, token = await _answer(
            context, lambda: self.library.list_books(request.parent, request.page_size, request.page_token)
        )
        return library_pb2.ListBooksResponse(books=books, next_page_token=token)

    async def UpdateBook(self, request: library_pb2.UpdateBookRequest, context: Context) -> library_pb2.Book:
        return await _answer(context, lambda: self.library.update_book(request.book, request.update_mask))

    async def DeleteBook(self, request: library_pb2.DeleteBookRequest, context: Context) -> empty_pb2.Empty:
        await _answer(context, lambda: self.library.delete_book(request.name))
        return empty_pb2.Empty()

    async def MoveBook(self, request: library_pb2.MoveBookRequest, context: Context) -> library_pb2.Book:
        return await _answer(context, lambda: self.library.move_book(request.name, request.other_shelf))

    async def StreamBooks(
        self, request: library_pb2.StreamBooksRequest, context: Context
    ) -> AsyncIterator[library_pb2.Book]:
        token = ""
        while True:
            page, token = await _answer(context, functools.partial(self.library.list_books, request.parent, 0, token))
            for book in page:
                yield book
            if not token:
                return

    async def UploadBooks(
        self, request_iterator: AsyncIterator[library_pb2.UploadBooksRequest], context: Context
    ) -> library_pb2.UploadBooksResponse:
        names: list[str] = []
        async for request in request_iterator:
            book = await _answer(context, functools.partial(self.library.create_book, request.parent, request.book))
            names.append(book.name)
        return library_pb2.UploadBooksResponse(names=names)
