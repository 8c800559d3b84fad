"""Click commands only: parse, build the collaborators, call one function, render.

Nothing in this package talks to AWS, SSH or Docker directly, and nothing here
imports boto3, botocore, paramiko or docker at import time, so that
``clusterous --help`` and ``clusterous validate`` stay instant.
"""
