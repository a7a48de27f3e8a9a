"""AWS emulated by moto's server, with the resources template.yaml declares: on a thread of
this process (tests) or in a process of its own (the local stack and benchmarks, where AWS
must not share the functions' GIL, as it does not in Lambda)."""

from __future__ import annotations

import json
import re
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from reussite_local.template import Tag, Template

REGION = "eu-west-3"
ACCOUNT = "123456789012"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Resources:
    """What each logical id resolves to locally: its Ref and its attributes."""

    refs: dict[str, str] = field(default_factory=dict)
    attrs: dict[tuple[str, str], str] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        """Resolve the intrinsics the template uses in environment variables and properties."""
        if isinstance(value, Tag):
            return self._intrinsic(value.name, value.value)
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" or key.startswith("Fn::"):
                return self._intrinsic(key.removeprefix("Fn::"), arg)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _intrinsic(self, name: str, arg: Any) -> Any:
        if name == "Ref":
            return self.refs.get(arg, "")
        if name == "GetAtt":
            logical, attr = arg.split(".", 1) if isinstance(arg, str) else arg
            return self.attrs.get((logical, attr), "")
        if name == "Sub":
            text = arg if isinstance(arg, str) else arg[0]
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(self._sub(m.group(1))), text)
        if name == "Join":
            sep, items = arg
            return sep.join(str(self.resolve(i)) for i in items)
        raise ValueError(f"intrinsic {name} is not supported by the local stack")

    def _sub(self, expr: str) -> Any:
        if "." in expr:
            return self._intrinsic("GetAtt", expr)
        return self._intrinsic("Ref", expr)


def rsa_signing_key() -> str:
    """A fresh RS256 signing key as the secret value the certificate worker expects."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return json.dumps({"kid": f"key-{secrets.token_hex(6)}", "private_key": pem})


class LocalAws:
    """moto's server on 127.0.0.1 plus the template's tables, queues, buckets and topics. In
    processes of their own, DynamoDB and SQS get one each and the other services share a third:
    each is a service of its own in AWS, and one process's GIL would make the idempotency
    table's calls, on every write's path, queue behind the queue pollers' (moto's SQS spends
    CPU in proportion to the messages a queue holds on every call)."""

    APART = ("dynamodb", "sqs")  # services served by a process of their own (own_process only)

    def __init__(self, port: int | None = None, own_process: bool = False) -> None:
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server = (
            None
            if own_process
            else ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        )
        self._apart = (
            {service: f"http://127.0.0.1:{free_port()}" for service in self.APART}
            if own_process
            else {}
        )
        self._processes: list[subprocess.Popen[bytes]] = []

    def endpoint_for(self, service: str) -> str:
        return self._apart.get(service, self.endpoint)

    @property
    def endpoints(self) -> list[str]:
        """Every moto server's endpoint (each answers `/_local/moto-usage` in its own process)."""
        return [self.endpoint, *self._apart.values()]

    def start(self) -> None:
        if self._server is not None:
            self._server.start()
            return
        for endpoint in self.endpoints:
            port = endpoint.rpartition(":")[2]
            self._processes.append(
                subprocess.Popen(
                    # moto's server, counting its calls by operation (`reussite_local.moto_server`)
                    [sys.executable, "-m", "reussite_local.moto_server", "127.0.0.1", port],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + 60
        probes = {"sts": "get_caller_identity", "dynamodb": "list_tables", "sqs": "list_queues"}
        waiting = ["sts", *self._apart]
        while waiting and time.monotonic() < deadline:
            if any(process.poll() is not None for process in self._processes):
                break
            try:
                getattr(self.client(waiting[0]), probes[waiting[0]])()
                waiting.pop(0)
            except Exception:  # not listening yet
                time.sleep(0.1)
        if waiting:
            self.stop()
            raise RuntimeError(f"moto's server did not start on {self.endpoint_for(waiting[0])}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            **{f"AWS_ENDPOINT_URL_{service.upper()}": url for service, url in self._apart.items()},
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint_for(service),
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def create_resources(
        self, template: Template, local_values: dict[str, str] | None = None
    ) -> Resources:
        """Create the template's resources. A secret's `Metadata: LocalValue` names its local
        value: "rsa-signing-key" is generated, other names are looked up in `local_values`;
        without one a secret gets a random value."""
        local_values = local_values or {}
        res = Resources()
        res.refs.update(
            {
                "AWS::Region": REGION,
                "AWS::AccountId": ACCOUNT,
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::StackName": "reussite-local",
                "AWS::Partition": "aws",
            }
        )
        res.refs.update({k: str(v) for k, v in template.parameter_defaults().items()})
        for logical_id in template.resources:
            res.refs.setdefault(logical_id, logical_id)
        for logical_id, spec in template.of_type("AWS::DynamoDB::Table").items():
            self._table(res, logical_id, spec["Properties"])
        queues = template.of_type("AWS::SQS::Queue")
        # Dead-letter queues first: the queues' redrive policies point at them.
        for logical_id, spec in sorted(
            queues.items(), key=lambda q: "RedrivePolicy" in q[1].get("Properties", {})
        ):
            self._queue(res, logical_id, spec.get("Properties", {}))
        for logical_id, spec in template.of_type("AWS::S3::Bucket").items():
            self._bucket(res, logical_id, spec.get("Properties", {}))
        for logical_id, spec in template.of_type("AWS::SecretsManager::Secret").items():
            local_value = spec.get("Metadata", {}).get("LocalValue")
            if local_value == "rsa-signing-key":
                value = rsa_signing_key()
            else:
                value = local_values.get(local_value, secrets.token_urlsafe(36))
            arn = self.client("secretsmanager").create_secret(
                Name=f"reussite-local-{logical_id}", SecretString=value
            )["ARN"]
            res.refs[logical_id] = arn
        sender = res.refs.get("SenderEmail")
        if sender:  # SES sends only from verified identities
            self.client("ses").verify_email_identity(EmailAddress=sender)
        for logical_id in template.of_type("AWS::SNS::Topic"):
            arn = self.client("sns").create_topic(Name=logical_id)["TopicArn"]
            res.refs[logical_id] = arn
            res.attrs[(logical_id, "TopicArn")] = arn
        return res

    def _table(self, res: Resources, logical_id: str, props: dict[str, Any]) -> None:
        ddb = self.client("dynamodb")
        name = props.get("TableName") or f"reussite-local-{logical_id}"
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        ddb.create_table(**kwargs)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        res.refs[logical_id] = name
        res.attrs[(logical_id, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"

    def _queue(self, res: Resources, logical_id: str, props: dict[str, Any]) -> None:
        attributes = {"VisibilityTimeout": str(props.get("VisibilityTimeout", 30))}
        if "MessageRetentionPeriod" in props:
            attributes["MessageRetentionPeriod"] = str(props["MessageRetentionPeriod"])
        redrive = props.get("RedrivePolicy")
        if redrive:
            attributes["RedrivePolicy"] = json.dumps(res.resolve(redrive))
        url = self.client("sqs").create_queue(QueueName=logical_id, Attributes=attributes)[
            "QueueUrl"
        ]
        res.refs[logical_id] = url
        res.attrs[(logical_id, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{logical_id}"
        res.attrs[(logical_id, "QueueName")] = logical_id
        res.attrs[(logical_id, "QueueUrl")] = url

    def _bucket(self, res: Resources, logical_id: str, props: dict[str, Any]) -> None:
        name = f"reussite-local-{logical_id.lower()}"
        s3 = self.client("s3")
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        versioning = props.get("VersioningConfiguration")
        if versioning:
            s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration={"Status": versioning["Status"]}
            )
        res.refs[logical_id] = name
        res.attrs[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"
