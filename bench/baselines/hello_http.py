"""Baseline: a hello-world HTTP handler with FastAPI + Mangum + boto3."""

import boto3  # noqa: F401 - the baseline pays for importing it, as most handlers do
from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()


@app.get("/v1/me")
def hello() -> dict[str, str]:
    return {"hello": "world"}


handler = Mangum(app, lifespan="off")
