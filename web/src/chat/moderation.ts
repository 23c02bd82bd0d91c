// Moderation calls for a stream's chat (creator and moderators): delete a message, time out or
// ban its author, set slow mode; the creator's list of moderators; and who is banned or timed out.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { errorMessage } from "../api/errors";
import type { ChatStore } from "./chatStore";

/** Slow mode choices, in seconds between two messages of one viewer (0: off). */
export const SLOW_MODE_CHOICES = [0, 3, 5, 10, 30, 60, 120] as const;
/** A timeout, as offered in the message menu. */
export const TIMEOUT_SECONDS = 600;

export const moderatorKeys = {
  list: (streamId: string) => ["streams", "moderators", streamId] as const,
};

export const banKeys = {
  list: (streamId: string) => ["streams", "bans", streamId] as const,
};

export function useChatModeration(streamId: string, store: ChatStore) {
  const client = useQueryClient();
  const path = { stream_id: streamId };
  const fail = (err: unknown) => store.showError("MODERATION_FAILED", errorMessage(err));

  const deleteMessage = useMutation({
    mutationFn: (messageId: string) =>
      unwrap(api.DELETE("/api/streams/{stream_id}/chat/{message_id}", { params: { path: { ...path, message_id: messageId } } })),
    onSuccess: (_data, messageId) => store.removeMessage(messageId),
    onError: fail,
  });

  const ban = useMutation({
    /** No duration: a permanent ban. */
    mutationFn: ({ userId, durationSeconds }: { userId: string; durationSeconds?: number }) =>
      unwrap(
        api.POST("/api/streams/{stream_id}/bans", {
          params: { path },
          body: { user_id: userId, ...(durationSeconds ? { duration_seconds: durationSeconds } : {}) },
        }),
      ),
    onSuccess: () => client.invalidateQueries({ queryKey: banKeys.list(streamId) }),
    onError: fail,
  });

  const slowMode = useMutation({
    mutationFn: (seconds: number) =>
      unwrap(api.PUT("/api/streams/{stream_id}/chat-settings", { params: { path }, body: { slow_mode_seconds: seconds } })),
    onSuccess: (settings) => store.setSlowMode(settings.slow_mode_seconds),
    onError: fail,
  });

  return { deleteMessage, ban, slowMode };
}

/** The stream's moderators (creator only). */
export function useModerators(streamId: string) {
  return useQuery({
    queryKey: moderatorKeys.list(streamId),
    queryFn: () => unwrap(api.GET("/api/streams/{stream_id}/moderators", { params: { path: { stream_id: streamId } } })),
  });
}

/** Make someone a moderator by username (looked up through the users API), or remove one. */
export function useModeratorChanges(streamId: string) {
  const client = useQueryClient();
  const refresh = () => client.invalidateQueries({ queryKey: moderatorKeys.list(streamId) });
  const add = useMutation({
    mutationFn: async (username: string) => {
      const user = await unwrap(api.GET("/api/users/by-username/{username}", { params: { path: { username } } }));
      return unwrap(
        api.PUT("/api/streams/{stream_id}/moderators/{user_id}", { params: { path: { stream_id: streamId, user_id: user.user_id } } }),
      );
    },
    onSettled: refresh,
  });
  const remove = useMutation({
    mutationFn: (userId: string) =>
      unwrap(api.DELETE("/api/streams/{stream_id}/moderators/{user_id}", { params: { path: { stream_id: streamId, user_id: userId } } })),
    onSettled: refresh,
  });
  return { add, remove };
}

/** Who is banned or timed out from the creator's chat right now (creator and moderators). */
export function useBans(streamId: string) {
  return useQuery({
    queryKey: banKeys.list(streamId),
    queryFn: () => unwrap(api.GET("/api/streams/{stream_id}/bans", { params: { path: { stream_id: streamId } } })),
  });
}

/** Lift a ban or timeout early. */
export function useUnban(streamId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (userId: string) =>
      unwrap(api.DELETE("/api/streams/{stream_id}/bans/{user_id}", { params: { path: { stream_id: streamId, user_id: userId } } })),
    onSettled: () => client.invalidateQueries({ queryKey: banKeys.list(streamId) }),
  });
}
