"""HTTP for sign-up, sign-in, refresh and logout, and the account emails (confirming an address, forgotten
passwords). The refresh token travels only in an HttpOnly cookie unless a non-browser client asks for it in
the body."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Cookie, Request, Response, status
from fastapi.responses import JSONResponse

from livestream.auth.dependencies import AccountServiceDep, AuthServiceDep, BearerDep, CurrentUser
from livestream.auth.errors import InvalidRefreshToken
from livestream.auth.schemas import (
    EmailAccepted,
    ForgotPasswordRequest,
    LoginRequest,
    PasswordReset,
    RefreshRequest,
    RegisterRequest,
    RegistrationPending,
    ResetPasswordRequest,
    TokenResponse,
    VerifyEmailRequest,
    VerifyEmailResponse,
)
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


def _accepted(model: RegistrationPending | EmailAccepted) -> JSONResponse:
    return JSONResponse(model.model_dump(), status_code=status.HTTP_202_ACCEPTED)


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPrivate,
    responses={
        202: {
            "model": RegistrationPending,
            "description": "The server sends email: a link to finish signing up was mailed (the same answer when "
            "the address already has an account, whose owner is told instead)",
        },
        **errors(409, 429),
    },
    operation_id="register",
)
async def register(
    body: RegisterRequest, request: Request, users: UserServiceDep, accounts: AccountServiceDep
) -> UserPrivate | JSONResponse:
    """Without email (no SMTP): 201, the account exists and can sign in; a taken address is 409 EMAIL_TAKEN.
    With email: 202 whether the address is free or taken (D20); the account exists once its link is used."""
    if accounts.email_enabled:
        await accounts.start_registration(
            username=body.username, email=body.email, password=body.password, client=_client_address(request)
        )
        return _accepted(RegistrationPending())
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


@router.post("/verify-email", response_model=VerifyEmailResponse, responses=errors(409), operation_id="verifyEmail")
async def verify_email(body: VerifyEmailRequest, accounts: AccountServiceDep) -> VerifyEmailResponse:
    """Use a confirmation link's token: confirms the address, or finishes a sign-up (the account is created).
    400: INVALID_VERIFICATION_TOKEN, VERIFICATION_TOKEN_EXPIRED or VERIFICATION_TOKEN_USED; 409: the username
    (or address) of a sign-up was taken before its link was used."""
    user, created = await accounts.verify_email(body.token)
    return VerifyEmailResponse(email=user.email, username=user.username, account_created=created)


@router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EmailAccepted,
    responses=errors(401, 409, 429),
    operation_id="resendVerificationEmail",
)
async def resend_verification_email(request: Request, user: CurrentUser, accounts: AccountServiceDep) -> EmailAccepted:
    """Mail a new confirmation link to the signed-in account's address. 409 EMAIL_ALREADY_VERIFIED when it
    is already confirmed, 409 EMAIL_DISABLED when the server sends no email."""
    await accounts.resend_verification(user, client=_client_address(request))
    return EmailAccepted(message="We have sent a new confirmation link to your email address.")


@router.post(
    "/forgot-password",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=EmailAccepted,
    responses=errors(409, 429),
    operation_id="forgotPassword",
)
async def forgot_password(body: ForgotPasswordRequest, request: Request, accounts: AccountServiceDep) -> EmailAccepted:
    """Always the same 202, whether or not an account has the address; a reset link (30 minutes, single use) is
    mailed if one does. Throttled per address and per client (429). 409 EMAIL_DISABLED with no SMTP."""
    await accounts.forgot_password(body.email, client=_client_address(request))
    return EmailAccepted(message="If an account uses that address, we have sent it a link to reset the password.")


@router.post("/reset-password", response_model=PasswordReset, operation_id="resetPassword", responses=errors())
async def reset_password(body: ResetPasswordRequest, accounts: AccountServiceDep) -> PasswordReset:
    """Set a new password with a reset link's token (same rules as at sign-up); every session of the account
    ends. 400: INVALID_RESET_TOKEN, RESET_TOKEN_EXPIRED, RESET_TOKEN_USED or WEAK_PASSWORD."""
    await accounts.reset_password(body.token, body.password)
    return PasswordReset()
