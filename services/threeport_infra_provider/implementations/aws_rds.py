"""``aws-rds`` (postgres, mysql): a security group open on the database port only to the
cluster's network, a DB subnet group, and the DB instance, in that order, each recorded in the
inventory before and after its create and found again by its deterministic name, so a crash
at any point resumes without a duplicate.

Network: ``parameters.vpcId`` and ``parameters.subnetIds`` (and ``allowedCidrs``, default the
VPC's CIDR) for clusters the platform did not create; else the region's default VPC and its
subnets. Engine version (``engineVersion``), class (``instanceClass``), storage (``storageGb``)
and backup retention (``backupRetentionDays``) come from the ServiceClass parameters.

In place (``ModifyDBInstance``, applied immediately): instance class, storage growth, backup
retention. Refused, saying what would be needed: another engine, smaller storage, another VPC.
Deletion with ``retain`` keeps a final snapshot.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from threeport.infra.v1alpha1 import managed_service_pb2
from threeport_infra_provider.cloud.aws import AwsAccess, AwsError
from threeport_infra_provider.domain import outputs
from threeport_infra_provider.domain.services import parameters
from threeport_infra_provider.implementations.aws_common import AwsBase, failed, resource_name, tag_list
from threeport_infra_provider.implementations.aws_network import (
    delete_security_groups,
    moved_vpc,
    network,
    network_plan,
    security_group,
)
from threeport_infra_provider.implementations.base import (
    CREATE,
    MODIFY,
    REFUSED,
    UNCHANGED,
    CloudResource,
    Converged,
    Inventory,
    PlannedResource,
    Refused,
)

SECURITY_GROUP = "AWS::EC2::SecurityGroup"
SUBNET_GROUP = "AWS::RDS::DBSubnetGroup"
INSTANCE = "AWS::RDS::DBInstance"
PORTS = {"postgres": 5432, "mysql": 3306}


@dataclass(frozen=True)
class Wanted:
    engine: str
    version: str
    instance_class: str
    storage: int
    backup_days: int
    database: str
    username: str
    vpc: str
    subnets: tuple[str, ...]
    cidrs: tuple[str, ...]

    @classmethod
    def of(cls, service: managed_service_pb2.ManagedService) -> Wanted:
        p = parameters(service.spec.parameters)
        return cls(
            engine=service.spec.type,
            version=str(p.get("engineVersion", "")),
            instance_class=str(p.get("instanceClass", "db.t4g.micro")),
            storage=int(p.get("storageGb", 20)),
            backup_days=int(p.get("backupRetentionDays", 7)),
            database=str(p.get("database", "app")),
            username=str(p.get("username", "app")),
            vpc=str(p.get("vpcId", "")),
            subnets=tuple(str(s) for s in p.get("subnetIds", [])),
            cidrs=tuple(str(c) for c in p.get("allowedCidrs", [])),
        )


class RdsImplementation(AwsBase):
    name = "aws-rds"

    async def converge(
        self, service: managed_service_pb2.ManagedService, secrets: dict[str, str], record: Inventory
    ) -> Converged:
        access = await self.access(service)
        region = self.region(service, access)
        ident = resource_name(service)
        wanted = Wanted.of(service)
        port = PORTS[wanted.engine]
        try:
            vpc, subnets, cidrs = await access.call(
                "finding the network",
                lambda: network(access.client("ec2", region), wanted.vpc, wanted.subnets, wanted.cidrs),
            )
            await record(CloudResource(type=SECURITY_GROUP, id=ident, region=region, state="creating"))
            group = await access.call(
                f"creating security group {ident}",
                lambda: security_group(access.client("ec2", region), service, ident, vpc, port, cidrs),
            )
            await record(CloudResource(type=SECURITY_GROUP, id=group, region=region, state="available"))
            await record(CloudResource(type=SUBNET_GROUP, id=ident, region=region, state="creating"))
            await access.call(
                f"creating DB subnet group {ident}", lambda: self._subnet_group(access, region, service, ident, subnets)
            )
            await record(CloudResource(type=SUBNET_GROUP, id=ident, region=region, state="available"))
            await record(CloudResource(type=INSTANCE, id=ident, region=region, state="creating"))
            instance, changes = await access.call(
                f"creating DB instance {ident}",
                lambda: self._instance(access, region, service, ident, wanted, group, secrets["password"]),
            )
        except AwsError as error:
            raise failed(error) from None
        status = str(instance.get("DBInstanceStatus", ""))
        inventory = [
            CloudResource(type=SECURITY_GROUP, id=group, region=region, state="available"),
            CloudResource(type=SUBNET_GROUP, id=ident, region=region, state="available"),
            CloudResource(type=INSTANCE, id=str(instance.get("DBInstanceArn", ident)), region=region, state=status),
        ]
        endpoint = instance.get("Endpoint") or {}
        host = str(endpoint.get("Address", ""))
        found = outputs.database(
            wanted.engine,
            host=host,
            port=int(endpoint.get("Port", port)),
            database=wanted.database,
            username=wanted.username,
            password=secrets["password"],
        )
        moved = moved_vpc(instance.get("DBSubnetGroup", {}).get("VpcId", vpc), vpc)
        drift = [moved] if moved else []
        ready = status == "available" and bool(host)
        message = f"{wanted.engine} {ident} ({instance.get('DBInstanceClass')}) is {status or 'being created'}"
        return Converged(ready, message, found if ready else outputs.Outputs(), inventory, drift, changes)

    @staticmethod
    def _subnet_group(
        access: AwsAccess, region: str, service: managed_service_pb2.ManagedService, ident: str, subnets: list[str]
    ) -> None:
        rds = access.client("rds", region)
        try:
            rds.describe_db_subnet_groups(DBSubnetGroupName=ident)
        except rds.exceptions.DBSubnetGroupNotFoundFault:
            rds.create_db_subnet_group(
                DBSubnetGroupName=ident,
                DBSubnetGroupDescription=f"threeport {service.name}",
                SubnetIds=subnets,
                Tags=tag_list(service),
            )

    @staticmethod
    def _instance(
        access: AwsAccess,
        region: str,
        service: managed_service_pb2.ManagedService,
        ident: str,
        wanted: Wanted,
        group: str,
        password: str,
    ) -> tuple[dict[str, Any], list[str]]:
        rds = access.client("rds", region)
        try:
            instance: dict[str, Any] = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
        except rds.exceptions.DBInstanceNotFoundFault:
            extra = {"EngineVersion": wanted.version} if wanted.version else {}
            created: dict[str, Any] = rds.create_db_instance(
                DBInstanceIdentifier=ident,
                Engine=wanted.engine,
                DBInstanceClass=wanted.instance_class,
                AllocatedStorage=wanted.storage,
                BackupRetentionPeriod=wanted.backup_days,
                DBName=wanted.database,
                MasterUsername=wanted.username,
                MasterUserPassword=password,
                VpcSecurityGroupIds=[group],
                DBSubnetGroupName=ident,
                PubliclyAccessible=False,
                StorageEncrypted=True,
                Tags=tag_list(service),
                **extra,
            )["DBInstance"]
            return created, []
        modify, changes = differences(ident, instance, wanted)
        if modify:
            instance = rds.modify_db_instance(DBInstanceIdentifier=ident, ApplyImmediately=True, **modify)["DBInstance"]
        return instance, [f"{ident}: {change} (applied in place)" for change in changes]

    async def plan(
        self, service: managed_service_pb2.ManagedService, *, current: managed_service_pb2.ManagedService | None
    ) -> list[PlannedResource]:
        access = await self.access(service)
        region = self.region(service, access)
        ident = resource_name(service)
        wanted = Wanted.of(service)
        port = PORTS[wanted.engine]

        def read() -> tuple[list[PlannedResource], dict[str, Any] | None, str]:
            rds = access.client("rds", region)
            vpc, subnets, cidrs = network(access.client("ec2", region), wanted.vpc, wanted.subnets, wanted.cidrs)
            instance = None
            # A service not created yet has no uid, hence no instance of that name to look for.
            with contextlib.suppress(rds.exceptions.DBInstanceNotFoundFault):
                instance = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0] if current else None
            action = UNCHANGED if instance is not None else CREATE
            kinds = (SECURITY_GROUP, SUBNET_GROUP)
            return network_plan(kinds, ident, action, vpc, bool(wanted.vpc), subnets, port, cidrs), instance, vpc

        try:
            planned, instance, vpc = await access.call(f"reading DB instance {ident}", read)
        except AwsError as error:
            raise failed(error) from None
        version = f" {wanted.version}" if wanted.version else " (the default version)"
        what = (
            f"RDS {wanted.engine}{version} {wanted.instance_class}, {wanted.storage} GiB encrypted, "
            f"{wanted.backup_days} days of backups, private, database {wanted.database!r} user {wanted.username!r}, "
            f"in {region}"
        )
        if instance is None:
            return [*planned, PlannedResource(type=INSTANCE, id=ident, action=CREATE, description=what)]
        try:
            _, changes = differences(ident, instance, wanted)
            if moved := moved_vpc(instance.get("DBSubnetGroup", {}).get("VpcId", vpc), vpc):
                raise Refused(moved)
        except Refused as refused:
            return [*planned, PlannedResource(type=INSTANCE, id=ident, action=REFUSED, description=str(refused))]
        if changes:
            return [*planned, PlannedResource(
                type=INSTANCE, id=ident, action=MODIFY, description="in place: " + ", ".join(changes))]
        return [*planned, PlannedResource(type=INSTANCE, id=ident, action=UNCHANGED, description=what)]

    async def delete(self, service: managed_service_pb2.ManagedService, *, retain: bool) -> bool:
        access = await self.access(service)
        region = self.region(service, access)
        ident = resource_name(service)

        def remove() -> bool:
            rds = access.client("rds", region)
            try:
                instance = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]
            except rds.exceptions.DBInstanceNotFoundFault:
                instance = None
            if instance is not None:
                if instance["DBInstanceStatus"] != "deleting":
                    final = {"FinalDBSnapshotIdentifier": f"{ident}-final"} if retain else {}
                    rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=not retain, **final)
                return False
            with contextlib.suppress(rds.exceptions.DBSubnetGroupNotFoundFault):
                rds.delete_db_subnet_group(DBSubnetGroupName=ident)
            delete_security_groups(access.client("ec2", region), ident)
            return True

        try:
            return await access.call(f"deleting DB instance {ident}", remove)
        except AwsError as error:
            raise failed(error) from None


def differences(ident: str, instance: dict[str, Any], wanted: Wanted) -> tuple[dict[str, Any], list[str]]:
    """What ``ModifyDBInstance`` would change to make ``instance`` what is wanted, and those
    changes in words; ``Refused`` for what RDS cannot change in place."""
    if instance["Engine"] != wanted.engine:
        raise Refused(
            f"{ident} runs {instance['Engine']}; another engine needs a new service "
            "(a new dependency name, then migrate the data)"
        )
    if wanted.storage < int(instance["AllocatedStorage"]):
        raise Refused(
            f"{ident} has {instance['AllocatedStorage']} GiB; RDS storage cannot shrink: keep "
            f"storageGb at {instance['AllocatedStorage']} or more, or create a new service"
        )
    modify: dict[str, Any] = {}
    changes: list[str] = []
    if instance["DBInstanceClass"] != wanted.instance_class:
        modify["DBInstanceClass"] = wanted.instance_class
        changes.append(f"instance class {instance['DBInstanceClass']} → {wanted.instance_class}")
    if int(instance["AllocatedStorage"]) < wanted.storage:
        modify["AllocatedStorage"] = wanted.storage
        changes.append(f"storage {instance['AllocatedStorage']} → {wanted.storage} GiB")
    if int(instance.get("BackupRetentionPeriod", 0)) != wanted.backup_days:
        modify["BackupRetentionPeriod"] = wanted.backup_days
        changes.append(f"backup retention {instance.get('BackupRetentionPeriod')} → {wanted.backup_days} days")
    return modify, changes
