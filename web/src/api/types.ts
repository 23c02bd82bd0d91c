// Response and request types, derived from the generated OpenAPI paths (src/api/schema.d.ts)
// rather than from component names, so a renamed backend schema does not break the app.
import type { paths } from "./schema";

type JsonOf<T> = T extends { content: { "application/json": infer B } } ? B : never;
type JsonResponse<P extends keyof paths, M extends keyof paths[P], S extends number> =
  paths[P][M] extends { responses: infer R } ? (S extends keyof R ? JsonOf<R[S]> : never) : never;
type JsonBody<P extends keyof paths, M extends keyof paths[P]> =
  paths[P][M] extends { requestBody?: infer B } ? JsonOf<NonNullable<B>> : never;

export type UserPrivate = JsonResponse<"/api/users/me", "get", 200>;
export type UserPublic = JsonResponse<"/api/users/by-username/{username}", "get", 200>;
export type TokenResponse = JsonResponse<"/api/auth/login", "post", 200>;
export type FollowPage = JsonResponse<"/api/users/{user_id}/followers", "get", 200>;
export type FollowEdge = FollowPage["items"][number];
export type Follow = JsonResponse<"/api/follows", "post", 201>;

export type RegisterBody = JsonBody<"/api/auth/register", "post">;
export type LoginBody = JsonBody<"/api/auth/login", "post">;
export type UserUpdateBody = JsonBody<"/api/users/{user_id}", "put">;

export type Stream = JsonResponse<"/api/streams/{stream_id}", "get", 200>;
export type StreamPage = JsonResponse<"/api/streams", "get", 200>;
export type StreamCreated = JsonResponse<"/api/streams", "post", 201>;
export type StreamKey = JsonResponse<"/api/users/me/stream-key", "get", 200>;
export type StreamHealth = JsonResponse<"/api/streams/{stream_id}/health", "get", 200>;
export type MediaState = Stream["media_state"];
export type StreamCreateBody = JsonBody<"/api/streams", "post">;
export type StreamUpdateBody = JsonBody<"/api/streams/{stream_id}", "patch">;

export type Archive = JsonResponse<"/api/archives/{archive_id}", "get", 200>;
export type ArchivePage = JsonResponse<"/api/archives", "get", 200>;
export type ArchiveStatus = Archive["status"];
/** What GET /api/streams/{id} says of the stream's archive. */
export type StreamArchive = NonNullable<Stream["archive"]>;

export type Notification = JsonResponse<"/api/notifications", "get", 200>["items"][number];
export type NotificationPage = JsonResponse<"/api/notifications", "get", 200>;
export type NotificationKind = Notification["kind"];
export type NotificationSettings = JsonResponse<"/api/users/me/notification-settings", "get", 200>;
export type NotificationSettingsBody = JsonBody<"/api/users/me/notification-settings", "put">;
export type NotificationKindSwitches = NonNullable<NotificationSettingsBody["kinds"]>;
export type UnreadCountBody = JsonResponse<"/api/notifications/unread-count", "get", 200>;

export type Schedule = JsonResponse<"/api/schedules/{schedule_id}", "get", 200>;
export type SchedulePage = JsonResponse<"/api/schedules", "get", 200>;
export type ScheduleStatus = Schedule["status"];
export type ScheduleCreateBody = JsonBody<"/api/schedules", "post">;
export type ScheduleUpdateBody = JsonBody<"/api/schedules/{schedule_id}", "put">;
