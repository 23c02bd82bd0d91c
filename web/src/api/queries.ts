// TanStack Query hooks over the typed client.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "./client";
import type { UserPrivate, UserPublic, UserUpdateBody } from "./types";
import { useSession } from "../auth/auth";
import { updateUser } from "../auth/session";

export const FOLLOW_PAGE_SIZE = 20;
export type FollowListKind = "followers" | "following";

export const queryKeys = {
  users: ["user"] as const,
  // viewer_follow_id depends on who is asking, so the viewer is part of the key.
  user: (username: string, viewerId: string | null) => ["user", username.toLowerCase(), viewerId] as const,
  follows: ["follows"] as const,
  followList: (userId: string, kind: FollowListKind) => ["follows", userId, kind] as const,
  // Whether a follow notifies (true) or is muted; only known once this tab has made or changed it.
  followNotify: (followId: string) => ["follow-notify", followId] as const,
};

/** A public profile by username; waits for the session so the viewer's follow comes back with it. */
export function useUserByUsername(username: string) {
  const { status, user } = useSession();
  return useQuery({
    queryKey: queryKeys.user(username, user?.user_id ?? null),
    queryFn: () => unwrap(api.GET("/api/users/by-username/{username}", { params: { path: { username } } })),
    enabled: status !== "loading" && username !== "",
  });
}

export function useFollowList(userId: string | undefined, kind: FollowListKind) {
  return useInfiniteQuery({
    queryKey: queryKeys.followList(userId ?? "", kind),
    enabled: userId !== undefined,
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) => {
      const params = {
        path: { user_id: userId ?? "" },
        query: { limit: FOLLOW_PAGE_SIZE, ...(pageParam ? { cursor: pageParam } : {}) },
      };
      return kind === "followers"
        ? unwrap(api.GET("/api/users/{user_id}/followers", { params }))
        : unwrap(api.GET("/api/users/{user_id}/following", { params }));
    },
    getNextPageParam: (last) => last.next_cursor ?? null,
  });
}

/** Follow or unfollow `target`; the profile shows the new state at once, then refetches. */
export function useToggleFollow(target: UserPublic) {
  const client = useQueryClient();
  const { user: viewer } = useSession();
  const key = queryKeys.user(target.username, viewer?.user_id ?? null);
  return useMutation({
    mutationFn: async (): Promise<string | null> => {
      if (target.viewer_follow_id) {
        await unwrap(api.DELETE("/api/follows/{follow_id}", { params: { path: { follow_id: target.viewer_follow_id } } }));
        return null;
      }
      const follow = await unwrap(api.POST("/api/follows", { body: { following_id: target.user_id } }));
      client.setQueryData(queryKeys.followNotify(follow.follow_id), follow.notify ?? true);
      return follow.follow_id;
    },
    onSuccess: (followId) => {
      client.setQueryData<UserPublic>(key, (old) =>
        old
          ? {
              ...old,
              viewer_follow_id: followId,
              follower_count: Math.max(0, (old.follower_count ?? 0) + (followId ? 1 : -1)),
            }
          : old,
      );
    },
    onSettled: () => {
      // The server is the source of truth for counts (and for an ALREADY_FOLLOWING race).
      void client.invalidateQueries({ queryKey: queryKeys.users });
      void client.invalidateQueries({ queryKey: queryKeys.follows });
    },
  });
}

export function useUpdateUser(userId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: UserUpdateBody): Promise<UserPrivate> =>
      unwrap(api.PUT("/api/users/{user_id}", { params: { path: { user_id: userId } }, body })),
    onSuccess: (user) => {
      updateUser(user);
      void client.invalidateQueries({ queryKey: queryKeys.users });
      void client.invalidateQueries({ queryKey: queryKeys.follows });
    },
  });
}

/**
 * Whether the viewer's follow `followId` sends go-live notifications. The API says so only in the answers
 * to POST /api/follows and PUT /api/follows/{id} (a profile carries just `viewer_follow_id`), so until this
 * tab has seen one of those it is unknown: `undefined`.
 */
export function useFollowNotify(followId: string | null | undefined) {
  return useQuery({
    queryKey: queryKeys.followNotify(followId ?? ""),
    queryFn: (): boolean | null => null, // never fetched: there is nothing to GET
    enabled: false,
    staleTime: Infinity,
  });
}

/** Mute (notify: false) or unmute a creator the viewer follows. */
export function useSetFollowNotify(followId: string | null | undefined) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (notify: boolean) =>
      unwrap(api.PUT("/api/follows/{follow_id}", { params: { path: { follow_id: followId ?? "" } }, body: { notify } })),
    onSuccess: (follow) => client.setQueryData(queryKeys.followNotify(follow.follow_id), follow.notify ?? true),
  });
}
