"""Read template.yaml: its resources, its functions, their events and their environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


@dataclass(frozen=True)
class Tag:
    """A CloudFormation intrinsic written in short form (!Ref, !GetAtt, !Sub, ...)."""

    name: str
    value: Any


class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    pass


def _construct_tag(loader: _Loader, suffix: str, node: yaml.Node) -> Tag:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return Tag(suffix, value)


_Loader.add_multi_constructor("!", _construct_tag)


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str
    public: bool


@dataclass(frozen=True)
class QueueSource:
    queue: str  # logical id of the queue
    batch_size: int
    report_failures: bool
    maximum_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency


@dataclass
class Function:
    logical_id: str
    code_uri: Path
    handler: str
    timeout: int
    environment: dict[str, Any]
    routes: list[HttpRoute] = field(default_factory=list)
    queues: list[QueueSource] = field(default_factory=list)
    schedules: list[str] = field(default_factory=list)
    reserved_concurrency: int | None = None  # ReservedConcurrentExecutions

    @property
    def name(self) -> str:
        """The function's folder name: how people, events/ and `make invoke` call it."""
        return self.code_uri.name


@dataclass
class Template:
    body: dict[str, Any]
    root: Path

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.body.get("Resources", {}))

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {key: res for key, res in self.resources.items() if res.get("Type") == kind}

    def parameter_defaults(self) -> dict[str, Any]:
        return {
            name: spec.get("Default", "") for name, spec in self.body.get("Parameters", {}).items()
        }

    def functions(self) -> list[Function]:
        glob = self.body.get("Globals", {}).get("Function", {})
        found = []
        for logical_id, res in self.of_type("AWS::Serverless::Function").items():
            props = res["Properties"]
            env = dict(glob.get("Environment", {}).get("Variables", {}))
            env.update(props.get("Environment", {}).get("Variables", {}))
            fn = Function(
                logical_id=logical_id,
                code_uri=(self.root / props["CodeUri"]).resolve(),
                handler=props["Handler"],
                timeout=int(props.get("Timeout", glob.get("Timeout", 3))),
                environment=env,
                reserved_concurrency=_number(props.get("ReservedConcurrentExecutions")),
            )
            for event in props.get("Events", {}).values():
                ev = event.get("Properties", {})
                if event["Type"] == "HttpApi":
                    public = (ev.get("Auth") or {}).get("Authorizer") == "NONE"
                    fn.routes.append(HttpRoute(ev["Method"].upper(), ev["Path"], public))
                elif event["Type"] == "SQS":
                    queue = ev["Queue"]
                    assert isinstance(queue, Tag), "SQS event Queue must be !GetAtt Queue.Arn"
                    fn.queues.append(
                        QueueSource(
                            queue=str(queue.value).split(".")[0],
                            batch_size=int(ev.get("BatchSize", 10)),
                            report_failures="ReportBatchItemFailures"
                            in ev.get("FunctionResponseTypes", []),
                            maximum_concurrency=_number(
                                (ev.get("ScalingConfig") or {}).get("MaximumConcurrency")
                            ),
                        )
                    )
                elif event["Type"] in ("Schedule", "ScheduleV2"):
                    fn.schedules.append(str(ev.get("Schedule") or ev.get("ScheduleExpression")))
            found.append(fn)
        return found


def _number(value: Any) -> int | None:
    """A setting given as a number (one given by an intrinsic function is not resolved here)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def load(path: Path = TEMPLATE) -> Template:
    with path.open() as fh:
        return Template(yaml.load(fh, Loader=_Loader), path.parent)
