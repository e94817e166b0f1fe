/**
 * A tiny stand-in for the Hugging Face hub on 127.0.0.1: `/{repo}/resolve/{revision}/{path}` answers small files directly
 * (git-blob etag) and LFS files (*.onnx) with a 302 to `/cdn/<sha256>` carrying `X-Linked-Etag`/`X-Linked-Size`, like the
 * real hub. The CDN route supports Range requests and can misbehave on demand (drop the connection halfway, fail with 500).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRequest {
  method: string;
  url: string;
  range: string | undefined;
}

export interface FakeHub {
  readonly endpoint: string;
  readonly requests: FakeRequest[];
  /** repo id → path → content. */
  readonly repos: Map<string, Map<string, Buffer>>;
  /** Paths whose next CDN transfer stops after half the bytes (then behaves). */
  readonly dropHalfwayOnce: Set<string>;
  /** Paths whose next GET answers HTTP 500 (then behaves). */
  readonly failOnce: Set<string>;
  /** Paths announced with this (wrong) sha256 instead of the real one. */
  readonly announcedShaOverride: Map<string, string>;
  close(): Promise<void>;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const gitBlobSha1 = (data: Buffer): string => createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
const isLfs = (path: string): boolean => path.endsWith('.onnx');

export async function startFakeHub(): Promise<FakeHub> {
  const requests: FakeRequest[] = [];
  const repos = new Map<string, Map<string, Buffer>>();
  const dropHalfwayOnce = new Set<string>();
  const failOnce = new Set<string>();
  const announcedShaOverride = new Map<string, string>();
  const cdn = new Map<string, { path: string; data: Buffer }>();

  const serveBytes = (request: IncomingMessage, response: ServerResponse, path: string, data: Buffer, headers: Record<string, string>): void => {
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    if (start > 0 && start >= data.length) {
      response.writeHead(416, { 'content-range': `bytes */${data.length}` });
      response.end();
      return;
    }
    const body = data.subarray(start);
    response.writeHead(range ? 206 : 200, {
      ...headers,
      'content-length': String(body.length),
      'accept-ranges': 'bytes',
      ...(range ? { 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}),
    });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    if (dropHalfwayOnce.delete(path)) {
      response.write(body.subarray(0, Math.floor(body.length / 2)), () => response.socket?.destroy());
      return;
    }
    response.end(body);
  };

  const server: Server = createServer((request, response) => {
    const url = request.url ?? '/';
    requests.push({ method: request.method ?? 'GET', url, range: request.headers.range });
    const cdnMatch = /^\/cdn\/([0-9a-f]{64})$/.exec(url);
    if (cdnMatch) {
      const entry = cdn.get(cdnMatch[1]);
      if (!entry) {
        response.writeHead(404).end();
        return;
      }
      serveBytes(request, response, entry.path, entry.data, { etag: `"cdn-${cdnMatch[1].slice(0, 8)}"` });
      return;
    }
    const resolveMatch = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url);
    const files = resolveMatch ? repos.get(resolveMatch[1]) : undefined;
    if (!resolveMatch || !files) {
      response.writeHead(401, { 'x-error-code': 'RepoNotFound' }).end('Repository not found');
      return;
    }
    const path = decodeURIComponent(resolveMatch[3]);
    const data = files.get(path);
    if (!data) {
      response.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end('Entry not found');
      return;
    }
    if (request.method === 'GET' && failOnce.delete(path)) {
      response.writeHead(500).end('try again');
      return;
    }
    if (isLfs(path)) {
      const real = sha256(data);
      cdn.set(real, { path, data });
      response.writeHead(302, {
        location: `/cdn/${real}`,
        'x-linked-etag': `"${announcedShaOverride.get(path) ?? real}"`,
        'x-linked-size': String(data.length),
        etag: `"${gitBlobSha1(data)}"`,
      });
      response.end();
      return;
    }
    serveBytes(request, response, path, data, { etag: `"${gitBlobSha1(data)}"` });
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    repos,
    dropHalfwayOnce,
    failOnce,
    announcedShaOverride,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
