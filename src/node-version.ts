// Whether this Node.js is older than package.json's `engines` allows. An older one fails
// inside yargs with a stack trace before nnfs can say anything, so main.ts asks first.

/** The sentence for a Node.js older than `engines` (">=20.19"), or undefined if it will do. */
export function nodeVersionProblem(running: string, engines: string | undefined): string | undefined {
  const minimum = /^>=\s*(\d+(?:\.\d+){0,2})$/.exec(engines?.trim() ?? '')?.[1];
  if (!minimum) return undefined;
  const have = running.replace(/^v/, '').split('.').map(Number);
  const need = minimum.split('.').map(Number);
  for (let i = 0; i < need.length; i++) {
    const part = have[i] ?? 0;
    if (part > need[i]) return undefined;
    if (part < need[i]) return `this is Node.js v${running.replace(/^v/, '')}, and nnfs needs ${minimum} or newer.`;
  }
  return undefined;
}
