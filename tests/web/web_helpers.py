"""Helpers for the web tests: signed CDS Hooks JWTs and CDS requests from Synthea bundles."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://ehr.example.org"
BASE_URL = "https://cds.example.org"
REPO = Path(__file__).resolve().parents[2]
SYNTHEA = REPO.parent / "shared" / "fhir" / "synthea"


@dataclass
class Signer:
    """An EHR's signing keys (one EC P-384, one RSA) and its public JWKS."""

    ec_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1())
    )
    rsa_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwks(self) -> dict[str, Any]:
        ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec_key.public_key()))
        rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa_key.public_key()))
        ec_jwk.update(kid="ec-1", use="sig", alg="ES384")
        rsa_jwk.update(kid="rsa-1", use="sig", alg="RS384")
        return {"keys": [ec_jwk, rsa_jwk]}

    def token(
        self,
        aud: str | list[str],
        alg: str = "ES384",
        iss: str = ISSUER,
        lifetime: int = 300,
        iat_offset: int = 0,
        jti: str | None = None,
        kid: str | None = None,
        drop: tuple[str, ...] = (),
        **claims: Any,
    ) -> str:
        now = int(time.time()) + iat_offset
        payload: dict[str, Any] = {
            "iss": iss,
            "aud": aud,
            "iat": now,
            "exp": now + lifetime,
            "jti": jti or str(uuid.uuid4()),
            **claims,
        }
        for name in drop:
            payload.pop(name, None)
        key: Any = self.ec_key if alg.startswith("ES") else self.rsa_key
        default_kid = "ec-1" if alg.startswith("ES") else "rsa-1"
        return jwt.encode(
            payload, key, algorithm=alg, headers={"kid": kid or default_kid, "typ": "JWT"}
        )


def synthea_bundle(name_prefix: str) -> dict[str, Any]:
    matches = sorted(SYNTHEA.glob(f"{name_prefix}*.json"))
    if not matches:
        import pytest

        pytest.skip(f"Synthea bundle {name_prefix}* not found in {SYNTHEA}")
    return json.loads(matches[0].read_text(encoding="utf-8"))


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not resources:
        return None  # CDS Hooks: a query that found nothing is sent as null
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r} for r in resources],
    }


def prefetch_from_bundle(bundle: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(patient id, prefetch) as an EHR would fill ldn-derm's templates from this record."""
    resources = [e["resource"] for e in bundle.get("entry", [])]
    patient = next(r for r in resources if r["resourceType"] == "Patient")

    def active_condition(r: dict[str, Any]) -> bool:
        codings = (r.get("clinicalStatus") or {}).get("coding") or [{}]
        return r["resourceType"] == "Condition" and codings[0].get("code") == "active"

    conditions = [r for r in resources if active_condition(r)]
    meds = [
        r
        for r in resources
        if r["resourceType"] == "MedicationRequest" and r.get("status") == "active"
    ]
    statements = [
        r
        for r in resources
        if r["resourceType"] == "MedicationStatement" and r.get("status") == "active"
    ]
    return patient["id"], {
        "patient": patient,
        "conditions": _searchset(conditions),
        "medications": _searchset(meds),
        "statements": _searchset(statements),
    }


def naltrexone_order(
    patient_id: str, mg: float = 50, per_day: int = 1, text: str | None = None
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "draft-ltx-1",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "7243",
                    "display": "naltrexone",
                }
            ],
            "text": text or f"Naltrexone {mg:g} mg oral",
        },
        "subject": {"reference": f"Patient/{patient_id}"},
        "dosageInstruction": [
            {
                "text": f"{mg:g} mg by mouth {per_day} time(s) daily",
                "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
                "route": {"text": "oral"},
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": mg,
                            "unit": "mg",
                            "system": "http://unitsofmeasure.org",
                            "code": "mg",
                        }
                    }
                ],
            }
        ],
    }


def other_order(patient_id: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "draft-amox-1",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "308182",
                    "display": "Amoxicillin 250 MG Oral Capsule",
                }
            ],
            "text": "Amoxicillin 250 MG Oral Capsule",
        },
        "subject": {"reference": f"Patient/{patient_id}"},
    }


def hook_request(
    hook: str,
    patient_id: str,
    prefetch: dict[str, Any] | None,
    draft: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    context: dict[str, Any] = {"userId": "Practitioner/example", "patientId": patient_id}
    if hook in {"order-select", "order-sign"}:
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in (draft or [])],
        }
        if hook == "order-select":
            context["selections"] = [f"MedicationRequest/{r['id']}" for r in (draft or [])]
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": context,
        **extra,
    }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body
