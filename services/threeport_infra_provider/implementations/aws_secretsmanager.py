"""``aws-secretsmanager`` (secret): one secret ``threeport/{service}`` holding the generated keys
as JSON. The client request token is derived from the service's uid, so a retried create is
the same request to AWS. Outputs: name and ARN (values), every key (secrets)."""

from __future__ import annotations

import json
import uuid

from threeport.infra.v1alpha1 import managed_service_pb2
from threeport_infra_provider.cloud.aws import AwsError
from threeport_infra_provider.domain import outputs
from threeport_infra_provider.domain.names import last_segment
from threeport_infra_provider.domain.services import parameters
from threeport_infra_provider.implementations.aws_common import AwsBase, failed, tag_list
from threeport_infra_provider.implementations.base import (
    CREATE,
    UNCHANGED,
    CloudResource,
    Converged,
    Inventory,
    PlannedResource,
)

SECRET = "AWS::SecretsManager::Secret"


def secret_name(service: managed_service_pb2.ManagedService) -> str:
    return f"threeport/{last_segment(service.name)}-{service.uid.replace('-', '')[:8]}"


class SecretsManagerImplementation(AwsBase):
    name = "aws-secretsmanager"

    async def converge(
        self, service: managed_service_pb2.ManagedService, secrets: dict[str, str], record: Inventory
    ) -> Converged:
        access = await self.access(service)
        region = self.region(service, access)
        name = secret_name(service)
        keys = {key: secrets[f"key:{key}"] for key in parameters(service.spec.parameters).get("keys", [])}
        token = str(uuid.uuid5(uuid.UUID(service.uid), "secret"))

        def ensure() -> tuple[str, list[str]]:
            client = access.client("secretsmanager", region)
            try:
                found = client.describe_secret(SecretId=name)
            except client.exceptions.ResourceNotFoundException:
                created = client.create_secret(
                    Name=name, SecretString=json.dumps(keys), ClientRequestToken=token, Tags=tag_list(service)
                )
                return str(created["ARN"]), []
            current = json.loads(client.get_secret_value(SecretId=name)["SecretString"])
            if current != keys:
                client.put_secret_value(SecretId=name, SecretString=json.dumps(keys))
                return str(found["ARN"]), ["the secret's value differed from the generated keys; restored"]
            return str(found["ARN"]), []

        await record(CloudResource(type=SECRET, id=name, region=region, state="creating"))
        try:
            arn, drift = await access.call(f"creating secret {name}", ensure)
        except AwsError as error:
            raise failed(error) from None
        return Converged(
            True,
            f"secret {name} in {region}",
            outputs.secret(keys=keys, name=name, arn=arn),
            [CloudResource(type=SECRET, id=arn, region=region, state="available")],
            drift,
        )

    async def plan(
        self, service: managed_service_pb2.ManagedService, *, current: managed_service_pb2.ManagedService | None
    ) -> list[PlannedResource]:
        access = await self.access(service)
        region = self.region(service, access)
        name = secret_name(service)
        keys = ", ".join(str(k) for k in parameters(service.spec.parameters).get("keys", []))

        def found() -> bool:
            client = access.client("secretsmanager", region)
            if current is None:  # no uid yet, so no secret of that name
                return False
            try:
                client.describe_secret(SecretId=name)
            except client.exceptions.ResourceNotFoundException:
                return False
            return True

        try:
            action = UNCHANGED if await access.call(f"reading secret {name}", found) else CREATE
        except AwsError as error:
            raise failed(error) from None
        what = f"Secrets Manager secret with generated keys {keys} (JSON), in {region}"
        return [PlannedResource(type=SECRET, id=name, action=action, description=what)]

    async def delete(self, service: managed_service_pb2.ManagedService, *, retain: bool) -> bool:
        # An operator deletes a retained service on purpose: nothing of it is kept.
        access = await self.access(service)
        region = self.region(service, access)
        name = secret_name(service)

        def remove() -> None:
            client = access.client("secretsmanager", region)
            try:
                client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
            except client.exceptions.ResourceNotFoundException:
                return

        try:
            await access.call(f"deleting secret {name}", remove)
        except AwsError as error:
            raise failed(error) from None
        return True
