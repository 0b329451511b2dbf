"""The Kubernetes API token of an EKS cluster, made as ``aws eks get-token`` makes it: an STS
``GetCallerIdentity`` URL presigned with the account's credentials, with the cluster's name in
the signed ``x-k8s-aws-id`` header, base64url-encoded (no padding) after ``k8s-aws-v1.``.

The API server (aws-iam-authenticator) calls that URL to learn who the caller is, and maps the
ARN to Kubernetes groups (the cluster creator is an administrator). AWS accepts the URL for 15
minutes; like the AWS CLI, the token is said to expire after 14.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from threeport_infra_provider.cloud.aws import AwsAccess

PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
URL_LIFETIME = 900
TOKEN_LIFETIME = timedelta(minutes=14)


def presigned_token(access: AwsAccess, region: str, cluster_name: str) -> tuple[str, datetime]:
    """The token and when it expires (blocking; inside ``AwsAccess.call``)."""
    # A client of its own: the header hook must not reach the shared STS client's other calls.
    sts: Any = access.session().client(
        "sts", region_name=region, endpoint_url=access.endpoint_url or _regional_sts(region)
    )

    def add_cluster_header(request: Any, **_: Any) -> None:
        request.headers[CLUSTER_ID_HEADER] = cluster_name

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_cluster_header)
    url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=URL_LIFETIME, HttpMethod="GET")
    token = PREFIX + base64.urlsafe_b64encode(str(url).encode()).decode().rstrip("=")
    return token, datetime.now(UTC) + TOKEN_LIFETIME


def _regional_sts(region: str) -> str:
    # The regional endpoint, as aws-iam-authenticator expects (the global one works too).
    return f"https://sts.{region}.amazonaws.com"
