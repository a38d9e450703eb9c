"""Keyed administrative reads: ``/v1/admin/keys`` and ``/v1/admin/audit``.

Keys are created by the operator on the server (``locator keys create``), never over HTTP.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from api.auth import KeyRecord, KeyStore, require_api_key
from api.params import get_locator
from api.problems import problem_responses
from api.schemas import AuditEntry, AuditLog, KeyInfo, KeyList
from locator import Locator

router = APIRouter(prefix="/v1/admin", tags=["admin"])

LocatorDep = Annotated[Locator, Depends(get_locator)]
KeyDep = Annotated[KeyRecord, Depends(require_api_key)]


@router.get(
    "/keys",
    summary="API keys (no secrets)",
    response_model=KeyList,
    responses=problem_responses(401, 403),
)
def list_keys(request: Request, _key: KeyDep) -> KeyList:
    """Id, name and creation time of every API key."""
    store: KeyStore = request.app.state.keys
    return KeyList(keys=[KeyInfo(**r.public()) for r in store.records()])


@router.get(
    "/audit",
    summary="Audit log of station changes",
    response_model=AuditLog,
    responses=problem_responses(401, 403),
)
def audit(
    loc: LocatorDep,
    _key: KeyDep,
    station_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditLog:
    """Who changed what and when, with the record before and after; newest first."""
    rows = loc.store.audit_entries(station_id)[::-1][:limit]
    return AuditLog(entries=[AuditEntry(**r) for r in rows])
