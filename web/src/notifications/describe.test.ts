import { describe, expect, it } from "vitest";
import { archiveReady, newFollowers, streamStarted } from "../test/notifications";
import { STREAM_ID } from "../test/streams";
import { badgeText, describeNotification, followersText } from "./describe";

describe("describeNotification", () => {
  it("says who is live and links to the stream", () => {
    expect(describeNotification(streamStarted(1), "alice")).toEqual({
      text: "Bob the Streamer is live: Stream 1",
      href: `/watch/${STREAM_ID}`,
    });
    const noName = streamStarted(1, { payload: { stream_id: "s1", title: "T", creator: { username: "bob", display_name: null } } });
    expect(describeNotification(noName, "alice").text).toBe("bob is live: T");
  });

  it("says a replay is ready and links to its stream's page", () => {
    expect(describeNotification(archiveReady(1), "alice")).toEqual({
      text: "Your replay of Synth build is ready",
      href: "/watch/5e1f0c2a-0000-4000-8000-00000000a0ff",
    });
    expect(describeNotification(archiveReady(1, { payload: { stream_id: "s", title: null } }), "alice").text).toBe(
      "Your replay is ready",
    );
  });

  it("counts new followers and links to the viewer's followers", () => {
    expect(describeNotification(newFollowers(1, ["Carol", "Dan"], 5), "alice")).toEqual({
      text: "Carol, Dan and 3 others followed you",
      href: "/u/alice/followers",
    });
    expect(followersText(1, ["Carol"])).toBe("Carol followed you");
    expect(followersText(2, ["Carol", "Dan"])).toBe("Carol and Dan followed you");
    expect(followersText(2, ["Carol"])).toBe("Carol and 1 other followed you");
    expect(followersText(3, [])).toBe("3 new people followed you");
  });

  it("sends a schedule reminder to the creator's channel, where the plan and its countdown are", () => {
    const reminder = streamStarted(1, {
      kind: "schedule_reminder",
      payload: { schedule_id: "s1", title: "Speedrun", starts_at: "2030-01-01T10:00:00Z", creator: { username: "bob", display_name: "Bob" } },
    });
    expect(describeNotification(reminder, "alice")).toEqual({ text: "Bob goes live soon: Speedrun", href: "/u/bob" });
  });

  it("survives a payload without the fields it expects", () => {
    const broken = streamStarted(1, { payload: {} });
    expect(describeNotification(broken, "alice")).toEqual({ text: "Someone you follow is live", href: null });
    expect(describeNotification(newFollowers(1, [], 0, { payload: { names: "x" } }), "alice").text).toBe(
      "1 new person followed you",
    );
  });
});

describe("badgeText", () => {
  it("is hidden at 0 and capped at 99+", () => {
    expect(badgeText(0)).toBeNull();
    expect(badgeText(-1)).toBeNull();
    expect(badgeText(1)).toBe("1");
    expect(badgeText(99)).toBe("99");
    expect(badgeText(100)).toBe("99+");
    expect(badgeText(12_345)).toBe("99+");
  });
});
