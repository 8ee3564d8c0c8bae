"""Admin console pages: jobs (/admin/jobs, /admin/jobs/{id}) and deliveries
(/admin/webhooks). Shells only: the ES modules fetch everything from the admin JSON API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from vitaltrust.auth.pages import require_page_user
from vitaltrust.auth.principal import Principal
from vitaltrust.web.pages import nav, render

router = APIRouter(include_in_schema=False)
AdminPage = Annotated[Principal | Response, Depends(require_page_user("admin"))]


@router.get("/admin/jobs", response_model=None)
async def jobs_page(gate: AdminPage) -> Response:
    if isinstance(gate, Response):  # anonymous -> /login?next=..., others -> 403 page
        return gate
    return render("jobs.html", title="Jobs", principal=gate, script="jobs.js",
                  nav=nav(gate, "/admin/jobs"))


@router.get("/admin/jobs/{job_id}", response_model=None)
async def job_page(job_id: int, gate: AdminPage) -> Response:
    if isinstance(gate, Response):
        return gate
    return render("job.html", title=f"Job #{job_id}", principal=gate, script="job.js",
                  nav=nav(gate, "/admin/jobs"), main_data={"job-id": str(job_id)},
                  job_id=str(job_id))


@router.get("/admin/webhooks", response_model=None)
async def webhooks_page(gate: AdminPage) -> Response:
    if isinstance(gate, Response):
        return gate
    return render("webhooks.html", title="Deliveries", principal=gate, script="webhooks.js",
                  nav=nav(gate, "/admin/webhooks"))


@router.get("/admin/webhooks/{event_id}", response_model=None)
async def webhook_page(event_id: int, gate: AdminPage) -> Response:
    if isinstance(gate, Response):
        return gate
    return render("webhook.html", title=f"Delivery #{event_id}", principal=gate,
                  script="webhook.js", nav=nav(gate, "/admin/webhooks"),
                  main_data={"event-id": str(event_id)}, event_id=str(event_id))
