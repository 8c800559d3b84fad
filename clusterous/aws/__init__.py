"""The thin typed layer between clusterous and boto3.

``session`` builds one boto3 session per profile, ``errors`` turns botocore's
exceptions into ClusterousErrors people can act on (the one border where that
happens), ``account`` holds the account-level calls the setup wizard makes,
``setup`` is the wizard's logic without any Click.

Importing any module of this package must not import boto3 or botocore: the
CLI imports them to list its commands, and ``clusterous --help`` must stay fast.
"""
