"""Checks a Deployment's ``spec.overrides`` against its application before it is written: the
entries' shape (``threeport_model.overrides``, in ``validation``) and, here, that each names a
component the application has (INVALID_ARGUMENT naming the entry) — the application is read from
the registry, so this runs in the servicer, not in the pure validator."""

from __future__ import annotations

from threeport.delivery.v1alpha1 import deployment_pb2
from threeport.sdk import AsyncClient, NotFoundError
from threeport_model import names, overrides
from threeport_runtime.errors import FieldViolation, InvalidArgument, NotFound


class OverrideChecks:
    def __init__(self, registry: AsyncClient):
        self._registry = registry

    async def check(self, project: str, deployment: deployment_pb2.Deployment, field: str = "deployment") -> None:
        spec = deployment.spec
        if not spec.overrides or names.check_id(spec.application):
            return  # nothing to check, or the validator names the bad application id
        name = f"{project}/applications/{spec.application}"
        try:
            application = await self._registry.application.get_application(name=name)
        except NotFoundError:
            raise NotFound(
                f"application {name} does not exist; apply it before overriding its components",
                metadata={"field": f"{field}.spec.application", "application": name},
            ) from None
        violations = [
            FieldViolation(path, problem)
            for position, override in enumerate(spec.overrides)
            if not names.check_id(override.component)
            for path, problem in overrides.component_violations(
                override, f"{field}.spec.overrides[{position}]", spec.application, application.spec)
        ]
        if violations:
            raise InvalidArgument.for_fields(violations)
