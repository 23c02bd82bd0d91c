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
