"""Bearer tokens: OAuth (authorization code, rotating refresh tokens) and private integrations.

- ``GET /oauth/chooselocation`` stands in for the marketplace consent page: it issues a one-time
  code (valid ``authorization_code_ttl_seconds``) for the chosen location.
- ``POST /oauth/token`` exchanges a code or a refresh token. Every refresh rotates: the refresh
  token used is spent, and a second use is refused (400 ``invalid_grant``), as HighLevel does.
- Private integration tokens (``pit-...``) are fixed, per location, with their own scopes.

Refusals (decided from ``common-schemas.json``; the v2 spec documents 401 for auth failures and
no 403): a missing, unknown or expired token, a token lacking the operation's scope
(``The token is not authorized for this scope.``) and a token used for another location all
answer 401 ``{statusCode, message, error: "Unauthorized"}``.
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from reconciler.sandbox.clock import Clock
from reconciler.sandbox.config import AppConfig
from reconciler.sandbox.errors import ApiError, unauthorized, unprocessable
from reconciler.sandbox.ids import secret_token, stable_id

PIT_APP = "private-integration"
SCOPE_REFUSED = "The token is not authorized for this scope."
LOCATION_REFUSED = "The token does not have access to this location."
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")


@dataclass
class Grant:
    """What one bearer token grants: which app, which location, which scopes, until when."""

    app: str
    location_id: str
    scopes: list[str]
    user_id: str
    expires_at: float | None = None


@dataclass
class RefreshGrant:
    client_id: str
    location_id: str
    scopes: list[str]
    user_id: str
    expires_at: float
    spent: bool = False


@dataclass
class AuthCode:
    client_id: str
    location_id: str
    scopes: list[str]
    redirect_uri: str
    expires_at: float
    spent: bool = False


def invalid_grant(what: str) -> ApiError:
    return ApiError(
        400,
        f"Invalid grant: {what}",
        extra={"error": "invalid_grant", "error_description": f"Invalid grant: {what}"},
    )


@dataclass
class TokenStore:
    clock: Clock
    apps: dict[str, AppConfig]
    company_id: str
    access_ttl: int
    refresh_ttl: int
    code_ttl: int
    access: dict[str, Grant] = field(default_factory=dict)
    refresh: dict[str, RefreshGrant] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)

    def user_for(self, location_id: str) -> str:
        return stable_id("user", location_id)

    # ----- private integrations ------------------------------------------------------------
    def issue_private_token(self, location_id: str, scopes: list[str]) -> str:
        token = f"pit-{uuid.uuid4()}"
        self.access[token] = Grant(PIT_APP, location_id, list(scopes), self.user_for(location_id))
        return token

    # ----- authorization code flow ---------------------------------------------------------
    def authorize(
        self, client_id: str, redirect_uri: str, scope: str | None, location_id: str
    ) -> str:
        app = self.apps[client_id]
        asked = scope.split() if scope else list(app.scopes)
        granted = [s for s in asked if s in app.scopes]
        code = secret_token("", 40)
        self.codes[code] = AuthCode(
            client_id, location_id, granted, redirect_uri, self.clock.now() + self.code_ttl
        )
        return code

    def exchange(self, form: dict[str, str]) -> dict[str, Any]:
        """``POST /oauth/token``: validate the form, then spend a code or a refresh token."""
        missing = [
            f"{k} should not be empty"
            for k in ("client_id", "client_secret", "grant_type")
            if not form.get(k)
        ]
        if missing:
            raise unprocessable(missing)
        grant_type = form["grant_type"]
        if grant_type not in GRANT_TYPES:
            raise unprocessable(
                [f"grant_type must be one of the following values: {', '.join(GRANT_TYPES)}"]
            )
        user_type = form.get("user_type") or "Location"
        if user_type not in ("Location", "Company"):
            raise unprocessable(
                ["user_type must be one of the following values: Company, Location"]
            )
        app = self.apps.get(form["client_id"])
        if app is None or not hmac.compare_digest(
            app.client_secret.encode(), form["client_secret"].encode()
        ):
            raise unauthorized("Invalid client credentials")
        if user_type == "Company":
            raise ApiError(400, "The sandbox has no agency: request user_type Location")
        if grant_type == "client_credentials":
            raise ApiError(
                400,
                "Unsupported grant type: client_credentials",
                extra={"error": "unsupported_grant_type"},
            )
        if grant_type == "authorization_code":
            return self._spend_code(app, form)
        return self._spend_refresh(app, form)

    def _spend_code(self, app: AppConfig, form: dict[str, str]) -> dict[str, Any]:
        if not form.get("code"):
            raise unprocessable(["code should not be empty"])
        code = self.codes.get(form["code"])
        if code is None or code.spent or code.client_id != app.client_id:
            raise invalid_grant("authorization code is invalid")
        if code.expires_at <= self.clock.now():
            raise invalid_grant("authorization code has expired")
        if form.get("redirect_uri") and form["redirect_uri"] != code.redirect_uri:
            raise invalid_grant("redirect_uri does not match the authorization request")
        code.spent = True
        return self._issue(
            app.client_id, code.location_id, code.scopes, self.user_for(code.location_id)
        )

    def _spend_refresh(self, app: AppConfig, form: dict[str, str]) -> dict[str, Any]:
        if not form.get("refresh_token"):
            raise unprocessable(["refresh_token should not be empty"])
        old = self.refresh.get(form["refresh_token"])
        if old is None or old.client_id != app.client_id:
            raise invalid_grant("refresh token is invalid")
        if old.spent:
            raise invalid_grant("refresh token has already been used")
        if old.expires_at <= self.clock.now():
            raise invalid_grant("refresh token has expired")
        old.spent = True
        return self._issue(app.client_id, old.location_id, old.scopes, old.user_id)

    def _issue(
        self, client_id: str, location_id: str, scopes: list[str], user_id: str
    ) -> dict[str, Any]:
        now = self.clock.now()
        access_token = secret_token("sbx-at-", 48)
        refresh_token = secret_token("sbx-rt-", 48)
        self.access[access_token] = Grant(
            client_id, location_id, list(scopes), user_id, now + self.access_ttl
        )
        self.refresh[refresh_token] = RefreshGrant(
            client_id, location_id, list(scopes), user_id, now + self.refresh_ttl
        )
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.access_ttl,
            "refresh_token": refresh_token,
            "scope": " ".join(scopes),
            "userType": "Location",
            "locationId": location_id,
            "companyId": self.company_id,
            "userId": user_id,
            "isBulkInstallation": False,
        }

    # ----- checks on each API call ---------------------------------------------------------
    def authenticate(self, authorization: str | None) -> Grant:
        if not authorization:
            raise unauthorized("Invalid token: access token is missing")
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("Invalid token: access token is invalid")
        grant = self.access.get(token.strip())
        if grant is None:
            raise unauthorized("Invalid token: access token is invalid")
        if grant.expires_at is not None and grant.expires_at <= self.clock.now():
            raise unauthorized("Invalid JWT")
        return grant

    # ----- persistence ---------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        return {
            "access": {k: asdict(v) for k, v in self.access.items()},
            "refresh": {k: asdict(v) for k, v in self.refresh.items()},
            "codes": {k: asdict(v) for k, v in self.codes.items()},
        }

    def load(self, data: dict[str, Any]) -> None:
        self.access = {k: Grant(**v) for k, v in data.get("access", {}).items()}
        self.refresh = {k: RefreshGrant(**v) for k, v in data.get("refresh", {}).items()}
        self.codes = {k: AuthCode(**v) for k, v in data.get("codes", {}).items()}


def require_scope(grant: Grant, scope: str) -> None:
    if scope not in grant.scopes:
        raise unauthorized(SCOPE_REFUSED)


def require_location(grant: Grant, location_id: str) -> None:
    if grant.location_id != location_id:
        raise unauthorized(LOCATION_REFUSED)
