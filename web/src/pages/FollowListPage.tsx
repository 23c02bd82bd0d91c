import { Link, NavLink, useParams } from "react-router-dom";
import { ApiError, errorMessage } from "../api/errors";
import { useFollowList, useUserByUsername, type FollowListKind } from "../api/queries";
import { Avatar } from "../components/Avatar";
import { EmptyState, NotFound, Spinner } from "../components/Status";
import { formatCount } from "../lib/format";
import { usePageTitle } from "../lib/usePageTitle";

export function FollowListPage({ kind }: { kind: FollowListKind }) {
  const { username = "" } = useParams();
  const profile = useUserByUsername(username);
  const list = useFollowList(profile.data?.user_id, kind);
  usePageTitle(`@${username} · ${kind === "followers" ? "Followers" : "Following"}`);

  if (profile.isPending) return <Spinner label="Loading…" />;
  if (profile.isError) {
    if (profile.error instanceof ApiError && profile.error.status === 404) {
      return <NotFound title="User not found" message={`There is no one called @${username} here.`} />;
    }
    return (
      <p className="page form-error" role="alert">
        {errorMessage(profile.error)}
      </p>
    );
  }

  const user = profile.data;
  const name = user.display_name || user.username;
  const base = `/u/${encodeURIComponent(user.username)}`;
  const items = list.data?.pages.flatMap((page) => page.items) ?? [];
  const title = kind === "followers" ? `People following ${name}` : `People ${name} follows`;

  return (
    <section className="page page--narrow" aria-labelledby="follow-list-title">
      <Link to={base} className="back-link">
        ← Back to @{user.username}
      </Link>
      <h1 id="follow-list-title" className="follow-list-title">
        {title}
      </h1>
      <nav className="tabs" aria-label="Connections">
        <NavLink to={`${base}/followers`} className="tab">
          Followers <span className="tab-count">{formatCount(user.follower_count ?? 0)}</span>
        </NavLink>
        <NavLink to={`${base}/following`} className="tab">
          Following <span className="tab-count">{formatCount(user.following_count ?? 0)}</span>
        </NavLink>
      </nav>

      {list.isPending ? (
        <Spinner />
      ) : list.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(list.error)}
        </p>
      ) : items.length === 0 ? (
        <EmptyState title={kind === "followers" ? "No followers yet." : "Not following anyone yet."} />
      ) : (
        <ul className="person-list" data-testid="follow-list">
          {items.map(({ follow_id, user: person }) => (
            <li key={follow_id} className="person" data-testid="follow-list-item">
              <Link to={`/u/${encodeURIComponent(person.username)}`} className="person-link">
                <Avatar username={person.username} name={person.display_name} />
                <span className="person-names">
                  <span className="person-name">{person.display_name || person.username}</span>
                  <span className="person-handle">@{person.username}</span>
                </span>
              </Link>
              {person.bio ? <p className="person-bio">{person.bio}</p> : null}
            </li>
          ))}
        </ul>
      )}

      {list.hasNextPage ? (
        <div className="load-more">
          <button
            type="button"
            className="btn btn--secondary"
            onClick={() => void list.fetchNextPage()}
            disabled={list.isFetchingNextPage}
          >
            {list.isFetchingNextPage ? "Loading…" : "Load more"}
          </button>
        </div>
      ) : null}
    </section>
  );
}
