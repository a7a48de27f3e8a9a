"""The whole local stack in one process: PostgreSQL, moto, the template's resources and
functions, queue delivery, and the HTTP gateway on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from reussite_local import functions, template
from reussite_local.aws import LocalAws, Resources
from reussite_local.gateway import Gateway
from reussite_local.konnect import FakeKonnect
from reussite_local.postgres import LocalPostgres
from reussite_local.scheduler import Scheduler
from reussite_local.sqs import QueueDelivery
from reussite_local.template import Tag

STATE_DIR = template.ROOT / ".local"


FEATURE_FLAGS_FILE = template.ROOT / "config" / "feature_flags.json"
LOCAL_ONLY = ("DATABASE_SECRET_ARN", "APPCONFIG_APPLICATION", "APPCONFIG_ENVIRONMENT")


def function_environment(
    fns: list[template.Function], resources: Resources, parameters: Iterable[str] = ()
) -> dict[str, str]:
    """The functions' environment variables with the template's references resolved to the local
    resources. A variable set from a template parameter (`!Ref ReportWriter`) keeps the value
    the user set in their environment (`REPORT_WRITER=gemini make run`), as a parameter override
    would in AWS; an empty parameter keeps what is set too. Locally DATABASE_URL names the
    database, a file holds the feature flags (moto has no AppConfigData) and webhooks may go to
    private addresses (the local receiver) unless WEBHOOK_PRIVATE_ADDRESSES says otherwise."""
    from_parameter = set(parameters)
    env = {}
    for fn in fns:
        for key, value in fn.environment.items():
            chosen = (
                isinstance(value, Tag) and value.name == "Ref" and value.value in from_parameter
            )
            if chosen and os.environ.get(key):
                env[key] = os.environ[key]
                continue
            resolved = str(resources.resolve(value))
            if resolved or key not in os.environ:
                env[key] = resolved
    for name in LOCAL_ONLY:
        env.pop(name, None)
    env.setdefault(
        "FEATURE_FLAGS_FILE", os.environ.get("FEATURE_FLAGS_FILE", str(FEATURE_FLAGS_FILE))
    )
    if "WEBHOOK_PRIVATE_ADDRESSES" in env:  # the local receiver is http://127.0.0.1
        env["WEBHOOK_PRIVATE_ADDRESSES"] = os.environ.get("WEBHOOK_PRIVATE_ADDRESSES", "allow")
    return env


# A demo bank account for Wise transfers (an IBAN of the documentation kind, not a real one).
DEMO_BANK = {  # template parameter: (environment variable that overrides it, demo value)
    "WiseAccountHolder": ("WISE_ACCOUNT_HOLDER", "Reussite Demo SARL"),
    "WiseIban": ("WISE_IBAN", "FR7630006000011234567890189"),
    "WiseBic": ("WISE_BIC", "AGRIFRPP"),
}

# The demo school's branding (template parameter: (environment variable, demo value)); its logo
# is put in the (empty) local certificates bucket under the logo key.
DEMO_BRAND = {
    "SchoolName": ("ISSUER_NAME", "Réussite Académie"),
    "BrandLogoKey": ("BRAND_LOGO_KEY", "branding/school-logo.png"),
    "SignatoryName": ("SIGNATORY_NAME", "Sonia Ben Ammar"),
    "SignatoryTitle": ("SIGNATORY_TITLE", "Directrice pédagogique"),
}
DEMO_LOGO = Path(__file__).parent / "data" / "school-logo.png"


def create_local_resources(
    aws: LocalAws, tmpl: template.Template
) -> tuple[Resources, FakeKonnect | None]:
    """The template's resources on moto, and the providers the template points at: a fake
    Konnect gateway unless KONNECT_BASE_URL names a real one (then KONNECT_WALLET_ID and
    KONNECT_API_KEY come from the environment too), and a demo bank account for Wise."""
    konnect = None if os.environ.get("KONNECT_BASE_URL") else FakeKonnect().start()
    if konnect is not None:  # its key is in the local secret; a stray one would be refused
        os.environ.pop("KONNECT_API_KEY", None)
    values = {"konnect-api-key": konnect.api_key} if konnect else {}
    resources = aws.create_resources(tmpl, local_values=values)
    if konnect is not None:
        resources.refs["KonnectBaseUrl"] = konnect.api_url
        resources.refs["KonnectWalletId"] = konnect.wallet_id
    else:
        resources.refs["KonnectBaseUrl"] = os.environ["KONNECT_BASE_URL"]
    for name, (variable, value) in {**DEMO_BANK, **DEMO_BRAND}.items():
        resources.refs[name] = os.environ.get(variable, value)
    if resources.refs["BrandLogoKey"]:  # the local bucket starts empty: the demo logo stands in
        aws.client("s3").put_object(
            Bucket=resources.refs["CertificatesBucket"],
            Key=resources.refs["BrandLogoKey"],
            Body=DEMO_LOGO.read_bytes(),
            ContentType="image/png",
        )
    return resources, konnect


class LocalStack:
    def __init__(self, state_dir: Path = STATE_DIR, tmpl: template.Template | None = None) -> None:
        self.state_dir = state_dir
        self.template = tmpl or template.load()
        self.postgres = LocalPostgres(state_dir / "pgdata")
        self.aws = LocalAws(own_process=True)  # AWS is not in a Lambda's process
        self.functions = self.template.functions()
        self.deliveries: list[QueueDelivery] = []
        self.konnect: FakeKonnect | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Bring everything up; on any failure, stop what already started."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        shutil.rmtree(self.state_dir / "pgdata", ignore_errors=True)  # moto starts empty too
        os.environ["DATABASE_URL"] = self.postgres.start()
        self.aws.start()
        os.environ.update(self.aws.environment())
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Reussite")
        resources, self.konnect = create_local_resources(self.aws, self.template)
        os.environ.update(
            function_environment(self.functions, resources, self.template.parameter_defaults())
        )
        from reussite.settings import get_settings

        get_settings.cache_clear()
        self.invoke("db_migrate", {})
        cors = self.template.body.get("Globals", {}).get("HttpApi", {}).get("CorsConfiguration")
        self.gateway = Gateway(self.functions, cors)
        for fn in self.functions:
            for source in fn.queues:
                url = resources.refs[source.queue]
                self.deliveries.append(QueueDelivery(self.aws, fn, source, url))

    def start_delivery(self) -> None:
        """Start what runs in the background: queue deliveries and the template's schedules."""
        scheduler = Scheduler(self.functions, functions.invoke)
        pollers = [d.run for d in self.deliveries for _ in range(d.concurrency)]
        for target in [*pollers, scheduler.run]:
            thread = threading.Thread(target=target, args=(self._stop,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def function(self, name: str) -> template.Function:
        for fn in self.functions:
            if fn.name == name:
                return fn
        raise KeyError(name)

    def invoke(self, name: str, event: dict[str, Any] | None = None) -> Any:
        fn = self.function(name)
        return functions.invoke(fn, functions.sample_event(fn) if event is None else event)

    def write_state(self, **extra: Any) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "database_url": os.environ["DATABASE_URL"],
            "aws_endpoint": self.aws.endpoint,
            "aws_endpoints": self.aws.endpoints,  # the other services', DynamoDB's, SQS's
        }
        state.update(extra)
        (self.state_dir / "stack.json").write_text(json.dumps(state, indent=2))

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        from reussite import db

        db.close()
        with contextlib.suppress(Exception):  # it may never have started
            self.aws.stop()
        if self.konnect is not None:
            self.konnect.stop()
        self.postgres.stop()
