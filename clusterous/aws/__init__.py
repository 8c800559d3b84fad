"""The one thin typed layer between clusterous and boto3.

``session`` builds one boto3 session per profile; ``clients`` makes a
provider's clients and holds the one ``call`` every API call goes through;
``errors`` turns botocore's exceptions into ClusterousErrors people can act on
(the one border where that happens) and reads their error codes; ``tags`` builds
and reads tag lists. ``ec2`` (split by resource: catalog, network, instances,
volumes), ``iam`` and ``pricing`` wrap the calls a cluster needs; ``account``,
``keys``, ``caller_address`` and ``wizard`` those of setup.

Importing any module of this package must not import boto3 or botocore: the
CLI imports them to list its commands, and ``clusterous --help`` must stay fast.
"""
