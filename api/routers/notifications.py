"""The company's inbox and webhooks (registry/notifications.py). A company reads its own;
another company's is a 404, as everywhere."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from api.access import actor_of, company_for, publicise_guards
from api.cursors import PageAt, page_cursor
from api.deps import clock, require, runtime
from api.schemas import Input
from api.webhooks import webhook_keys
from registry import notifications
from registry.auth import Principal, Role

router = APIRouter(tags=["notifications"])
Staff = Annotated[Principal, Depends(require(Role.REGULATOR, Role.COMPANY_OPERATOR))]
Now = Annotated[dt.datetime, Depends(clock)]
CompanyId = Annotated[int, Path(ge=1, le=2**62)]
ItemId = Annotated[int, Path(ge=1, le=2**62)]


class NotificationOut(BaseModel):
    id: int
    kind: str
    guard_id: str | None
    subject: str
    data: dict[str, Any]
    created_at: dt.datetime
    read_at: dt.datetime | None


class InboxOut(BaseModel):
    items: list[NotificationOut]
    unread: int
    next_before: str | None = Field(
        description="opaque; pass as before for the next (older) page (null: the last)")


class WebhookIn(Input):
    url: str = Field(min_length=8, max_length=2000)


class WebhookOut(BaseModel):
    id: int
    company_id: int
    url: str
    created_at: dt.datetime
    disabled_at: dt.datetime | None


class WebhookCreatedOut(BaseModel):
    webhook: WebhookOut
    secret: str = Field(description="hex; shown once: verify X-Guardreg-Signature with it")


class WebhooksOut(BaseModel):
    items: list[WebhookOut]


class DeliveryOut(BaseModel):
    id: int
    notification_id: int
    kind: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    last_status_code: int | None
    last_error: str | None
    delivered_at: dt.datetime | None


class DeliveriesOut(BaseModel):
    items: list[DeliveryOut]


@router.get("/v1/companies/{company_id}/notifications", response_model=InboxOut,
            summary="The company's inbox, newest first")
def inbox(company_id: CompanyId, request: Request, principal: Staff,
          before: Annotated[PageAt, page_cursor("notifications", param="before")],
          unread: bool = False,
          limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        company_for(cur, principal, company_id)
        found = notifications.inbox(cur, company_id=company_id, unread_only=unread,
                                    before_id=before.last or None, limit=limit)
        items = publicise_guards(cur, found.items)
    return {"items": items, "unread": found.unread,
            "next_before": before.next_cursor(found.next_before)}


@router.post("/v1/companies/{company_id}/notifications/{notification_id}/read",
             status_code=204, summary="Mark a notification read")
def mark_read(company_id: CompanyId, notification_id: ItemId, request: Request,
              principal: Staff, now: Now) -> None:
    with runtime(request).db.transaction() as cur:
        company_for(cur, principal, company_id)
        notifications.mark_read(cur, company_id=company_id, notification_id=notification_id,
                                now=now)


@router.post("/v1/companies/{company_id}/webhooks", status_code=201,
             response_model=WebhookCreatedOut,
             summary="Add a webhook (https; not a loopback or private address)")
def add_webhook(company_id: CompanyId, body: WebhookIn, request: Request, principal: Staff,
                now: Now) -> dict[str, Any]:
    rt = runtime(request)
    with rt.db.transaction() as cur:
        company_for(cur, principal, company_id)
        row, secret = notifications.add_webhook(
            cur, actor=actor_of(principal), now=now, keys=webhook_keys(rt.settings),
            company_id=company_id, url=body.url,
            development=rt.settings.mode != "production")
    return {"webhook": row, "secret": secret}


@router.get("/v1/companies/{company_id}/webhooks", response_model=WebhooksOut,
            summary="The company's webhooks")
def list_webhooks(company_id: CompanyId, request: Request, principal: Staff) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        company_for(cur, principal, company_id)
        return {"items": notifications.webhooks(cur, company_id)}


@router.delete("/v1/companies/{company_id}/webhooks/{webhook_id}", status_code=204,
               summary="Disable a webhook; its pending deliveries are dropped")
def remove_webhook(company_id: CompanyId, webhook_id: ItemId, request: Request,
                   principal: Staff, now: Now) -> None:
    with runtime(request).db.transaction() as cur:
        company_for(cur, principal, company_id)
        notifications.remove_webhook(cur, actor=actor_of(principal), now=now,
                                     company_id=company_id, webhook_id=webhook_id)


@router.get("/v1/companies/{company_id}/webhooks/{webhook_id}/deliveries",
            response_model=DeliveriesOut, summary="A webhook's delivery log, newest first")
def deliveries(company_id: CompanyId, webhook_id: ItemId, request: Request, principal: Staff,
               limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    with runtime(request).db.transaction(readonly=True) as cur:
        company_for(cur, principal, company_id)
        return {"items": notifications.deliveries(cur, company_id=company_id,
                                                  webhook_id=webhook_id, limit=limit)}
