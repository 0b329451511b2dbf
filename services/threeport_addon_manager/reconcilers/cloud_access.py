"""AWS credentials for installed addons that need cloud access (``AddonSpec.cloud_access``).

An addon whose values give it its own identity (``roleArn``, IRSA) or an addon-manager without
an infra-provider gets none: it runs with that identity or the cluster's. Otherwise the
infra-provider issues temporary credentials of the account the values name (``account``; empty:
the default account), scoped to the addon's purpose, and they are applied as a Kubernetes
Secret in the addon's namespace, with the owning installation's other objects (so they are
pruned and uninstalled with them). They are renewed once two thirds of their lifetime has
passed; until then the Secret in the cluster is reused (its annotations say whose, until when),
so a resync costs no STS call. The keys are never stored in the addon-manager's database,
status, events or logs: only in that Secret.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from typing import Any

from threeport.addons.v1alpha1 import addon_pb2
from threeport.infra.v1alpha1 import account_credentials_pb2
from threeport.sdk import ApiError, AsyncClient, UnavailableError
from threeport_runtime.kube.client import KubeClient
from threeport_runtime.kube.errors import KubeError
from threeport_runtime.reconcile.result import TemporaryError

SECRET_NAME = "threeport-aws-credentials"
ANNOTATION = "threeport.io/"
# What templates see under .Values (see the AddonCloudAccess proto).
VALUES_KEY = "awsAccess"
RENEW_AT = 2 / 3


class NoCloudAccess(Exception):
    """The infra-provider refused to issue credentials; the message says why and what to do."""


@dataclass(frozen=True)
class Access:
    """``values`` to render with, the Secret to apply with the installation's objects (None
    when none is needed or the one in the cluster is still good), the Secret's reference (to
    keep it from being pruned), and when to look again (seconds; None: no renewal due)."""

    values: dict[str, Any]
    secret: dict[str, Any] | None = None
    keep: dict[str, Any] | None = None
    renew_in: float | None = None


class CloudAccess:
    def __init__(self, infra: AsyncClient | None):
        self._infra = infra

    async def prepare(self, client: KubeClient, addon: addon_pb2.Addon, values: dict[str, Any]) -> Access:
        purpose = addon.spec.cloud_access.purpose
        if not addon.spec.HasField("cloud_access") or not purpose:
            return Access(values)
        values = {**values, VALUES_KEY: {}}
        if values.get("roleArn") or self._infra is None:
            return Access(values)
        account = str(values.get("account") or "")
        ref = {"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": SECRET_NAME, "namespace": addon.spec.namespace}}
        try:
            live = await client.get(ref)
        except KubeError as error:
            raise TemporaryError(f"reading {SECRET_NAME}: {error}") from error
        now = time.time()
        annotations = ((live or {}).get("metadata") or {}).get("annotations") or {}
        renew_at = _renew_at(annotations)
        same_account = annotations.get(ANNOTATION + "aws-account") == (account or "default")
        if live is not None and same_account and now < renew_at:
            return Access({**values, VALUES_KEY: _template_values(annotations)}, None, ref, renew_at - now)
        issued = await self._issue(account, purpose)
        secret = _secret(ref, account, issued)
        annotations = secret["metadata"]["annotations"]
        return Access({**values, VALUES_KEY: _template_values(annotations)}, secret, ref, _renew_at(annotations) - now)

    async def _issue(self, account: str, purpose: str) -> account_credentials_pb2.AccountCredentials:
        assert self._infra is not None
        try:
            issued: account_credentials_pb2.AccountCredentials = (
                await self._infra.internal.account_credentials.issue_account_credentials(
                    account=account, purpose=purpose, timeout=30))
        except UnavailableError as error:
            raise TemporaryError(f"the infra-provider cannot issue credentials now: {error.message}") from None
        except ApiError as error:
            raise NoCloudAccess(f"no AWS credentials for {purpose} from {account or 'the default account'}: "
                                f"{error.message}") from None
        return issued


def _renew_at(annotations: dict[str, str]) -> float:
    try:
        issued, expires = float(annotations[ANNOTATION + "issued"]), float(annotations[ANNOTATION + "expires"])
    except (KeyError, ValueError):
        return 0.0
    return issued + (expires - issued) * RENEW_AT


def _template_values(annotations: dict[str, str]) -> dict[str, str]:
    return {"secret": SECRET_NAME, "region": annotations.get(ANNOTATION + "region", ""),
            "endpointUrl": annotations.get(ANNOTATION + "endpoint-url", ""),
            "version": annotations.get(ANNOTATION + "credentials-version", "")}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _secret(ref: dict[str, Any], account: str, issued: account_credentials_pb2.AccountCredentials) -> dict[str, Any]:
    return {
        **ref,
        "type": "Opaque",
        "metadata": {**ref["metadata"], "annotations": {
            ANNOTATION + "aws-account": account or "default",
            ANNOTATION + "issued": str(int(time.time())),
            ANNOTATION + "expires": str(issued.expire_time.seconds),
            ANNOTATION + "region": issued.region,
            ANNOTATION + "endpoint-url": issued.endpoint_url,
            # Names these credentials without revealing them (a hash of the key id).
            ANNOTATION + "credentials-version": hashlib.sha256(issued.access_key_id.encode()).hexdigest()[:12],
        }},
        "data": {"AWS_ACCESS_KEY_ID": _b64(issued.access_key_id),
                 "AWS_SECRET_ACCESS_KEY": _b64(issued.secret_access_key),
                 "AWS_SESSION_TOKEN": _b64(issued.session_token)},
    }
