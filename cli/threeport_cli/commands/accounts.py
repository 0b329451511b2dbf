"""``tptctl account add aws NAME``: a cloud account for the infra-provider (operators).

The infra-provider verifies the account with STS GetCallerIdentity before storing anything;
the keys travel once, are stored encrypted and are never shown again. ``get accounts``,
``describe account`` and ``delete account`` are the generic verbs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from threeport.infra.v1alpha1 import account_pb2
from threeport_cli.commands.clusters import parse_labels
from threeport_cli.errors import CommandError
from threeport_cli.exit_codes import ExitCode
from threeport_cli.session import client_for, context_for

ENV_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def credentials_from(options: argparse.Namespace) -> account_pb2.AwsCredentials:
    modes = [bool(options.access_key_id or options.secret_access_key), options.credentials_from_env, options.ambient]
    if sum(modes) > 1:
        raise CommandError("give one of --access-key-id/--secret-access-key, --credentials-from-env or --ambient",
                           ExitCode.USAGE)
    if not any(modes) and not options.role_arn:
        raise CommandError("say how to authenticate: --access-key-id K --secret-access-key S, "
                           "--credentials-from-env, --role-arn A or --ambient", ExitCode.USAGE)
    if options.external_id and not options.role_arn:
        raise CommandError("--external-id goes with --role-arn", ExitCode.USAGE)
    key, secret, token = options.access_key_id or "", options.secret_access_key or "", ""
    if options.credentials_from_env:
        missing = [name for name in ENV_KEYS if not os.environ.get(name)]
        if missing:
            raise CommandError(f"--credentials-from-env: {', '.join(missing)} not set", ExitCode.USAGE)
        key, secret = os.environ[ENV_KEYS[0]], os.environ[ENV_KEYS[1]]
        token = os.environ.get("AWS_SESSION_TOKEN", "")
    elif bool(key) != bool(secret):
        raise CommandError("--access-key-id and --secret-access-key go together", ExitCode.USAGE)
    return account_pb2.AwsCredentials(access_key_id=key, secret_access_key=secret, session_token=token,
                                      role_arn=options.role_arn or "", external_id=options.external_id or "",
                                      ambient=options.ambient)


def gateway_from(options: argparse.Namespace) -> account_pb2.ClusterApiGateway:
    ca = b""
    if options.cluster_api_gateway_ca:
        try:
            ca = Path(options.cluster_api_gateway_ca).read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read --cluster-api-gateway-ca: {error.strerror}", ExitCode.USAGE) from None
    return account_pb2.ClusterApiGateway(url=options.cluster_api_gateway or "", certificate_authority_data=ca)


def run_add(options: argparse.Namespace) -> int:
    spec = account_pb2.AccountSpec(provider=options.provider, default_region=options.region,
                                   endpoint_url=options.endpoint_url or "", default=options.default,
                                   aws=credentials_from(options),
                                   cluster_api_gateway=gateway_from(options))
    with client_for(context_for(options)) as client:
        account = client.account.create_account(
            account_id=options.name, account=account_pb2.Account(spec=spec, labels=parse_labels(options.label)),
            validate_only=options.dry_run)
    suffix = " (dry run)" if options.dry_run else ""
    print(f"account/{options.name} added{suffix}: verified as {account.status.caller_arn or 'the given identity'}"
          f"{' (default)' if options.default else ''}")
    return ExitCode.OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    account = commands.add_parser("account", help="add cloud accounts for the infra-provider (operators)")
    verbs = account.add_subparsers(dest="account_command", metavar="VERB")
    add = verbs.add_parser(
        "add", help="add a cloud account (verified with STS GetCallerIdentity; nothing is stored if that fails)",
        description="Adds a cloud account. Give exactly one way to authenticate: static keys "
                    "(--access-key-id/--secret-access-key or --credentials-from-env), a role to assume with "
                    "the infra-provider's own identity (--role-arn), or that identity itself (--ambient).")
    add.add_argument("provider", choices=("aws",), help="the cloud provider")
    add.add_argument("name", help="the account's id (a DNS label), e.g. aws-main")
    add.add_argument("--region", required=True, help="the default region, e.g. eu-central-1")
    add.add_argument("--access-key-id", help="a static access key id")
    add.add_argument("--secret-access-key", help="its secret (prefer --credentials-from-env: flags land in history)")
    add.add_argument("--credentials-from-env", action="store_true",
                     help="read AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) from here")
    add.add_argument("--role-arn", help="a role to assume, arn:aws:iam::123456789012:role/threeport")
    add.add_argument("--external-id", help="the external id the role's trust policy requires")
    add.add_argument("--ambient", action="store_true", help="use the infra-provider's own identity")
    add.add_argument("--endpoint-url", help="an AWS-compatible endpoint (LocalStack, moto, VPC endpoints)")
    add.add_argument("--cluster-api-gateway", metavar="URL",
                     help="reach the API of EKS clusters built here through this gateway ({cluster}: the EKS "
                          "cluster's name), for private endpoints")
    add.add_argument("--cluster-api-gateway-ca", metavar="FILE", help="the gateway's PEM CA bundle")
    add.add_argument("--default", action="store_true", help="use it when a cluster or service names no account")
    add.add_argument("-l", "--label", action="append", help="a label key=value (repeatable)")
    add.add_argument("--dry-run", action="store_true", help="verify the account, store nothing")
    add.add_argument("--context", help="use this tptctl context instead of the current one")
    add.set_defaults(run=run_add)

    def usage(_options: argparse.Namespace) -> int:
        account.print_help(sys.stderr)
        return ExitCode.USAGE

    account.set_defaults(run=usage)
