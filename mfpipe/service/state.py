"""What every request of the service shares: its settings and its database's two doors
(the runs' store and the batches'), opened once when the service starts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

from mfpipe.db.batches import BatchStore
from mfpipe.db.runs import RunStore
from mfpipe.service.settings import ServiceSettings

MAX_PAGE = 500


@dataclass(frozen=True)
class ServiceState:
    settings: ServiceSettings
    store: RunStore
    batches: BatchStore


def state(request: Request) -> ServiceState:
    found: ServiceState = request.app.state.service
    return found


@dataclass(frozen=True)
class Paging:
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def paging(page: Annotated[int, Query(ge=1)] = 1,
           page_size: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50) -> Paging:
    return Paging(page, page_size)


def naive_utc(moment: dt.datetime | None) -> dt.datetime | None:
    """A time as the control tables keep it: naive UTC (a naive one is taken as UTC)."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


State = Annotated[ServiceState, Depends(state)]
Pages = Annotated[Paging, Depends(paging)]
