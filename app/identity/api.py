"""Identity proof (partner API, `scheduling` scope): create, read, send a code, verify a code,
find the patient. Thin: parse, call `service`, shape. Rules: `policy`; SQL: `store`."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import CacheControlHeader

from app.audit.spec import audit
from app.core.errors import invalid
from app.core.http import DbPool, JSONBody, PathId
from app.core.openapi import problem_responses
from app.identity import policy, service, store
from app.identity import schemas as s
from app.identity.contacts import contact_from
from app.identity.sms_limits import SmsCaller
from app.identity.store import Proof
from app.partners.guard import scope
from app.partners.scopes import SCHEDULING

_METHODS = ", ".join(m.value for m in policy.Method)


def _secret_key(request: Request) -> str:
    return request.app.state.settings.secret_key


def _fields(proof: Proof) -> dict[str, Any]:
    return {
        "id": proof.id,
        "verification_method": proof.verification_method.value,
        "is_verified": proof.is_verified,
        "missing_verifications": proof.missing_verifications,
        "created_at": proof.created_at,
        "expires_at": proof.expires_at,
        "verified_email": proof.verified_email,
        "verified_phone": proof.verified_phone,
    }


class IdentityProofController(Controller):
    path = "/identity-proof"
    tags = ["identity proof"]

    @post(
        "/",
        opt=scope(SCHEDULING),
        status_code=201,
        cache_control=CacheControlHeader(no_store=True),
        summary="Start an identity proof (the token is returned only here)",
    )
    async def create_identity_proof(
        self, request: Request, pool: DbPool, account_id: PathId, data: JSONBody[s.ProofIn]
    ) -> s.CreatedProof:
        method = policy.parse_method(data.verification_method)
        if method is None:
            raise invalid("verificationMethod", f"must be one of {_METHODS}")
        proof, token = await service.create_proof(
            pool, account_id, method, secret_key=_secret_key(request)
        )
        return s.CreatedProof(token=token, **_fields(proof))

    @get(
        "/{proof_id:int}",
        opt={**scope(SCHEDULING), **audit("identity_proof", "read", "path:proof_id")},
        summary="Read an identity proof",
    )
    async def get_identity_proof(
        self, pool: DbPool, account_id: PathId, proof_id: PathId
    ) -> s.Proof:
        proof = await store.get_proof(pool, account_id, proof_id)
        return s.Proof(**_fields(proof))

    @post(
        "/{proof_id:int}/send",
        opt={**scope(SCHEDULING), **audit("identity_proof", "update", "path:proof_id")},
        status_code=200,
        summary="Send a verification code to an email address or mobile number",
    )
    async def send_identity_code(
        self,
        request: Request,
        pool: DbPool,
        account_id: PathId,
        proof_id: PathId,
        data: JSONBody[s.SendIn],
    ) -> s.Sent:
        contact = contact_from(data.email, data.phone)
        settings = request.app.state.settings
        await service.send_code(
            pool,
            account_id,
            proof_id,
            contact,
            secret_key=settings.secret_key,
            caller=SmsCaller(settings.sms_account_daily_cap),
        )
        return s.Sent(sent=True)

    @post(
        "/{proof_id:int}/verify",
        opt={**scope(SCHEDULING), **audit("identity_proof", "update", "path:proof_id")},
        status_code=200,
        summary="Check a verification code",
    )
    async def verify_identity_code(
        self,
        request: Request,
        pool: DbPool,
        account_id: PathId,
        proof_id: PathId,
        data: JSONBody[s.VerifyIn],
    ) -> s.Verified:
        contact = contact_from(data.email, data.phone)
        proof = await service.verify_code(
            pool, account_id, proof_id, contact, data.code, secret_key=_secret_key(request)
        )
        if proof is None:
            return s.Verified(verified=False)
        return s.Verified(
            verified=True, verified_email=proof.verified_email, verified_phone=proof.verified_phone
        )

    @get(
        "/{proof_id:int}/patient",
        opt={**scope(SCHEDULING), **audit("patient", "read", "response:patientId")},
        responses=problem_responses(422),  # not_verified, ambiguous_match, proof_expired
        summary="The patient holding the verified contact(s)",
    )
    async def identity_proof_patient(
        self, pool: DbPool, account_id: PathId, proof_id: PathId
    ) -> s.PatientMatch:
        return s.PatientMatch(patient_id=await service.find_patient(pool, account_id, proof_id))
