"""The HighLevel connector (Contacts API v2): ``HighLevelSide`` and what it is built from."""

from reconciler.sides.highlevel.auth import Credentials, OAuthSession, PrivateToken, exchange_code
from reconciler.sides.highlevel.client import API_VERSION
from reconciler.sides.highlevel.clock import Clock, SystemClock
from reconciler.sides.highlevel.rate import RateBudget, RateHeaders
from reconciler.sides.highlevel.retry import RetryPolicy
from reconciler.sides.highlevel.side import DEFAULT_BASE_URL, HighLevelSide, ListingPolicy
from reconciler.sides.highlevel.tokens import MemoryTokenStore, OAuthApp, OAuthTokens, TokenStore

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "Clock",
    "Credentials",
    "HighLevelSide",
    "ListingPolicy",
    "MemoryTokenStore",
    "OAuthApp",
    "OAuthSession",
    "OAuthTokens",
    "PrivateToken",
    "RateBudget",
    "RateHeaders",
    "RetryPolicy",
    "SystemClock",
    "TokenStore",
    "exchange_code",
]
