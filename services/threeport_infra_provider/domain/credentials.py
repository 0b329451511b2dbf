"""What issued credentials may do, per purpose (pure).

Software the platform installs in a cluster (external-dns, external-secrets) gets temporary
credentials of an account, never the account's own keys, and they carry a session policy
that allows only what the purpose needs: whatever the account itself may do, the issued
credentials can do no more than this.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from threeport_model import cloud_access, names
from threeport_runtime.errors import FieldViolation

MIN_DURATION = 900
MAX_DURATION = 43200


@dataclass(frozen=True)
class Purpose:
    actions: tuple[str, ...]

    def policy(self) -> str:
        """The session policy (IAM JSON) limiting issued credentials to ``actions``."""
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": list(self.actions), "Resource": "*"}]}, separators=(",", ":"))


# Per purpose (``threeport_model.cloud_access``), the actions its credentials may take.
PURPOSES = {
    "dns": Purpose((
        "route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:ListHostedZones",
        "route53:ListTagsForResource", "route53:ListTagsForResources", "route53:GetChange",
    )),
    "secrets": Purpose((
        "secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:ListSecrets",
        "secretsmanager:BatchGetSecretValue", "secretsmanager:ListSecretVersionIds",
    )),
}


def check_issue_request(account: str, purpose: str, duration_seconds: int) -> list[FieldViolation]:
    """Every problem with an IssueAccountCredentials request."""
    found: list[FieldViolation] = []
    if account and (error := names.check_resource_name(account, "accounts")):
        found.append(FieldViolation("account", f"{error}, or empty for the default account"))
    if error := cloud_access.check_purpose(purpose):
        found.append(FieldViolation("purpose", error))
    if duration_seconds and not MIN_DURATION <= duration_seconds <= MAX_DURATION:
        found.append(FieldViolation(
            "duration_seconds", f"{duration_seconds} is out of range: {MIN_DURATION} to {MAX_DURATION}, or 0 for "
                                f"{MAX_DURATION}"))
    return found
