"""The Docker-free local stack: embedded PostgreSQL, moto, and template.yaml's functions served
on 127.0.0.1 the way API Gateway, SQS and EventBridge would call them."""
