// The development outbox, as the scripts read it. The outbox worker hands a message over a moment
// after the request that wrote it was answered, so a script waits for it rather than reading once.
export async function newestMessage(base, to, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = await (await fetch(`${base}/dev/outbox?to=${encodeURIComponent(to)}`)).json();
    if (Array.isArray(list) && list.length > 0) return list[0];
    if (Date.now() > deadline) throw new Error(`no message to ${to} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
