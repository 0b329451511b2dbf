"""AuditEntryService: read access to the gateway's audit log (operators only)."""

from __future__ import annotations

from typing import Any

from threeport.gateway.v1alpha1 import audit_entry_pb2, audit_entry_pb2_grpc
from threeport_api_gateway.store.audit import AuditLog

Context = Any


class AuditEntryService(audit_entry_pb2_grpc.AuditEntryServiceServicer):
    def __init__(self, audit: AuditLog):
        self._audit = audit

    async def GetAuditEntry(
        self, request: audit_entry_pb2.GetAuditEntryRequest, context: Context
    ) -> audit_entry_pb2.AuditEntry:
        return await self._audit.get(request.name)

    async def ListAuditEntries(
        self, request: audit_entry_pb2.ListAuditEntriesRequest, context: Context
    ) -> audit_entry_pb2.ListAuditEntriesResponse:
        entries, next_token = await self._audit.list(
            page_size=request.page_size, page_token=request.page_token, filter_text=request.filter
        )
        return audit_entry_pb2.ListAuditEntriesResponse(audit_entries=entries, next_page_token=next_token)
