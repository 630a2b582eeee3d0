"""Brand routes of cron jobs: define, preview, run by hand, and each job's runs."""
from __future__ import annotations

from ..ledger.errors import InvalidRequest
from .base import ApiHandler, Op
from .models import page_of
from .models_jobs import JobIn, JobOut, JobPatchIn, JobRunOut, PreviewOut, RunNowOut

PAGE_QUERY = {"limit": "page size (1-200, default 50)", "cursor": "next_cursor of the previous page"}
JOB_ERRORS = (400, 404, 409, 422)


class JobsHandler(ApiHandler):
    OPS = {"get": Op("List cron jobs", response=page_of(JobOut), query=PAGE_QUERY),
           "post": Op("Create a cron job: on each occurrence, every customer its selector picks gets one event of"
                      " event_type through the rules (at most once per customer per occurrence)", body=JobIn,
                      response=JobOut, status=201, errors=JOB_ERRORS)}

    async def get(self) -> None:
        limit = self.page_limit()
        rows = await self.runtime.jobs.list(self.brand_id, self.cursor(), limit)
        self.reply(200, {"data": [r for _, r in rows], "next_cursor": self.next_cursor(rows, limit, lambda r: r[0])})

    async def post(self) -> None:
        raw = self.json_body()
        d = self.body(JobIn)
        fields = d.model_dump()
        code = fields.pop("code")
        await self.write_through(lambda wrap: self.runtime.jobs.create(self.brand_id, code, fields, wrap),
                                 lambda job: (201, job), raw)


class JobHandler(ApiHandler):
    OPS = {"get": Op("Get a cron job", response=JobOut, errors=(404,)),
           "patch": Op("Change a cron job (the fields given); its next occurrence is computed again", body=JobPatchIn,
                       response=JobOut, errors=JOB_ERRORS),
           "delete": Op("Delete a cron job (a run in progress stops)", response=JobOut, errors=(404,))}

    async def get(self, code: str) -> None:
        self.reply(200, await self.runtime.jobs.get(self.brand_id, code))

    async def patch(self, code: str) -> None:
        raw = self.json_body()
        changes = self.body(JobPatchIn).model_dump(exclude_unset=True)
        for name, value in changes.items():
            if value is None:
                raise InvalidRequest(f"{name} cannot be null", field=name)
        await self.write_through(lambda wrap: self.runtime.jobs.patch(self.brand_id, code, changes, wrap),
                                 lambda job: (200, job), raw)

    async def delete(self, code: str) -> None:
        self.reply(200, await self.runtime.jobs.delete(self.brand_id, code))


class JobPreviewHandler(ApiHandler):
    OPS = {"post": Op("Who the job's current occurrence selects; writes nothing", response=PreviewOut,
                      errors=(404, 409))}

    async def post(self, code: str) -> None:
        self.reply(200, await self.runtime.jobs.preview(self.brand_id, code))


class JobRunHandler(ApiHandler):
    OPS = {"post": Op("Run the job's current occurrence now, to the end; customers it already reached in that"
                      " occurrence count as idempotent_existing", response=RunNowOut, errors=(404, 409))}

    async def post(self, code: str) -> None:
        self.reply(200, await self.runtime.jobs.run_now(self.brand_id, code))


class JobRunsHandler(ApiHandler):
    OPS = {"get": Op("The job's runs, newest first", response=page_of(JobRunOut), query=PAGE_QUERY, errors=(404,))}

    async def get(self, code: str) -> None:
        limit = self.page_limit()
        rows = await self.runtime.jobs.runs(self.brand_id, code, self.cursor(), limit)
        self.reply(200, {"data": [r for _, r in rows], "next_cursor": self.next_cursor(rows, limit, lambda r: r[0])})
