"""Load batch jobs from a file: a stand-alone job file, or an environment file's ``jobs:``.

A job file holds ``jobs:`` (one entry per job, its key the job's name) and
optionally ``name:``; every problem is reported as ``FILE:LINE: field: message``
as for the other formats. The same entries may sit in an environment file,
where ``clusterous run`` submits them once the components run.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from clusterous.errors import FileInputError, Problem
from clusterous.formats.environment import load_environment
from clusterous.formats.kind import Kind, guess_kind
from clusterous.formats.models import Job, JobsDocument
from clusterous.formats.problems import Findings, problems_from_validation
from clusterous.formats.source import Document, read_document


def load_jobs(path: Path) -> dict[str, Job]:
    """The jobs of ``path`` (a job file or an environment file), by name."""
    document = read_document(path)
    kind = guess_kind(document)
    if kind is Kind.ENVIRONMENT:
        jobs = load_environment(path).jobs
    elif kind is Kind.JOBS:
        jobs = jobs_from_document(document)
    else:
        jobs = {}
    if not jobs:
        message = (
            "no 'jobs:' section: add one, e.g. jobs: {sweep: {command: 'echo {i}', array: 1-10}}"
        )
        raise FileInputError([Problem(document.label, 0, "", message)])
    return jobs


def jobs_from_document(document: Document) -> dict[str, Job]:
    findings = Findings()
    try:
        parsed = JobsDocument.model_validate(document.data)
    except ValidationError as failure:
        findings.extend(problems_from_validation(failure, document, JobsDocument))
        findings.raise_if_any()
        raise
    return dict(parsed.jobs)


def json_schema() -> dict[str, object]:
    """The JSON schema of a job file (docs/jobs.schema.json is this, for editors)."""
    return JobsDocument.model_json_schema()
