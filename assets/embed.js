// The cursors embed's loader: `<script src="https://HOST/embed.js" defer>`
// on any page shows everyone's cursors over it. scripts/build-client.sh
// copies it to dist/embed.js with the names of this build's files filled in.
//
// It waits for the page to load, so the host page comes first; asks the
// server whether this site may embed it (the console says why not); then
// loads the wasm (client/embed) and starts it with what the tag says:
//   data-room="NAME"       a room instead of this page's path
//   data-token="JWT"       a room token, for a server with --token-key
//   data-token-url="/URL"  where to fetch one (and a fresh one before it ends)
// Its one global name is `cursorsEmbed`, which also keeps it from running twice.
(() => {
  "use strict";
  const script = document.currentScript;
  if (!script || window.cursorsEmbed) return;
  const tag = script.dataset;
  const server = new URL(".", script.src);
  const say = (...words) => console.warn("cursors:", ...words);
  window.cursorsEmbed = { server: server.href };

  const fetchToken = async () => {
    const answer = await fetch(tag.tokenUrl, { credentials: "same-origin", cache: "no-store" });
    if (!answer.ok) throw new Error(`${tag.tokenUrl} answered ${answer.status}`);
    const text = (await answer.text()).trim();
    // Either the token itself or JSON with a `token` field.
    try {
      const parsed = JSON.parse(text);
      if (parsed && typeof parsed.token === "string") return parsed.token;
    } catch {}
    return text;
  };

  // ANCHOR: start
  const start = async () => {
    const access = await fetch(new URL("embed/access", server), { cache: "no-store" });
    if (!access.ok) return say((await access.text()).trim());
    const glue = await import(new URL("__EMBED_MODULE__", server).href);
    await glue.default({ module_or_path: new URL("__EMBED_WASM__", server) });
    const token = tag.token || (tag.tokenUrl ? await fetchToken() : null);
    glue.start({
      server: server.href,
      room: tag.room || null,
      token,
      refresh: tag.tokenUrl ? fetchToken : null,
    });
  };

  const begin = () => start().catch((error) => say(error));
  if (document.readyState === "complete") begin();
  else window.addEventListener("load", begin, { once: true });
  // ANCHOR_END: start
})();
