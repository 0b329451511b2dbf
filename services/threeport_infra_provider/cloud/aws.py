"""How the infra-provider reaches AWS for one account: boto3 sessions built from the account's
(decrypted) credentials, an optional role to assume, and a custom endpoint for AWS-compatible
services. Every call runs in a worker thread (boto3 blocks) and every failure becomes an
``AwsError`` whose message says what went wrong without any credential in it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

T = TypeVar("T")
# boto3 logs every request's parameters (passwords, secret values) and signed headers at DEBUG;
# they must never reach the service's log, whatever THREEPORT_LOG_LEVEL says.
for _noisy in ("boto3", "botocore", "s3transfer", "urllib3"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)
SESSION_NAME = "threeport-infra-provider"
CLIENT_LIFETIME = 30 * 60.0
_CLIENTS: dict[tuple[AwsAccess, str, str], tuple[float, Any]] = {}
_CLIENTS_LOCK = threading.Lock()


class AwsError(Exception):
    """An AWS call failed. ``code`` is AWS's error code ('' when AWS was not reached)."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class AwsAccess:
    """Everything needed to act in one account. The secret fields never appear in ``repr``."""

    region: str
    endpoint_url: str = ""
    access_key_id: str = field(default="", repr=False)
    secret_access_key: str = field(default="", repr=False)
    session_token: str = field(default="", repr=False)
    role_arn: str = ""
    external_id: str = field(default="", repr=False)
    timeout: float = 10.0

    def _config(self) -> Config:
        return Config(
            connect_timeout=self.timeout, read_timeout=self.timeout, retries={"max_attempts": 3, "mode": "standard"}
        )

    def session(self) -> boto3.session.Session:
        """A boto3 session acting as the account (the assumed role when one is set)."""
        base = boto3.session.Session(
            aws_access_key_id=self.access_key_id or None,
            aws_secret_access_key=self.secret_access_key or None,
            aws_session_token=self.session_token or None,
            region_name=self.region,
        )
        if not self.role_arn:
            return base
        sts = base.client("sts", endpoint_url=self.endpoint_url or None, config=self._config())
        extra = {"ExternalId": self.external_id} if self.external_id else {}
        assumed = sts.assume_role(RoleArn=self.role_arn, RoleSessionName=SESSION_NAME, **extra)["Credentials"]
        return boto3.session.Session(
            aws_access_key_id=assumed["AccessKeyId"],
            aws_secret_access_key=assumed["SecretAccessKey"],
            aws_session_token=assumed["SessionToken"],
            region_name=self.region,
        )

    def client(self, service: str, region: str = "") -> Any:
        """A boto3 client (blocking; use inside ``call``). Clients are thread-safe and costly to
        build (each loads its service model), so one per account, service and region is kept for
        ``CLIENT_LIFETIME`` seconds (assumed-role credentials last an hour)."""
        key = (self, service, region or self.region)
        with _CLIENTS_LOCK:
            cached = _CLIENTS.get(key)
            if cached is not None and time.monotonic() - cached[0] < CLIENT_LIFETIME:
                return cached[1]
        built = self.session().client(
            service, region_name=region or self.region, endpoint_url=self.endpoint_url or None, config=self._config()
        )
        with _CLIENTS_LOCK:
            _CLIENTS[key] = (time.monotonic(), built)
        return built

    async def call(self, what: str, work: Callable[[], T]) -> T:
        """Runs ``work`` (boto3 calls) in a thread; failures become ``AwsError`` saying ``what``."""
        try:
            return await asyncio.to_thread(work)
        except ClientError as error:
            details = error.response.get("Error", {})
            code = str(details.get("Code", ""))
            raise AwsError(f"{what}: AWS refused it ({code}: {details.get('Message', '')})", code) from None
        except EndpointConnectionError:
            where = self.endpoint_url or f"AWS in {self.region}"
            raise AwsError(f"{what}: cannot reach {where}") from None
        except NoCredentialsError:
            raise AwsError(f"{what}: no credentials: the infra-provider has no ambient AWS identity") from None
        except BotoCoreError as error:
            raise AwsError(f"{what}: {type(error).__name__}: {error}") from None

    async def identity(self) -> tuple[str, str]:
        """The account id and caller ARN the credentials resolve to (STS GetCallerIdentity)."""
        found = await self.call(
            "verifying the account with STS GetCallerIdentity", lambda: self.client("sts").get_caller_identity()
        )
        return str(found["Account"]), str(found["Arn"])
