"""``aws-elasticache`` (redis): a security group (``aws_network``), a cache subnet group and a
Redis replication group (one primary) with in-transit and at-rest encryption and the generated
password as its AUTH token, each found again by its deterministic name. Node type from
``parameters.nodeType`` (default ``cache.t4g.micro``), changed in place. Outputs: host, port |
password, url (``rediss://``, the primary endpoint).
"""

from __future__ import annotations

import contextlib
from typing import Any

from threeport.infra.v1alpha1 import managed_service_pb2
from threeport_infra_provider.cloud.aws import AwsAccess, AwsError
from threeport_infra_provider.domain import outputs
from threeport_infra_provider.domain.services import parameters
from threeport_infra_provider.implementations.aws_common import AwsBase, failed, resource_name, tag_list
from threeport_infra_provider.implementations.aws_network import (
    delete_security_groups,
    network,
    network_plan,
    security_group,
)
from threeport_infra_provider.implementations.base import (
    CREATE,
    MODIFY,
    UNCHANGED,
    CloudResource,
    Converged,
    Inventory,
    PlannedResource,
)

SECURITY_GROUP = "AWS::EC2::SecurityGroup"
SUBNET_GROUP = "AWS::ElastiCache::SubnetGroup"
CLUSTER = "AWS::ElastiCache::ReplicationGroup"
PORT = 6379
# ElastiCache cluster ids are at most 40 characters.
ID_LIMIT = 40


class ElastiCacheImplementation(AwsBase):
    name = "aws-elasticache"

    async def converge(
        self, service: managed_service_pb2.ManagedService, secrets: dict[str, str], record: Inventory
    ) -> Converged:
        access = await self.access(service)
        region = self.region(service, access)
        ident = resource_name(service, ID_LIMIT)
        p = parameters(service.spec.parameters)
        node_type = node_type_of(service)
        subnet_ids = [str(s) for s in p.get("subnetIds", [])]
        cidrs = [str(c) for c in p.get("allowedCidrs", [])]
        try:
            vpc, subnets, allowed = await access.call(
                "finding the network",
                lambda: network(access.client("ec2", region), str(p.get("vpcId", "")), subnet_ids, cidrs),
            )
            await record(CloudResource(type=SECURITY_GROUP, id=ident, region=region, state="creating"))
            group = await access.call(
                f"creating security group {ident}",
                lambda: security_group(access.client("ec2", region), service, ident, vpc, PORT, allowed),
            )
            await record(CloudResource(type=SECURITY_GROUP, id=group, region=region, state="available"))
            await record(CloudResource(type=SUBNET_GROUP, id=ident, region=region, state="creating"))
            await access.call(
                f"creating cache subnet group {ident}", lambda: _subnet_group(access, region, service, ident, subnets)
            )
            await record(CloudResource(type=SUBNET_GROUP, id=ident, region=region, state="available"))
            await record(CloudResource(type=CLUSTER, id=ident, region=region, state="creating"))
            cluster, changes = await access.call(
                f"creating replication group {ident}",
                lambda: _replication_group(access, region, service, ident, node_type, group, secrets["password"]),
            )
        except AwsError as error:
            raise failed(error) from None
        status = str(cluster.get("Status", ""))
        groups = cluster.get("NodeGroups") or [{}]
        endpoint = groups[0].get("PrimaryEndpoint") or {}
        host = str(endpoint.get("Address", ""))
        ready = status == "available" and bool(host)
        inventory = [
            CloudResource(type=SECURITY_GROUP, id=group, region=region, state="available"),
            CloudResource(type=SUBNET_GROUP, id=ident, region=region, state="available"),
            CloudResource(type=CLUSTER, id=str(cluster.get("ARN", ident)), region=region, state=status),
        ]
        found = outputs.redis(host=host, port=int(endpoint.get("Port", PORT)), password=secrets["password"], tls=True)
        message = f"redis {ident} ({cluster.get('CacheNodeType')}) is {status or 'being created'}"
        return Converged(ready, message, found if ready else outputs.Outputs(), inventory, changes=changes)

    async def plan(
        self, service: managed_service_pb2.ManagedService, *, current: managed_service_pb2.ManagedService | None
    ) -> list[PlannedResource]:
        access = await self.access(service)
        region = self.region(service, access)
        ident = resource_name(service, ID_LIMIT)
        p = parameters(service.spec.parameters)
        node_type = node_type_of(service)
        chosen = str(p.get("vpcId", ""))

        def read() -> tuple[list[PlannedResource], dict[str, Any] | None]:
            client = access.client("elasticache", region)
            vpc, subnets, allowed = network(
                access.client("ec2", region),
                chosen,
                [str(s) for s in p.get("subnetIds", [])],
                [str(c) for c in p.get("allowedCidrs", [])],
            )
            found = None
            # A service not created yet has no uid, hence no group of that name to look for.
            with contextlib.suppress(client.exceptions.ReplicationGroupNotFoundFault):
                if current:
                    found = client.describe_replication_groups(ReplicationGroupId=ident)["ReplicationGroups"][0]
            action = CREATE if found is None else UNCHANGED
            kinds = (SECURITY_GROUP, SUBNET_GROUP)
            return network_plan(kinds, ident, action, vpc, bool(chosen), subnets, PORT, allowed), found

        try:
            planned, found = await access.call(f"reading replication group {ident}", read)
        except AwsError as error:
            raise failed(error) from None
        what = f"ElastiCache redis {node_type}, one node, TLS, encrypted at rest, AUTH token, in {region}"
        if found is None:
            return [*planned, PlannedResource(type=CLUSTER, id=ident, action=CREATE, description=what)]
        if change := node_type_change(found, node_type):
            return [*planned, PlannedResource(type=CLUSTER, id=ident, action=MODIFY, description=f"in place: {change}")]
        return [*planned, PlannedResource(type=CLUSTER, id=ident, action=UNCHANGED, description=what)]

    async def delete(self, service: managed_service_pb2.ManagedService, *, retain: bool) -> bool:
        access = await self.access(service)
        region = self.region(service, access)
        ident = resource_name(service, ID_LIMIT)

        def remove() -> bool:
            client = access.client("elasticache", region)
            try:
                cluster = client.describe_replication_groups(ReplicationGroupId=ident)["ReplicationGroups"][0]
            except client.exceptions.ReplicationGroupNotFoundFault:
                cluster = None
            if cluster is not None:
                if cluster["Status"] != "deleting":
                    final = {"FinalSnapshotIdentifier": f"{ident}-final"} if retain else {}
                    client.delete_replication_group(ReplicationGroupId=ident, **final)
                return False
            with contextlib.suppress(client.exceptions.CacheSubnetGroupNotFoundFault):
                client.delete_cache_subnet_group(CacheSubnetGroupName=ident)
            delete_security_groups(access.client("ec2", region), ident)
            return True

        try:
            return await access.call(f"deleting replication group {ident}", remove)
        except AwsError as error:
            raise failed(error) from None


def _subnet_group(
    access: AwsAccess, region: str, service: managed_service_pb2.ManagedService, ident: str, subnets: list[str]
) -> None:
    client = access.client("elasticache", region)
    try:
        client.describe_cache_subnet_groups(CacheSubnetGroupName=ident)
    except client.exceptions.CacheSubnetGroupNotFoundFault:
        client.create_cache_subnet_group(
            CacheSubnetGroupName=ident, CacheSubnetGroupDescription=f"threeport {service.name}", SubnetIds=subnets
        )


def _replication_group(
    access: AwsAccess,
    region: str,
    service: managed_service_pb2.ManagedService,
    ident: str,
    node_type: str,
    group: str,
    password: str,
) -> tuple[dict[str, Any], list[str]]:
    client = access.client("elasticache", region)
    try:
        found: dict[str, Any] = client.describe_replication_groups(ReplicationGroupId=ident)["ReplicationGroups"][0]
    except client.exceptions.ReplicationGroupNotFoundFault:
        created: dict[str, Any] = client.create_replication_group(
            ReplicationGroupId=ident,
            ReplicationGroupDescription=f"threeport {service.name}",
            Engine="redis",
            CacheNodeType=node_type,
            NumCacheClusters=1,
            CacheSubnetGroupName=ident,
            SecurityGroupIds=[group],
            AuthToken=password,
            TransitEncryptionEnabled=True,
            AtRestEncryptionEnabled=True,
            Tags=tag_list(service),
        )["ReplicationGroup"]
        return created, []
    if change := node_type_change(found, node_type):
        found = client.modify_replication_group(
            ReplicationGroupId=ident, CacheNodeType=node_type, ApplyImmediately=True
        )["ReplicationGroup"]
        return found, [f"{ident}: {change} (applied in place)"]
    return found, []


def node_type_of(service: managed_service_pb2.ManagedService) -> str:
    return str(parameters(service.spec.parameters).get("nodeType", "cache.t4g.micro"))


def node_type_change(found: dict[str, Any], node_type: str) -> str | None:
    """The in-place change (``ModifyReplicationGroup``) that gives ``found`` ``node_type``."""
    before = found.get("CacheNodeType")
    return None if before == node_type else f"node type {before} → {node_type}"
