"""Rules for accounts: provider, region, endpoint, cluster API gateway and exactly one way to
authenticate."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from threeport.infra.v1alpha1 import account_pb2
from threeport_runtime.errors import FieldViolation, InvalidArgument

PROVIDERS = ("aws",)
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
SPEC = "account.spec"


def account_violations(account: account_pb2.Account, *, credentials_required: bool) -> list[FieldViolation]:
    """What is wrong with the account; ``credentials_required`` is false for updates that keep
    the stored credentials."""
    spec = account.spec
    found: list[FieldViolation] = []
    if spec.provider not in PROVIDERS:
        found.append(FieldViolation(f"{SPEC}.provider", f"must be one of {', '.join(PROVIDERS)}"))
    if not REGION.match(spec.default_region):
        found.append(FieldViolation(f"{SPEC}.default_region", "must be an AWS region such as eu-central-1 (--region)"))
    if spec.endpoint_url:
        parsed = urlparse(spec.endpoint_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            found.append(FieldViolation(f"{SPEC}.endpoint_url", "must be an http(s) URL such as https://host:4566"))
    found += gateway_violations(spec.cluster_api_gateway)
    found += credential_violations(spec.aws, required=credentials_required)
    return found


def gateway_violations(gateway: account_pb2.ClusterApiGateway) -> list[FieldViolation]:
    field = f"{SPEC}.cluster_api_gateway"
    found: list[FieldViolation] = []
    if gateway.url:
        parsed = urlparse(gateway.url.replace("{cluster}", "cluster"))
        if parsed.scheme not in ("http", "https") or not parsed.netloc or "{cluster}" not in gateway.url:
            found.append(
                FieldViolation(
                    f"{field}.url",
                    "must be an http(s) URL with {cluster} where the EKS cluster's name goes, "
                    "e.g. https://eks-gateway.internal:8443/{cluster}",
                )
            )
    if gateway.certificate_authority_data:
        if not gateway.url:
            found.append(FieldViolation(f"{field}.certificate_authority_data", "is the gateway's CA: give the url too"))
        elif b"-----BEGIN CERTIFICATE-----" not in gateway.certificate_authority_data:
            found.append(FieldViolation(f"{field}.certificate_authority_data", "must be a PEM CA bundle"))
    return found


def credential_violations(aws: account_pb2.AwsCredentials, *, required: bool) -> list[FieldViolation]:
    field = f"{SPEC}.aws"
    found: list[FieldViolation] = []
    keys = bool(aws.access_key_id or aws.secret_access_key)
    if keys and not (aws.access_key_id and aws.secret_access_key):
        found.append(
            FieldViolation(f"{field}.secret_access_key", "static keys need both the access key id and the secret")
        )
    if aws.session_token and not keys:
        found.append(FieldViolation(f"{field}.session_token", "a session token goes with static keys"))
    if aws.ambient and keys:
        found.append(FieldViolation(f"{field}.ambient", "use either static keys or the ambient identity, not both"))
    if aws.role_arn and not ROLE_ARN.match(aws.role_arn):
        found.append(FieldViolation(f"{field}.role_arn", "must be a role ARN: arn:aws:iam::123456789012:role/NAME"))
    if aws.external_id and not aws.role_arn:
        found.append(FieldViolation(f"{field}.external_id", "an external id is only used when assuming a role"))
    if required and not (keys or aws.ambient or aws.role_arn):
        found.append(
            FieldViolation(
                field,
                "say how to authenticate: static keys (--access-key-id/--secret-access-key or "
                "--credentials-from-env), a role to assume (--role-arn) or the ambient identity (--ambient)",
            )
        )
    return found


def carries_credentials(aws: account_pb2.AwsCredentials) -> bool:
    """True when a request says how to authenticate (and so replaces what is stored)."""
    return bool(aws.access_key_id or aws.secret_access_key or aws.ambient or aws.role_arn)


def check_account(account: account_pb2.Account, *, credentials_required: bool) -> None:
    violations = account_violations(account, credentials_required=credentials_required)
    if violations:
        raise InvalidArgument.for_fields(violations)


def stored_spec(spec: account_pb2.AccountSpec) -> account_pb2.AccountSpec:
    """The spec as it is stored and returned: the keys and token removed (they are sealed apart)."""
    kept = account_pb2.AccountSpec()
    kept.CopyFrom(spec)
    kept.aws.access_key_id = ""
    kept.aws.secret_access_key = ""
    kept.aws.session_token = ""
    return kept
