// `nnfs serve` without a browser: the built CLI is started as a user would, then probed
// with raw HTTP requests: only the fixed routes answer, nothing is writable, a port in use
// or a bad checkpoint gives one clear sentence. Also: the page's own checkpoint reader
// agrees with the engine's. Needs `npm run build` first (npm test does it).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint/format.js';
import { saveCheckpoint } from '../src/checkpoint/store.js';
import type { Checkpoint } from '../src/checkpoint/types.js';
import { DEFAULTS } from '../src/config.js';
import { modelSpec } from '../src/model/spec.js';
import { decodeWebModel } from '../src/web/model-file.js';
import { CLI, idxBytes, ROOT, runCli, tempDir } from './helpers.js';

const BUILT = existsSync(CLI) && existsSync(join(ROOT, 'dist', 'web', 'index.html'));

/** A small but real 784-16-10 checkpoint with arbitrary weights. */
function makeCheckpoint(sizes = [784, 16, 10]): Checkpoint {
  const { paramCount } = modelSpec(sizes);
  const params = new Float32Array(paramCount);
  for (let k = 0; k < paramCount; k++) params[k] = Math.sin(k * 1.7) * 0.1;
  return {
    config: { ...DEFAULTS, hidden: sizes.slice(1, -1) },
    sizes,
    position: { epoch: 3, step: 0, globalStep: 2811, partialLossSum: 0, partialSamples: 0 },
    dataFingerprint: 'cd'.repeat(32),
    params,
    optimizerState: {},
  };
}

interface Served {
  url: string;
  proc: ChildProcess;
  stderr: () => string;
  stop: () => Promise<number | null>;
}

/** Starts `nnfs serve` and waits for its "serving … at URL" line; rejects with its stderr if it exits first. */
function serve(args: string[]): Promise<Served> {
  const proc = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((done) => proc.once('exit', (code) => done(code)));
  return new Promise((resolveServed, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in time; stderr: ${stderr}`)), 30_000);
    proc.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const match = /^serving .+ at (http:\/\/\S+)( \(and at every other address of this machine\))?$/m.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolveServed({
          url: match[1],
          proc,
          stderr: () => stderr,
          stop: () => {
            proc.kill('SIGINT');
            return exited;
          },
        });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before serving; stderr: ${stderr}`));
    });
  });
}

/** One raw HTTP request: the path goes on the wire exactly as given, with no client-side normalising. */
function raw(url: string, method: string, path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const { hostname, port } = new URL(url);
  return new Promise((done, fail) => {
    const req = request({ host: hostname, port, method, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', fail);
    req.end(method === 'POST' || method === 'PUT' ? 'x' : undefined);
  });
}

/** A GET of `path` naming `host` in its Host header, as a page on a rebound domain would. */
function getAs(url: string, host: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((done, fail) => {
    // node:http takes an IPv6 address without the URL's brackets.
    request({ host: hostname.replace(/^\[(.*)\]$/, '$1'), port, path, headers: { Host: host } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
    }).on('error', fail).end();
  });
}

/** Runs `nnfs serve` expecting it to fail; returns its exit code and stderr. */
function serveFails(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const proc = spawn(process.execPath, [CLI, 'serve', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  return new Promise((done) =>
    proc.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, stderr });
    }),
  );
}

describe('the page reads checkpoints as the engine does', () => {
  it('decodes the same parameters, in the engine layout, as decodeCheckpoint', () => {
    for (const sizes of [[784, 16, 10], [5, 4, 3, 2]]) {
      const bytes = encodeCheckpoint(makeCheckpoint(sizes));
      const engine = decodeCheckpoint(bytes, 'test');
      const web = decodeWebModel(bytes);
      expect(web.spec.sizes).toEqual(sizes);
      expect(Array.from(web.params)).toEqual(Array.from(engine.params));
      expect(web.epoch).toBe(3);
      expect(web.globalStep).toBe(2811);
      expect(web.optimizer).toBe(DEFAULTS.optimizer);
    }
  });

  it('refuses bytes that are not an nnfs checkpoint', () => {
    expect(() => decodeWebModel(new Uint8Array(4))).toThrow(/truncated/);
  });
});

// Each case starts a process that loads the MNIST test set: allow for a busy CI machine.
describe('nnfs serve over HTTP (built CLI)', { timeout: 30_000 }, () => {
  let dir: string;
  let checkpoint: string;
  let served: Served;

  beforeAll(async () => {
    if (!BUILT) throw new Error('dist/ is not built; run `npm run build` (npm test does it) before this test.');
    dir = mkdtempSync(join(tmpdir(), 'nnfs-serve-'));
    checkpoint = await saveCheckpoint(join(dir, 'run'), 'epoch-0003.safetensors', makeCheckpoint());
    served = await serve(['--checkpoint', checkpoint]);
  }, 30_000);

  afterAll(async () => {
    await served?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the page, the checkpoint bytes and test digits', async () => {
    const page = await raw(served.url, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body.toString()).toContain('id="pad"');
    expect((await raw(served.url, 'GET', '/main.js')).headers['content-type']).toMatch(/^text\/javascript/);
    expect((await raw(served.url, 'GET', '/inference.worker.js')).status).toBe(200);
    expect((await raw(served.url, 'GET', '/style.css?v=1')).status).toBe(200);

    const model = await raw(served.url, 'GET', '/model.safetensors');
    expect(model.status).toBe(200);
    expect(model.body.equals(readFileSync(checkpoint))).toBe(true);

    const samples = JSON.parse((await raw(served.url, 'GET', '/test-samples.json')).body.toString()) as {
      rows: number;
      samples: { index: number; label: number; pixels: number[] }[];
    };
    expect(samples.rows).toBe(28);
    expect(samples.samples).toHaveLength(24);
    expect(new Set(samples.samples.map((s) => s.index)).size).toBe(24);
    for (const s of samples.samples) {
      expect(s.pixels).toHaveLength(784);
      expect(s.label).toBeGreaterThanOrEqual(0);
      expect(s.label).toBeLessThan(10);
    }
    expect(served.stderr()).toBe('');
  });

  it('serves the run folder’s metrics.jsonl only once it exists, re-read on every request', async () => {
    expect((await raw(served.url, 'GET', '/metrics.jsonl')).status).toBe(404);
    const line = '{"epoch":1,"trainLoss":0.5,"testLoss":0.4,"testAccuracy":0.9,"seconds":1,"samplesPerSecond":60000}\n';
    writeFileSync(join(dir, 'run', 'metrics.jsonl'), line);
    const metrics = await raw(served.url, 'GET', '/metrics.jsonl');
    expect(metrics.status).toBe(200);
    expect(metrics.body.toString()).toBe(line);
    expect(metrics.headers['cache-control']).toBe('no-store');
  });

  it('answers 404 to every path outside its fixed list, however it is spelled', async () => {
    for (const path of [
      '/../package.json',
      '/%2e%2e/package.json',
      '/..%2fpackage.json',
      '/..%2F..%2Fpackage.json',
      '/main.js/../../package.json',
      '//etc/passwd',
      // Not a host: a path of its own, which no route has (the model is /model.safetensors).
      '//evil.example/model.safetensors',
      '//foo',
      '/\\evil.example/model.safetensors',
      '/package.json',
      '/src/cli.ts',
      '/dist/web/main.js',
      '/index.html%00.js',
      '/.%2e/.%2e/etc/passwd',
      '/%5c..%5cpackage.json',
      '/run/metrics.jsonl',
      '/epoch-0003.safetensors',
    ]) {
      const res = await raw(served.url, 'GET', path);
      expect(res.status, path).toBe(404);
      expect(res.body.toString(), path).not.toContain('"name"');
    }
  });

  it('is read-only: 405 for anything but GET and HEAD', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const res = await raw(served.url, method, '/model.safetensors');
      expect(res.status, method).toBe(405);
      expect(res.headers.allow).toBe('GET, HEAD');
    }
    expect((await raw(served.url, 'POST', '/../package.json')).status).toBe(405);
    const head = await raw(served.url, 'HEAD', '/model.safetensors');
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(Number(head.headers['content-length'])).toBe(readFileSync(checkpoint).length);
  });

  it('bound to this machine, answers only requests that name it (a rebound domain cannot read the model)', async () => {
    const port = new URL(served.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) expect((await getAs(served.url, host, '/model.safetensors')).status, host).toBe(200);
    const rebound = await getAs(served.url, `evil.example:${port}`, '/model.safetensors');
    expect(rebound.status).toBe(403);
    expect(rebound.body).toBe("nnfs serve answers only to this machine's own names (localhost, 127.0.0.1, [::1]), not evil.example.\n");
  });

  it('bound to 127.0.0.1 written as IPv6 (::ffff:127.0.0.1), still answers only requests that name this machine', async () => {
    const mapped = await serve(['--checkpoint', checkpoint, '--host', '::ffff:127.0.0.1']);
    try {
      const port = new URL(mapped.url).port;
      expect((await getAs(mapped.url, `[::ffff:127.0.0.1]:${port}`, '/model.safetensors')).status).toBe(200);
      expect((await getAs(mapped.url, `localhost:${port}`, '/model.safetensors')).status).toBe(200);
      expect((await getAs(mapped.url, `evil.example:${port}`, '/model.safetensors')).status).toBe(403);
    } finally {
      await mapped.stop();
    }
  });

  it('sends a same-origin content security policy', async () => {
    const res = await raw(served.url, 'GET', '/');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('accepts a run folder for its last.safetensors', async () => {
    const other = await serve(['--checkpoint', join(dir, 'run')]);
    try {
      expect((await raw(other.url, 'GET', '/model.safetensors')).body.equals(readFileSync(checkpoint))).toBe(true);
      expect(other.stderr()).toBe('');
    } finally {
      await other.stop();
    }
  });

  it('on --host 0.0.0.0 gives a URL this machine can open, and says it listens everywhere', async () => {
    const s = await serve(['--checkpoint', checkpoint, '--host', '0.0.0.0']);
    try {
      expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect((await raw(s.url, 'GET', '/')).status).toBe(200);
      // Opened to the network on purpose: other machines name it by whatever name they know.
      expect((await getAs(s.url, 'nnfs-box.example', '/')).status).toBe(200);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('a port in use: one sentence on stderr and a non-zero exit', async () => {
    const blocker = createServer();
    await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', done));
    const { port } = blocker.address() as AddressInfo;
    try {
      const { code, stderr } = await serveFails(['--checkpoint', checkpoint, '--port', String(port)]);
      expect(code).not.toBe(0);
      expect(stderr).toBe(`nnfs: port ${port} is in use; pick another with --port.\n`);
    } finally {
      blocker.close();
    }
  });

  it('a bad --port is refused in one sentence', async () => {
    const { code, stderr } = await serveFails(['--port', '70000']);
    expect(code).not.toBe(0);
    expect(stderr).toBe('nnfs: --port must be a whole number from 0 to 65535, got 70000.\n');
    // A blank --host is no host, not every address (Node reads '' as "listen everywhere").
    expect((await serveFails(['--host', ' '])).stderr).toBe('nnfs: --host needs a value.\n');
  });

  it('a missing checkpoint: the server still starts, says why on stderr, and the page gets the same sentence', async () => {
    // A misspelled name is the file that is missing, not a run folder's last.safetensors.
    for (const missing of [join(dir, 'nowhere.safetensors'), join(dir, 'pretrained.safetensor')]) {
      await missingCheckpointServed(missing);
    }
  });

  async function missingCheckpointServed(missing: string): Promise<void> {
    const s = await serve(['--checkpoint', missing]);
    try {
      const sentence = `no checkpoint at ${missing}; train one with \`npx nnfs train\`.`;
      expect(s.stderr()).toBe(`nnfs: ${sentence}\n`);
      const model = await raw(s.url, 'GET', '/model.safetensors');
      expect(model.status).toBe(503);
      expect(model.body.toString()).toBe(sentence);
      expect((await raw(s.url, 'GET', '/')).status).toBe(200);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  }

  it('a checkpoint that appears or changes while serving (a run saving there) is what the page gets next', async () => {
    const folder = tempDir('nnfs-live-');
    const s = await serve(['--checkpoint', folder]);
    try {
      expect((await raw(s.url, 'GET', '/model.safetensors')).status).toBe(503);
      const first = await saveCheckpoint(folder, 'epoch-0001.safetensors', makeCheckpoint());
      const served = await raw(s.url, 'GET', '/model.safetensors');
      expect(served.status).toBe(200);
      expect(served.body.equals(readFileSync(first))).toBe(true);
      const later = { ...makeCheckpoint(), position: { epoch: 4, step: 0, globalStep: 3748, partialLossSum: 0, partialSamples: 0 } };
      later.params = later.params.map((v) => v * 2);
      const second = await saveCheckpoint(folder, 'epoch-0002.safetensors', later);
      expect((await raw(s.url, 'GET', '/model.safetensors')).body.equals(readFileSync(second))).toBe(true);
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('a run folder named before its run made it is served, with its metrics, once the run saves there', async () => {
    const parent = tempDir('nnfs-later-');
    const folder = join(parent, 'run');
    // Another run's metrics in the folder above are not this run's.
    writeFileSync(join(parent, 'metrics.jsonl'), '{"epoch":99}\n');
    const s = await serve(['--checkpoint', folder]);
    try {
      expect((await raw(s.url, 'GET', '/model.safetensors')).status).toBe(503);
      const before = await raw(s.url, 'GET', '/metrics.jsonl');
      expect(before.status).toBe(404);
      expect(before.body.toString()).toBe(`no metrics.jsonl in ${folder}.`);
      const saved = await saveCheckpoint(folder, 'epoch-0001.safetensors', makeCheckpoint());
      writeFileSync(join(folder, 'metrics.jsonl'), '{"epoch":1}\n');
      const served = await raw(s.url, 'GET', '/model.safetensors');
      expect(served.status).toBe(200);
      expect(served.body.equals(readFileSync(saved))).toBe(true);
      expect((await raw(s.url, 'GET', '/metrics.jsonl')).body.toString()).toBe('{"epoch":1}\n');
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it('a --data it cannot show ends the command, as bad input does: a missing folder, or test digits that are not 28x28', () => {
    const small = tempDir('nnfs-data-');
    writeFileSync(join(small, 't10k-images-idx3-ubyte'), idxBytes(0x803, [5, 16, 16], new Uint8Array(5 * 256).fill(90)));
    writeFileSync(join(small, 't10k-labels-idx1-ubyte'), idxBytes(0x801, [5], new Uint8Array([0, 1, 2, 3, 4])));
    const missing = join(tempDir(), 'absent');
    for (const [data, sentence] of [
      [small, `${small} holds 16x16 images; the page shows MNIST's 28x28 digits.`],
      [missing, `data folder ${missing} does not exist.`],
    ]) {
      const result = runCli(['serve', '--port', '0', '--checkpoint', checkpoint, '--data', data], { timeout: 20_000 });
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^nnfs: ${sentence.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n$`));
      expect(result.stdout).toBe('');
    }
  });

  it('a damaged checkpoint or one that is not an MNIST model is explained the same way', async () => {
    const damaged = join(dir, 'damaged.safetensors');
    writeFileSync(damaged, Buffer.from('not a checkpoint'));
    const lines = await saveCheckpoint(join(dir, 'lines'), 'last.safetensors', makeCheckpoint([256, 8, 2]));
    for (const [file, reason] of [
      [damaged, /damaged/],
      [lines, /is a 256-8-2 model; the page needs an MNIST model \(784 inputs, 10 classes\)\.$/],
    ] as const) {
      const s = await serve(['--checkpoint', file]);
      try {
        expect(s.stderr()).toMatch(/^nnfs: .+\n$/);
        const model = await raw(s.url, 'GET', '/model.safetensors');
        expect(model.status).toBe(503);
        expect(model.body.toString()).toMatch(reason);
      } finally {
        await s.stop();
      }
    }
  });

  it('stops cleanly on Ctrl-C', async () => {
    const s = await serve(['--checkpoint', checkpoint]);
    expect(await s.stop()).toBe(0);
  });
});
