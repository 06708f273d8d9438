"""Adapters: the only code that talks to AWS. Each takes its boto3 client as an argument."""
