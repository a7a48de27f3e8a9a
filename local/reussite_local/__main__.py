"""`python -m reussite_local run` starts the stack; `invoke NAME` fires a function on it."""

from __future__ import annotations

import argparse
import json
import logging
import os
import urllib.request
from pathlib import Path

from reussite_local.stack import STATE_DIR


def run(args: argparse.Namespace) -> None:
    import uvicorn

    from reussite_local import seed, tokens
    from reussite_local.stack import LocalStack

    port = int(os.environ.get("PORT", "3000"))
    if not os.environ.get("PUBLIC_BASE_URL"):  # links in emails, QR codes, Konnect's webhook
        os.environ["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    stack = LocalStack(Path(args.state_dir))
    print("reussite: starting PostgreSQL, moto and the functions of template.yaml ...", flush=True)
    stack.start()
    try:
        demo = seed.seed(webhook_url=f"http://127.0.0.1:{port}/_local/webhooks")
        dev_tokens = {
            p.sub: tokens.make_token(p.sub, p.role, p.email, p.name) for p in seed.DEMO_USERS
        }
        base = f"http://127.0.0.1:{port}"
        konnect = stack.konnect.url if stack.konnect else os.environ.get("KONNECT_BASE_URL")
        stack.write_state(url=base, tokens=dev_tokens, konnect=konnect, **demo)
        stack.start_delivery()
        print(f"\nreussite local stack on {base}  (OpenAPI: {base}/openapi.json)")
        print(f"PostgreSQL: {os.environ['DATABASE_URL']}")
        apart = ", ".join(f"{name} {stack.aws.endpoint_for(name)}" for name in stack.aws.APART)
        print(f"moto:       {stack.aws.endpoint} ({apart})")
        print(f"Konnect:    {konnect}{' (fake sandbox)' if stack.konnect else ''}")
        print(f"Mailbox:    {base}/_local/mail  (what the functions sent)")
        print(f"Webhooks:   {base}/_local/webhooks  (the signed events a school would receive)")
        print("Dev tokens (Authorization: Bearer <token>), also in .local/stack.json:")
        for sub, token in dev_tokens.items():
            print(f"  {sub:16} {token}")
        print(f"Child link code for demo-parent's child: {demo['child_link_code']}")
        print("Fire a function: make invoke FN=<name>   Stop: Ctrl-C\n", flush=True)
        workers = int(os.environ.get("HTTP_WORKERS", "1"))
        if workers > 1:  # Lambda runs containers side by side: so do these processes
            from reussite_local.gateway import WEBHOOK_LOG

            log = Path(args.state_dir) / "webhooks.jsonl"
            log.unlink(missing_ok=True)  # a previous run's
            os.environ[WEBHOOK_LOG] = str(log)
            print(f"HTTP:       {workers} worker processes on one port", flush=True)
            serve_in_processes(workers, port)
        else:
            uvicorn.run(stack.gateway, host="127.0.0.1", port=port, log_level="warning")
    finally:
        stack.stop()
        print("reussite: stopped", flush=True)


def serve_in_processes(workers: int, port: int) -> None:
    """uvicorn's supervisor over `workers` processes sharing one listening socket. The socket is
    bound here, not by uvicorn: uvicorn 0.54 leaves its `proto` at 0, so asyncio never turns
    on TCP_NODELAY for the connections it accepts and every keep-alive request after the first
    waits ~40 ms on the client's delayed ACK (Kludex/uvicorn#3149)."""
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        "reussite_local.gateway:from_environment",
        factory=True,
        workers=workers,
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.set_inheritable(True)
    Multiprocess(config, sockets=[sock]).run()


def invoke(args: argparse.Namespace) -> None:
    state = json.loads((Path(args.state_dir) / "stack.json").read_text())
    data = Path(args.event).read_bytes() if args.event else b""
    request = urllib.request.Request(
        f"{state['url']}/_local/invoke/{args.name}", data=data, method="POST"
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        print(json.dumps(json.loads(response.read()), indent=2))


def demo(args: argparse.Namespace) -> None:
    from reussite_local.demo import main as run_demo

    raise SystemExit(run_demo(Path(args.state_dir)))


def signing_key(args: argparse.Namespace) -> None:
    """Print a new credential signing key as the CertificateSigningKey secret's value."""
    from reussite_local.aws import rsa_signing_key

    print(rsa_signing_key())


def openapi(args: argparse.Namespace) -> None:
    """Print the merged OpenAPI document (no stack needed)."""
    import json

    from reussite_local import openapi as document

    document.placeholder_settings()
    print(json.dumps(document.document(), indent=1, ensure_ascii=False))


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    os.environ.setdefault("XDG_RUNTIME_DIR", str(STATE_DIR))
    parser = argparse.ArgumentParser(prog="reussite_local")
    parser.add_argument("--state-dir", default=str(STATE_DIR))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the whole stack on 127.0.0.1")
    p_invoke = sub.add_parser("invoke", help="fire a function of the running stack")
    p_invoke.add_argument("name", help="the function's folder name under functions/")
    p_invoke.add_argument("--event", help="event file (default: events/<name>.json)")
    sub.add_parser("signing-key", help="print a new signing key (the secret's value)")
    sub.add_parser("demo", help="walk a family through everything on the running stack")
    sub.add_parser("openapi", help="print the API's merged OpenAPI document")
    args = parser.parse_args()
    commands = {"run": run, "invoke": invoke, "signing-key": signing_key, "demo": demo}
    (commands | {"openapi": openapi})[args.command](args)


if __name__ == "__main__":
    main()
