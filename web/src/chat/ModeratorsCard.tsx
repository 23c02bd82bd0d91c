// The creator's moderators (dashboard): who they are, add one by username, remove one.
// Moderators belong to the channel; the API reaches them through the creator's live stream.
import { useState, type FormEvent } from "react";
import { ApiError, errorMessage } from "../api/errors";
import { Avatar } from "../components/Avatar";
import { TextField } from "../components/FormField";
import { useModeratorChanges, useModerators } from "./moderation";

export function ModeratorsCard({ streamId, ownUsername }: { streamId: string; ownUsername: string }) {
  const moderators = useModerators(streamId);
  const { add, remove } = useModeratorChanges(streamId);
  const [username, setUsername] = useState("");
  const [fieldError, setFieldError] = useState<string | undefined>();
  const [formError, setFormError] = useState<string | null>(null);

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const name = username.trim().replace(/^@/, "");
    setFormError(null);
    if (!name) return setFieldError("Enter a username.");
    if (name.toLowerCase() === ownUsername.toLowerCase()) return setFieldError("You already run this chat.");
    setFieldError(undefined);
    add.mutate(name, {
      onSuccess: () => setUsername(""),
      onError: (err) => {
        if (err instanceof ApiError && err.code === "USER_NOT_FOUND") setFieldError(`There is no user called “${name}”.`);
        else setFormError(errorMessage(err));
      },
    });
  };

  const items = moderators.data?.items ?? [];
  return (
    <section className="card dash-card" aria-labelledby="mods-title" data-testid="moderators">
      <div className="dash-card-head">
        <h2 id="mods-title">Moderators</h2>
        <p className="muted">Moderators can delete messages, time out or ban viewers, and set slow mode in your chat.</p>
      </div>
      {moderators.isPending ? (
        <p className="muted">Loading moderators…</p>
      ) : moderators.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(moderators.error)}
        </p>
      ) : items.length ? (
        <ul className="mod-list" aria-label="Your moderators">
          {items.map((mod) => (
            <li key={mod.user_id} className="mod-row" data-testid="moderator">
              <span className="mod-name">
                <Avatar username={mod.username} name={mod.display_name} size="sm" />
                {mod.display_name || mod.username}
                <span className="muted">@{mod.username}</span>
              </span>
              <button
                type="button"
                className="btn btn--ghost btn--sm"
                disabled={remove.isPending && remove.variables === mod.user_id}
                onClick={() => remove.mutate(mod.user_id, { onError: (err) => setFormError(errorMessage(err)) })}
                aria-label={`Remove ${mod.username} as moderator`}
                data-testid="moderator-remove"
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">No moderators yet.</p>
      )}
      <form className="mod-add" onSubmit={onSubmit} noValidate data-testid="moderator-add">
        <TextField
          label="Add a moderator"
          name="moderator"
          placeholder="username"
          autoComplete="off"
          value={username}
          error={fieldError}
          onChange={(event) => setUsername(event.target.value)}
        />
        <button type="submit" className="btn btn--secondary" disabled={add.isPending}>
          {add.isPending ? "Adding…" : "Add"}
        </button>
      </form>
      {formError ? (
        <p className="form-error dash-notice" role="alert">
          {formError}
        </p>
      ) : null}
    </section>
  );
}
