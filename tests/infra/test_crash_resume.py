"""Every cloud create is found again after a crash: the RDS implementation is stopped after
each inventory record (before and after every create), then run again from the start, as the
reconciler would after a restart; in the end exactly one security group, one DB subnet group
and one DB instance exist, and deletion leaves none."""

from __future__ import annotations

from typing import Any

from tests.infra.conftest import Infra, Moto
from tests.infra.test_accounts import aws_account
from threeport.infra.v1alpha1 import managed_service_pb2
from threeport_infra_provider.cloud.accounts import AccountDirectory
from threeport_infra_provider.implementations.aws_rds import RdsImplementation
from threeport_infra_provider.implementations.base import CloudResource
from threeport_infra_provider.store.repositories import accounts_of
from threeport_infra_provider.store.sealed import SealedSecrets


class Crash(Exception):
    pass


class CrashingInventory:
    """Records like the reconciler, then "crashes" (raises) at the Nth record."""

    def __init__(self, crash_at: int):
        self.crash_at = crash_at
        self.count = 0

    async def __call__(self, resource: CloudResource) -> None:
        self.count += 1
        if self.count == self.crash_at:
            raise Crash(f"crash after inventory record {self.crash_at}: {resource.type}")


async def test_rds_resumes_after_a_crash_at_every_step(infra: Infra, moto: Moto) -> None:
    await infra.operator.account.create_account(
        account_id="crashy", account=aws_account(moto, key=moto.access_key_id, secret=moto.secret_access_key)
    )
    runtime = infra.service.runtime
    assert runtime.cipher is not None
    directory = AccountDirectory(accounts_of(runtime), SealedSecrets(runtime.db, runtime.cipher), timeout=10)
    rds_impl = RdsImplementation(directory)
    service = managed_service_pb2.ManagedService(
        name="managedServices/crashy-db", uid="0b7c5a52-2d7e-4e4b-9a51-8f0e3c1d2a77"
    )
    service.spec.type, service.spec.implementation, service.spec.account = "postgres", "aws-rds", "accounts/crashy"
    secrets = {"password": "a-generated-password-0123456789"}

    crashes = 0
    for crash_at in range(1, 10):
        record = CrashingInventory(crash_at)
        try:
            converged = await rds_impl.converge(service, secrets, record)
            break
        except Crash:
            crashes += 1
    # Before and after the security group and the subnet group, before the instance (what is
    # recorded after it is the inventory the reconciler publishes with the outputs).
    assert crashes == 5
    assert converged.ready

    ec2: Any = moto.client("ec2")
    rds: Any = moto.client("rds")
    groups = ec2.describe_security_groups(Filters=[{"Name": "tag:threeport.io/uid", "Values": [service.uid]}])
    assert len(groups["SecurityGroups"]) == 1
    mine = [
        g
        for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]
        if g["DBSubnetGroupName"].startswith("tp-crashy-db")
    ]
    assert len(mine) == 1
    instances = [
        i for i in rds.describe_db_instances()["DBInstances"] if i["DBInstanceIdentifier"].startswith("tp-crashy-db")
    ]
    assert len(instances) == 1

    while not await rds_impl.delete(service, retain=False):
        pass
    assert not ec2.describe_security_groups(Filters=[{"Name": "tag:threeport.io/uid", "Values": [service.uid]}])[
        "SecurityGroups"
    ]
    assert not [
        g
        for g in rds.describe_db_subnet_groups()["DBSubnetGroups"]
        if g["DBSubnetGroupName"].startswith("tp-crashy-db")
    ]
    assert not [
        i for i in rds.describe_db_instances()["DBInstances"] if i["DBInstanceIdentifier"].startswith("tp-crashy-db")
    ]
