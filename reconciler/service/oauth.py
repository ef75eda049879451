"""OAuth install of a HighLevel location as one side of a pair.

``GET /oauth/start?pair=<id or name>&side=a|b`` redirects the browser to HighLevel's authorize
page (``settings.oauth_authorize_url``) for the app in the settings. ``GET /oauth/callback``
gets the code back, exchanges it at the token endpoint (``sides.highlevel.exchange_code``) and
saves the location's tokens encrypted in its side account (``DbTokenStore``): from then on the
pair's runs use (and rotate) them.

CSRF: ``state`` is ``<payload>.<HMAC-SHA256>`` (base64url) over the pair, the side, an expiry
and a random nonce that is also set as an HttpOnly, SameSite=Lax cookie scoped to ``/oauth``.
The callback refuses a state that is forged, expired, or arrives in a browser that did not
start the install (cookie missing or different). The HMAC key is derived from the store's
encryption key, so every process of a deployment accepts the others' states.

The location that comes back must be the pair side's location: an install can refresh a side's
tokens, never re-point a pair at another location (that is a change of pair, made by an admin).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from reconciler.errors import AuthError, ReconcilerError, RetriableError
from reconciler.settings import Settings
from reconciler.sides.base import SideName
from reconciler.sides.highlevel import OAuthApp, exchange_code
from reconciler.store import repo_audit, repo_pairs
from reconciler.store.crypto import Cipher, load_or_create_key_file
from reconciler.store.db import Store
from reconciler.store.schema import AccountKind
from reconciler.store.token_store import DbTokenStore
from reconciler.store.types import utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
COOKIE = "reconciler_oauth"
COOKIE_PATH = "/oauth"


class InstallError(ReconcilerError):
    """An install step refused; ``status`` is the HTTP answer (the message is for people)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class InstallState:
    pair_id: str
    side: SideName
    nonce: str
    expires_at: datetime


class StateSigner:
    """Signs and checks the ``state`` parameter (HMAC-SHA256, constant-time compare)."""

    def __init__(self, key: bytes, *, ttl: timedelta, clock: Clock = utcnow) -> None:
        self._key = key
        self._ttl = ttl
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = utcnow) -> StateSigner:
        if settings.secret_key is not None:
            material = settings.secret_key.get_secret_value().split(",")[0].strip()
        else:
            material = load_or_create_key_file(settings.key_file)
        # A key of its own, derived: the encryption key is never used for anything else.
        key = hashlib.sha256(b"reconciler/oauth-state\0" + material.encode()).digest()
        return cls(key, ttl=timedelta(seconds=settings.oauth_state_ttl_s), clock=clock)

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    def issue(self, pair_id: str, side: SideName) -> tuple[str, InstallState]:
        state = InstallState(pair_id, side, secrets.token_urlsafe(16), self._clock() + self._ttl)
        payload = json.dumps(
            {"p": pair_id, "s": side, "n": state.nonce, "e": int(state.expires_at.timestamp())},
            separators=(",", ":"),
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}", state

    def check(self, token: str, nonce: str | None) -> InstallState:
        payload_part, dot, mac_part = token.partition(".")
        try:
            payload = _unb64(payload_part)
            mac = _unb64(mac_part)
        except ValueError:
            raise InstallError(400, "the state parameter is malformed") from None
        if not dot or not hmac.compare_digest(mac, self._mac(payload)):
            raise InstallError(400, "the state parameter is not ours (forged or corrupted)")
        data = json.loads(payload)
        expires = datetime.fromtimestamp(int(data["e"]), tz=self._clock().tzinfo)
        if expires < self._clock():
            raise InstallError(400, "the install took too long: start it again")
        if not nonce or not hmac.compare_digest(str(data["n"]).encode(), nonce.encode()):
            raise InstallError(400, "the install was not started in this browser: start again")
        side: SideName = "a" if data["s"] == "a" else "b"
        return InstallState(str(data["p"]), side, str(data["n"]), expires)

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ValueError("not base64url") from exc


@dataclass(frozen=True, slots=True)
class OAuthConfig:
    client_id: str
    client_secret: str
    authorize_url: str
    redirect_uri: str
    scopes: str
    api_base_url: str  # the token endpoint is {api_base_url}/oauth/token
    secure_cookie: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> OAuthConfig | None:
        """None when the app's client id or secret is not configured."""
        if not settings.oauth_client_id or settings.oauth_client_secret is None:
            return None
        return cls(
            client_id=settings.oauth_client_id,
            client_secret=settings.oauth_client_secret.get_secret_value(),
            authorize_url=settings.oauth_authorize_url,
            redirect_uri=settings.redirect_uri,
            scopes=settings.oauth_scopes,
            api_base_url=settings.highlevel_base_url,
            secure_cookie=settings.service_url.startswith("https://"),
        )


class OAuthInstaller:
    def __init__(
        self,
        store: Store,
        cipher: Cipher,
        config: OAuthConfig | None,
        signer: StateSigner,
        http: httpx.AsyncClient,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self.store = store
        self.cipher = cipher
        self.config = config
        self.signer = signer
        self.http = http
        self.clock = clock

    def _configured(self) -> OAuthConfig:
        if self.config is None:
            raise InstallError(
                503,
                "OAuth is not configured: set RECONCILER_OAUTH_CLIENT_ID and "
                "RECONCILER_OAUTH_CLIENT_SECRET",
            )
        return self.config

    async def _side_location(self, pair_ref: str, side: str) -> tuple[str, SideName, str]:
        """(pair id, side, location id) of a pair side that is a HighLevel location."""
        if side not in ("a", "b"):
            raise InstallError(400, "side must be a or b")
        async with self.store.session() as s:
            pair = await repo_pairs.get_pair(s, pair_ref) or await repo_pairs.get_pair_by_name(
                s, pair_ref
            )
            if pair is None:
                raise InstallError(404, "no such pair")
            account_id = pair.side_a_account_id if side == "a" else pair.side_b_account_id
            account = await repo_pairs.get_side_account(s, account_id)
        if account is None or account.kind != AccountKind.HIGHLEVEL.value:
            raise InstallError(400, f"side {side} of this pair is not a HighLevel location")
        if not account.location_id:
            raise InstallError(400, f"side {side} of this pair has no location id")
        side_name: SideName = "a" if side == "a" else "b"
        return pair.id, side_name, account.location_id

    async def start(self, pair_ref: str, side: str) -> tuple[str, str]:
        """The authorize URL to send the browser to, and the nonce for its cookie."""
        config = self._configured()
        pair_id, side_name, location_id = await self._side_location(pair_ref, side)
        state, issued = self.signer.issue(pair_id, side_name)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": config.client_id,
                "redirect_uri": config.redirect_uri,
                "scope": config.scopes,
                "state": state,
                # Preselects the location (the sandbox honours it; HighLevel lets the user pick).
                "location_id": location_id,
            }
        )
        separator = "&" if "?" in config.authorize_url else "?"
        return f"{config.authorize_url}{separator}{query}", issued.nonce

    async def finish(self, code: str, state: str, nonce: str | None) -> dict[str, Any]:
        """Check the state, exchange the code, save the tokens; what was installed."""
        config = self._configured()
        checked = self.signer.check(state, nonce)
        pair_id, side, location_id = await self._side_location(checked.pair_id, checked.side)
        if not code or len(code) > 2000:
            raise InstallError(400, "the authorization code is missing")
        try:
            tokens = await exchange_code(
                self.http,
                app=OAuthApp(config.client_id, config.client_secret),
                code=code,
                redirect_uri=config.redirect_uri,
                location_id=location_id,
                base_url=config.api_base_url,
            )
        except AuthError as exc:
            raise InstallError(400, f"HighLevel refused the code: {exc}") from exc
        except RetriableError as exc:
            raise InstallError(502, f"HighLevel's token endpoint failed: {exc}") from exc
        if tokens.location_id != location_id:
            # Tokens of another location are dropped unsaved (see the module docstring).
            raise InstallError(
                400,
                f"you installed location {tokens.location_id}, but side {side} of this pair "
                f"is location {location_id}",
            )
        await DbTokenStore(self.store, self.cipher).save(tokens)
        async with self.store.transaction() as s:
            await repo_audit.append(
                s,
                [
                    repo_audit.AuditEntry(
                        actor="oauth:install",
                        kind="side.oauth_installed",
                        at=self.clock(),
                        pair_id=pair_id,
                        subject=location_id,
                        detail={"side": side, "scopes": sorted(tokens.scopes)},
                    )
                ],
            )
        log.info(
            "OAuth install done",
            extra={"pair_id": pair_id, "side": side, "location_id": location_id},
        )
        return {
            "pair_id": pair_id,
            "side": side,
            "location_id": location_id,
            "scopes": sorted(tokens.scopes),
        }


def oauth_router(installer: OAuthInstaller) -> APIRouter:
    router = APIRouter()

    @router.get("/oauth/start", include_in_schema=False)
    async def start(request: Request, pair: str = "", side: str = "") -> Response:
        try:
            url, nonce = await installer.start(pair, side)
        except InstallError as exc:
            return _page(exc.status, "Cannot start the install", exc.message)
        response = RedirectResponse(url, status_code=302)
        response.set_cookie(
            COOKIE,
            nonce,
            max_age=int(installer.signer.ttl.total_seconds()),
            path=COOKIE_PATH,
            httponly=True,
            samesite="lax",
            secure=installer.config.secure_cookie if installer.config else False,
        )
        return response

    @router.get("/oauth/callback", include_in_schema=False)
    async def callback(request: Request) -> Response:
        params = request.query_params
        if params.get("error"):
            # The user declined, or HighLevel refused the request.
            reason = params.get("error_description") or params["error"]
            return _page(400, "The install was not completed", reason[:200])
        try:
            done = await installer.finish(
                params.get("code", ""), params.get("state", ""), request.cookies.get(COOKIE)
            )
        except InstallError as exc:
            return _page(exc.status, "The install failed", exc.message)
        response = _page(
            200,
            "Connected",
            f"Location {done['location_id']} is now side {done['side']} of pair "
            f"{done['pair_id']} (scopes: {' '.join(done['scopes'])}).",
        )
        response.delete_cookie(COOKIE, path=COOKIE_PATH)
        return response

    return router


def _page(status: int, title: str, message: str) -> HTMLResponse:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
    return HTMLResponse(body, status_code=status)
