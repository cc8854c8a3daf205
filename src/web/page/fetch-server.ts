// The page's requests to `nnfs serve`, with words for a server that is gone (the browser's
// own, "Failed to fetch", do not say what happened) and for one that refuses.

/** GETs `url` from the server, never from the browser's cache. */
export async function fetchFromServer(url: string): Promise<Response> {
  try {
    return await fetch(url, { cache: 'no-store' });
  } catch {
    throw new Error('the server did not answer (was nnfs serve stopped?)');
  }
}

/** A refused request as an Error: the server's one sentence, or its status where it gave none. */
export async function refusal(response: Response, what: string): Promise<Error> {
  const reason = (await response.text()).trim();
  return new Error(reason || `the server answered ${response.status} when asked for ${what}.`);
}
