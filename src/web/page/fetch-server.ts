// The page's requests to `nnfs serve`, with words for a server that is gone: the browser's
// own ("Failed to fetch") do not say what happened.

/** GETs `url` from the server, never from the browser's cache. */
export async function fetchFromServer(url: string): Promise<Response> {
  try {
    return await fetch(url, { cache: 'no-store' });
  } catch {
    throw new Error('the server did not answer (was nnfs serve stopped?)');
  }
}
