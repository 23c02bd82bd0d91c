"""Provisional OpenAPI matching the contract in the brief, used until `livestream openapi` exists."""
import json

def ref(n): return {"$ref": f"#/components/schemas/{n}"}
def js(schema): return {"content": {"application/json": {"schema": schema}}}
def nullable(t): return {"anyOf": [{"type": t}, {"type": "null"}]}
ERR = {"description": "Error", **js(ref("ErrorBody"))}
def resp(code, schema=None, desc="OK"):
    r = {"description": desc}
    if schema: r.update(js(schema))
    return {str(code): r, "400": ERR, "401": ERR, "403": ERR, "404": ERR, "409": ERR, "429": ERR}
uid = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
page = [{"name": "limit", "in": "query", "required": False, "schema": {"type": "integer"}},
        {"name": "cursor", "in": "query", "required": False, "schema": nullable("string")}]
pub_props = {
    "user_id": {"type": "string", "format": "uuid"}, "username": {"type": "string"},
    "display_name": nullable("string"), "bio": nullable("string"),
    "created_at": {"type": "string", "format": "date-time"},
    "follower_count": {"type": "integer"}, "following_count": {"type": "integer"},
    "viewer_follow_id": {"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}]},
}
priv_props = {**pub_props, "email": {"type": "string"}, "updated_at": {"type": "string", "format": "date-time"}}
schemas = {
    "ErrorBody": {"type": "object", "required": ["error", "code"], "properties": {
        "error": {"type": "string"}, "code": {"type": "string"}, "status": {"type": "integer"},
        "request_id": {"type": "string"}}},
    "UserPublic": {"type": "object", "required": list(pub_props), "properties": pub_props},
    "UserPrivate": {"type": "object", "required": list(priv_props), "properties": priv_props},
    "RegisterRequest": {"type": "object", "required": ["username", "email", "password"], "properties": {
        "username": {"type": "string"}, "email": {"type": "string"}, "password": {"type": "string"}}},
    "LoginRequest": {"type": "object", "required": ["login", "password"], "properties": {
        "login": {"type": "string"}, "password": {"type": "string"}}},
    "TokenResponse": {"type": "object", "required": ["access_token", "token_type", "expires_in", "user"],
        "properties": {"access_token": {"type": "string"}, "token_type": {"type": "string"},
                       "expires_in": {"type": "integer"}, "user": ref("UserPrivate")}},
    "UserUpdate": {"type": "object", "properties": {k: nullable("string") for k in
        ["username", "email", "display_name", "bio", "password", "current_password"]}},
    "FollowCreate": {"type": "object", "required": ["following_id"], "properties": {
        "following_id": {"type": "string", "format": "uuid"}}},
    "Follow": {"type": "object", "required": ["follow_id", "follower_id", "following_id", "created_at"],
        "properties": {"follow_id": {"type": "string", "format": "uuid"},
                       "follower_id": {"type": "string", "format": "uuid"},
                       "following_id": {"type": "string", "format": "uuid"},
                       "created_at": {"type": "string", "format": "date-time"}}},
    "FollowEdge": {"type": "object", "required": ["follow_id", "user", "followed_at"], "properties": {
        "follow_id": {"type": "string", "format": "uuid"}, "user": ref("UserPublic"),
        "followed_at": {"type": "string", "format": "date-time"}}},
    "FollowPage": {"type": "object", "required": ["items", "next_cursor"], "properties": {
        "items": {"type": "array", "items": ref("FollowEdge")}, "next_cursor": nullable("string")}},
}
paths = {
    "/api/auth/register": {"post": {"operationId": "auth-register", "requestBody": {"required": True, **js(ref("RegisterRequest"))},
                                    "responses": resp(201, ref("UserPrivate"))}},
    "/api/auth/login": {"post": {"operationId": "auth-login", "requestBody": {"required": True, **js(ref("LoginRequest"))},
                                 "responses": resp(200, ref("TokenResponse"))}},
    "/api/auth/refresh": {"post": {"operationId": "auth-refresh", "responses": resp(200, ref("TokenResponse"))}},
    "/api/auth/logout": {"post": {"operationId": "auth-logout", "responses": resp(204, desc="No Content")}},
    "/api/users/me": {"get": {"operationId": "users-me", "responses": resp(200, ref("UserPrivate"))}},
    "/api/users/by-username/{username}": {"get": {"operationId": "users-by-username",
        "parameters": [{"name": "username", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": resp(200, ref("UserPublic"))}},
    "/api/users/{user_id}": {
        "get": {"operationId": "users-get", "parameters": [uid], "responses": resp(200, ref("UserPublic"))},
        "put": {"operationId": "users-update", "parameters": [uid], "requestBody": {"required": True, **js(ref("UserUpdate"))},
                "responses": resp(200, ref("UserPrivate"))}},
    "/api/users/{user_id}/followers": {"get": {"operationId": "users-followers", "parameters": [uid, *page],
                                               "responses": resp(200, ref("FollowPage"))}},
    "/api/users/{user_id}/following": {"get": {"operationId": "users-following", "parameters": [uid, *page],
                                               "responses": resp(200, ref("FollowPage"))}},
    "/api/follows": {"post": {"operationId": "follows-create", "requestBody": {"required": True, **js(ref("FollowCreate"))},
                              "responses": resp(201, ref("Follow"))}},
    "/api/follows/{follow_id}": {"delete": {"operationId": "follows-delete",
        "parameters": [{"name": "follow_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}],
        "responses": resp(204, desc="No Content")}},
}
print(json.dumps({"openapi": "3.1.0", "info": {"title": "LiveStream Pro", "version": "0.1.0"},
                  "paths": paths, "components": {"schemas": schemas}}, indent=1))
