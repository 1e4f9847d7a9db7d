"""JWT access and refresh tokens (PyJWT, HS256 pinned).

Decoding accepts exactly one algorithm, so ``alg: none`` and algorithm-confusion tokens are
refused; ``exp``, ``iat``, ``aud``, ``iss``, ``sub`` and our ``typ`` claim are required, so a
refresh token cannot be used as an access token nor the reverse.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import jwt

ALGORITHM = "HS256"
_REQUIRED = ["exp", "iat", "aud", "iss", "sub", "typ"]
TokenType = Literal["access", "refresh"]


class InvalidToken(Exception):
    """The token is malformed, forged, expired or meant for someone else (message says which)."""


@dataclass(frozen=True, slots=True)
class TokenIssuer:
    secret: str
    issuer: str
    audience: str
    access_seconds: int
    refresh_seconds: int

    def issue(self, subject: str, token_type: TokenType, claims: dict[str, Any] | None = None) -> str:
        issued = int(time.time())
        ttl = self.access_seconds if token_type == "access" else self.refresh_seconds
        payload = {
            **(claims or {}),
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "typ": token_type,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(payload, self.secret, algorithm=ALGORITHM)

    def decode(self, token: str, token_type: TokenType) -> dict[str, Any]:
        """The claims of a valid token of ``token_type``; ``InvalidToken`` otherwise."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": _REQUIRED},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("the token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("the token is from another issuer") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("the token's signature is invalid") from None
        except jwt.InvalidAlgorithmError:
            raise InvalidToken(f"the token's algorithm is not allowed (only {ALGORITHM})") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"the token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise InvalidToken("the token is malformed") from None
        if claims.get("typ") != token_type:
            raise InvalidToken(f"a {claims.get('typ')} token cannot be used as a {token_type} token")
        if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("iat"), int):
            raise InvalidToken("the token is malformed")
        return claims
