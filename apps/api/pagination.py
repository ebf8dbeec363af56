"""ninja's page-number pagination with page numbers bounded, so a huge ``?page=`` is a 422."""

from __future__ import annotations

from ninja import Field, Schema
from ninja.pagination import PageNumberPagination

from apps.api.fields import BIGINT_MAX

# The offset (page - 1) * page_size must fit the database's bigint even at the largest page size.
PAGE_MAX = 10**9


class BoundedPageNumberPagination(PageNumberPagination):
    """``?page=`` from 1 to a billion and ``?page_size=`` within bigint; the rest is ninja's."""

    class Input(Schema):
        page: int = Field(1, ge=1, le=PAGE_MAX)
        page_size: int | None = Field(None, ge=1, le=BIGINT_MAX)
