"""What stands in for AWS's side of an EKS cluster's API in tests, outside the platform:

- an **API gateway** (what an operator runs in the VPC to reach private endpoints; the account's
  ``cluster_api_gateway`` names it): ``/{cluster}/...`` is forwarded to the emulated cluster of
  that name, which it creates on first use, streaming responses (watches) through;
- an **authenticator** (aws-iam-authenticator's part): the emulated cluster trusts it as its
  TokenReview webhook (``/authenticate/{cluster}``); it accepts an EKS token only if it is a
  presigned STS GetCallerIdentity URL at the expected STS endpoint, signed over the
  ``x-k8s-aws-id`` header naming this cluster, with a valid signature of a key STS knows, and
  answers with that key's ARN (from moto's STS).
"""

from __future__ import annotations

import asyncio
import base64
import threading
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import boto3
from aiohttp import web
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from threeport_kubesim.control import ControlError
from threeport_kubesim.testing import EmulatorHandle
from threeport_runtime.testing import free_port

SESSION = web.AppKey("session", aiohttp.ClientSession)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


@dataclass
class EksWorld:
    emulator: EmulatorHandle
    sts_endpoint: str
    secrets: dict[str, str]  # access key id → secret access key: what STS knows
    port: int = 0
    clusters: list[str] = field(default_factory=list)
    reviews: list[tuple[str, bool, str]] = field(default_factory=list)  # cluster, accepted, why

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{{cluster}}"

    servers: dict[str, str] = field(default_factory=dict)
    # Requests arrive concurrently (the probe, watches); without this two first requests for one
    # cluster both found it missing and both created it.
    _creating: threading.Lock = field(default_factory=threading.Lock)

    def _server_of(self, cluster: str) -> str:
        """The emulated cluster behind the private endpoint (blocking: the control API)."""
        with self._creating:
            return self._server_of_locked(cluster)

    def _server_of_locked(self, cluster: str) -> str:
        if cluster not in self.servers:
            try:
                self.servers[cluster] = self.emulator.control.get_cluster(cluster).server
            except ControlError:
                webhook = f"http://127.0.0.1:{self.port}/authenticate/{cluster}"
                info = self.emulator.control.create_cluster(cluster, tls=False, nodes=2, token_webhook=webhook)
                self.clusters.append(cluster)
                self.servers[cluster] = info.server
        return self.servers[cluster]

    async def forward(self, request: web.Request) -> web.StreamResponse:
        cluster = request.match_info["cluster"]
        upstream = await asyncio.to_thread(self._server_of, cluster) + "/" + request.match_info["rest"]
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        session: aiohttp.ClientSession = request.app[SESSION]
        async with session.request(
            request.method, upstream, params=request.query, headers=headers, data=await request.read()
        ) as answer:
            response = web.StreamResponse(
                status=answer.status,
                headers={k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP},
            )
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def authenticate(self, request: web.Request) -> web.Response:
        cluster = request.match_info["cluster"]
        review: dict[str, Any] = await request.json()
        ok, why = await self._verify(request.app[SESSION], cluster, str(review["spec"]["token"]))
        self.reviews.append((cluster, ok, why))
        status: dict[str, Any] = {"authenticated": ok}
        if ok:
            status["user"] = {"username": why, "groups": ["system:masters"]}
        else:
            status["error"] = why
        return web.json_response(dict(review, status=status), status=201)

    async def verify(self, cluster: str, token: str) -> tuple[bool, str]:
        """What the authenticator answers for ``token`` presented to ``cluster``."""
        async with aiohttp.ClientSession() as session:
            return await self._verify(session, cluster, token)

    async def _verify(self, session: aiohttp.ClientSession, cluster: str, token: str) -> tuple[bool, str]:
        if not token.startswith("k8s-aws-v1."):
            return False, "not an EKS token"
        encoded = token.removeprefix("k8s-aws-v1.")
        url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        parts = urllib.parse.urlsplit(url)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(parts.query).items()}
        if f"{parts.scheme}://{parts.netloc}" != self.sts_endpoint:
            return False, f"not the STS endpoint: {parts.netloc}"
        if query.get("Action") != "GetCallerIdentity":
            return False, "not GetCallerIdentity"
        if "x-k8s-aws-id" not in query.get("X-Amz-SignedHeaders", "").split(";"):
            return False, "x-k8s-aws-id is not signed"
        return await asyncio.to_thread(self._sts_answer, parts, query, cluster)

    def _sts_answer(self, parts: urllib.parse.SplitResult, query: dict[str, str], cluster: str) -> tuple[bool, str]:
        """What STS answers to the presigned call, here computed: moto's server routes unsigned
        GETs to S3, so the SigV4 query signature is checked with the key's secret as STS checks
        it (over the cluster's name in ``x-k8s-aws-id``), then STS names the key's identity."""
        key, _, region, service, _ = query["X-Amz-Credential"].split("/")
        secret = self.secrets.get(key)
        if secret is None:
            return False, "unknown access key"
        signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        if datetime.now(UTC) > signed_at + timedelta(seconds=int(query["X-Amz-Expires"])):
            return False, "expired"
        request = AWSRequest(
            method="GET",
            url=f"{parts.scheme}://{parts.netloc}{parts.path or '/'}",
            params={k: v for k, v in query.items() if not k.startswith("X-Amz-")},
            headers={"x-k8s-aws-id": cluster},
        )
        # SigV4QueryAuth.add_auth would sign at the current time; STS checks at the signing time.
        auth = SigV4QueryAuth(Credentials(key, secret), service, region, expires=int(query["X-Amz-Expires"]))
        request.context["timestamp"] = query["X-Amz-Date"]
        auth._modify_request_before_signing(request)
        expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
        if expected != query["X-Amz-Signature"]:
            return False, "signature does not match (another cluster, or tampered)"
        sts = boto3.client(
            "sts", region_name=region, endpoint_url=self.sts_endpoint, aws_access_key_id=key,
            aws_secret_access_key=secret,
        )  # fmt: skip
        return True, str(sts.get_caller_identity()["Arn"])


@asynccontextmanager
async def eks_world(emulator: EmulatorHandle, sts_endpoint: str, secrets: dict[str, str]) -> AsyncIterator[EksWorld]:
    world = EksWorld(emulator, sts_endpoint, secrets, port=free_port())
    app = web.Application()
    app.router.add_post("/authenticate/{cluster}", world.authenticate)
    app.router.add_route("*", "/{cluster}/{rest:.*}", world.forward)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10)) as session:
        app[SESSION] = session
        # The cluster-manager's watches stream through this proxy: without a short shutdown
        # timeout, aiohttp waits 60 s for them to end by themselves.
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", world.port).start()
        try:
            yield world
        finally:
            await runner.cleanup()
            for cluster in world.clusters:
                with suppress(ControlError):
                    emulator.control.delete_cluster(cluster)
