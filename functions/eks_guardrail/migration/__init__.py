"""Migrating a cluster from the aws-auth ConfigMap to access entries: reading aws-auth
(`aws_auth`) and mapping what it grants to planned access entries (`mapping`). Both are pure:
no AWS calls; the caller reads the cluster and IAM and passes the answers in."""
