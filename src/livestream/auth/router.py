"""HTTP for sign-up, sign-in, refresh and logout. The refresh token travels only in an HttpOnly cookie
unless a non-browser client asks for it in the body."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Cookie, Request, Response, status

from livestream.auth.dependencies import AuthServiceDep, BearerDep
from livestream.auth.errors import InvalidRefreshToken
from livestream.auth.schemas import LoginRequest, RefreshRequest, RegisterRequest, TokenResponse
from livestream.auth.service import IssuedSession
from livestream.config import Settings
from livestream.http.deps import SettingsDep
from livestream.http.responses import errors
from livestream.users.dependencies import UserServiceDep
from livestream.users.schemas import UserPrivate

router = APIRouter(prefix="/api/auth", tags=["auth"])

REFRESH_COOKIE = "ls_refresh"
REFRESH_COOKIE_PATH = "/api/auth"

RefreshCookie = Annotated[str | None, Cookie(alias=REFRESH_COOKIE, include_in_schema=False)]


def _set_refresh_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        REFRESH_COOKIE,
        token,
        max_age=settings.refresh_token_days * 86400,
        path=REFRESH_COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
    )


def _token_response(issued: IssuedSession, private: UserPrivate, *, include_refresh: bool) -> TokenResponse:
    return TokenResponse(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        user=private,
        refresh_token=issued.refresh_token if include_refresh else None,
    )


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPrivate,
    responses=errors(409),
    operation_id="register",
)
async def register(body: RegisterRequest, users: UserServiceDep) -> UserPrivate:
    user = await users.register(username=body.username, email=body.email, password=body.password)
    return await users.private_profile(user)


@router.post("/login", response_model=TokenResponse, responses=errors(401, 429), operation_id="login")
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    auth: AuthServiceDep,
    users: UserServiceDep,
    settings: SettingsDep,
) -> TokenResponse:
    issued = await auth.login(
        body.identity, body.password, address=_client_address(request), user_agent=request.headers.get("user-agent")
    )
    _set_refresh_cookie(response, settings, issued.refresh_token)
    private = await users.private_profile(issued.user)
    return _token_response(issued, private, include_refresh=body.include_refresh_token)


@router.post("/refresh", response_model=TokenResponse, responses=errors(401), operation_id="refresh")
async def refresh(
    request: Request,
    response: Response,
    auth: AuthServiceDep,
    users: UserServiceDep,
    settings: SettingsDep,
    cookie: RefreshCookie = None,
    body: Annotated[RefreshRequest | None, Body()] = None,
) -> TokenResponse:
    token = (body.refresh_token if body else None) or cookie
    if not token:
        raise InvalidRefreshToken("No refresh token: log in first")
    issued = await auth.refresh(token, user_agent=request.headers.get("user-agent"))
    _set_refresh_cookie(response, settings, issued.refresh_token)
    private = await users.private_profile(issued.user)
    return _token_response(issued, private, include_refresh=bool(body and body.include_refresh_token))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=errors(401), operation_id="logout")
async def logout(
    response: Response,
    auth: AuthServiceDep,
    credentials: BearerDep,
    cookie: RefreshCookie = None,
    body: Annotated[RefreshRequest | None, Body()] = None,
) -> Response:
    claims = auth.decode_access(credentials.credentials) if credentials else None
    await auth.logout(refresh_token=(body.refresh_token if body else None) or cookie, claims=claims)
    response.status_code = status.HTTP_204_NO_CONTENT
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, httponly=True, samesite="strict")
    return response
