"""HTTP for chat history and moderation, and the chat WebSocket."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response, WebSocket, status
from starlette.routing import WebSocketRoute

from livestream.auth.dependencies import CurrentUser
from livestream.chat.dependencies import ChatServiceDep
from livestream.chat.gateway import ChatGateway
from livestream.chat.schemas import (
    BanCreate,
    BanList,
    BanOut,
    ChatHistory,
    ChatSettings,
    ModeratorList,
    ModeratorOut,
)
from livestream.http.deps import SessionDep, after_commit, lookup
from livestream.http.responses import errors

router = APIRouter(tags=["chat"])
MessageId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]


async def chat_socket(websocket: WebSocket) -> None:
    """Chat, viewer count and stream events for one stream (protocol: docs/realtime.md)."""
    await lookup(websocket, ChatGateway).serve(websocket, websocket.path_params["stream_id"])


# A plain Starlette route: a socket lives for hours, and FastAPI's dependency machinery would keep an exit
# stack and several frames per socket alive for nothing (memory per viewer, docs/benchmarks.md).
router.routes.append(WebSocketRoute("/ws/streams/{stream_id}", chat_socket, name="chat_socket"))


@router.get(
    "/api/streams/{stream_id}/chat", response_model=ChatHistory, responses=errors(404), operation_id="getChatHistory"
)
async def get_chat_history(stream_id: uuid.UUID, chat: ChatServiceDep) -> ChatHistory:
    """The last minutes of chat (5 by default), oldest first. Chat is not kept longer."""
    return ChatHistory(items=await chat.history(stream_id))


@router.delete(
    "/api/streams/{stream_id}/chat/{message_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404),
    operation_id="deleteChatMessage",
)
async def delete_chat_message(
    stream_id: uuid.UUID, message_id: MessageId, user: CurrentUser, chat: ChatServiceDep
) -> Response:
    """Remove a message from everyone's chat (creator and moderators)."""
    await chat.delete_message(user.user_id, stream_id, message_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/api/streams/{stream_id}/bans",
    status_code=status.HTTP_201_CREATED,
    response_model=BanOut,
    responses=errors(401, 403, 404),
    operation_id="banFromChat",
)
async def ban_from_chat(
    stream_id: uuid.UUID, body: BanCreate, user: CurrentUser, chat: ChatServiceDep, session: SessionDep
) -> BanOut:
    """Ban a user from the creator's chat (all their streams), or time them out with ``duration_seconds``.
    Their recent messages are removed from everyone's chat. Banning again replaces the earlier ban."""
    ban = await chat.ban(user.user_id, stream_id, body)

    async def purge() -> None:
        await chat.purge_messages_of(stream_id, body.user_id)

    after_commit(session, purge)
    return ban


@router.get(
    "/api/streams/{stream_id}/bans", response_model=BanList, responses=errors(401, 403, 404), operation_id="listBans"
)
async def list_bans(stream_id: uuid.UUID, user: CurrentUser, chat: ChatServiceDep) -> BanList:
    """Users currently banned or timed out from the creator's chat (creator and moderators)."""
    return BanList(items=await chat.bans(user.user_id, stream_id))


@router.delete(
    "/api/streams/{stream_id}/bans/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404),
    operation_id="unbanFromChat",
)
async def unban_from_chat(
    stream_id: uuid.UUID, user_id: uuid.UUID, user: CurrentUser, chat: ChatServiceDep
) -> Response:
    await chat.unban(user.user_id, stream_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/api/streams/{stream_id}/chat-settings",
    response_model=ChatSettings,
    responses=errors(401, 403, 404, 409),
    operation_id="updateChatSettings",
)
async def update_chat_settings(
    stream_id: uuid.UUID, body: ChatSettings, user: CurrentUser, chat: ChatServiceDep, session: SessionDep
) -> ChatSettings:
    """Slow mode: viewers wait this many seconds between messages (creator and moderators are exempt)."""
    stream = await chat.set_slow_mode(user.user_id, stream_id, body.slow_mode_seconds)
    seconds = stream.slow_mode_seconds

    async def announce() -> None:
        await chat.announce_settings(stream_id, seconds)

    after_commit(session, announce)
    return ChatSettings(slow_mode_seconds=seconds)


@router.get(
    "/api/streams/{stream_id}/moderators",
    response_model=ModeratorList,
    responses=errors(401, 403, 404),
    operation_id="listModerators",
)
async def list_moderators(stream_id: uuid.UUID, user: CurrentUser, chat: ChatServiceDep) -> ModeratorList:
    """The creator's moderators (creator only). Moderators belong to the channel, not to one stream."""
    return ModeratorList(items=await chat.moderators(user.user_id, stream_id))


@router.put(
    "/api/streams/{stream_id}/moderators/{user_id}",
    response_model=ModeratorOut,
    responses=errors(401, 403, 404),
    operation_id="addModerator",
)
async def add_moderator(
    stream_id: uuid.UUID, user_id: uuid.UUID, user: CurrentUser, chat: ChatServiceDep
) -> ModeratorOut:
    """Appoint a moderator (creator only; idempotent)."""
    return await chat.add_moderator(user.user_id, stream_id, user_id)


@router.delete(
    "/api/streams/{stream_id}/moderators/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404),
    operation_id="removeModerator",
)
async def remove_moderator(
    stream_id: uuid.UUID, user_id: uuid.UUID, user: CurrentUser, chat: ChatServiceDep
) -> Response:
    await chat.remove_moderator(user.user_id, stream_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
